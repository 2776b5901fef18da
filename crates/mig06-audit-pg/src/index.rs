//! What an instance reads from the database instead of holding the log in memory: the tree's
//! older nodes (`mig06_nodes`, and the records' lines for the leaves) and the rules' facts (the
//! tables whose keys already enforce them: `mig06_claims`, `mig06_request_ids`, and the
//! records' unique indexes on terminal records and completions).
//!
//! The decision that matters: **the ledger never reads the database itself**. It asks its
//! [`NodeSource`] and [`RuleBase`] synchronously, and a database read needs a connection and a
//! bound the ledger does not have. So the store fetches first and asks after: the facts that
//! the records of a batch (or the records other instances appended) will look up are read in
//! one round trip before the ledger checks them; a tree answer is computed once while
//! recording which older nodes it reads, those are read in one round trip, and the answer is
//! computed again. What was fetched is dropped when the operation ends (no cache). An answer
//! that was not fetched is no answer: a node reads as absent (the tree refuses), a fact as
//! [`IndexDamaged`] (the record is refused, fail closed). A node is used only with a proof
//! against the root in memory, which open checked against the latest signed checkpoint.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use mig06_rail::audit::rules::{
    IndexDamaged, RuleBase, RuleKey, RuleTable, attempt_rule_key, request_rule_key, text_rule_value,
};
use mig06_rail::audit::{AuditRecord, Hash};
use mig06_rail::ids::AttemptId;
use mig06_tlog::{NodeSource, leaf_hash, node_hash};

use crate::conn::{Conn, RoundTripError};
use crate::sql::{hex_cell, rows, text_literal};

/// `mig06_nodes` holds the full subtrees at the levels that are positive multiples of this:
/// one row per 15 records, and any other node is folded from at most 8 rows (or 8 lines).
pub(crate) const NODE_EVERY: u32 = 4;

/// One fact of the rules as read: (table, key) and (value, seq) when the tables hold it.
pub(crate) type Fact = ((RuleTable, RuleKey), Option<(u128, u64)>);

/// A node of the tree: level, index, hash.
pub(crate) type Node = (u32, u64, Hash);

/// A stored piece of the tree: a record's leaf (hashed from its line) or a `mig06_nodes` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum NodeKey {
    /// The leaf of the record at this index.
    Leaf(u64),
    /// The node at (level, index), level a positive multiple of [`NODE_EVERY`].
    Node(u32, u64),
}

#[derive(Debug, Default)]
struct State {
    /// Reads of pieces not fetched are noted in `missing` and answered with a placeholder (the
    /// answer computed then is thrown away).
    recording: bool,
    nodes: HashMap<NodeKey, Hash>,
    missing: BTreeSet<NodeKey>,
    facts: HashMap<(RuleTable, RuleKey), Option<(u128, u64)>>,
}

/// The older nodes and the rules' facts, as fetched for the operation under way.
#[derive(Debug, Default)]
pub(crate) struct DbIndex {
    state: Mutex<State>,
}

impl DbIndex {
    fn state(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }

    /// Starts recording the pieces the next tree answer reads that were not fetched.
    pub(crate) fn record(&self) {
        if let Some(mut st) = self.state() {
            st.recording = true;
            st.missing.clear();
        }
    }

    /// Answers from what was fetched only (a piece not fetched reads as absent).
    fn serve(&self) {
        if let Some(mut st) = self.state() {
            st.recording = false;
        }
    }

    /// Ends recording; the pieces read that were not fetched.
    pub(crate) fn take_missing(&self) -> BTreeSet<NodeKey> {
        self.state().map_or_else(BTreeSet::new, |mut st| {
            st.recording = false;
            std::mem::take(&mut st.missing)
        })
    }

    /// Makes fetched pieces readable.
    pub(crate) fn put_nodes(&self, nodes: Vec<(NodeKey, Hash)>) {
        if let Some(mut st) = self.state() {
            st.nodes.extend(nodes);
        }
    }

    /// Drops every fetched piece (the operation ended).
    pub(crate) fn clear_nodes(&self) {
        if let Some(mut st) = self.state() {
            st.recording = false;
            st.nodes.clear();
            st.missing.clear();
        }
    }

    /// Makes fetched facts readable.
    pub(crate) fn put_facts(&self, facts: Vec<Fact>) {
        if let Some(mut st) = self.state() {
            st.facts.extend(facts);
        }
    }

