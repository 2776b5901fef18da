//! The file store's durable index (`index.sqlite`): derived state that lets the store open in
//! time independent of the log's length.
//!
//! The decision that matters: the index is never trusted over the log, and never believed
//! as read. It is written after the records it describes are durable in the log, in one
//! SQLite transaction per flush, and it says up to which record it holds ([`IndexMeta`]). Its
//! three parts are each authenticated by a different argument:
//! - **the meta row** carries an HMAC-SHA-256 under a key only the log's signing key can
//!   derive (an Ed25519 signature is deterministic: the key is the signature over a fixed
//!   message), so an index of another log, or one edited without the key, is refused;
//! - **the tree's nodes** need no MAC: the right edge read at open must hash to the MAC'd root
//!   and agree with the latest signed checkpoint, and every older node the tree reads later
//!   comes with a proof against that root (`mig06_tlog::Tree::resume`);
//! - **the rules' facts** are rows of a sorted chain per table: each row names the next key
//!   and carries a MAC over (table, key, next, value, seq). A present key is proved by its
//!   row, an absent key by the row before it (`key < next`), as DNSSEC's NSEC records prove
//!   a name absent (RFC 4034 §4). A deleted or edited row breaks the chain or its MAC:
//!   lookups then fail closed ([`IndexDamaged`]) instead of answering "not there".
//!
//! Anything that does not check out at open makes the store rebuild the index from the log
//! (the whole log is then read and checked, as before the index existed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hmac::{KeyInit, Mac};
use mig06_tlog::checkpoint::LogSigner;
use mig06_tlog::{Hash, NodeSource, node_hash};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::rules::{IndexDamaged, RuleBase, RuleKey, RuleRow, RuleTable};
use crate::audit::{AuditRecord, hash_hex};

/// The index's file name in the audit directory.
pub const INDEX_FILE: &str = "index.sqlite";

/// The index format this code writes and reads.
const VERSION: u32 = 1;

/// Only levels that are multiples of this are stored; a node between them is folded from at
/// most 2^(this - 1) stored nodes below it (a 16-wide tile), which keeps the index near one
/// row per leaf.
const STRIDE: u32 = 4;

/// The `next` of a table's last row: above every 17-byte key.
const END: [u8; 18] = [0xff; 18];

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why the index cannot be used (the store then rebuilds it from the log).
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// SQLite could not open, read or write it.
    #[error("the index cannot be read or written: {0}")]
    Sql(#[from] rusqlite::Error),
    /// It does not check out: the named part.
    #[error("the index does not check out: {0}")]
    Damaged(&'static str),
}

/// What the index holds, as of its last flush. Authenticated by the meta row's MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// The index format.
    pub version: u32,
    /// Records indexed: the log's first `size` records.
    pub size: u64,
    /// Bytes of `log.jsonl` that hold them (the offset of record `size`).
    pub log_len: u64,
    /// Leaf hash of record `size - 1` (hex; the zero hash for an empty log).
    pub last: String,
    /// Tree root at `size` (hex).
    pub root: String,
    /// Kept checkpoints checked when the index was written.
    pub kept: u64,
    /// Bytes of the kept checkpoints file that hold them.
    pub kept_len: u64,
    /// SHA-256 over the open records without a terminal record, as stored (hex; set by
    /// [`Index::flush`]).
    pub pending: String,
    /// SHA-256 over the log's key rotation statements when the index was written (hex): an
    /// index is used only with the key schedule it was checked under.
    pub rotations: String,
}

/// The durable index of one log, and the key that authenticates it.
#[derive(Debug, Clone)]
pub struct Index {
    conn: Arc<Mutex<Connection>>,
    key: Arc<[u8; 32]>,
    path: PathBuf,
}

