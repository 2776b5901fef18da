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
//! - **the rules' facts** are rows spread over 2^18 buckets by a hash of their key; the digest
//!   of each bucket's rows is kept, and the digests are hashed in 256 chunks whose hashes are in
//!   the MAC'd meta row. A lookup reads the key's whole bucket and recomputes its digest, which
//!   must be the one its chunk (checked against the meta row when first read) holds: so a
//!   present key is proved by its bucket, and an absent key too. A deleted, edited, inserted or
//!   older row, a row a trigger kept from being written, changes the bucket's digest: the
//!   lookup fails closed ([`IndexDamaged`]) and the store rebuilds the index. (A MAC per row,
//!   or a sorted chain of rows each naming the next, was tried first: an adversarial review
//!   defeated both with rows copied from an older index and with triggers; only a digest of
//!   the whole set, bound to the meta row, holds.)
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
    /// The hashes of the 256 chunks of bucket digests of the rules' facts, concatenated (hex;
    /// set by [`Index::flush`]).
    #[serde(default)]
    pub chunks: String,
}

/// The durable index of one log, and the key that authenticates it.
#[derive(Debug, Clone)]
pub struct Index {
    conn: Arc<Mutex<Connection>>,
    key: Arc<[u8; 32]>,
    path: PathBuf,
    /// The bucket digests this index is checked against: the chunk hashes of the meta row
    /// last read or written, and the chunks read so far (each checked against its hash).
    digests: Arc<Mutex<Digests>>,
}

/// Buckets of the rules' facts.
const BUCKETS: u32 = 1 << 18;
/// Buckets per chunk of digests.
const CHUNK: u32 = 1 << 10;
/// Chunks of digests (the meta row holds one hash per chunk).
const CHUNKS: usize = (BUCKETS / CHUNK) as usize;

/// The authenticated digests of the rules' buckets.
#[derive(Debug)]
struct Digests {
    chunk_hashes: Vec<Hash>,
    chunks: std::collections::HashMap<u32, Vec<Hash>>,
    /// SQLite's `data_version` when these digests were read or written: another process's
    /// flush changes it, and the digests are read again from its meta row.
    version: Option<i64>,
    /// While this process holds the log's lock ([`Index::pin`]) no other process writes the
    /// index: the first lookup asks SQLite whether it changed since, the others do not.
    pin: Pin,
    /// The size the meta row these digests came from names (`None`: no meta row).
    size: Option<u64>,
    /// The largest size of a meta row this handle read or wrote. Sizes never go down (a
    /// flush behind the index's size writes nothing): a meta row read later that names less,
    /// or none, is an older index put back, or one emptied, and answers nothing.
    floor: u64,
}

/// Whether lookups ask SQLite if another process wrote the index ([`Index::pin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// Every lookup asks (the log's lock is not held).
    Unpinned,
    /// The lock is held; the next lookup asks, and the answer then holds until unpinned.
    Due,
    /// The lock is held and the digests are current.
    Fresh,
}

impl Digests {
    /// Whether the meta row is gone, or names fewer records than this handle has seen: the
    /// index was emptied or an older one put back (its MAC verifies, its facts are old).
    fn behind(&self) -> bool {
        self.size.unwrap_or(0) < self.floor
    }

    /// The digests of an empty index.
    fn empty() -> Self {
        let chunk = vec![empty_bucket(); CHUNK as usize];
        Self {
            chunk_hashes: vec![chunk_hash(&chunk); CHUNKS],
            chunks: std::collections::HashMap::new(),
            version: None,
            pin: Pin::Unpinned,
            size: None,
            floor: 0,
        }
    }

