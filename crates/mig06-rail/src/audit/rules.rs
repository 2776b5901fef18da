//! The log's rules, in one place: what a well-formed log may hold across records.
//!
//! The decision that matters: the file store (when it indexes the log at open and when it
//! catches up with other writers, and when it stages a batch) and `audit verify` feed every
//! record, in log order, to the same [`LedgerRules`]. So opening the store and verifying the log
//! can never disagree about a log, and the store can never write a record that `audit verify`
//! would reject.
//!
//! The rules:
//! - **One claim per prior attempt.** A record with the `claim` flag holds the one-continuation
//!   claim on the attempt it `continues`; every record of one attempt may carry it (its open and
//!   terminal records), no record of another attempt may. A record that cites a prior without
//!   the flag is provenance only. A `claim` without `continues` is malformed.
//! - **One terminal record per attempt id.**
//! - **One `COMPLETED_DRAFT` per chain root**, and a completed continuation holds its claim.
//!   With the claim rule, this makes every chain a single line: each attempt has at most one
//!   claiming successor, and only a claiming successor can complete.
//! - **One attempt per request id.** Every record of the attempt that holds a request id may
//!   carry it (its open and terminal records); no record of another attempt may. A request sent
//!   twice (a client's or a proxy's resend, a script run twice) is therefore never run twice.
//!
//! Attempt ids are kept as their 128-bit ULID value, so the index costs a few dozen bytes per
//! attempt.

use std::collections::HashMap;

use crate::ids::{AttemptId, RequestId, Sha256Digest};
use crate::outcome::TerminalCode;

use super::{AuditRecord, RecordKind};

/// Which rule a record breaks. Carries no record contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// Another attempt already holds the claim on the prior attempt this record claims.
    #[error("a second attempt claims the same continuation")]
    ClaimTaken,
    /// The record carries the claim flag but names no prior attempt.
    #[error("a record claims a continuation without naming the prior attempt")]
    ClaimWithoutPrior,
    /// The attempt already has an open record, or has ended.
    #[error("a second open record for one attempt")]
    SecondOpen,
    /// The attempt already has a terminal record.
    #[error("a second terminal record for one attempt")]
    SecondTerminal,
    /// The chain root already has a `COMPLETED_DRAFT`.
    #[error("a second COMPLETED_DRAFT for one chain root")]
    SecondCompletion,
    /// A `COMPLETED_DRAFT` continuation that does not hold the claim on its prior attempt.
    #[error("a completed continuation that does not hold its claim")]
    CompletionWithoutClaim,
    /// Another attempt already holds the record's request id.
    #[error("a second attempt with the same request id")]
    RequestIdTaken,
    /// The store's durable index of the rules could not be read or does not check out, so
    /// whether the record keeps the rules cannot be told: it is refused (fail closed), and the
    /// index is rebuilt from the log at the next start.
    #[error(
        "the store's index of the log's rules does not check out (rebuilt from the log at the next start)"
    )]
    IndexDamaged,
}

/// The fields of a record the rules read (the file store reads only these when it indexes).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The record's attempt.
    pub attempt_id: &'a AttemptId,
    /// Open or terminal.
    pub kind: RecordKind,
    /// The terminal code (terminal records).
    pub code: Option<TerminalCode>,
    /// The prior attempt the record cites.
    pub continues: Option<&'a AttemptId>,
    /// Whether the record holds the claim on `continues`.
    pub claim: bool,
    /// The chain's first attempt.
    pub chain_root: &'a AttemptId,
    /// The request id the record's attempt holds.
    pub request_id: Option<&'a RequestId>,
    /// Whether the log before this record holds an open record of the attempt without a
    /// terminal record (the ledger's open records, which it keeps exactly). Its terminal
    /// record then cannot be a second one, whatever a durable index says: the index is not
    /// asked. A record read alone says `false`, and the index is asked.
    pub open_before: bool,
}

