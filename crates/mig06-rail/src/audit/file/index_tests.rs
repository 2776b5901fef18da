//! The file store's index: a store resumed from it answers as one that read the whole log, and
//! no damage to it (deleted, truncated, stale, edited, another log's) lets a rule be broken.

use std::collections::HashMap;

use proptest::prelude::*;

use super::index::{Index, IndexMeta};
use super::tests::{far, record};
use super::*;
use crate::audit::rules::{IndexDamaged, RuleBase, RuleKey, RuleRow, RuleTable, RuleViolation};
use crate::audit::verify::verify_dir;

fn rid(i: u64) -> RequestId {
    RequestId::parse(&ulid::Ulid::from(u128::from(i) + 1_000_000).to_string()).unwrap()
}

fn with_rid(i: u64) -> AuditRecord {
    AuditRecord {
        request_id: Some(rid(i)),
        ..record()
    }
}

fn key(table: RuleTable, v: u128) -> RuleKey {
    let mut k = [0u8; 17];
    k[0] = u8::from(table == RuleTable::RequestId);
    k[1..].copy_from_slice(&v.to_be_bytes());
    k
}

fn meta(size: u64) -> IndexMeta {
    IndexMeta {
        version: 1,
        size,
        log_len: 0,
        last: String::new(),
        root: String::new(),
        kept: 0,
        kept_len: 0,
        pending: String::new(),
        rotations: String::new(),
        chunks: String::new(),
    }
}

/// Damage done to the rules' rows, as an attacker with write access to the file (but not the
/// log's key) could.
#[derive(Debug, Clone)]
enum RowDamage {
    None,
    Delete(usize),
    EditValue(usize, u8),
    EditSeq(usize),
    /// A fact that is not in the log, in the bucket its key belongs to.
    Insert(u8),
    /// Every row and bucket digest replaced by those of an empty index (rows copied from an
    /// older index, with the current meta row kept).
    OldRows,
    /// A trigger that keeps every later fact from being written.
    Trigger,
}

fn row_damage() -> impl Strategy<Value = RowDamage> {
    prop_oneof![
        Just(RowDamage::None),
        any::<usize>().prop_map(RowDamage::Delete),
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| RowDamage::EditValue(i, x)),
        any::<usize>().prop_map(RowDamage::EditSeq),
        any::<u8>().prop_map(RowDamage::Insert),
        Just(RowDamage::OldRows),
        Just(RowDamage::Trigger),
    ]
}

