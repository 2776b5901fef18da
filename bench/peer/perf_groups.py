#!/usr/bin/env python3
"""Groups a `perf script -F comm,tid,period,ip,sym,dso` dump of `mig06 serve` into the cost
groups of issue 22, by inclusive share: a sample counts for a group when any frame of its stack
matches the group (so groups overlap, and nested groups are shown indented under their parent).
Also prints a partition (each sample to the innermost group on its stack, so the shares sum to
100%) and the top symbols by inclusive and by self share.

Usage: perf script ... | perf_groups.py [--fold FOLDED] [--top N]
"""
import argparse
import collections
import re
import sys

# (name, parent, regex over one frame's symbol). Order matters for the partition only: a sample
# goes to the group whose match is nearest the leaf; ties go to the later group in this list.
GROUPS = [
    ("connection loop: tokio, hyper, axum, conn.rs", None,
     r"tokio::|hyper::|hyper_util::|axum::|tower::|mig06::serve::conn::|mig06::serve::listener::"),
    ("  httparse (the head parsed twice: conn.rs and hyper)", "connection loop", r"httparse::"),
    ("  hand-off to the blocking pool (spawn_blocking, its threads' park/unpark)", "connection loop",
     r"tokio::runtime::blocking::|spawn_blocking"),
    ("access log / tracing (the rail's info line per request)", None,
     r"tracing_subscriber::|tracing_core::|mig06::serve::oplog::|MetricsLayer"),
    ("attempt (Rail::attempt_traced, on the blocking pool)", None, r"attempt_traced"),
    ("Cedar decisions (PolicyGate::authorize_trigger + authorize_step)", None,
     r"PolicyGate::(authorize_trigger|authorize_step|decide)|^authorize_(trigger|step)$|cedar_policy"),
    ("  entity/context construction (Entity::new, Context::from_pairs, RestrictedExpression)", "Cedar",
     r"Entity::new|Context::from_pairs|RestrictedExpression|mig06_rail::policy::(continuation|metadata|string)|from_type_name_and_id"),
    ("  schema checks per request (Entities::from_entities, Request::new with the schema)", "Cedar",
     r"Entities::from_entities|cedar_policy::api::Request::new|Request::new<|cedar_policy_validator|conformance|typecheck"),
    ("  is_authorized (evaluation)", "Cedar", r"Authorizer::is_authorized|authorizer::Authorizer"),
    ("PHI scan", None, r"mig06_phi::|phi_scan"),
    ("JSON parse/encode", None,
     r"serde_json::|mig06_rail::json::|serde_core::ser|serde::ser|Serialize for|parse_request"),
    ("  outcome encode for the response (run_attempt: serde_json::to_vec)", "JSON",
     r"to_vec<mig06_rail::outcome|Serialize for mig06_rail::outcome::Outcome"),
    ("  audit record encode (AuditRecord / RecordRef serialize)", "JSON",
     r"to_vec<mig06_rail::audit::AuditRecord|Serialize for mig06_rail::audit"),
    ("  evidence encode (evidence::encode)", "JSON", r"to_vec<mig06_rail::evidence|evidence::encode"),
    ("  request parse (request::parse_request, fingerprint)", "JSON", r"parse_request|AttemptRequest::fingerprint"),
    ("Ed25519 signing", None, r"ed25519_dalek|curve25519_dalek"),
    ("  per record (LogSigner::sign_record)", "Ed25519", r"LogSigner::sign_record|^sign_record$"),
    ("  per checkpoint (LogSigner::sign / sig_line, sign_tree)", "Ed25519",
     r"LogSigner::sign$|LogSigner::sig_line|sign_tree"),
    ("SHA-256 (compress)", None, r"sha2::sha256|Sha256VarCore"),
    ("SQLite index (index.sqlite)", None, r"sqlite3|rusqlite::|audit::file::index::"),
    ("  rule lookups (RuleBase::get: request id, claim, terminal, completed)", "SQLite", r"RuleBase>::get"),
    ("  index flush per batch (Index::flush)", "SQLite", r"Index::flush|flush_index"),
    ("audit append (GroupCommit::append, the file store)", None,
     r"GroupCommit::append|FileStore::append_batch|AuditStore>::append_batch"),
    ("check_continuation (request-id lookup through the store turn)", None, r"check_continuation"),
    ("futex, scheduling, context switches (group commit and blocking-pool wake-ups)", None,
     r"^(futex_wait|futex_wake|do_futex|__x64_sys_futex|__schedule|schedule|finish_task_switch|try_to_wake_up)|futex::futex_wa|Condvar"),
    ("fdatasync (incl. ext4/jbd2 under it)", None,
     r"^(fdatasync|__x64_sys_fdatasync|do_fsync|vfs_fsync_range|ext4_sync_file|file_write_and_wait_range|jbd2_)|sync_data"),
    ("write/read syscalls (sockets, log, audit file)", None,
     r"^(__x64_sys_write|__x64_sys_writev|__x64_sys_sendto|__x64_sys_read|__x64_sys_recvfrom|__x64_sys_pwrite64|ksys_write|ksys_read|ksys_pwrite64)$"),
    ("epoll", None, r"^(epoll_wait|__x64_sys_epoll_wait|do_epoll_wait|ep_poll)$"),
    ("allocation (malloc/free/realloc)", None,
     r"^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|malloc_consolidate|__libc_malloc|__libc_free|__libc_realloc|__GI___libc_malloc|__GI___libc_free|__GI___libc_realloc|__rust_alloc|__rust_dealloc|__rust_realloc|sysmalloc|tcache_get|tcache_put|unlink_chunk|_int_free_merge_chunk|_int_free_create_chunk|_int_free_maybe_consolidate)$"),
    ("memcpy/memmove/memset", None, r"^(__memmove|__memcpy|memcpy|memmove|__memset|memset)"),
]
CMP = [(name, parent, re.compile(rx)) for name, parent, rx in GROUPS]


