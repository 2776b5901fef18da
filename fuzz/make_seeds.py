#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (small, made-up, no PHI). Re-run to
regenerate; libFuzzer adds what it finds to its own working corpus, not to these."""

import hashlib
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(14)


def put(target: str, data: bytes) -> None:
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


GOOD = {
    "request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "trigger": "operator_explicit",
    "subject": "subj_7k3m9q2x4w8r5t6v",
    "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}],
}
requests = [
    GOOD,
    {**GOOD, "request_id": "3f2a4c1e-9b7d-4e2a-8c5f-1d2e3f4a5b6c"},
    {**GOOD, "steps": [{"action": "draft_note", "params": {"note_kind": "referral_letter", "pages": 3}}]},
    {**GOOD, "trigger": "operator_continuation",
     "continuation": {"evidence": "mig06ev1.eyJyZWNvcmQiOiIifQ", "reason": "operator_amended_request"}},
    {**GOOD, "trigger": "scheduled"},
    {**GOOD, "steps": GOOD["steps"] * 2},
    {**GOOD, "extra": 1},
    {**GOOD, "subject": "not-an-id"},
    {**GOOD, "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary", "x": True}}]},
    {**GOOD, "steps": [{"action": "draft_note", "params": {"pages": 99}}]},
    {"request_id": 1, "trigger": [], "subject": {}, "steps": "x"},
]
for r in requests:
    put("request", json.dumps(r).encode())
put("request", b"{")
put("request", b"[]")
put("request", b'{"a":' * 12 + b"1" + b"}" * 12)
for _ in range(8):  # structured mode: 0xA5 + bytes
    put("request", bytes([0xA5]) + bytes(rng.randrange(256) for _ in range(60)))

Z = "0" * 64
base = {
    "prev": Z, "seq": 0, "ts": "2026-01-01T00:00:00Z", "kind": "open",
    "attempt_id": "01JD0000000000000000000000", "caller": "operator-1",
    "trigger": "operator_explicit", "action": "draft_note",
    "request_fp": "sha256:" + "1" * 64, "policy_digest": "sha256:" + "2" * 64,
    "decision": {"effect": "permit", "policies": ["permit-operator-draft-note"], "errors": False},
    "chain_root": "01JD0000000000000000000000", "depth": 0,
}
records = [
    base,
    {**base, "seq": 1, "prev": "a" * 64, "kind": "terminal", "code": "COMPLETED_DRAFT",
     "draft_ref": "draft_0123456789abcdefghjk", "content_sha256": "sha256:" + "3" * 64},
    {**base, "kind": "terminal", "code": "DENIED_REQUEST_INVALID",
     "detail": {"field": "$.subject", "reason": "not_opaque_id"}},
    {**base, "kind": "terminal", "code": "DENIED_POLICY", "continues": "01JD0000000000000000000001",
     "depth": 1, "reason": "operator_amended_request"},
    {k: v for k, v in base.items() if k not in ("trigger", "action", "request_fp", "decision")},
]
for r in records:
    put("audit_record", json.dumps(r, separators=(",", ":")).encode())

# checkpoint: 0 raw note (the Go note vector), 1 built + mutated, 2 verifier key text.
put("checkpoint", b"\x00" + "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".encode())
put("checkpoint", b"\x00PeterNeumann\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 PeterNeumann AAAA\n".replace(b"\\u2014", "\u2014".encode()))
put("checkpoint", b"\x02PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
for _ in range(6):
    put("checkpoint", b"\x01" + bytes(rng.randrange(256) for _ in range(40 + 3 * rng.randrange(6))))

# evidence: 0 raw text, 1 JSON mutated, 2 token text mutated.
put("evidence", b"\x00mig06ev1.eyJyZWNvcmQiOiIiLCJpbmRleCI6MCwicHJvb2YiOltdLCJjaGVja3BvaW50IjoiIn0")
put("evidence", b"\x00not a token at all")
for sel in (1, 2):
    put("evidence", bytes([sel]))
    for _ in range(4):
        put("evidence", bytes([sel]) + bytes(rng.randrange(256) for _ in range(3 * rng.randrange(1, 6))))

# phi: first byte = key context, rest = text (synthetic; shapes only, no real identifiers).
texts = [
    "discharge_summary", "subj_7k3m9q2x4w8r5t6v", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "3f2a4c1e-9b7d-4e2a-8c5f-1d2e3f4a5b6c", "call 555-0100 tomorrow", "seen on 03/04/2021",
    "MRN 00000000", "a@example.invalid", "4111 1111 1111 1111", "age 93 years old",
    "12 Example Street", "https://example.invalid/x", "10.0.0.1", "DE00 0000 0000 0000 0000 00",
]
# Issue 23: encodings the normaliser decodes, other scripts, checksummed ids (all synthetic
# or the published examples of python-stdnum's documentation).
texts += [
    "ssn %25252534%2531%2531", "J&#111;hn &#x53;mith", r"\u004a\x6fhn", "\uff14\uff11\uff11",
    "J\u200bo\u00adh\u202en", "J o h n  S m i t h", "jane [at] example [dot] invalid",
    "aged ninety-three", "born the third of March nineteen sixty-one", "Smi-\nth",
    "\u60a3\u8005\u738b\u5c0f\u660e", "\u0418\u0432\u0430\u043d\u043e\u0432 \u0418. \u0418.",
    "NHS 943 476 5870", "CPF 390.533.447-05", "VIN 1M8GDM9AXKP042788", "00:1A:2B:3C:4D:5E",
    "40.71283, -74.00601", "&#", "%", r"\u{110000}", r"\U0010FFFF",
]
for i, t in enumerate(texts):
    put("phi", bytes([i % 13]) + t.encode())
