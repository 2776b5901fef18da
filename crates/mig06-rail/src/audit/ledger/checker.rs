//! The line checker: the one checker of a log's lines, in log order, from any store. The file
//! store and the PostgreSQL store read what others appended through it, and the auditors' view
//! (`audit verify` and every auditor command) reads the whole log through it, so a damaged log
//! is blamed on the same record with the same words whoever reads it.

use mig06_tlog::rotation::LogKeys;

use super::Ledger;
use super::fault::{LogFault, fault};
use crate::audit::AuditRecord;

// INV-AUDIT-VERIFY-AGREES: the stores' open and catch-up and `audit verify` push every line
// through this one checker, so they accept the same logs and blame the same record.
/// Reads a log record by record, in log order, from any store: each line is decoded, linked to
/// the one before and admitted to a [`Ledger`] (its own signature when no signed checkpoint
/// covers it, then the log's rules). A broken link at index i is blamed on record i - 1 or i
/// once record i + 1 shows which: a record whose body was altered breaks the next record's
/// link, not its own. Once a line is refused, the checker refuses every later call with the
/// same fault: a store that reads on after a refusal blames the same record again.
#[derive(Debug)]
pub struct LineChecker {
    ledger: Ledger,
    broken_link: Option<u64>,
    refused: Option<LogFault>,
}

impl LineChecker {
    /// A checker for a log whose latest signed checkpoint covers `covered` records, whose
    /// records are signed by `keys` (one key, a [`LogVerifier`](mig06_tlog::checkpoint::LogVerifier),
    /// or a schedule of keys: each record by the key in force at its index).
    #[must_use]
    pub fn new(covered: u64, keys: impl Into<LogKeys>) -> Self {
        Self {
            ledger: Ledger::new(covered, keys.into()),
            broken_link: None,
            refused: None,
        }
    }

    /// A checker that goes on from a ledger resumed from a store's index
    /// ([`Ledger::resume`]).
    #[must_use]
    pub fn resume(ledger: Ledger) -> Self {
        Self {
            ledger,
            broken_link: None,
            refused: None,
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
        if let Some(f) = &self.refused {
            return Err(f.clone());
        }
        let pushed = self.push_unrefused(line);
        if let Err(f) = &pushed {
            self.refused = Some(f.clone());
        }
        pushed
    }

    fn push_unrefused(&mut self, line: &[u8]) -> Result<AuditRecord, LogFault> {
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
        self.ledger.admit(line, &record)?;
        Ok(record)
    }

    /// Checks that every line pushed so far is part of a valid log: the last record's link is
    /// not broken. A store calls it each time it has read what others appended; the auditors'
    /// view once, at the end ([`LineChecker::finish`]).
    ///
    /// # Errors
    /// The fault of a refused line, or a [`LogFault`] when the last record's link was broken.
    pub fn check_end(&mut self) -> Result<(), LogFault> {
        if let Some(f) = &self.refused {
            return Err(f.clone());
        }
        if let Some(b) = self.broken_link {
            let bad = b.saturating_sub(1);
            let f = fault(
                Some(bad),
                format!("record {bad} or {b} was altered: the hash chain breaks at record {b}"),
            );
            self.refused = Some(f.clone());
            return Err(f);
        }
        Ok(())
    }

    /// The ledger of every line pushed.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The ledger, for the store's own records (staged, made durable, then admitted with
    /// [`Ledger::admit_staged`]) and for marking records covered by a checkpoint it signed.
    /// Lines the store did not write go through [`LineChecker::push`] only.
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// The ledger of every line pushed, once [`LineChecker::check_end`] passes.
    ///
    /// # Errors
    /// As [`LineChecker::check_end`].
    pub fn finish(mut self) -> Result<Ledger, LogFault> {
        self.check_end()?;
        Ok(self.ledger)
    }
}