impl<'a> From<&'a AuditRecord> for Facts<'a> {
    fn from(r: &'a AuditRecord) -> Self {
        Self {
            attempt_id: &r.attempt_id,
            kind: r.kind(),
            code: r.code(),
            continues: r.continues.as_ref(),
            claim: r.claim,
            chain_root: &r.chain_root,
            request_id: r.request_id.as_ref(),
            open_before: false,
        }
    }
}

/// An attempt id as a compact key: its 128-bit ULID value (a SHA-256 prefix for anything else,
/// which a parsed record never holds).
fn key(id: &AttemptId) -> u128 {
    ulid::Ulid::from_string(id.as_str()).map_or_else(|_| digest_key(id.as_str()), u128::from)
}

/// The first 128 bits of the SHA-256 of `s`: the key of an id that is not a ULID (the parsed
/// id types allow other grammars only in logs written by hand or by older versions).
fn digest_key(s: &str) -> u128 {
    let digest = Sha256Digest::of(s.as_bytes());
    let mut k = [0u8; 16];
    for (slot, b) in k.iter_mut().zip(digest.bytes()) {
        *slot = *b;
    }
    u128::from_be_bytes(k)
}

/// A request id as a compact key: which grammar it parsed under (a ULID and a UUID with the
/// same 128 bits are different ids) and its 128-bit value.
pub type RidKey = (u8, u128);

/// The four facts the rules keep, as the tables of a durable index name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleTable {
    /// Prior attempt → the attempt holding its claim.
    Claim,
    /// Attempt → (its terminal record).
    Terminal,
    /// Chain root → (its `COMPLETED_DRAFT`).
    Completed,
    /// Request id → the attempt holding it.
    RequestId,
}

impl RuleTable {
    /// Every table, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::Claim,
        Self::Terminal,
        Self::Completed,
        Self::RequestId,
    ];

    /// The table's stable number in the index.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Claim => 1,
            Self::Terminal => 2,
            Self::Completed => 3,
            Self::RequestId => 4,
        }
    }
}

/// A key of a [`RuleTable`]: a grammar byte (0 for attempt ids) and 128 bits, big-endian.
pub type RuleKey = [u8; 17];

/// One fact of the rules: table, key, value (the holding attempt; 0 for the two sets) and the
/// index of the record that established it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRow {
    /// Which fact.
    pub table: RuleTable,
    /// Its key.
    pub key: RuleKey,
    /// The holding attempt (claims, request ids), 0 otherwise.
    pub value: u128,
    /// The index of the record that established it.
    pub seq: u64,
}

fn rule_key(grammar: u8, v: u128) -> RuleKey {
    let mut k = [0u8; 17];
    let (first, rest) = k.split_at_mut(1);
    if let Some(g) = first.first_mut() {
        *g = grammar;
    }
    rest.copy_from_slice(&v.to_be_bytes());
    k
}

/// The key under which the rules keep a fact about attempt `id` (a prior's claim, an
/// attempt's terminal record, a chain root's completion): a store that answers for the rules
/// from its own tables ([`RuleBase`]) keys its answers so.
#[must_use]
pub fn attempt_rule_key(id: &AttemptId) -> RuleKey {
    rule_key(0, key(id))
}

/// The value the rules keep for the attempt `id` holding a claim or a request id.
#[must_use]
pub fn attempt_rule_value(id: &AttemptId) -> u128 {
    key(id)
}

/// [`attempt_rule_value`] of an attempt id as a table holds it: an id that does not parse (a
/// row no rail wrote) is the value of no attempt, so the fact it states is held by another
/// attempt (fail closed for that one fact), never a failure of the whole store.
#[must_use]
pub fn text_rule_value(id: &str) -> u128 {
    AttemptId::parse(id).map_or_else(|_| digest_key(id), |a| key(&a))
}

/// The key under which the rules keep the attempt holding request id `id`.
#[must_use]
pub fn request_rule_key(id: &RequestId) -> RuleKey {
    let (g, v) = rid_key(id);
    rule_key(g, v)
}