    /// Drops every fetched fact (the batch ended, or the facts' base moved).
    pub(crate) fn clear_facts(&self) {
        if let Some(mut st) = self.state() {
            st.facts.clear();
        }
    }

    /// Whether the facts about `key` in `table` were fetched.
    fn has_fact(&self, table: RuleTable, key: &RuleKey) -> bool {
        self.state()
            .is_some_and(|st| st.facts.contains_key(&(table, *key)))
    }
}

impl NodeSource for DbIndex {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        let mut st = self.state()?;
        let stored = level - level % NODE_EVERY;
        let width = level - stored;
        let count = 1u64.checked_shl(width)?;
        let first = index.checked_mul(count)?;
        let mut row = Vec::new();
        for i in first..first.checked_add(count)? {
            let key = if stored == 0 {
                NodeKey::Leaf(i)
            } else {
                NodeKey::Node(stored, i)
            };
            match st.nodes.get(&key) {
                Some(h) => row.push(*h),
                None if st.recording => {
                    st.missing.insert(key);
                    row.push([0u8; 32]);
                }
                None => return None,
            }
        }
        // RFC 9162 §2.1.1: an aligned full subtree is the hash of its two halves.
        while row.len() > 1 {
            let mut up = Vec::with_capacity(row.len() / 2);
            for pair in row.chunks(2) {
                match pair {
                    [l, r] => up.push(node_hash(l, r)),
                    _ => return None,
                }
            }
            row = up;
        }
        row.pop()
    }
}

impl RuleBase for DbIndex {
    fn get(&self, table: RuleTable, key: &RuleKey) -> Result<Option<(u128, u64)>, IndexDamaged> {
        let st = self.state().ok_or(IndexDamaged)?;
        st.facts.get(&(table, *key)).copied().ok_or(IndexDamaged)
    }
}

/// What a round trip of this module could not do.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The round trip failed or its bound passed.
    RoundTrip(RoundTripError),
    /// The database answered with a row this build cannot read.
    Unreadable,
}

/// A failed read of nodes or facts as a [`crate::PgError`] naming `op` (outside an append).
pub(crate) fn pg_fetch_error(op: &'static str) -> impl Fn(FetchError) -> crate::PgError {
    move |e| match e {
        FetchError::RoundTrip(e) => crate::sql::pg_error(op)(e),
        FetchError::Unreadable => crate::PgError::Sql {
            op,
            message: "unreadable row".into(),
        },
    }
}

impl From<RoundTripError> for FetchError {
    fn from(e: RoundTripError) -> Self {
        Self::RoundTrip(e)
    }
}

/// Reads the pieces `keys` (one round trip): leaves from the records' lines, nodes from
/// `mig06_nodes`. A piece the database lacks is simply not returned.
pub(crate) fn fetch_nodes(
    conn: &mut Conn,
    keys: &BTreeSet<NodeKey>,
    by: Instant,
) -> Result<Vec<(NodeKey, Hash)>, FetchError> {
    let mut leaves: Vec<String> = Vec::new();
    let mut levels: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for k in keys {
        match k {
            NodeKey::Leaf(i) => leaves.push(i.to_string()),
            NodeKey::Node(level, i) => levels.entry(*level).or_default().push(i.to_string()),
        }
    }
    let mut sql = String::new();
    if !leaves.is_empty() {
        sql.push_str(&format!(
            "SELECT 'l', seq, encode(line, 'hex') FROM mig06_records WHERE seq IN ({}); ",
            leaves.join(",")
        ));
    }
    for (level, idx) in &levels {
        sql.push_str(&format!(
            "SELECT 'n', level, idx, encode(hash, 'hex') FROM mig06_nodes \
             WHERE level = {level} AND idx IN ({}); ",
            idx.join(",")
        ));
    }
    if sql.is_empty() {
        return Ok(Vec::new());
    }
    let msgs = conn.simple_query(&sql, by)?;
    let mut out = Vec::new();
    for row in rows(&msgs) {
        let key = match row.get(0) {
            Some("l") => NodeKey::Leaf(number(row.get(1))?),
            Some("n") => NodeKey::Node(
                u32::try_from(number(row.get(1))?).map_err(|_| FetchError::Unreadable)?,
                number(row.get(2))?,
            ),
            _ => return Err(FetchError::Unreadable),
        };
        let cell = match key {
            NodeKey::Leaf(_) => row.get(2),
            NodeKey::Node(..) => row.get(3),
        };
        let bytes = hex_cell(cell).ok_or(FetchError::Unreadable)?;
        let hash = match key {
            NodeKey::Leaf(_) => leaf_hash(&bytes),
            NodeKey::Node(..) => {
                Hash::try_from(bytes.as_slice()).map_err(|_| FetchError::Unreadable)?
            }
        };
        out.push((key, hash));
    }
    Ok(out)
}

