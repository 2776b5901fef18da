//! Example CLI over [`mig06_phi::run_scan`]: JSON lines on stdin, verdicts on stdout.
//! `--lines` treats each input line as plain text. Same function `mig06 scan` will call.

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

fn main() -> ExitCode {
    let lines = std::env::args().skip(1).any(|a| a == "--lines");
    let detector = match mig06_phi::Detector::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match mig06_phi::run_scan(
        &detector,
        BufReader::new(stdin.lock()),
        BufWriter::new(stdout.lock()),
        lines,
    ) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: scan failed ({:?})", e.kind());
            ExitCode::from(1)
        }
    }
}