impl Index {
    /// The index's path in the audit directory `dir`.
    #[must_use]
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(INDEX_FILE)
    }

    /// The MAC key of the index of the log signed by `signer`.
    #[must_use]
    pub fn key_of(signer: &LogSigner) -> [u8; 32] {
        let sig = signer.sign_record(b"mig06 audit index key v1");
        Sha256::digest(sig.as_bytes()).into()
    }

    /// Opens the index at `path` (creating an empty one when absent).
    ///
    /// # Errors
    /// [`IndexError::Sql`] when SQLite cannot open or set it up.
    pub fn open(path: &Path, key: [u8; 32]) -> Result<Self, IndexError> {
        let conn = Connection::open(path)?;
        // WAL: a crash leaves the last committed flush; FULL: a committed flush is durable.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), body BLOB NOT NULL, mac BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS rules (tbl INTEGER NOT NULL, k BLOB NOT NULL, next BLOB NOT NULL, value BLOB NOT NULL, seq INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY, line BLOB NOT NULL);",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            key: Arc::new(key),
            path: path.to_owned(),
        })
    }

    /// Opens the index at `path` read-only, for an auditor: only its tree is read, and only
    /// through proofs (no MAC key: the meta row's size is a hint).
    ///
    /// # Errors
    /// [`IndexError::Sql`] when SQLite cannot open it.
    pub fn open_read_only(path: &Path) -> Result<Self, IndexError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            key: Arc::new([0u8; 32]),
            path: path.to_owned(),
        })
    }

    /// The size the meta row names, unauthenticated (an auditor's hint; the store reads it
    /// only through [`Index::meta`]).
    #[must_use]
    pub fn size_hint(&self) -> Option<u64> {
        let conn = self.conn.lock().ok()?;
        let body: Vec<u8> = conn
            .query_row("SELECT body FROM meta WHERE id = 1", [], |r| r.get(0))
            .ok()?;
        serde_json::from_slice::<IndexMeta>(&body)
            .ok()
            .map(|m| m.size)
    }

    /// Where the index is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut m) = HmacSha256::new_from_slice(self.key.as_slice()) else {
            return Vec::new();
        };
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }

    fn mac_ok(&self, parts: &[&[u8]], mac: &[u8]) -> bool {
        let expected = self.mac(parts);
        !expected.is_empty() && subtle::ConstantTimeEq::ct_eq(expected.as_slice(), mac).into()
    }

    fn row_mac(&self, tbl: u8, k: &[u8], next: &[u8], value: &[u8], seq: u64) -> Vec<u8> {
        self.mac(&[b"row", &[tbl], k, next, value, &seq.to_be_bytes()])
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, IndexError> {
        self.conn
            .lock()
            .map_err(|_| IndexError::Damaged("a previous use of the index panicked"))
    }

    /// The meta row, authenticated: `None` for an index that holds nothing yet.
    ///
    /// # Errors
    /// [`IndexError`] when it cannot be read or does not check out.
    pub fn meta(&self) -> Result<Option<IndexMeta>, IndexError> {
        let conn = self.lock()?;
        let row: Option<(Vec<u8>, Vec<u8>)> = conn
            .query_row("SELECT body, mac FROM meta WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((body, mac)) = row else {
            return Ok(None);
        };
        if !self.mac_ok(&[b"meta", &body], &mac) {
            return Err(IndexError::Damaged(
                "meta row (not this log's index, or altered)",
            ));
        }
        let meta: IndexMeta =
            serde_json::from_slice(&body).map_err(|_| IndexError::Damaged("meta row"))?;
        if meta.version != VERSION {
            return Err(IndexError::Damaged("format version"));
        }
        Ok(Some(meta))
    }

    /// Empties the index (before it is rebuilt from the log).
    ///
    /// # Errors
    /// [`IndexError::Sql`] when SQLite fails.
    pub fn reset(&self) -> Result<(), IndexError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM meta; DELETE FROM nodes; DELETE FROM rules; DELETE FROM pending;",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The open records without a terminal record, checked against `meta`'s digest.
    ///
    /// # Errors
    /// [`IndexError`] when they cannot be read or do not match the digest.
    pub fn pending(&self, meta: &IndexMeta) -> Result<Vec<AuditRecord>, IndexError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare("SELECT seq, line FROM pending ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut lines = Vec::new();
        for row in rows {
            let (seq, line) = row?;
            lines.push((
                u64::try_from(seq).map_err(|_| IndexError::Damaged("pending"))?,
                line,
            ));
        }
        if pending_digest(&lines) != meta.pending {
            return Err(IndexError::Damaged("open records"));
        }
        lines
            .iter()
            .map(|(_, line)| {
                crate::audit::read_record(line).map_err(|_| IndexError::Damaged("open records"))
            })
            .collect()
    }

    /// Writes one flush in one transaction: the tree's nodes held in memory (stored levels
    /// only), the rules' facts held in memory (each into its table's chain), the open records,
    /// and the meta row.
    ///
    /// # Errors
    /// [`IndexError`] when SQLite fails or a fact conflicts with a row already in the index
    /// (the index is then not changed).
    pub fn flush(
        &self,
        meta: &IndexMeta,
        nodes: &[(u32, u64, Hash)],
        rules: &[RuleRow],
        pending: &[&AuditRecord],
    ) -> Result<(), IndexError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut put =
                tx.prepare("INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            for (level, idx, hash) in nodes {
                if level % STRIDE != 0 {
                    continue;
                }
                let idx = i64::try_from(*idx).map_err(|_| IndexError::Damaged("node index"))?;
                put.execute(params![level, idx, hash.as_slice()])?;
            }
        }
        for table in RuleTable::ALL {
            self.ensure_sentinel(&tx, table)?;
        }
        for row in rules {
            self.insert_fact(&tx, row)?;
        }
        tx.execute("DELETE FROM pending", [])?;
        let mut lines = Vec::with_capacity(pending.len());
        for r in pending {
            let line = serde_json::to_vec(r).map_err(|_| IndexError::Damaged("open record"))?;
            lines.push((r.seq, line));
        }
        let mut meta = meta.clone();
        meta.pending = pending_digest(&lines);
        {
            let mut put = tx.prepare("INSERT INTO pending (seq, line) VALUES (?1, ?2)")?;
            for (seq, line) in &lines {
                let seq = i64::try_from(*seq).map_err(|_| IndexError::Damaged("pending"))?;
                put.execute(params![seq, line])?;
            }
        }
        let body = serde_json::to_vec(&meta).map_err(|_| IndexError::Damaged("meta row"))?;
        let mac = self.mac(&[b"meta", &body]);
        tx.execute(
            "INSERT OR REPLACE INTO meta (id, body, mac) VALUES (1, ?1, ?2)",
            params![body, mac],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The first row of `table`'s chain (key `''`, below every key), created when absent.
    fn ensure_sentinel(
        &self,
        tx: &rusqlite::Transaction<'_>,
        table: RuleTable,
    ) -> Result<(), IndexError> {
        let tbl = table.code();
        let exists: Option<i64> = tx
            .query_row(
                "SELECT seq FROM rules WHERE tbl = ?1 AND k = x''",
                params![tbl],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Ok(());
        }
        let any: Option<i64> = tx
            .query_row(
                "SELECT seq FROM rules WHERE tbl = ?1 LIMIT 1",
                params![tbl],
                |r| r.get(0),
            )
            .optional()?;
        if any.is_some() {
            return Err(IndexError::Damaged("a rules table lost its first row"));
        }
        let value = 0u128.to_be_bytes();
        let mac = self.row_mac(tbl, &[], &END, &value, 0);
        tx.execute(
            "INSERT INTO rules (tbl, k, next, value, seq, mac) VALUES (?1, x'', ?2, ?3, 0, ?4)",
            params![tbl, END.as_slice(), value.as_slice(), mac],
        )?;
        Ok(())
    }

    /// The row of `table` with the greatest key at or below `key`, authenticated.
    fn floor_row(
        conn: &Connection,
        index: &Self,
        table: RuleTable,
        key: &[u8],
    ) -> Result<Row, IndexDamaged> {
        let tbl = table.code();
        let row = conn
            .query_row(
                "SELECT k, next, value, seq, mac FROM rules WHERE tbl = ?1 AND k <= ?2 ORDER BY k DESC LIMIT 1",
                params![tbl, key],
                |r| {
                    Ok(Row {
                        k: r.get(0)?,
                        next: r.get(1)?,
                        value: r.get(2)?,
                        seq: r.get(3)?,
                        mac: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|_| IndexDamaged)?
            .ok_or(IndexDamaged)?;
        let seq = u64::try_from(row.seq).map_err(|_| IndexDamaged)?;
        if !index.mac_ok(
            &[
                b"row",
                &[tbl],
                &row.k,
                &row.next,
                &row.value,
                &seq.to_be_bytes(),
            ],
            &row.mac,
        ) {
            return Err(IndexDamaged);
        }
        Ok(row)
    }

    /// Inserts one fact into its table's chain: the row before it now names it as next.
    fn insert_fact(&self, tx: &rusqlite::Transaction<'_>, row: &RuleRow) -> Result<(), IndexError> {
        let damaged = |_| IndexError::Damaged("rules chain");
        let tbl = row.table.code();
        let pred = Self::floor_row(tx, self, row.table, &row.key).map_err(damaged)?;
        let value = row.value.to_be_bytes();
        if pred.k.as_slice() == row.key.as_slice() {
            // Indexed already (by another process that flushed further): it must agree.
            let same = pred.value.as_slice() == value.as_slice()
                && u64::try_from(pred.seq).ok() == Some(row.seq);
            return if same {
                Ok(())
            } else {
                Err(IndexError::Damaged("a fact disagrees with the index"))
            };
        }
        if row.key.as_slice() >= pred.next.as_slice() {
            return Err(IndexError::Damaged("rules chain"));
        }
        let seq = i64::try_from(row.seq).map_err(|_| IndexError::Damaged("seq"))?;
        let mac = self.row_mac(tbl, &row.key, &pred.next, &value, row.seq);
        tx.execute(
            "INSERT INTO rules (tbl, k, next, value, seq, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                tbl,
                row.key.as_slice(),
                pred.next,
                value.as_slice(),
                seq,
                mac
            ],
        )?;
        let pred_seq = u64::try_from(pred.seq).map_err(|_| IndexError::Damaged("seq"))?;
        let pred_mac = self.row_mac(tbl, &pred.k, &row.key, &pred.value, pred_seq);
        tx.execute(
            "UPDATE rules SET next = ?3, mac = ?4 WHERE tbl = ?1 AND k = ?2",
            params![tbl, pred.k, row.key.as_slice(), pred_mac],
        )?;
        Ok(())
    }
}

struct Row {
    k: Vec<u8>,
    next: Vec<u8>,
    value: Vec<u8>,
    seq: i64,
    mac: Vec<u8>,
}

/// SHA-256 over a log's key rotation statements, each with its length (what
/// [`IndexMeta::rotations`] holds).
#[must_use]
pub fn rotations_digest(notes: &[String]) -> String {
    let mut h = Sha256::new();
    for n in notes {
        h.update((n.len() as u64).to_be_bytes());
        h.update(n.as_bytes());
    }
    hash_hex(&h.finalize().into())
}

/// SHA-256 over the open records as stored: (seq, length, bytes) each, in log order.
fn pending_digest(lines: &[(u64, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    for (seq, line) in lines {
        h.update(seq.to_be_bytes());
        h.update((line.len() as u64).to_be_bytes());
        h.update(line);
    }
    hash_hex(&h.finalize().into())
}

// INV-INDEX-NEVER-TRUSTED: a fact only with its row's MAC, an absent key only with the proof of
// absence of the row before it.
impl RuleBase for Index {
    fn get(&self, table: RuleTable, key: &RuleKey) -> Result<Option<(u128, u64)>, IndexDamaged> {
        let conn = self.conn.lock().map_err(|_| IndexDamaged)?;
        let row = Self::floor_row(&conn, self, table, key)?;
        if row.k.as_slice() == key.as_slice() {
            let value: [u8; 16] = row.value.as_slice().try_into().map_err(|_| IndexDamaged)?;
            let seq = u64::try_from(row.seq).map_err(|_| IndexDamaged)?;
            return Ok(Some((u128::from_be_bytes(value), seq)));
        }
        // Proof of absence: the row before the key names a next key above it.
        if key.as_slice() < row.next.as_slice() {
            Ok(None)
        } else {
            Err(IndexDamaged)
        }
    }
}

impl NodeSource for Index {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        let conn = self.conn.lock().ok()?;
        let r = level % STRIDE;
        let stored = level - r;
        let lo = i64::try_from(index.checked_shl(r)?).ok()?;
        let hi = i64::try_from(index.checked_add(1)?.checked_shl(r)?).ok()?;
        let mut stmt = conn
            .prepare(
                "SELECT hash FROM nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )
            .ok()?;
        let rows = stmt
            .query_map(params![stored, lo, hi], |row| row.get::<_, Vec<u8>>(0))
            .ok()?;
        let mut layer: Vec<Hash> = Vec::with_capacity(1 << r);
        for h in rows {
            layer.push(h.ok()?.as_slice().try_into().ok()?);
        }
        if layer.len() != 1usize << r {
            return None;
        }
        while layer.len() > 1 {
            layer = layer
                .chunks_exact(2)
                .filter_map(|pair| match pair {
                    [a, b] => Some(node_hash(a, b)),
                    _ => None,
                })
                .collect();
        }
        layer.pop()
    }
}