fn damage_rows(path: &std::path::Path, d: &RowDamage) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let rows: Vec<(i64, i64, Vec<u8>)> = conn
        .prepare("SELECT bucket, tbl, k FROM rules ORDER BY bucket, tbl, k")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let pick = |i: &usize| rows[*i % rows.len()].clone();
    let key = "bucket = ?1 AND tbl = ?2 AND k = ?3";
    match d {
        RowDamage::None => {}
        RowDamage::Delete(_) | RowDamage::EditValue(..) | RowDamage::EditSeq(_)
            if rows.is_empty() => {}
        RowDamage::Delete(i) => {
            let (b, t, k) = pick(i);
            conn.execute(
                &format!("DELETE FROM rules WHERE {key}"),
                rusqlite::params![b, t, k],
            )
            .unwrap();
        }
        RowDamage::EditValue(i, x) => {
            let (b, t, k) = pick(i);
            let mut v: Vec<u8> = conn
                .query_row(
                    &format!("SELECT value FROM rules WHERE {key}"),
                    rusqlite::params![b, t, k],
                    |r| r.get(0),
                )
                .unwrap();
            v[15] ^= x;
            conn.execute(
                &format!("UPDATE rules SET value = ?4 WHERE {key}"),
                rusqlite::params![b, t, k, v],
            )
            .unwrap();
        }
        RowDamage::EditSeq(i) => {
            let (b, t, k) = pick(i);
            conn.execute(
                &format!("UPDATE rules SET seq = seq + 1000000 WHERE {key}"),
                rusqlite::params![b, t, k],
            )
            .unwrap();
        }
        RowDamage::Insert(x) => {
            // Any bucket: the store cannot know where an attacker would put a row.
            for (b, t, k) in rows.iter().take(1) {
                let mut k = k.clone();
                k[16] ^= x | 1;
                conn.execute(
                    "INSERT OR IGNORE INTO rules (bucket, tbl, k, value, seq) VALUES (?1, ?2, ?3, zeroblob(16), 0)",
                    rusqlite::params![b, t, k],
                )
                .unwrap();
            }
        }
        RowDamage::OldRows => {
            conn.execute_batch("DELETE FROM rules; DELETE FROM buckets;")
                .unwrap();
        }
        RowDamage::Trigger => {
            conn.execute_batch(
                "CREATE TRIGGER keep_out BEFORE INSERT ON rules BEGIN SELECT RAISE(IGNORE); END;",
            )
            .unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    // INV-INDEX-NEVER-TRUSTED: whatever rows are deleted or edited without the key, every
    // lookup answers the truth or is refused; a key that is there never reads as absent.
    #[test]
    fn inv_index_never_trusted_rule_rows_answer_truly_or_refuse(
        facts in proptest::collection::vec((0usize..4, 0u128..64, 0u128..8), 1..60),
        flushes in 1usize..5,
        damage in row_damage(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let index = Index::open(&path, [7u8; 32]).unwrap();
        let mut truth: HashMap<(RuleTable, RuleKey), (u128, u64)> = HashMap::new();
        let mut rows = Vec::new();
        for (seq, (t, k, v)) in facts.iter().enumerate() {
            let table = RuleTable::ALL[*t];
            let key = key(table, *k);
            if truth.contains_key(&(table, key)) {
                continue;
            }
            truth.insert((table, key), (*v, seq as u64));
            rows.push(RuleRow { table, key, value: *v, seq: seq as u64 });
        }
        let chunk = rows.len().div_ceil(flushes).max(1);
        for part in rows.chunks(chunk) {
            let mut part = part.to_vec();
            part.sort_by_key(|r| (r.table, r.key));
            index.flush(&meta(0), &[], &part, &[]).unwrap();
        }
        for table in RuleTable::ALL {
            for k in 0u128..70 {
                let key = key(table, k);
                prop_assert_eq!(index.get(table, &key), Ok(truth.get(&(table, key)).copied()));
            }
        }
        drop(index);
        damage_rows(&path, &damage);
        // The store opens an index with objects it did not create as a new, empty one.
        let Ok(index) = Index::open(&path, [7u8; 32]) else {
            prop_assert!(matches!(damage, RowDamage::Trigger));
            return Ok(());
        };
        prop_assert!(index.meta().unwrap().is_some());
        for table in RuleTable::ALL {
            for k in 0u128..70 {
                let key = key(table, k);
                match index.get(table, &key) {
                    Ok(answer) => prop_assert_eq!(answer, truth.get(&(table, key)).copied()),
                    Err(IndexDamaged) => prop_assert!(!matches!(damage, RowDamage::None)),
                }
            }
        }
        // Another log's key: its meta row does not verify.
        let other = Index::open(&path, [8u8; 32]).unwrap();
        prop_assert!(other.meta().is_err());
    }
}

/// Opens the store in `dir` with the key `key`, writing its index every `every` records.
fn open(dir: &std::path::Path, key: &str, every: u64) -> FileStore {
    let mut s = FileStore::open(dir, LogSigner::from_private_key(key).unwrap()).unwrap();
    s.set_index_every(every);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    // A store that resumed from its index answers as one that read the whole log: size, root,
    // every request id's holder, every claim, the open records it will end.
    #[test]
    fn inv_index_never_trusted_a_resumed_store_answers_as_one_that_read_the_whole_log(
        ops in proptest::collection::vec(0u8..5, 1..90),
        every in 1u64..24,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        drop(FileStore::open(dir.path(), signer).unwrap());
        let mut store = open(dir.path(), &k, every);
        let mut used = 0u64;
        let mut priors = Vec::new();
        for op in &ops {
            match op {
                0 => {
                    store.append(with_rid(used)).unwrap();
                    used += 1;
                }
                1 => {
                    let r = with_rid(used).ended(crate::outcome::TerminalCode::DeniedPolicy, None);
                    priors.push(r.attempt_id.clone());
                    store.append(r).unwrap();
                    used += 1;
                }
                2 if used > 0 => {
                    let again = store.append(with_rid(used / 2));
                    prop_assert!(matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken))), "{again:?}");
                }
                3 if !priors.is_empty() => {
                    let prior = priors[priors.len() / 2].clone();
                    let claim = AuditRecord { continues: Some(prior), claim: true, ..record() };
                    let _ = store.append(claim);
                }
                _ => {
                    drop(store);
                    store = open(dir.path(), &k, every);
                }
            }
        }
        drop(store);
        let mut resumed = open(dir.path(), &k, every);
        prop_assert_eq!(resumed.open_report().index_rebuilt.as_deref(), None);
        prop_assert_eq!(resumed.index_failures(), 0);
        let copy = tempfile::tempdir().unwrap();
        for name in [LOG_FILE, LATEST_CHECKPOINT, CHECKPOINTS_FILE] {
            let _ = std::fs::copy(dir.path().join(name), copy.path().join(name));
        }
        let mut full = open(copy.path(), &k, every);
        prop_assert!(full.open_report().index_rebuilt.is_some());
        prop_assert_eq!(resumed.size(), full.size());
        prop_assert_eq!(resumed.tree().root(), full.tree().root());
        for i in 0..=used {
            prop_assert_eq!(resumed.request_id_holder(&rid(i)).unwrap(), full.request_id_holder(&rid(i)).unwrap());
        }
        for p in &priors {
            prop_assert_eq!(resumed.is_claim_held(p).unwrap(), full.is_claim_held(p).unwrap());
        }
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let ids = |s: &FileStore| s.checker.ledger().overdue(later).iter().map(|r| r.seq).collect::<Vec<_>>();
        prop_assert_eq!(ids(&resumed), ids(&full));
        for size in 0..=resumed.size() {
            prop_assert_eq!(resumed.root_at(size).unwrap(), full.root_at(size).unwrap());
        }
    }
}