fn number(cell: Option<&str>) -> Result<u64, FetchError> {
    cell.and_then(|v| v.parse::<u64>().ok())
        .ok_or(FetchError::Unreadable)
}

/// The ids whose facts the rules will look up for some records.
#[derive(Debug, Default, Clone)]
pub(crate) struct Wanted {
    /// Attempt ids (a record's attempt, chain root and prior), by text, with their key.
    attempts: BTreeMap<String, RuleKey>,
    /// Request ids, by text, with their key.
    requests: BTreeMap<String, RuleKey>,
}

impl Wanted {
    /// Everything the rules look up when they check `record`: the claim on its prior, the
    /// holder of its request id, and whether its attempt and its chain root have a terminal
    /// record or a completion.
    pub(crate) fn record(&mut self, record: &AuditRecord) {
        self.attempt(&record.attempt_id);
        self.attempt(&record.chain_root);
        if let Some(prior) = &record.continues {
            self.attempt(prior);
        }
        if let Some(rid) = &record.request_id {
            self.requests
                .insert(rid.as_str().to_owned(), request_rule_key(rid));
        }
    }

    /// The holder of one request id.
    pub(crate) fn request(&mut self, id: &mig06_rail::ids::RequestId) {
        self.requests
            .insert(id.as_str().to_owned(), request_rule_key(id));
    }

    /// The facts about one attempt id.
    pub(crate) fn attempt(&mut self, id: &AttemptId) {
        self.attempts
            .insert(id.as_str().to_owned(), attempt_rule_key(id));
    }

    /// Leaves out what `index` already holds.
    pub(crate) fn not_in(mut self, index: &DbIndex) -> Self {
        self.attempts.retain(|_, k| {
            !RuleTable::ALL
                .iter()
                .filter(|t| **t != RuleTable::RequestId)
                .all(|t| index.has_fact(*t, k))
        });
        self.requests
            .retain(|_, k| !index.has_fact(RuleTable::RequestId, k));
        self
    }

    /// Nothing to fetch.
    pub(crate) fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.requests.is_empty()
    }
}

/// An id as a SQL literal the planner can match against the tables' indexes: a plain string
/// when it is of the ids' closed alphabet (a ULID or a UUID, as the parsed id types are), the
/// hex expression otherwise (never spliced). A function of a literal is not an index
/// condition: each fact would cost a scan of the log.
fn id_literal(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        format!("'{id}'")
    } else {
        text_literal(id)
    }
}

/// A query for the facts of a [`Wanted`]: its SQL (appended to a round trip's message) and
/// the answers read from its rows.
#[derive(Debug, Default)]
pub(crate) struct FactQuery {
    wanted: Wanted,
    sql: String,
    answers: HashMap<(RuleTable, RuleKey), Option<(u128, u64)>>,
}

impl FactQuery {
    /// The query for `wanted`: every id asked for gets an answer in each table it may be in
    /// (`None`: no fact, which the tables' keys prove, since every committed record's facts
    /// are inserted with it, in its transaction).
    pub(crate) fn new(wanted: Wanted) -> Self {
        let mut sql = String::new();
        let mut answers = HashMap::new();
        if !wanted.attempts.is_empty() {
            let ids: Vec<String> = wanted.attempts.keys().map(|s| id_literal(s)).collect();
            let ids = ids.join(",");
            sql.push_str(&format!(
                "SELECT 'c', prior, attempt_id, seq FROM mig06_claims WHERE prior IN ({ids}); \
                 SELECT 't', attempt_id, attempt_id, seq FROM mig06_records \
                 WHERE kind = 'terminal' AND attempt_id IN ({ids}); \
                 SELECT 'd', completes, completes, seq FROM mig06_records WHERE completes IN ({ids}); "
            ));
            for k in wanted.attempts.values() {
                for t in [RuleTable::Claim, RuleTable::Terminal, RuleTable::Completed] {
                    answers.insert((t, *k), None);
                }
            }
        }
        if !wanted.requests.is_empty() {
            let ids: Vec<String> = wanted.requests.keys().map(|s| id_literal(s)).collect();
            sql.push_str(&format!(
                "SELECT 'q', request_id, attempt_id, seq FROM mig06_request_ids \
                 WHERE request_id IN ({}); ",
                ids.join(",")
            ));
            for k in wanted.requests.values() {
                answers.insert((RuleTable::RequestId, *k), None);
            }
        }
        Self {
            wanted,
            sql,
            answers,
        }
    }