/// The index's answer to "is there a fact under this key", or why it cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rules' index does not check out")]
pub struct IndexDamaged;

// INV-INDEX-NEVER-TRUSTED: a durable index answers only with facts it can authenticate; an
// absent key only with proof of absence. Anything else is `IndexDamaged`, which refuses.
/// The rules' state for the records before the ledger's resume point, held by a durable
/// index (the file store's `index.sqlite`).
pub trait RuleBase: std::fmt::Debug + Send + Sync {
    /// The fact under `key` in `table`: (value, seq), or `None` when the index proves there
    /// is none.
    ///
    /// # Errors
    /// [`IndexDamaged`] when the index cannot be read or its answer does not check out.
    fn get(&self, table: RuleTable, key: &RuleKey) -> Result<Option<(u128, u64)>, IndexDamaged>;
}

/// A rule base that knows no facts: what an auditor who reads the log from a checkpoint on has
/// of the records before it (rules that tie a later record to an earlier one are left to a
/// whole read).
#[derive(Debug)]
pub struct NoFacts;

impl RuleBase for NoFacts {
    fn get(&self, _: RuleTable, _: &RuleKey) -> Result<Option<(u128, u64)>, IndexDamaged> {
        Ok(None)
    }
}

fn rid_key(id: &RequestId) -> RidKey {
    let s = id.as_str();
    if let Ok(u) = ulid::Ulid::from_string(s) {
        return (0, u128::from(u));
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    match u128::from_str_radix(&hex, 16) {
        Ok(v) => (1, v),
        // A parsed `RequestId` is a ULID or a UUID; anything else keys by its digest.
        Err(_) => (2, digest_key(s)),
    }
}

// INV-NO-RETRY: one attempt per request id, so a resent request never runs again.
// INV-CONT-NOT-RETRY: A continuation must not behave like a retry.
// INV-CONT-CHAIN: one claim holder per prior, one terminal record per attempt and one
// `COMPLETED_DRAFT` per chain root, over every record of the log.
/// The state the rules keep: claims, terminated attempts, completed chain roots.
#[derive(Debug, Clone, Default)]
pub struct LedgerRules {
    /// Prior attempt → the attempt holding its claim, and the record's index.
    claims: HashMap<u128, (u128, u64)>,
    /// Attempts with a terminal record.
    terminal: HashMap<u128, u64>,
    /// Chain roots with a `COMPLETED_DRAFT`.
    completed: HashMap<u128, u64>,
    /// Request id → the attempt holding it.
    request_ids: HashMap<RidKey, (u128, u64)>,
    /// The facts of the records before `base_limit`, when resumed from a durable index.
    base: Option<std::sync::Arc<dyn RuleBase>>,
    /// Facts of the index established at or past this index are not the base's: memory holds
    /// them (another process may have indexed further than this one resumed).
    base_limit: u64,
    /// The index of the next record admitted.
    next: u64,
}

/// The effect of one admitted record on the rules' state.
#[derive(Debug, Clone, Copy)]
struct Effect {
    claim: Option<(u128, u128)>,
    terminal: Option<u128>,
    completed: Option<u128>,
    request_id: Option<(RidKey, u128)>,
}

/// A fact of the base, if established before `limit`.
fn from_base(
    base: Option<&std::sync::Arc<dyn RuleBase>>,
    limit: u64,
    table: RuleTable,
    key: &RuleKey,
) -> Result<Option<u128>, RuleViolation> {
    let Some(base) = base else {
        return Ok(None);
    };
    // No fact of the base precedes record 0: nothing to ask.
    if limit == 0 {
        return Ok(None);
    }
    match base.get(table, key) {
        Ok(Some((v, seq))) if seq < limit => Ok(Some(v)),
        Ok(Some(_) | None) => Ok(None),
        Err(IndexDamaged) => Err(RuleViolation::IndexDamaged),
    }
}

impl LedgerRules {
    /// Rules over an empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next record of the log and, when it keeps every rule, records it.
    ///
    /// # Errors
    /// The [`RuleViolation`] the record commits; the state is then unchanged.
    pub fn admit(&mut self, facts: Facts<'_>) -> Result<(), RuleViolation> {
        let (me, open_before) = (key(facts.attempt_id), facts.open_before);
        let effect = evaluate(
            facts,
            &Lookups {
                holder: |k| self.claim_holder(k),
                terminated: |k| self.terminated_unless_open(k, me, open_before),
                completed: |k| self.is_root_completed(k),
                rid_holder: |k| self.rid_holder(k),
            },
        )?;
        self.apply(effect);
        Ok(())
    }

    /// Rules over a log of `size` records whose facts are in `base` (a durable index checked
    /// by the store), with nothing in memory.
    #[must_use]
    pub fn resumed(base: std::sync::Arc<dyn RuleBase>, size: u64) -> Self {
        Self {
            base: Some(base),
            base_limit: size,
            next: size,
            ..Self::default()
        }
    }

    /// The facts held in memory (those of records since the resume point), for the store to
    /// write to its index; [`LedgerRules::rebase`] then drops them.
    #[must_use]
    pub fn in_memory(&self) -> Vec<RuleRow> {
        let mut rows = Vec::new();
        for (k, (v, seq)) in &self.claims {
            rows.push(RuleRow {
                table: RuleTable::Claim,
                key: rule_key(0, *k),
                value: *v,
                seq: *seq,
            });
        }
        for (k, seq) in &self.terminal {
            rows.push(RuleRow {
                table: RuleTable::Terminal,
                key: rule_key(0, *k),
                value: 0,
                seq: *seq,
            });
        }
        for (k, seq) in &self.completed {
            rows.push(RuleRow {
                table: RuleTable::Completed,
                key: rule_key(0, *k),
                value: 0,
                seq: *seq,
            });
        }
        for ((g, k), (v, seq)) in &self.request_ids {
            rows.push(RuleRow {
                table: RuleTable::RequestId,
                key: rule_key(*g, *k),
                value: *v,
                seq: *seq,
            });
        }
        rows.sort_by_key(|r| (r.table, r.key));
        rows
    }

    /// Hands the facts in memory to `base`, which now holds every record admitted.
    pub fn rebase(&mut self, base: std::sync::Arc<dyn RuleBase>) {
        self.claims.clear();
        self.terminal.clear();
        self.completed.clear();
        self.request_ids.clear();
        self.base = Some(base);
        self.base_limit = self.next;
    }

    fn claim_holder(&self, k: u128) -> Result<Option<u128>, RuleViolation> {
        match self.claims.get(&k) {
            Some((h, _)) => Ok(Some(*h)),
            None => from_base(
                self.base.as_ref(),
                self.base_limit,
                RuleTable::Claim,
                &rule_key(0, k),
            ),
        }
    }

    fn terminated(&self, k: u128) -> Result<bool, RuleViolation> {
        if self.terminal.contains_key(&k) {
            return Ok(true);
        }
        Ok(from_base(
            self.base.as_ref(),
            self.base_limit,
            RuleTable::Terminal,
            &rule_key(0, k),
        )?
        .is_some())
    }

    /// [`LedgerRules::terminated`], except that the base is not asked about the attempt `me`
    /// when it has an open record without a terminal record before this one (`open_before`):
    /// the base then cannot hold its terminal record.
    fn terminated_unless_open(
        &self,
        k: u128,
        me: u128,
        open_before: bool,
    ) -> Result<bool, RuleViolation> {
        if open_before && k == me {
            return Ok(self.terminal.contains_key(&k));
        }
        self.terminated(k)
    }

    fn is_root_completed(&self, k: u128) -> Result<bool, RuleViolation> {
        if self.completed.contains_key(&k) {
            return Ok(true);
        }
        Ok(from_base(
            self.base.as_ref(),
            self.base_limit,
            RuleTable::Completed,
            &rule_key(0, k),
        )?
        .is_some())
    }

    fn rid_holder(&self, k: RidKey) -> Result<Option<u128>, RuleViolation> {
        match self.request_ids.get(&k) {
            Some((h, _)) => Ok(Some(*h)),
            None => from_base(
                self.base.as_ref(),
                self.base_limit,
                RuleTable::RequestId,
                &rule_key(k.0, k.1),
            ),
        }
    }

    /// Whether an attempt holds the claim on `prior`. (A hint for the rail; the store decides
    /// when it appends.) An index that does not check out answers "held" (fail closed).
    #[must_use]
    pub fn is_claim_held(&self, prior: &AttemptId) -> bool {
        self.claim_holder(key(prior)).map_or(true, |h| h.is_some())
    }

    /// The attempt holding `request_id`, if any. (A hint for the rail; the store decides when
    /// it appends, and refuses then when the index does not check out.)
    #[must_use]
    pub fn request_id_holder(&self, request_id: &RequestId) -> Option<AttemptId> {
        self.rid_holder(rid_key(request_id))
            .ok()
            .flatten()
            .and_then(|a| AttemptId::parse(&ulid::Ulid::from(a).to_string()).ok())
    }

    /// Whether `attempt` has a terminal record.
    ///
    /// # Errors
    /// [`RuleViolation::IndexDamaged`] when the index cannot tell.
    pub(crate) fn is_terminated(&self, attempt: &AttemptId) -> Result<bool, RuleViolation> {
        self.terminated(key(attempt))
    }

    #[cfg(test)]
    /// Whether the chain rooted at `root` has a `COMPLETED_DRAFT`.
    #[must_use]
    pub(crate) fn is_completed(&self, root: &AttemptId) -> bool {
        self.is_root_completed(key(root)).unwrap_or(false)
    }

    /// Stages records on top of this state without changing it (a batch the store has not
    /// written yet); [`LedgerRules::commit`] applies them once the batch is durable.
    #[must_use]
    pub fn stage(&self) -> Staged<'_> {
        Staged {
            base: self,
            added: Self::default(),
        }
    }

    /// Applies the records a [`Staged`] admitted (after the batch holding them is durable).
    pub fn commit(&mut self, added: Self) {
        // The stage counted its records from 0: they follow this state's.
        let at = self.next;
        let shift = |seq: u64| at.saturating_add(seq);
        for (k, (v, s)) in added.claims {
            self.claims.entry(k).or_insert((v, shift(s)));
        }
        for (k, s) in added.terminal {
            self.terminal.entry(k).or_insert(shift(s));
        }
        for (k, s) in added.completed {
            self.completed.entry(k).or_insert(shift(s));
        }
        for (k, (v, s)) in added.request_ids {
            self.request_ids.entry(k).or_insert((v, shift(s)));
        }
        self.next = self.next.saturating_add(added.next);
    }

    /// Records the effect of the record at index `self.next`. An effect holds only facts no
    /// record before established ([`evaluate`] leaves out a claim or request id its attempt
    /// already holds), so each fact keeps its first record without another lookup.
    fn apply(&mut self, e: Effect) {
        let seq = self.next;
        self.next = self.next.saturating_add(1);
        if let Some((prior, holder)) = e.claim {
            self.claims.entry(prior).or_insert((holder, seq));
        }
        if let Some(a) = e.terminal {
            self.terminal.entry(a).or_insert(seq);
        }
        if let Some(root) = e.completed {
            self.completed.entry(root).or_insert(seq);
        }
        if let Some((rid, holder)) = e.request_id {
            self.request_ids.entry(rid).or_insert((holder, seq));
        }
    }
}

