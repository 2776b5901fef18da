//! An attempt's deadline is fixed by its caller when the request arrives
//! (`Rail::attempt_by`): an attempt picked up after that deadline is never opened or executed.

use std::time::Duration;

use crate::common::{draft_rail, log_lines, request};
use mig06_rail::executor::Deadline;
use mig06_rail::outcome::TerminalCode;

#[test]
fn inv_admission_bounded_an_attempt_past_its_arrival_deadline_is_never_opened_or_executed() {
    let (s, exec, rail) = draft_rail();
    let caller = rail.local_caller("operator-1").unwrap();
    // The request's deadline, fixed at its arrival, has passed by the time the rail picks it up
    // (it waited for a thread longer than attempt_timeout).
    let deadline = Deadline::after(Duration::ZERO);
    let out = rail.attempt_by(
        &caller,
        request("discharge_summary").to_string().as_bytes(),
        deadline,
    );
    assert_eq!(out.code, TerminalCode::AbortedDeadline);
    assert!(out.recorded);
    assert!(out.draft_ref.is_none());
    assert_eq!(exec.calls(), 0, "the executor ran after the deadline");
    let lines = log_lines(&s);
    assert_eq!(lines.len(), 1, "only the terminal record: no open record");
    assert_eq!(lines[0]["kind"], "terminal");
    assert_eq!(lines[0]["code"], "ABORTED_DEADLINE");
    // The same request with a live deadline from its arrival completes.
    let out = rail.attempt_by(
        &caller,
        request("discharge_summary").to_string().as_bytes(),
        Deadline::after(rail.config().attempt_timeout),
    );
    assert_eq!(out.code, TerminalCode::CompletedDraft);
    assert_eq!(exec.calls(), 1);
}
