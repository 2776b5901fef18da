//! Batch staging: a batch of records checked against the log's rules, linked and sealed before
//! a store's one durable write, and admitted to the [`Ledger`] once that write is confirmed.

use std::collections::HashSet;

use mig06_tlog::checkpoint::LogSigner;
use mig06_tlog::leaf_hash;

use super::checkpoints::CHECKPOINT_EVERY;
use super::fault::LogFault;
use super::{Ledger, seal};
use crate::audit::rules::{LedgerRules, RuleViolation};
use crate::audit::{Appended, AuditError, AuditRecord, Hash, RecordKind, hash_hex};
use crate::ids::AttemptId;

/// One record of a staged batch: where it goes and its sealed bytes.
#[derive(Debug)]
pub struct StagedRecord {
    /// The caller's record this is (`None`: an `ABORTED_INTERRUPTED` record the batch added).
    pub slot: Option<usize>,
    /// Its leaf index.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf: Hash,
    /// Its exact bytes (sealed, without the newline).
    pub bytes: Vec<u8>,
    /// The record as sealed.
    pub record: AuditRecord,
}

/// A batch checked against the log's rules and sealed, not yet written: what every store does
/// before its one durable write ([`Ledger::stage_batch`]).
#[derive(Debug)]
pub struct StagedBatch {
    /// The log's size before the batch.
    pub start: u64,
    /// The records to write, in log order.
    pub records: Vec<StagedRecord>,
    /// The caller's records the log's rules refused, by slot.
    pub refused: Vec<(usize, RuleViolation)>,
    /// How many `ABORTED_INTERRUPTED` records the batch added.
    pub interrupted: u64,
    /// The facts the batch's records establish, as staging found them: admitting the batch
    /// applies them instead of asking the rules (and the index behind them) again.
    rules: LedgerRules,
}

impl StagedBatch {
    /// The log's size after the batch.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.records.len() as u64)
    }

    /// Whether the batch gets a signed checkpoint: one that holds a terminal record (its
    /// evidence needs one), the log's first batch, and one that reaches a kept size (so the
    /// latest checkpoint is never older than a kept one). An open record alone is covered by its
    /// own signature until then.
    #[must_use]
    pub fn needs_checkpoint(&self) -> bool {
        self.start == 0
            || self.start / CHECKPOINT_EVERY != self.end() / CHECKPOINT_EVERY
            || self
                .records
                .iter()
                .any(|r| r.record.kind() == RecordKind::Terminal)
    }
}

impl Ledger {
    /// Stages `records` as the next batch: first an `ABORTED_INTERRUPTED` record for every open
    /// record whose deadline passed before `now` without a terminal record, then each record in
    /// order, checked against the log's rules as of the records before it (a refused record is
    /// left out and reported), linked and sealed with `signer`. The ledger is not changed: the
    /// store admits the records ([`Ledger::admit_staged`]) once they are durable.
    ///
    /// # Errors
    /// [`AuditError::Encode`] when a record cannot be serialised.
    pub fn stage_batch(
        &self,
        records: Vec<AuditRecord>,
        signer: &LogSigner,
        now: time::OffsetDateTime,
    ) -> Result<StagedBatch, AuditError> {
        let recovered: Vec<AuditRecord> = self
            .overdue(now)
            .into_iter()
            .map(AuditRecord::interrupted)
            .collect();
        let interrupted = recovered.len() as u64;
        let start = self.size();
        let mut last = self.last();
        let mut rules = self.rules().stage();
        let mut staged = Vec::with_capacity(records.len() + recovered.len());
        let mut refused = Vec::new();
        let queue = recovered
            .into_iter()
            .map(|r| (None, r))
            .chain(records.into_iter().enumerate().map(|(i, r)| (Some(i), r)));
        // Attempts opened by this batch: a second open record among them is refused too.
        let mut opened: HashSet<AttemptId> = HashSet::new();
        for (slot, mut record) in queue {
            let open = record.kind() == RecordKind::Open;
            let reopened = if open {
                match rules.is_terminated(&record.attempt_id) {
                    Ok(t) => (self.reopens(&record.attempt_id, t)
                        || opened.contains(&record.attempt_id))
                    .then_some(RuleViolation::SecondOpen),
                    Err(v) => Some(v),
                }
            } else {
                None
            };
            let admitted = match reopened {
                Some(v) => Err(v),
                // The ledger's open records as of the batch's start; the records staged before
                // this one are asked by the stage itself.
                None => rules.admit(self.facts_of(&record)),
            };
            if let Err(v) = admitted {
                if let Some(i) = slot {
                    refused.push((i, v));
                }
                continue;
            }
            if open {
                opened.insert(record.attempt_id.clone());
            }
            let index = start + staged.len() as u64;
            record.prev = hash_hex(&last);
            record.seq = index;
            let bytes = seal::seal(&mut record, signer)?;
            let leaf = leaf_hash(&bytes);
            last = leaf;
            staged.push(StagedRecord {
                slot,
                index,
                leaf,
                bytes,
                record,
            });
        }
        let rules = rules.into_added();
        Ok(StagedBatch {
            start,
            records: staged,
            refused,
            interrupted,
            rules,
        })
    }