def samples(stream):
    head, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if head is not None:
                yield head, frames
            head, frames = None, []
            continue
        if head is None:
            head = line
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            continue
        rest = parts[1]
        # "sym+0x12 (dso)" -> sym
        m = re.match(r"(.*?)(\+0x[0-9a-f]+)? \((.*)\)$", rest)
        sym = m.group(1) if m else rest
        frames.append(sym)  # leaf first
    if head is not None:
        yield head, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fold")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    total = 0
    incl = collections.Counter()
    part = collections.Counter()
    sym_incl = collections.Counter()
    sym_self = collections.Counter()
    comm_w = collections.Counter()
    folded = collections.Counter()
    for head, frames in samples(sys.stdin):
        hp = head.split()
        try:
            w = int(hp[2]) if len(hp) >= 3 else 1
        except ValueError:
            w = 1
        total += w
        comm_w[hp[0] if hp else "?"] += w
        if frames:
            sym_self[frames[0]] += w
        for s in set(frames):
            sym_incl[s] += w
        hit = set()
        best = None  # (depth from leaf, index in GROUPS)
        for depth, s in enumerate(frames):
            for gi, (name, parent, rx) in enumerate(CMP):
                if rx.search(s):
                    hit.add(name)
                    if parent is None and (best is None or (depth, -gi) < (best[0], -best[1])):
                        best = (depth, gi)
        for name in hit:
            incl[name] += w
        part[CMP[best[1]][0].strip() if best else "other (unmatched: kernel, libc, std)"] += w
        if a.fold:
            folded[";".join(reversed(frames))] += w
    if a.fold:
        with open(a.fold, "w") as f:
            for k, v in folded.most_common():
                f.write(f"{k} {v}\n")
    pct = lambda v: 100.0 * v / total if total else 0.0
    print(f"samples (period-weighted): {total}")
    print("threads by share: " + ", ".join(f"{c} {pct(v):.1f}%" for c, v in comm_w.most_common(6)))
    print("\n== inclusive share by group (a sample counts for every group on its stack)")
    for name, _parent, _rx in GROUPS:
        print(f"{pct(incl[name]):6.1f}%  {name}")
    print("\n== partition (top-level groups only: each sample to the innermost one on its stack; sums to 100%)")
    for name, v in part.most_common():
        print(f"{pct(v):6.1f}%  {name}")
    print(f"\n== top {a.top} symbols by inclusive share")
    for s, v in sym_incl.most_common(a.top):
        print(f"{pct(v):6.1f}%  {s[:160]}")
    print(f"\n== top {a.top} symbols by self share")
    for s, v in sym_self.most_common(a.top):
        print(f"{pct(v):6.1f}%  {s[:160]}")


if __name__ == "__main__":
    main()
