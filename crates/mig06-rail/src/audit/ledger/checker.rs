//! The line checker: the one function that reads a log's lines, in log order, from any store.

use mig06_tlog::checkpoint::LogVerifier;

use super::Ledger;
use super::fault::{LogFault, fault};
use crate::audit::AuditRecord;

/// Reads a log record by record, in log order, from any store: each line is decoded, linked to
/// the one before and admitted to a [`Ledger`] (its own signature when no signed checkpoint
/// covers it, then the log's rules). A broken link at index i is blamed on record i - 1 or i
/// once record i + 1 shows which: a record whose body was altered breaks the next record's
/// link, not its own.
#[derive(Debug)]
pub struct LineChecker<'v> {
    ledger: Ledger,
    verifier: &'v LogVerifier,
    broken_link: Option<u64>,
}

impl<'v> LineChecker<'v> {
    /// A checker for a log whose latest signed checkpoint covers `covered` records.
    #[must_use]
    pub fn new(covered: u64, verifier: &'v LogVerifier) -> Self {
        Self {
            ledger: Ledger::new(covered),
            verifier,
            broken_link: None,
        }
    }

    /// Records admitted so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.ledger.size()
    }

    /// Checks and admits the next line (without its newline); returns its record.
    ///
    /// # Errors
    /// A [`LogFault`] naming the first bad record.
    pub fn push(&mut self, line: &[u8]) -> Result<AuditRecord, LogFault> {
        let index = self.ledger.size();
        let record = self.ledger.decode(line)?;
        let link_ok = self.ledger.links(&record);
        if let Some(b) = self.broken_link {
            let bad = if link_ok { b.saturating_sub(1) } else { b };
            return Err(fault(
                Some(bad),
                format!("record {bad} was altered: the hash chain breaks at record {b}"),
            ));
        }
        if !link_ok {
            self.broken_link = Some(index);
        }
        self.ledger.admit(line, &record, self.verifier)?;
        Ok(record)
    }

    /// The ledger of every line pushed.
    ///
    /// # Errors
    /// A [`LogFault`] when the last record's link was broken.
    pub fn finish(self) -> Result<Ledger, LogFault> {
        if let Some(b) = self.broken_link {
            let bad = b.saturating_sub(1);
            return Err(fault(
                Some(bad),
                format!("record {bad} or {b} was altered: the hash chain breaks at record {b}"),
            ));
        }
        Ok(self.ledger)
    }
}