    /// The digests of chunk `c`, read from `conn` and checked against its hash when first
    /// needed.
    fn chunk(&mut self, conn: &Connection, c: u32) -> Result<&mut Vec<Hash>, IndexDamaged> {
        if !self.chunks.contains_key(&c) {
            let expected = *self
                .chunk_hashes
                .get(usize::try_from(c).map_err(|_| IndexDamaged)?)
                .ok_or(IndexDamaged)?;
            let mut chunk = vec![empty_bucket(); CHUNK as usize];
            let mut stmt = conn
                .prepare("SELECT id, digest FROM buckets WHERE id >= ?1 AND id < ?2")
                .map_err(|_| IndexDamaged)?;
            let rows = stmt
                .query_map(params![c * CHUNK, (c + 1) * CHUNK], |r| {
                    Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(|_| IndexDamaged)?;
            for row in rows {
                let (id, digest) = row.map_err(|_| IndexDamaged)?;
                let slot = chunk
                    .get_mut(usize::try_from(id - c * CHUNK).map_err(|_| IndexDamaged)?)
                    .ok_or(IndexDamaged)?;
                *slot = digest.as_slice().try_into().map_err(|_| IndexDamaged)?;
            }
            if chunk_hash(&chunk) != expected {
                return Err(IndexDamaged);
            }
            self.chunks.insert(c, chunk);
        }
        self.chunks.get_mut(&c).ok_or(IndexDamaged)
    }
}

/// The digest of an empty bucket.
fn empty_bucket() -> Hash {
    Sha256::digest(b"").into()
}

/// SHA-256 over a chunk's bucket digests, in order.
fn chunk_hash(digests: &[Hash]) -> Hash {
    let mut h = Sha256::new();
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// The bucket of a fact: the first 18 bits of HMAC-SHA-256(the index's key; `bucket`, table,
/// key). Keyed, so that a caller who chooses request ids cannot pile them into one bucket.
fn bucket_of(index_key: &[u8; 32], table: u8, key: &[u8]) -> u32 {
    let Ok(mut m) = HmacSha256::new_from_slice(index_key) else {
        return 0;
    };
    m.update(b"bucket");
    m.update(&[table]);
    m.update(key);
    let h = m.finalize().into_bytes();
    let [a, b, c, d, ..] = <[u8; 32]>::from(h);
    u32::from_be_bytes([a, b, c, d]) >> (32 - 18)
}

/// HMAC-SHA-256 under `key` ([`Index::key_of`]) over `parts`, each preceded by its length (64-bit
/// big-endian), so no two lists of parts share a message. The index's meta row and the
/// PostgreSQL store's open-record bound are authenticated with it.
#[must_use]
pub fn mac_of(key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut m) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// Whether `mac` is [`mac_of`] `parts` (compared in constant time).
#[must_use]
pub fn mac_verifies(key: &[u8; 32], parts: &[&[u8]], mac: &[u8]) -> bool {
    let expected = mac_of(key, parts);
    !expected.is_empty() && subtle::ConstantTimeEq::ct_eq(expected.as_slice(), mac).into()
}

/// A fact as a bucket holds it.
type Fact = (u8, Vec<u8>, Vec<u8>, u64);

/// SHA-256 over a bucket's facts, sorted by (table, key): each as table, 8-byte length and key,
/// 8-byte length and value, 8-byte big-endian seq.
fn bucket_digest(facts: &[Fact]) -> Hash {
    if facts.is_empty() {
        return empty_bucket();
    }
    let mut h = Sha256::new();
    for (tbl, k, v, seq) in facts {
        h.update([*tbl]);
        h.update((k.len() as u64).to_be_bytes());
        h.update(k);
        h.update((v.len() as u64).to_be_bytes());
        h.update(v);
        h.update(seq.to_be_bytes());
    }
    h.finalize().into()
}

/// The query of a bucket's facts, sorted.
const READ_BUCKET: &str = "SELECT tbl, k, value, seq FROM rules WHERE bucket = ?1 ORDER BY tbl, k";

/// The facts of bucket `b`, sorted.
fn read_bucket(conn: &Connection, b: u32) -> Result<Vec<Fact>, IndexDamaged> {
    // The compiled statement is kept by the connection (rusqlite's statement cache: SQL, not
    // answers; every lookup still reads and checks its bucket).
    let mut stmt = conn.prepare_cached(READ_BUCKET).map_err(|_| IndexDamaged)?;
    read_bucket_with(&mut stmt, b)
}

/// [`read_bucket`] with the query prepared once (a flush reads many buckets).
fn read_bucket_with(stmt: &mut rusqlite::Statement<'_>, b: u32) -> Result<Vec<Fact>, IndexDamaged> {
    let rows = stmt
        .query_map(params![b], |r| {
            Ok((
                r.get::<_, u8>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(|_| IndexDamaged)?;
    let mut out = Vec::new();
    for row in rows {
        let (t, k, v, seq) = row.map_err(|_| IndexDamaged)?;
        out.push((t, k, v, u64::try_from(seq).map_err(|_| IndexDamaged)?));
    }
    Ok(out)
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
        // A flush dirties pages all over the rules (buckets are by hash): fold the WAL back
        // into the database less often than SQLite's default of every 1,000 pages.
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), body BLOB NOT NULL, mac BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS rules (bucket INTEGER NOT NULL, tbl INTEGER NOT NULL, k BLOB NOT NULL, value BLOB NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (bucket, tbl, k)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS buckets (id INTEGER PRIMARY KEY, digest BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY, line BLOB NOT NULL);",
        )?;
        // Nothing but these tables: a trigger or view someone added could drop or reshape
        // what the store writes or reads.
        let foreign: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type NOT IN ('table', 'index') OR (type = 'table' AND name NOT IN ('meta', 'nodes', 'rules', 'buckets', 'pending'))",
            [],
            |r| r.get(0),
        )?;
        if foreign != 0 {
            return Err(IndexError::Damaged("objects the store did not create"));
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            key: Arc::new(key),
            path: path.to_owned(),
            digests: Arc::new(Mutex::new(Digests::empty())),
        })
    }

    /// Opens the index at `path` as a new, empty file: whatever was there (another log's index,
    /// a damaged one, one with objects the store did not create) is removed first.
    ///
    /// # Errors
    /// [`IndexError::Sql`] when SQLite cannot create it.
    pub fn create(path: &Path, key: [u8; 32]) -> Result<Self, IndexError> {
        remove_files(path);
        Self::open(path, key)
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
            digests: Arc::new(Mutex::new(Digests::empty())),
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
        mac_of(&self.key, parts)
    }

    fn mac_ok(&self, parts: &[&[u8]], mac: &[u8]) -> bool {
        mac_verifies(&self.key, parts, mac)
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
        let mut digests = self
            .digests
            .lock()
            .map_err(|_| IndexError::Damaged("a previous use of the index panicked"))?;
        self.read_meta(&conn, &mut digests)
    }

    /// The meta row, authenticated, with the digests it covers taken as the ones to check
    /// against (and SQLite's `data_version` noted).
    fn read_meta(
        &self,
        conn: &Connection,
        digests: &mut Digests,
    ) -> Result<Option<IndexMeta>, IndexError> {
        let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let row: Option<(Vec<u8>, Vec<u8>)> = conn
            .query_row("SELECT body, mac FROM meta WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((body, mac)) = row else {
            let floor = digests.floor;
            *digests = Digests::empty();
            digests.version = Some(version);
            digests.floor = floor;
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
        let chunk_hashes = parse_chunks(&meta.chunks).ok_or(IndexError::Damaged("meta row"))?;
        digests.chunk_hashes = chunk_hashes;
        digests.chunks.clear();
        digests.version = Some(version);
        digests.size = Some(meta.size);
        digests.floor = digests.floor.max(meta.size);
        Ok(Some(meta))
    }

    /// Reads the meta row again when another process wrote the index since this one last
    /// read or wrote it (several processes share a log: a CLI attempt beside a server).
    fn refresh(&self, conn: &Connection, digests: &mut Digests) -> Result<(), IndexError> {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if digests.version != Some(version) {
            self.read_meta(conn, digests)?;
        }
        Ok(())
    }

    /// Called with the log's lock taken: the next lookup asks whether another process wrote
    /// the index since (and reads its meta row again if so); the lookups after it, until
    /// [`Index::unpin`], do not ask (every writer of the index holds the log's lock, so the
    /// answer cannot change meanwhile). A lookup whose question fails leaves the next one to
    /// ask again, and fails closed.
    pub fn pin(&self) {
        if let Ok(mut digests) = self.digests.lock() {
            digests.pin = Pin::Due;
        }
    }

    /// Called before the log's lock is released: every lookup asks again.
    pub fn unpin(&self) {
        if let Ok(mut digests) = self.digests.lock() {
            digests.pin = Pin::Unpinned;
        }
    }

    /// Empties the index (before it is rebuilt from the log): its files are removed and a new,
    /// empty database takes their place, so nothing of the old one (rows, triggers) is kept.
    ///
    /// # Errors
    /// [`IndexError::Sql`] when SQLite cannot create the new one.
    pub fn reset(&self) -> Result<(), IndexError> {
        let mut conn = self.lock()?;
        let fresh = Self::create(&self.path, *self.key)?;
        let new_conn = Arc::try_unwrap(fresh.conn)
            .map_err(|_| IndexError::Damaged("index connection"))?
            .into_inner()
            .map_err(|_| IndexError::Damaged("index connection"))?;
        *conn = new_conn;
        let mut digests = self
            .digests
            .lock()
            .map_err(|_| IndexError::Damaged("a previous use of the index panicked"))?;
        *digests = Digests::empty();
        digests.version = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok();
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
        let mut digests = self
            .digests
            .lock()
            .map_err(|_| IndexError::Damaged("a previous use of the index panicked"))?;
        self.refresh(&conn, &mut digests)?;
        if digests.behind() {
            return Err(IndexError::Damaged(
                "meta row gone, or older than one this store saw",
            ));
        }
        // Another process indexed further (this one is catching up in slices): what this
        // flush holds is there already, and a meta row never goes back.
        if digests.size.is_some_and(|size| size > meta.size) {
            return Ok(());
        }
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
        // The facts by bucket: each bucket's rows as they are must have the digest on record;
        // the new facts join them and the bucket gets its new digest.
        let mut by_bucket: std::collections::BTreeMap<u32, Vec<Fact>> =
            std::collections::BTreeMap::new();
        for row in rules {
            let tbl = row.table.code();
            by_bucket
                .entry(bucket_of(&self.key, tbl, &row.key))
                .or_default()
                .push((
                    tbl,
                    row.key.to_vec(),
                    row.value.to_be_bytes().to_vec(),
                    row.seq,
                ));
        }
        let damaged = |_| IndexError::Damaged("rules");
        let mut new_digests: Vec<(u32, Hash)> = Vec::with_capacity(by_bucket.len());
        {
            let mut put = tx.prepare(
                "INSERT INTO rules (bucket, tbl, k, value, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut put_digest =
                tx.prepare("INSERT OR REPLACE INTO buckets (id, digest) VALUES (?1, ?2)")?;
            let mut read = tx.prepare(READ_BUCKET)?;
            for (b, facts) in by_bucket {
                let expected = *digests
                    .chunk(&tx, b / CHUNK)
                    .map_err(damaged)?
                    .get(usize::try_from(b % CHUNK).map_err(|_| IndexError::Damaged("bucket"))?)
                    .ok_or(IndexError::Damaged("bucket"))?;
                let mut all = read_bucket_with(&mut read, b).map_err(damaged)?;
                if bucket_digest(&all) != expected {
                    return Err(IndexError::Damaged("a bucket of the rules"));
                }
                for fact in facts {
                    let (tbl, k, v, seq) = &fact;
                    match all.iter().find(|(t, key, _, _)| t == tbl && key == k) {
                        // Indexed already (by another process that flushed further).
                        Some((_, _, value, s)) if value == v && s == seq => {}
                        Some(_) => {
                            return Err(IndexError::Damaged("a fact disagrees with the index"));
                        }
                        None => {
                            let seq_sql =
                                i64::try_from(*seq).map_err(|_| IndexError::Damaged("seq"))?;
                            put.execute(params![b, tbl, k, v, seq_sql])?;
                            all.push(fact);
                        }
                    }
                }
                all.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
                let digest = bucket_digest(&all);
                put_digest.execute(params![b, digest.as_slice()])?;
                new_digests.push((b, digest));
            }
        }
        // The new chunk hashes, from the digests on record with the new ones in place.
        let mut chunk_hashes = digests.chunk_hashes.clone();
        let mut touched: std::collections::BTreeMap<u32, Vec<Hash>> =
            std::collections::BTreeMap::new();
        for (b, d) in &new_digests {
            let c = b / CHUNK;
            if let std::collections::btree_map::Entry::Vacant(slot) = touched.entry(c) {
                slot.insert(digests.chunk(&tx, c).map_err(damaged)?.clone());
            }
            if let Some(slot) = touched
                .get_mut(&c)
                .and_then(|chunk| chunk.get_mut(usize::try_from(b % CHUNK).ok()?))
            {
                *slot = *d;
            }
        }
        for (c, chunk) in &touched {
            if let Some(slot) = chunk_hashes.get_mut(usize::try_from(*c).unwrap_or(usize::MAX)) {
                *slot = chunk_hash(chunk);
            }
        }
        tx.execute("DELETE FROM pending", [])?;
        let mut lines = Vec::with_capacity(pending.len());
        for r in pending {
            let line = serde_json::to_vec(r).map_err(|_| IndexError::Damaged("open record"))?;
            lines.push((r.seq, line));
        }
        let mut meta = meta.clone();
        meta.pending = pending_digest(&lines);
        meta.chunks = chunks_hex(&chunk_hashes);
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
        // What this flush wrote is what lookups are checked against from now on: a write the
        // database did not keep (a trigger, a lost page) fails the next lookup of its bucket.
        digests.chunk_hashes = chunk_hashes;
        for (c, chunk) in touched {
            digests.chunks.insert(c, chunk);
        }
        digests.size = Some(meta.size);
        digests.floor = digests.floor.max(meta.size);
        Ok(())
    }
}

/// The chunk hashes as the meta row holds them.
fn chunks_hex(hashes: &[Hash]) -> String {
    let mut bytes = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        bytes.extend_from_slice(h);
    }
    hex::encode(bytes)
}

/// The chunk hashes of a meta row (`None` when it does not hold 256 of them).
fn parse_chunks(text: &str) -> Option<Vec<Hash>> {
    let bytes = hex::decode(text).ok()?;
    if bytes.len() != CHUNKS * 32 {
        return None;
    }
    bytes.chunks_exact(32).map(|c| c.try_into().ok()).collect()
}

/// Removes an index's database and its WAL side files.
fn remove_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for side in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
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

// INV-INDEX-NEVER-TRUSTED: a fact, present or absent, only when its whole bucket has the digest
// the MAC'd meta row covers.
impl RuleBase for Index {
    fn get(&self, table: RuleTable, key: &RuleKey) -> Result<Option<(u128, u64)>, IndexDamaged> {
        let conn = self.conn.lock().map_err(|_| IndexDamaged)?;
        let mut digests = self.digests.lock().map_err(|_| IndexDamaged)?;
        match digests.pin {
            Pin::Fresh => {}
            Pin::Unpinned => self
                .refresh(&conn, &mut digests)
                .map_err(|_| IndexDamaged)?,
            Pin::Due => {
                self.refresh(&conn, &mut digests)
                    .map_err(|_| IndexDamaged)?;
                digests.pin = Pin::Fresh;
            }
        }
        // No meta row (none ever, or gone), or an older one: it proves nothing.
        if digests.size.is_none() || digests.behind() {
            return Err(IndexDamaged);
        }
        let tbl = table.code();
        let b = bucket_of(&self.key, tbl, key);
        let expected = *digests
            .chunk(&conn, b / CHUNK)?
            .get(usize::try_from(b % CHUNK).map_err(|_| IndexDamaged)?)
            .ok_or(IndexDamaged)?;
        let facts = read_bucket(&conn, b)?;
        // The whole bucket, as recorded, or nothing: a fact is there, or is not, by proof.
        if bucket_digest(&facts) != expected {
            return Err(IndexDamaged);
        }
        match facts
            .iter()
            .find(|(t, k, _, _)| *t == tbl && k.as_slice() == key.as_slice())
        {
            Some((_, _, v, seq)) => {
                let value: [u8; 16] = v.as_slice().try_into().map_err(|_| IndexDamaged)?;
                Ok(Some((u128::from_be_bytes(value), *seq)))
            }
            None => Ok(None),
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