/// Damage done to the whole index file.
#[derive(Debug, Clone)]
enum FileDamage {
    Delete,
    Truncate(u64),
    Stale,
    FlipByte(u64, u8),
    OtherLog,
    Rows(RowDamage),
}

fn file_damage() -> impl Strategy<Value = FileDamage> {
    prop_oneof![
        Just(FileDamage::Delete),
        any::<u64>().prop_map(FileDamage::Truncate),
        Just(FileDamage::Stale),
        (any::<u64>(), 1u8..=255).prop_map(|(i, x)| FileDamage::FlipByte(i, x)),
        Just(FileDamage::OtherLog),
        row_damage().prop_map(FileDamage::Rows),
    ]
}

fn index_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]
        .iter()
        .map(|n| dir.join(n))
        .collect()
}

/// Fills a log of `n` attempts with distinct request ids (every other one ended), writing the
/// index every `every` records.
fn filled(dir: &std::path::Path, key: &str, n: u64, every: u64) {
    filled_from(dir, key, 0, n, every);
}

/// [`filled`] with request ids from `from` on.
fn filled_from(dir: &std::path::Path, key: &str, from: u64, n: u64, every: u64) {
    let mut store = open(dir, key, every);
    for i in from..from + n {
        let r = if i % 2 == 0 {
            with_rid(i)
        } else {
            with_rid(i).ended(crate::outcome::TerminalCode::DeniedPolicy, None)
        };
        store.append(r).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    // INV-INDEX-NEVER-TRUSTED: whatever is done to the index (deleted, truncated, a stale copy,
    // a flipped byte, another log's, rows deleted or edited), no request id runs twice: every
    // id in the log is refused to a new attempt, a new id is taken, and the log verifies.
    #[test]
    fn inv_index_never_trusted_a_damaged_index_never_lets_a_request_id_run_twice(
        n in 4u64..60,
        every in 1u64..16,
        stale_at in 0.0f64..1.0,
        damage in file_damage(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        drop(FileStore::open(dir.path(), signer).unwrap());
        let first = (n as f64 * stale_at) as u64;
        filled(dir.path(), &k, first, every);
        let stale = tempfile::tempdir().unwrap();
        for f in index_files(dir.path()) {
            if f.exists() {
                std::fs::copy(&f, stale.path().join(f.file_name().unwrap())).unwrap();
            }
        }
        {
            let mut store = open(dir.path(), &k, every);
            for i in first..n {
                store.append(with_rid(i)).unwrap();
            }
        }
        let main = dir.path().join("index.sqlite");
        match &damage {
            FileDamage::Delete => {
                for f in index_files(dir.path()) {
                    let _ = std::fs::remove_file(f);
                }
            }
            FileDamage::Truncate(at) => {
                let len = std::fs::metadata(&main).unwrap().len();
                let f = std::fs::OpenOptions::new().write(true).open(&main).unwrap();
                f.set_len(at % len.max(1)).unwrap();
            }
            FileDamage::Stale => {
                for f in index_files(dir.path()) {
                    let _ = std::fs::remove_file(&f);
                    let from = stale.path().join(f.file_name().unwrap());
                    if from.exists() {
                        std::fs::copy(from, f).unwrap();
                    }
                }
            }
            FileDamage::FlipByte(at, x) => {
                let mut bytes = std::fs::read(&main).unwrap();
                let len = bytes.len() as u64;
                let i = usize::try_from(at % len.max(1)).unwrap();
                bytes[i] ^= x;
                std::fs::write(&main, bytes).unwrap();
            }
            FileDamage::OtherLog => {
                let other = tempfile::tempdir().unwrap();
                let signer = LogSigner::generate("mig06.example/audit").unwrap();
                let ok = signer.private_key();
                drop(FileStore::open(other.path(), signer).unwrap());
                filled(other.path(), &ok, n, every);
                for f in index_files(dir.path()) {
                    let _ = std::fs::remove_file(&f);
                    let from = other.path().join(f.file_name().unwrap());
                    if from.exists() {
                        std::fs::copy(from, f).unwrap();
                    }
                }
            }
            FileDamage::Rows(d) => damage_rows(&main, d),
        }
        let mut store = open(dir.path(), &k, every);
        for i in 0..n {
            let again = store.append(with_rid(i));
            prop_assert!(
                matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken | RuleViolation::IndexDamaged))),
                "request id {i} of {n} ran twice after {damage:?}: {again:?}"
            );
        }
        // Damage found while running is rebuilt at once: a new request id is taken, and the
        // old ones stay refused.
        prop_assert!(store.append(with_rid(n)).is_ok());
        for i in 0..=n {
            let again = store.append(with_rid(i));
            prop_assert!(matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken))), "{again:?}");
        }
        drop(store);
        let verifier = LogSigner::from_private_key(&k).unwrap().verifier();
        let verified = verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
        prop_assert!(verified.is_ok());
        let _ = far();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    // `audit verify --since-checkpoint`: from a checkpoint verified before, the records since
    // are read (from the index's size at most the checkpoint's), the log must extend it, and
    // a record altered after it, or a log cut below it, fails; a damaged index only costs a
    // whole read.
    #[test]
    fn verify_since_reads_from_the_checkpoint_and_catches_what_changed_after_it(
        before in 1u64..80,
        after in 1u64..80,
        every in 1u64..16,
        harm in 0u8..4,
        at in any::<usize>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        drop(FileStore::open(dir.path(), signer).unwrap());
        filled(dir.path(), &k, before, every);
        let store = open(dir.path(), &k, every);
        let m = store.size();
        let note = store.signed_checkpoint(m).unwrap();
        drop(store);
        filled_from(dir.path(), &k, before, after, every);
        let verifier = LogSigner::from_private_key(&k).unwrap().verifier();
        let full = verify_dir(dir.path(), &verifier, None, &mut |_, _| {}).unwrap();
        let since = crate::audit::verify::verify_since(dir.path(), &verifier, &note, &mut |_, _| {});
        let r = since.unwrap();
        prop_assert_eq!((r.records, r.root), (full.records, full.root));
        prop_assert!(r.from <= m);
        prop_assert!(r.from > 0 || m < every, "the index was not used: from {} with m {m}", r.from);
        let log = dir.path().join(LOG_FILE);
        let lines: Vec<Vec<u8>> = std::fs::read(&log).unwrap().split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
        let n = lines.len();
        match harm {
            0 => {
                // A record after the checkpoint altered (its signature or link breaks).
                let i = usize::try_from(m).unwrap() + at % (n - usize::try_from(m).unwrap());
                let mut l = lines.clone();
                let pos = l[i].len() / 2;
                l[i][pos] ^= 1;
                std::fs::write(&log, l.iter().flat_map(|x| [x.as_slice(), b"\n"].concat()).collect::<Vec<u8>>()).unwrap();
                let again = crate::audit::verify::verify_since(dir.path(), &verifier, &note, &mut |_, _| {});
                prop_assert!(again.is_err());
            }
            1 => {
                // The log cut below the checkpoint (a rollback).
                let keep = at % usize::try_from(m).unwrap();
                std::fs::write(&log, lines[..keep].iter().flat_map(|x| [x.as_slice(), b"\n"].concat()).collect::<Vec<u8>>()).unwrap();
                let again = crate::audit::verify::verify_since(dir.path(), &verifier, &note, &mut |_, _| {});
                prop_assert!(again.is_err());
            }
            2 => {
                // The index damaged: a whole read, the same verdict.
                damage_rows(&dir.path().join("index.sqlite"), &RowDamage::Delete(at));
                let conn = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
                conn.execute("UPDATE nodes SET hash = zeroblob(32)", []).unwrap();
                drop(conn);
                let r = crate::audit::verify::verify_since(dir.path(), &verifier, &note, &mut |_, _| {}).unwrap();
                prop_assert_eq!(r.root, full.root);
            }
            _ => {
                // Another log's checkpoint is refused.
                let other = LogSigner::generate("mig06.example/audit").unwrap();
                let forged = other.sign(&mig06_tlog::checkpoint::Checkpoint { origin: other.origin().to_owned(), size: m, root: [0u8; 32] });
                let again = crate::audit::verify::verify_since(dir.path(), &verifier, &forged, &mut |_, _| {});
                prop_assert!(again.is_err());
            }
        }
    }
}

