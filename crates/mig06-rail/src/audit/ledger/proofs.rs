//! What a witnessed batch needs from the ledger: a checkpoint signed now over the whole ledger,
//! consistency proofs to it and inclusion proofs in it.

use mig06_tlog::checkpoint::LogSigner;

use super::Ledger;
use super::checkpoints::sign_tree;
use crate::audit::{AuditError, Hash};

impl Ledger {
    /// A checkpoint of the whole ledger signed now, for the witnesses
    /// ([`super::AuditStore::witness_checkpoint`]).
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when the ledger holds fewer than `at_least` records.
    pub fn witness_checkpoint(
        &self,
        signer: &LogSigner,
        at_least: u64,
    ) -> Result<crate::witness::WitnessCheckpoint, AuditError> {
        let size = self.size();
        if size < at_least {
            return Err(AuditError::Corrupt {
                index: size,
                what: "a witness knows a larger tree than the log holds".into(),
            });
        }
        Ok(crate::witness::WitnessCheckpoint {
            size,
            note: sign_tree(signer, self.tree(), size)?,
        })
    }

    /// The consistency proof from `old` to `new` records.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when a size exceeds the ledger.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.tree()
            .consistency_proof(old, new)
            .map_err(|e| super::tree_error(e, new, "size beyond the log"))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` records.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `index` or `size` exceeds the ledger.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.tree()
            .inclusion_proof(index, size)
            .map_err(|e| super::tree_error(e, index, "leaf or size beyond the log"))
    }
}