    // INV-CONT-CHAIN: the facts a durable batch establishes are the ones its staging checked,
    // against this very state: a batch staged against a ledger that has moved since is refused.
    /// Admits a staged batch the store made durable and returns one result per caller's record
    /// (`n` of them, by slot): its place, bytes, inclusion proof in the tree that ends with the
    /// batch and the batch's signed `checkpoint`, or the rule that refused it. Nothing here may
    /// fail a durable record except a broken store state.
    ///
    /// The records were checked against this ledger's rules when staged, and the ledger has not
    /// changed since (it must still end where the batch starts): their facts are applied as
    /// staging found them, not looked up a second time.
    ///
    /// # Errors
    /// A [`LogFault`] when the ledger no longer ends where the batch starts (the store's own
    /// state is wrong).
    pub fn admit_staged(
        &mut self,
        batch: StagedBatch,
        n: usize,
        checkpoint: Option<&str>,
    ) -> Result<Vec<Result<Appended, AuditError>>, LogFault> {
        if batch.start != self.size() {
            return Err(super::fault::fault(
                Some(batch.start),
                format!(
                    "a batch staged at record {} was admitted at record {}",
                    batch.start,
                    self.size()
                ),
            ));
        }
        for r in &batch.records {
            self.push_staged(&r.bytes, &r.record);
        }
        self.rules.commit(batch.rules);
        let size = self.size();
        let mut results: Vec<Option<Result<Appended, AuditError>>> = (0..n).map(|_| None).collect();
        for (i, v) in batch.refused {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(Err(AuditError::Rule(v)));
            }
        }
        for r in batch.records {
            let Some(slot) = r.slot.and_then(|i| results.get_mut(i)) else {
                continue;
            };
            let proof = self
                .tree
                .inclusion_proof(r.index, size)
                .map_err(|_| AuditError::Corrupt {
                    index: r.index,
                    what: "inclusion proof".into(),
                });
            *slot = Some(proof.map(|proof| Appended {
                index: r.index,
                leaf_hash: r.leaf,
                bytes: r.bytes,
                proof,
                checkpoint: checkpoint.map(str::to_owned),
                record: r.record,
            }));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(AuditError::NoResult)))
            .collect())
    }

    /// Results for a batch whose records were all refused (nothing to write).
    #[must_use]
    pub fn refused_only(batch: StagedBatch, n: usize) -> Vec<Result<Appended, AuditError>> {
        let mut results: Vec<Result<Appended, AuditError>> =
            (0..n).map(|_| Err(AuditError::NoResult)).collect();
        for (i, v) in batch.refused {
            if let Some(slot) = results.get_mut(i) {
                *slot = Err(AuditError::Rule(v));
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use mig06_tlog::checkpoint::LogSigner;

    use super::super::Ledger;
    use crate::audit::file::tests::record;
    use crate::audit::rules::RuleViolation;
    use crate::outcome::TerminalCode;

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }

    /// Staged facts are applied without asking the rules again, so a batch staged against a
    /// state the ledger has since left must never be admitted: its checks were against records
    /// that are no longer the log's end.
    #[test]
    fn a_batch_staged_before_another_was_admitted_is_refused_not_applied() {
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let mut ledger = Ledger::new(0, signer.verifier().into());
        let open = record();
        let end = open.ended(TerminalCode::DeniedPolicy, None);
        let first = ledger.stage_batch(vec![open], &signer, now()).unwrap();
        // Staged from the same state: both ends pass the rules on their own.
        let a = ledger
            .stage_batch(vec![end.clone()], &signer, now())
            .unwrap();
        let b = ledger.stage_batch(vec![end], &signer, now()).unwrap();
        assert!(a.refused.is_empty() && b.refused.is_empty());
        ledger.admit_staged(first, 1, None).unwrap();
        assert!(ledger.admit_staged(a, 1, None).is_err());
        assert!(ledger.admit_staged(b, 1, None).is_err());
        assert_eq!(ledger.size(), 1);
    }

    /// Staged facts are the rules' state after admission: a second terminal record staged
    /// after the first was admitted is refused, by the facts staging applied.
    #[test]
    fn facts_applied_from_staging_are_the_rules_state_afterwards() {
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let mut ledger = Ledger::new(0, signer.verifier().into());
        let open = record();
        let end = open.ended(TerminalCode::DeniedPolicy, None);
        let batch = ledger
            .stage_batch(vec![open.clone(), end.clone()], &signer, now())
            .unwrap();
        ledger.admit_staged(batch, 2, None).unwrap();
        let again = ledger.stage_batch(vec![end, open], &signer, now()).unwrap();
        assert!(again.records.is_empty());
        assert!(matches!(
            again.refused.as_slice(),
            [
                (0, RuleViolation::SecondTerminal),
                (1, RuleViolation::SecondOpen)
            ]
        ));
    }
}