/// Records admitted on top of a [`LedgerRules`] but not yet applied to it.
#[derive(Debug)]
pub struct Staged<'a> {
    base: &'a LedgerRules,
    added: LedgerRules,
}

impl Staged<'_> {
    /// Checks the next record against the base state and the records staged before it, and
    /// stages it when it keeps every rule.
    ///
    /// # Errors
    /// The [`RuleViolation`] the record commits; nothing is staged then.
    pub fn admit(&mut self, facts: Facts<'_>) -> Result<(), RuleViolation> {
        let (base, added) = (self.base, &self.added);
        let (me, open_before) = (key(facts.attempt_id), facts.open_before);
        // The records staged before this one first: they are in memory, and an answer there
        // spares the base a lookup.
        let effect = evaluate(
            facts,
            &Lookups {
                holder: |k| match added.claim_holder(k)? {
                    Some(h) => Ok(Some(h)),
                    None => base.claim_holder(k),
                },
                terminated: |k| {
                    Ok(added.terminated(k)? || base.terminated_unless_open(k, me, open_before)?)
                },
                completed: |k| Ok(added.is_root_completed(k)? || base.is_root_completed(k)?),
                rid_holder: |k| match added.rid_holder(k)? {
                    Some(h) => Ok(Some(h)),
                    None => base.rid_holder(k),
                },
            },
        )?;
        self.added.apply(effect);
        Ok(())
    }

    /// Whether `attempt` has a terminal record, in the base state or among the records staged.
    ///
    /// # Errors
    /// [`RuleViolation::IndexDamaged`] when the index cannot tell.
    pub(crate) fn is_terminated(&self, attempt: &AttemptId) -> Result<bool, RuleViolation> {
        let k = key(attempt);
        Ok(self.base.terminated(k)? || self.added.terminated(k)?)
    }

    /// What was staged, for [`LedgerRules::commit`].
    #[must_use]
    pub(crate) fn into_added(self) -> LedgerRules {
        self.added
    }
}