/// A store that reads a whole log (no index) holds at most a slice of it in memory, and the
/// next open resumes from the index it wrote, reading nothing before it.
#[test]
fn a_whole_read_holds_a_slice_in_memory_and_the_next_open_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let k = signer.private_key();
    drop(FileStore::open(dir.path(), signer).unwrap());
    filled(dir.path(), &k, 600, 1 << 20);
    for f in index_files(dir.path()) {
        let _ = std::fs::remove_file(f);
    }
    let store = open(dir.path(), &k, 1 << 20);
    // `open` set the slice after the open: the default slice is INDEX_EVERY.
    assert!(store.open_report().index_rebuilt.is_some());
    drop(store);
    for f in index_files(dir.path()) {
        let _ = std::fs::remove_file(f);
    }
    let mut store = FileStore::open(dir.path(), LogSigner::from_private_key(&k).unwrap()).unwrap();
    assert!(store.checker.ledger().tree().in_memory().len() <= 128);
    assert!(store.checker.ledger().rules().in_memory().is_empty());
    store.append(with_rid(10_000)).unwrap();
    drop(store);
    let store = open(dir.path(), &k, 1 << 20);
    assert_eq!(store.open_report().index_rebuilt, None);
    // The index was written at the last open (600 records); the one record since is read.
    assert_eq!(store.open_report().resumed_from_index, 600);
    assert_eq!(store.size(), 601);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    // INV-INDEX-NEVER-TRUSTED: a trigger added to the index while the store runs (so that the
    // facts it writes are dropped) never lets a request id run twice (adversarial finding F1).
    #[test]
    fn inv_index_never_trusted_a_trigger_added_while_running_never_lets_a_request_id_run_twice(
        n in 4u64..40,
        every in 1u64..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        drop(FileStore::open(dir.path(), signer).unwrap());
        let mut store = open(dir.path(), &k, every);
        store.append(with_rid(0)).unwrap();
        damage_rows(&dir.path().join("index.sqlite"), &RowDamage::Trigger);
        for i in 1..n {
            store.append(with_rid(i)).unwrap();
        }
        for i in 0..n {
            let again = store.append(with_rid(i));
            prop_assert!(
                matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken | RuleViolation::IndexDamaged))),
                "request id {i} ran twice: {again:?}"
            );
        }
        drop(store);
        let mut store = open(dir.path(), &k, every);
        for i in 0..n {
            let again = store.append(with_rid(i));
            prop_assert!(
                matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken | RuleViolation::IndexDamaged))),
                "request id {i} ran twice after a restart: {again:?}"
            );
        }
        prop_assert!(store.append(with_rid(n)).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    // Two stores on one log (a server and a CLI attempt), each writing the index in turn,
    // refuse nothing that is not a rule's (adversarial finding N1: the one that had not read
    // the other's index writes refused its next attempts as a damaged index), and both refuse
    // every used request id.
    #[test]
    fn two_stores_writing_one_index_in_turn_refuse_only_what_the_rules_refuse(
        plan in proptest::collection::vec(any::<bool>(), 4..60),
        every in 1u64..6,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        drop(FileStore::open(dir.path(), signer).unwrap());
        let mut a = open(dir.path(), &k, every);
        let mut b = open(dir.path(), &k, every);
        for (i, first) in plan.iter().enumerate() {
            let s = if *first { &mut a } else { &mut b };
            let r = s.append(with_rid(i as u64));
            prop_assert!(r.is_ok(), "{r:?}");
        }
        for i in 0..plan.len() as u64 {
            for s in [&mut a, &mut b] {
                let again = s.append(with_rid(i));
                prop_assert!(matches!(again, Err(AuditError::Rule(RuleViolation::RequestIdTaken))), "{again:?}");
            }
        }
        prop_assert_eq!(a.index_failures() + b.index_failures(), 0);
    }
}

