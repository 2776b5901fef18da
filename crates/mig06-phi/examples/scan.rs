//! Evaluation driver for `eval/phi`: JSON lines `{"text": …, "key": …}` on stdin, one
//! verdict `{"phi": bool, "kinds": [codes]}` per line on stdout, as `mig06 scan` writes
//! them, through the library API alone ([`mig06_phi::Detector::scan`]).
//! `--lines` treats each input line as plain text. `--time` also writes
//! `{"lines": N, "build_seconds": B, "scan_seconds": S}` to stderr (S covers reading,
//! scanning and writing; B is `Detector::new`). Unlike `mig06 scan`, a line that is not
//! such a JSON object stops the run: evaluation sets are generated, so one is a bug.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use mig06_phi::Detector;

/// One input line: `text`, and the optional `key` (other fields are ignored).
#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
}

/// Scans every input line and writes its verdict; returns the number of lines.
fn scan_all(detector: &Detector, lines: bool) -> Result<u64, String> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    for line in BufReader::new(std::io::stdin().lock()).lines() {
        let line = line.map_err(|e| format!("read failed ({:?})", e.kind()))?;
        let kinds = if lines {
            detector.scan(None, &line)
        } else {
            // Parsed into borrowed strings: no JSON tree is built for each line.
            let v: Line<'_> = serde_json::from_str(&line)
                .map_err(|_| format!("line {} is not a JSON object with a string text", n + 1))?;
            detector.scan(v.key.as_deref(), &v.text)
        };
        let codes: Vec<String> = kinds.iter().map(|k| format!("\"{}\"", k.code())).collect();
        let phi = !kinds.is_empty();
        writeln!(out, "{{\"phi\":{phi},\"kinds\":[{}]}}", codes.join(","))
            .map_err(|e| format!("write failed ({:?})", e.kind()))?;
        n += 1;
    }
    out.flush()
        .map_err(|e| format!("write failed ({:?})", e.kind()))?;
    Ok(n)
}

fn main() -> ExitCode {
    let lines = std::env::args().skip(1).any(|a| a == "--lines");
    let timed = std::env::args().skip(1).any(|a| a == "--time");
    let t0 = std::time::Instant::now();
    let detector = match Detector::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let build = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let res = scan_all(&detector, lines);
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
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
