//! Example CLI over [`mig06_phi::run_scan`]: JSON lines on stdin, verdicts on stdout.
//! `--lines` treats each input line as plain text. Same function `mig06 scan` will call.
//! `--time` also writes `{"lines": N, "build_seconds": B, "scan_seconds": S}` to stderr
//! (S covers run_scan only: JSON parsing, scanning and writing; B is Detector::new).

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

fn main() -> ExitCode {
    let lines = std::env::args().skip(1).any(|a| a == "--lines");
    let timed = std::env::args().skip(1).any(|a| a == "--time");
    let t0 = std::time::Instant::now();
    let detector = match mig06_phi::Detector::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let build = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let res = mig06_phi::run_scan(
        &detector,
        BufReader::new(stdin.lock()),
        BufWriter::new(stdout.lock()),
        lines,
    );
    let scan = t1.elapsed().as_secs_f64();
    match res {
        Ok(n) => {
            if timed {
                eprintln!(
                    r#"{{"lines": {n}, "build_seconds": {build:.6}, "scan_seconds": {scan:.6}}}"#
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: scan failed ({:?})", e.kind());
            ExitCode::from(1)
        }
    }
}