/// An index SQLite will only read (its header says so) takes no flush: the store starts it
/// again from the log instead of leaving it behind for good (adversarial finding N2).
#[test]
fn an_index_that_will_not_take_a_flush_is_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let k = signer.private_key();
    drop(FileStore::open(dir.path(), signer).unwrap());
    filled(dir.path(), &k, 20, 4);
    let main = dir.path().join("index.sqlite");
    {
        let conn = rusqlite::Connection::open(&main).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let mut bytes = std::fs::read(&main).unwrap();
    bytes[18] = 3;
    std::fs::write(&main, bytes).unwrap();
    let mut store = open(dir.path(), &k, 4);
    for i in 100..120 {
        store.append(with_rid(i)).unwrap();
    }
    drop(store);
    let store = open(dir.path(), &k, 4);
    assert_eq!(store.open_report().index_rebuilt, None);
    assert!(store.size() - store.open_report().resumed_from_index <= 8);
}

/// One step of [`inv_cont_chain_a_store_answering_from_its_index_refuses_what_memory_refuses`]
/// over a pool of six attempts.
#[derive(Debug, Clone, Copy)]
enum Step {
    Open(usize),
    Denied(usize),
    Completed(usize),
    /// An open record of attempt `.1` continuing attempt `.0`, claiming it or not.
    Continue(usize, usize, bool),
    /// The open record and the terminal record of one attempt, in one batch.
    Both(usize),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..6).prop_map(Step::Open),
        (0usize..6).prop_map(Step::Denied),
        (0usize..6).prop_map(Step::Completed),
        (0usize..6, 0usize..6, any::<bool>()).prop_map(|(a, b, c)| Step::Continue(a, b, c)),
        (0usize..6).prop_map(Step::Both),
        Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    // INV-CONT-CHAIN: one truth per rule, wherever its facts are: a store that keeps them in
    // its index (written every few records, reopened at random, so most lookups go to
    // `index.sqlite` and most terminal records follow an open record the ledger holds) refuses
    // exactly the records a store that keeps every fact in memory refuses, and `audit verify`
    // accepts the log it wrote.
    #[test]
    fn inv_cont_chain_a_store_answering_from_its_index_refuses_what_memory_refuses(
        steps in proptest::collection::vec(step(), 1..70),
        every in 1u64..6,
    ) {
        let ids: Vec<AttemptId> = (0..6).map(|_| AttemptId::mint()).collect();
        let base = |i: usize| AuditRecord {
            attempt_id: ids[i].clone(),
            chain_root: ids[i].clone(),
            ..record()
        };
        let stores = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let k = signer.private_key();
        let mut indexed = open(stores[0].path(), &k, every);
        let mut memory = open(stores[1].path(), &k, 1 << 40);
        let verdict = |r: &Result<Appended, AuditError>| match r {
            Ok(_) => None,
            Err(AuditError::Rule(v)) => Some(*v),
            Err(e) => panic!("not a rule's refusal: {e}"),
        };
        for s in &steps {
            let records = match *s {
                Step::Open(i) => vec![base(i)],
                Step::Denied(i) => vec![base(i).ended(crate::outcome::TerminalCode::DeniedPolicy, None)],
                Step::Completed(i) => vec![base(i).ended(crate::outcome::TerminalCode::CompletedDraft, None)],
                Step::Continue(prior, i, claim) => vec![AuditRecord {
                    continues: Some(ids[prior].clone()),
                    chain_root: ids[prior].clone(),
                    claim,
                    ..base(i)
                }],
                Step::Both(i) => vec![base(i), base(i).ended(crate::outcome::TerminalCode::DeniedPolicy, None)],
                Step::Reopen => {
                    drop(indexed);
                    indexed = open(stores[0].path(), &k, every);
                    continue;
                }
            };
            let far = far();
            let a = indexed.append_batch(records.clone(), far);
            let b = memory.append_batch(records, far);
            let (a, b): (Vec<_>, Vec<_>) = (a.iter().map(verdict).collect(), b.iter().map(verdict).collect());
            prop_assert!(!a.contains(&Some(RuleViolation::IndexDamaged)));
            prop_assert_eq!(a, b, "{:?}", s);
        }
        prop_assert_eq!(indexed.size(), memory.size());
        prop_assert_eq!(indexed.index_failures(), 0);
        drop(indexed);
        let checked = verify_dir(stores[0].path(), &signer.verifier(), None, &mut |_, _| {});
        prop_assert_eq!(checked.map(|r| r.records).ok(), Some(memory.size()));
    }
}