/// How [`evaluate`] reads a state: the claim holder of a prior, whether an attempt is
/// terminated, whether a chain root is completed, the attempt holding a request id. Each is
/// asked only when the record needs it (a lookup may be a read of the durable index).
struct Lookups<H, T, C, R> {
    holder: H,
    terminated: T,
    completed: C,
    rid_holder: R,
}

/// The rules themselves: what `facts` does to a state read through `state`. The effect holds
/// only facts the state does not hold yet.
fn evaluate<H, T, C, R>(
    facts: Facts<'_>,
    state: &Lookups<H, T, C, R>,
) -> Result<Effect, RuleViolation>
where
    H: Fn(u128) -> Result<Option<u128>, RuleViolation>,
    T: Fn(u128) -> Result<bool, RuleViolation>,
    C: Fn(u128) -> Result<bool, RuleViolation>,
    R: Fn(RidKey) -> Result<Option<u128>, RuleViolation>,
{
    let me = key(facts.attempt_id);
    let request_id = match facts.request_id.map(rid_key) {
        None => None,
        Some(rid) => match (state.rid_holder)(rid)? {
            Some(h) if h != me => return Err(RuleViolation::RequestIdTaken),
            Some(_) => None,
            None => Some((rid, me)),
        },
    };
    let claim = match (facts.claim, facts.continues) {
        (false, _) => None,
        (true, None) => return Err(RuleViolation::ClaimWithoutPrior),
        (true, Some(prior)) => {
            let prior = key(prior);
            match (state.holder)(prior)? {
                Some(h) if h != me => return Err(RuleViolation::ClaimTaken),
                Some(_) => None,
                None => Some((prior, me)),
            }
        }
    };
    let mut effect = Effect {
        claim,
        terminal: None,
        completed: None,
        request_id,
    };
    if facts.kind == RecordKind::Terminal {
        if (state.terminated)(me)? {
            return Err(RuleViolation::SecondTerminal);
        }
        effect.terminal = Some(me);
        if facts.code == Some(TerminalCode::CompletedDraft) {
            if facts.continues.is_some() && !facts.claim {
                return Err(RuleViolation::CompletionWithoutClaim);
            }
            let root = key(facts.chain_root);
            if (state.completed)(root)? {
                return Err(RuleViolation::SecondCompletion);
            }
            effect.completed = Some(root);
        }
    }
    Ok(effect)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use proptest::prelude::*;

    /// A generated record over small pools of attempts and roots, so that rules collide.
    #[derive(Debug, Clone, Copy)]
    struct Gen {
        attempt: usize,
        terminal: bool,
        completed: bool,
        continues: Option<usize>,
        claim: bool,
        root: usize,
        rid: Option<usize>,
    }

    fn gen_record() -> impl Strategy<Value = Gen> {
        (
            0..6usize,
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0..6usize),
            any::<bool>(),
            0..3usize,
            proptest::option::of(0..3usize),
        )
            .prop_map(
                |(attempt, terminal, completed, continues, claim, root, rid)| Gen {
                    attempt,
                    terminal,
                    completed,
                    continues,
                    claim,
                    root,
                    rid,
                },
            )
    }

    /// Three request ids: two ULIDs and a UUID.
    fn rids() -> Vec<RequestId> {
        [
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "01BX5ZZKBKACTAV9WEVGEMMVRZ",
            "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        ]
        .iter()
        .filter_map(|s| RequestId::parse(s).ok())
        .collect()
    }

    fn facts<'a>(g: &Gen, ids: &'a [AttemptId], rids: &'a [RequestId]) -> Facts<'a> {
        Facts {
            attempt_id: &ids[g.attempt],
            kind: if g.terminal {
                RecordKind::Terminal
            } else {
                RecordKind::Open
            },
            code: match (g.terminal, g.completed) {
                (true, true) => Some(TerminalCode::CompletedDraft),
                (true, false) => Some(TerminalCode::DeniedPolicy),
                (false, _) => None,
            },
            continues: g.continues.map(|c| &ids[c]),
            claim: g.claim,
            chain_root: &ids[g.root],
            request_id: g.rid.map(|r| &rids[r]),
            open_before: false,
        }
    }

    /// The rules stated directly over the records admitted so far (quadratic, obviously right).
    fn reference(g: &Gen, admitted: &[Gen]) -> Result<(), RuleViolation> {
        if let Some(rid) = g.rid
            && admitted
                .iter()
                .any(|a| a.rid == Some(rid) && a.attempt != g.attempt)
        {
            return Err(RuleViolation::RequestIdTaken);
        }
        if g.claim {
            let Some(prior) = g.continues else {
                return Err(RuleViolation::ClaimWithoutPrior);
            };
            if admitted
                .iter()
                .any(|a| a.claim && a.continues == Some(prior) && a.attempt != g.attempt)
            {
                return Err(RuleViolation::ClaimTaken);
            }
        }
        if g.terminal {
            if admitted
                .iter()
                .any(|a| a.terminal && a.attempt == g.attempt)
            {
                return Err(RuleViolation::SecondTerminal);
            }
            if g.completed {
                if g.continues.is_some() && !g.claim {
                    return Err(RuleViolation::CompletionWithoutClaim);
                }
                if admitted
                    .iter()
                    .any(|a| a.terminal && a.completed && a.root == g.root)
                {
                    return Err(RuleViolation::SecondCompletion);
                }
            }
        }
        Ok(())
    }

    proptest! {
        /// Admitting records one by one gives exactly the verdicts of the rules stated over the
        /// whole history, and the admitted log keeps every rule: one claim holder per prior,
        /// one terminal record per attempt, one `COMPLETED_DRAFT` per chain root.
        #[test]
        fn inv_cont_chain_ledger_rules_admit_exactly_what_the_stated_rules_allow(
            records in proptest::collection::vec(gen_record(), 0..60)
        ) {
            let ids: Vec<AttemptId> = (0..6).map(|_| AttemptId::mint()).collect();
            let rids = rids();
            let mut rules = LedgerRules::new();
            let mut admitted: Vec<Gen> = Vec::new();
            for g in &records {
                let expected = reference(g, &admitted);
                prop_assert_eq!(rules.admit(facts(g, &ids, &rids)), expected);
                if expected.is_ok() {
                    admitted.push(*g);
                }
            }
            for (prior, prior_id) in ids.iter().enumerate().take(6) {
                let holders: HashSet<usize> = admitted
                    .iter()
                    .filter(|a| a.claim && a.continues == Some(prior))
                    .map(|a| a.attempt)
                    .collect();
                prop_assert!(holders.len() <= 1);
                prop_assert_eq!(rules.is_claim_held(prior_id), !holders.is_empty());
            }
            for (a, attempt_id) in ids.iter().enumerate().take(6) {
                let terminals = admitted.iter().filter(|r| r.terminal && r.attempt == a).count();
                prop_assert!(terminals <= 1);
                prop_assert_eq!(rules.is_terminated(attempt_id), Ok(terminals == 1));
            }
            for (r, rid) in rids.iter().enumerate() {
                let holders: HashSet<usize> = admitted
                    .iter()
                    .filter(|a| a.rid == Some(r))
                    .map(|a| a.attempt)
                    .collect();
                prop_assert!(holders.len() <= 1);
                let holder = rules.request_id_holder(rid);
                prop_assert_eq!(holder.as_ref(), holders.iter().next().map(|a| &ids[*a]));
            }
            for (root, root_id) in ids.iter().enumerate().take(3) {
                let done = admitted
                    .iter()
                    .filter(|r| r.terminal && r.completed && r.root == root)
                    .count();
                prop_assert!(done <= 1);
                prop_assert_eq!(rules.is_completed(root_id), done == 1);
            }
        }

        /// Staging records in batches and committing each batch gives the same verdicts and
        /// state as admitting them one by one (the store stages a batch before it is durable).
        #[test]
        fn inv_cont_chain_ledger_rules_staged_batches_agree_with_one_by_one_admission(
            records in proptest::collection::vec(gen_record(), 0..60),
            cuts in proptest::collection::vec(0..60usize, 0..8),
        ) {
            let ids: Vec<AttemptId> = (0..6).map(|_| AttemptId::mint()).collect();
            let rids = rids();
            let mut one_by_one = LedgerRules::new();
            let expected: Vec<_> = records
                .iter()
                .map(|g| one_by_one.admit(facts(g, &ids, &rids)))
                .collect();
            let mut bounds: Vec<usize> = cuts.into_iter().filter(|c| *c < records.len()).collect();
            bounds.push(records.len());
            bounds.sort_unstable();
            let mut batched = LedgerRules::new();
            let mut verdicts = Vec::new();
            let mut from = 0;
            for to in bounds {
                let mut staged = batched.stage();
                for g in &records[from..to] {
                    verdicts.push(staged.admit(facts(g, &ids, &rids)));
                }
                let added = staged.into_added();
                batched.commit(added);
                from = to;
            }
            prop_assert_eq!(verdicts, expected);
            for id in &ids {
                prop_assert_eq!(batched.is_claim_held(id), one_by_one.is_claim_held(id));
                prop_assert_eq!(batched.is_terminated(id), one_by_one.is_terminated(id));
                prop_assert_eq!(batched.is_completed(id), one_by_one.is_completed(id));
            }
        }

        /// A batch that is staged and then dropped (its write failed) leaves no trace.
        #[test]
        fn inv_cont_chain_ledger_rules_a_dropped_stage_changes_nothing(
            records in proptest::collection::vec(gen_record(), 0..30)
        ) {
            let ids: Vec<AttemptId> = (0..6).map(|_| AttemptId::mint()).collect();
            let rids = rids();
            let rules = LedgerRules::new();
            let mut staged = rules.stage();
            for g in &records {
                let _ = staged.admit(facts(g, &ids, &rids));
            }
            drop(staged);
            for id in &ids {
                prop_assert!(!rules.is_claim_held(id) && rules.is_terminated(id) == Ok(false));
                prop_assert!(!rules.is_completed(id));
            }
        }
    }
}