    /// The statements (empty when nothing is wanted).
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Reads one row of the query's answer; `false` when the row is not one of its rows.
    pub(crate) fn read(
        &mut self,
        row: &tokio_postgres::SimpleQueryRow,
    ) -> Result<bool, FetchError> {
        let (table, keys) = match row.get(0) {
            Some("c") => (RuleTable::Claim, &self.wanted.attempts),
            Some("t") => (RuleTable::Terminal, &self.wanted.attempts),
            Some("d") => (RuleTable::Completed, &self.wanted.attempts),
            Some("q") => (RuleTable::RequestId, &self.wanted.requests),
            _ => return Ok(false),
        };
        let key = row
            .get(1)
            .and_then(|id| keys.get(id))
            .ok_or(FetchError::Unreadable)?;
        let seq = number(row.get(3))?;
        let value = match table {
            RuleTable::Claim | RuleTable::RequestId => row
                .get(2)
                .map(text_rule_value)
                .ok_or(FetchError::Unreadable)?,
            RuleTable::Terminal | RuleTable::Completed => 0,
        };
        self.answers.insert((table, *key), Some((value, seq)));
        Ok(true)
    }

    /// The answers read.
    pub(crate) fn answers(self) -> Vec<Fact> {
        self.answers.into_iter().collect()
    }
}

/// Reads the facts `wanted` (one round trip, none when nothing is wanted).
pub(crate) fn fetch_facts(
    conn: &mut Conn,
    wanted: Wanted,
    by: Instant,
) -> Result<Vec<Fact>, FetchError> {
    let mut query = FactQuery::new(wanted);
    if query.sql().is_empty() {
        return Ok(Vec::new());
    }
    let msgs = conn.simple_query(query.sql(), by)?;
    for row in rows(&msgs) {
        if !query.read(row)? {
            return Err(FetchError::Unreadable);
        }
    }
    Ok(query.answers())
}

// INV-INDEX-NEVER-TRUSTED: a node or a fact that was not read from the database is no answer
// (the tree refuses, the rule refuses), and a node read is used only with a proof against the
// root in memory.
/// At most this many round trips for one tree answer: each reads the pieces that the answer's
/// checks, up to the first that failed on a piece not read yet, need (a proof, then the
/// checkpoint it is checked against, ...).
const MAX_PASSES: usize = 8;

/// Computes `f` while recording the older nodes it reads, reads those (one round trip) and
/// computes it again, until it reads nothing that was not read; a piece the database does not
/// hold then reads as absent (so the tree refuses the answer). Without such reads, the first
/// answer stands. What was read is dropped after.
///
/// # Errors
/// [`FetchError`] when a round trip fails.
pub(crate) fn answer<T>(
    index: &DbIndex,
    conn: &mut Conn,
    by: Instant,
    f: impl Fn() -> T,
) -> Result<T, FetchError> {
    let mut asked: BTreeSet<NodeKey> = BTreeSet::new();
    for _ in 0..MAX_PASSES {
        index.record();
        let out = f();
        let missing = index.take_missing();
        if missing.is_empty() {
            index.clear_nodes();
            return Ok(out);
        }
        let new: BTreeSet<NodeKey> = missing.difference(&asked).copied().collect();
        if new.is_empty() {
            break;
        }
        match fetch_nodes(conn, &new, by) {
            Ok(nodes) => index.put_nodes(nodes),
            Err(e) => {
                index.clear_nodes();
                return Err(e);
            }
        }
        asked.extend(new);
    }
    index.serve();
    let out = f();
    index.clear_nodes();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::id_literal;

    #[test]
    fn ids_are_spliced_only_in_their_closed_alphabet() {
        assert_eq!(
            id_literal("01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            "'01ARZ3NDEKTSV4RRFFQ69G5FAV'"
        );
        assert_eq!(
            id_literal("0b9a7c2e-1f3d-4e5a-9b8c-7d6e5f4a3b2c"),
            "'0b9a7c2e-1f3d-4e5a-9b8c-7d6e5f4a3b2c'"
        );
        for hostile in ["a'b", "x); DROP TABLE mig06_records; --", "", "a b", "é"] {
            let lit = id_literal(hostile);
            assert!(lit.starts_with("convert_from(decode('"), "{lit}");
        }
    }
}