// INV-INDEX-NEVER-TRUSTED: an index emptied while the store runs (adversarial finding ADV-1)
// proves no fact absent: no second terminal record, no request id run twice, and `audit
// verify` accepts what the store wrote.
#[test]
fn inv_index_never_trusted_an_index_emptied_while_running_breaks_no_rule() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let k = signer.private_key();
    let verifier = signer.verifier();
    drop(FileStore::open(dir.path(), signer).unwrap());
    let mut store = open(dir.path(), &k, 1);
    let x = with_rid(0);
    let x_end = x.ended(crate::outcome::TerminalCode::DeniedPolicy, None);
    store.append(x).unwrap();
    store.append(x_end.clone()).unwrap();
    let z_end = with_rid(1).ended(crate::outcome::TerminalCode::DeniedPolicy, None);
    store.append(z_end).unwrap();
    assert!(store.checker.ledger().rules().in_memory().is_empty());
    let conn = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
    conn.execute_batch("DELETE FROM meta; DELETE FROM rules; DELETE FROM buckets;")
        .unwrap();
    drop(conn);
    let end_again = store.append(x_end);
    let rid_again = store.append(with_rid(1));
    drop(store);
    assert!(
        matches!(end_again, Err(AuditError::Rule(_))),
        "{end_again:?}"
    );
    assert!(
        matches!(rid_again, Err(AuditError::Rule(_))),
        "{rid_again:?}"
    );
    let verified = verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
    assert!(verified.is_ok(), "{verified:?}");
}

// INV-INDEX-NEVER-TRUSTED: an older copy of the index (its meta row's MAC verifies) put back
// while the store runs (adversarial finding ADV-2) answers nothing: no request id runs twice.
#[test]
fn inv_index_never_trusted_an_older_index_put_back_while_running_breaks_no_rule() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let k = signer.private_key();
    let verifier = signer.verifier();
    drop(FileStore::open(dir.path(), signer).unwrap());
    let mut store = open(dir.path(), &k, 1);
    store.append(record()).unwrap();
    let index = dir.path().join("index.sqlite");
    let copy = old.path().join("old.sqlite");
    rusqlite::Connection::open(&index)
        .unwrap()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    let ended = with_rid(0).ended(crate::outcome::TerminalCode::DeniedPolicy, None);
    store.append(ended).unwrap();
    let conn = rusqlite::Connection::open(&index).unwrap();
    conn.execute("ATTACH ?1 AS old", [copy.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(
        "BEGIN;
         DELETE FROM main.meta; INSERT INTO main.meta SELECT * FROM old.meta;
         DELETE FROM main.rules; INSERT INTO main.rules SELECT * FROM old.rules;
         DELETE FROM main.buckets; INSERT INTO main.buckets SELECT * FROM old.buckets;
         COMMIT;",
    )
    .unwrap();
    drop(conn);
    let rid_again = store.append(with_rid(0));
    drop(store);
    assert!(
        matches!(rid_again, Err(AuditError::Rule(_))),
        "{rid_again:?}"
    );
    let verified = verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
    assert!(verified.is_ok(), "{verified:?}");
}
