#!/usr/bin/env python3
"""SIGKILL crash harness for `mig06 serve` (issue 14). Python 3.11 standard library only.

Starts `mig06 serve` on a fresh `mig06 init` set-up, drives it from several concurrent clients
(POST /v1/attempts: completed drafts, policy denials, and continuations that carry evidence
tokens from earlier answers), kills it with SIGKILL at seeded random moments and restarts it.
After every restart, before any client runs, it checks:

  1. `mig06 audit verify` passes;
  2. every attempt whose answer a client received is in the log exactly once (one terminal
     record) with the answered code, and no attempt has two terminal records;
  3. open records with no terminal record whose deadline had passed before the previous
     restart ("outlived their deadline by more than one restart"): counted and reported.

After the last kill it waits until every open record's deadline has passed, restarts once more
(the final restart), sends one attempt, and counts open records past their deadline that still
have no terminal record. With --require-recovery that count must be 0 (the rail ends such
attempts `ABORTED_INTERRUPTED` when the store is opened); without it the count is only
reported, so the harness can run before that recovery exists. With --require-recovery it also
continues every recovered continuation (via `mig06 audit prove`) to show its chain is not
blocked (the continuation must not end DENIED_CONTINUATION_ALREADY_USED).

A record's deadline is its `deadline` field when the store writes one, else its `ts` plus the
configured attempt timeout. Nothing here reads or echoes request bodies beyond what it sent.

Exit status: 0 all checks passed, 1 a check failed, 2 a usage or set-up error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ANSWER_STATUSES = {200, 403, 422}


def ulid(rng: random.Random) -> str:
    """A ULID-shaped id (first char 0-7) from the seeded generator."""
    return rng.choice("01234567") + "".join(rng.choice(CROCKFORD) for _ in range(25))


def subject(rng: random.Random) -> str:
    return "subj_" + "".join(rng.choice(CROCKFORD.lower()) for _ in range(20))


def parse_ts(text: str) -> float:
    """RFC 3339 (as the rail writes it) to a POSIX time."""
    t = text.replace("Z", "+00:00")
    # Python 3.11 accepts up to microseconds; the rail may write nanoseconds.
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", t)
    if m and m.group(2):
        t = m.group(1) + m.group(2)[:7] + m.group(3)
    return dt.datetime.fromisoformat(t).timestamp()


@dataclass
class Answered:
    code: str
    cycle: int
    # A COMPLETED_DRAFT answer's draft reference and content digest (`sha256:<hex>`).
    draft_ref: str | None = None
    content_sha256: str | None = None


@dataclass
class Shared:
    """State the client threads share, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: dict[str, Answered] = field(default_factory=dict)
    # (evidence token, subject) of answered denials, available for one continuation each.
    continuable: list[tuple[str, str]] = field(default_factory=list)
    sent: int = 0
    unanswered: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    continuation_codes: dict[str, int] = field(default_factory=dict)


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.mig06 = args.mig06
        self.work = args.workdir or tempfile.mkdtemp(prefix="mig06-crash.")
        self.setup = os.path.join(self.work, "setup")
        self.config = os.path.join(self.setup, "mig06.toml")
        self.shared = Shared()
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr = ""
        self.cred = ""
        self.timeout_s = args.attempt_timeout_ms / 1000.0
        self.restart_starts: list[float] = []
        self.start_latency: list[float] = []
        self.failures: list[str] = []
        self.stale_per_restart: list[int] = []
        self.open_no_terminal_max = 0

    # ---- set-up and process control -------------------------------------------------------

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([self.mig06, *argv], capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise SystemExit(f"set-up: `mig06 {argv[0]}` exited {p.returncode}: {p.stderr.strip()}")
        return p

    def init(self) -> None:
        self.run("init", self.setup)
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        text, n = re.subn(
            r"(?m)^attempt_timeout_ms = \d+$",
            f"attempt_timeout_ms = {self.args.attempt_timeout_ms}",
            text,
        )
        if n != 1:
            raise SystemExit("set-up: attempt_timeout_ms not found in the generated config")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        out = self.run(
            "caller", "add", "crash-op", "--kind", "operator",
            "--trigger", "operator_explicit", "--trigger", "operator_continuation",
            "--config", self.config,
        )
        self.cred = out.stdout.strip().splitlines()[-1]

    def start(self) -> None:
        t0 = time.monotonic()
        self.restart_starts.append(time.time())
        self.proc = subprocess.Popen(
            [self.mig06, "serve", "--config", self.config, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.work, "serve.err"), "ab"),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode("utf-8", "replace")
        m = re.search(r"listening on http://(\S+)", line)
        if not m:
            code = self.proc.wait(timeout=10)
            self.fail(f"restart {len(self.restart_starts)}: serve did not start (exit {code})")
            raise SystemExit(1)
        self.addr = m.group(1)
        for _ in range(400):
            try:
                c = http.client.HTTPConnection(self.addr, timeout=2)
                c.request("GET", "/v1/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.01)
        self.start_latency.append(time.monotonic() - t0)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        print(f"FAIL: {msg}", flush=True)

    # ---- clients --------------------------------------------------------------------------

    def request_body(self, rng: random.Random) -> tuple[bytes, tuple[str, str] | None, str, str]:
        """(body, the continued evidence if any, subject, note_kind)."""
        roll = rng.random()
        prior = None
        if roll < self.args.continuation_share:
            with self.shared.lock:
                if self.shared.continuable:
                    prior = self.shared.continuable.pop(rng.randrange(len(self.shared.continuable)))
        if prior is not None:
            token, subj = prior
            kind = rng.choice(["discharge_summary", "referral_letter"])
            body = {
                "request_id": ulid(rng),
                "trigger": "operator_continuation",
                "subject": subj,
                "steps": [{"action": "draft_note", "params": {"note_kind": kind}}],
                "continuation": {"evidence": token, "reason": "operator_amended_request"},
            }
        else:
            subj = subject(rng)
            # About a quarter are denied by policy (and so continuable).
            kind = rng.choice(
                ["discharge_summary", "referral_letter", "discharge_summary", "prior_authorisation"]
            )
            body = {
                "request_id": ulid(rng),
                "trigger": "operator_explicit",
                "subject": subj,
                "steps": [{"action": "draft_note", "params": {"note_kind": kind}}],
            }
        return json.dumps(body).encode(), prior, subj, kind

    def client(self, n: int, cycle: int, stop: threading.Event) -> None:
        rng = random.Random(f"{self.args.seed}/{cycle}/{n}")
        conn: http.client.HTTPConnection | None = None
        headers = {"Authorization": f"Bearer {self.cred}", "Content-Type": "application/json"}
        while not stop.is_set():
            body, prior, subj, _ = self.request_body(rng)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.addr, timeout=30)
                with self.shared.lock:
                    self.shared.sent += 1
                conn.request("POST", "/v1/attempts", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                with self.shared.lock:
                    self.shared.unanswered += 1
                if conn is not None:
                    conn.close()
                conn = None
                if stop.is_set():
                    return
                time.sleep(0.01)
                continue
            if status not in ANSWER_STATUSES:
                self.fail(f"cycle {cycle}: unexpected HTTP status {status}")
                continue
            out = json.loads(data)
            attempt, code = out["attempt_id"], out["code"]
            with self.shared.lock:
                if attempt in self.shared.answered:
                    self.fail(f"attempt id {attempt} answered twice")
                self.shared.answered[attempt] = Answered(
                    code, cycle, out.get("draft_ref"), out.get("content_sha256")
                )
                self.shared.codes[code] = self.shared.codes.get(code, 0) + 1
                if prior is not None:
                    cc = self.shared.continuation_codes
                    cc[code] = cc.get(code, 0) + 1
                if code.startswith("DENIED_POLICY") and out.get("evidence"):
                    self.shared.continuable.append((out["evidence"], subj))
        if conn is not None:
            conn.close()

    def load_cycle(self, cycle: int) -> None:
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.client, args=(n, cycle, stop), daemon=True)
            for n in range(self.args.clients)
        ]
        for t in threads:
            t.start()
        time.sleep(self.rng.uniform(self.args.min_run, self.args.max_run))
        stop.set()
        self.kill()
        for t in threads:
            t.join(timeout=60)

    # ---- checks ---------------------------------------------------------------------------

    def records(self) -> list[dict]:
        p = self.run("audit", "show", "--config", self.config, check=False)
        if p.returncode != 0:
            self.fail(f"`mig06 audit show` exited {p.returncode}")
            return []
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def deadline(self, rec: dict) -> float:
        if "deadline" in rec:
            return parse_ts(rec["deadline"])
        return parse_ts(rec["ts"]) + self.timeout_s

    def check(self, label: str) -> list[dict]:
        """The checks after a restart. Returns the open records with no terminal record."""
        v = self.run("audit", "verify", "--config", self.config, check=False)
        if v.returncode != 0:
            self.fail(f"{label}: `mig06 audit verify` exited {v.returncode}: {v.stdout.strip()[-300:]}")
        recs = self.records()
        terminal: dict[str, list[str]] = {}
        opened: dict[str, dict] = {}
        for r in recs:
            if r.get("kind") == "terminal":
                terminal.setdefault(r["attempt_id"], []).append(r.get("code", ""))
            elif r.get("kind") == "open":
                opened[r["attempt_id"]] = r
        doubled = [a for a, codes in terminal.items() if len(codes) > 1]
        if doubled:
            self.fail(f"{label}: {len(doubled)} attempts have more than one terminal record")
        with self.shared.lock:
            answered = dict(self.shared.answered)
        lost = changed = 0
        for attempt, ans in answered.items():
            codes = terminal.get(attempt)
            if not codes:
                lost += 1
            elif codes != [ans.code]:
                changed += 1
        if lost:
            self.fail(f"{label}: {lost} answered attempts have no terminal record")
        if changed:
            self.fail(f"{label}: {changed} answered attempts are recorded with another code")
        open_no_terminal = [r for a, r in opened.items() if a not in terminal]
        self.open_no_terminal_max = max(self.open_no_terminal_max, len(open_no_terminal))
        # Outlived by more than one restart: the deadline passed before the previous restart,
        # which then had its chance to end it, and this restart has not either.
        stale = 0
        if len(self.restart_starts) >= 2:
            prev = self.restart_starts[-2]
            stale = sum(1 for r in open_no_terminal if self.deadline(r) < prev)
        self.stale_per_restart.append(stale)
        print(
            f"{label}: records {len(recs)}, answered {len(answered)}, lost {lost}, "
            f"changed {changed}, open without terminal {len(open_no_terminal)}, "
            f"past deadline for more than one restart {stale}",
            flush=True,
        )
        return open_no_terminal

    def final(self) -> None:
        recs = self.records()
        ended = {r["attempt_id"] for r in recs if r.get("kind") == "terminal"}
        pending = [r for r in recs if r.get("kind") == "open" and r["attempt_id"] not in ended]
        if pending:
            wait = max(self.deadline(r) for r in pending) - time.time() + 0.5
            if wait > 0:
                print(f"final: waiting {wait:.1f}s for {len(pending)} open records' deadlines", flush=True)
                time.sleep(wait)
        self.start()
        # One attempt: recovery may also run on the next append in any process.
        body, _, _, _ = self.request_body(random.Random(f"{self.args.seed}/final"))
        c = http.client.HTTPConnection(self.addr, timeout=30)
        c.request("POST", "/v1/attempts", body=body,
                  headers={"Authorization": f"Bearer {self.cred}"})
        r = c.getresponse()
        out = json.loads(r.read())
        with self.shared.lock:
            self.shared.answered[out["attempt_id"]] = Answered(out["code"], -1)
        open_now = self.check("final restart")
        now = time.time()
        remaining = [r for r in open_now if self.deadline(r) < now]
        recs = self.records()
        interrupted = [r for r in recs if r.get("code") == "ABORTED_INTERRUPTED"]
        print(
            f"final: open records past their deadline with no terminal record: {len(remaining)}; "
            f"ABORTED_INTERRUPTED records: {len(interrupted)}",
            flush=True,
        )
        if self.args.require_recovery:
            if remaining:
                self.fail(f"final restart: {len(remaining)} open records past their deadline remain")
            self.continue_recovered(recs, interrupted)
        elif remaining:
            print("final: not failing on them (run with --require-recovery once recovery exists)")
        self.stop()

    def continue_recovered(self, recs: list[dict], interrupted: list[dict]) -> None:
        """Every recovered attempt that held a continuation claim: its chain goes on."""
        by_id = {r["attempt_id"]: r for r in recs if r.get("kind") == "open"}
        blocked = tried = 0
        for rec in interrupted:
            opened = by_id.get(rec["attempt_id"])
            if opened is None or "continues" not in opened:
                continue
            tried += 1
            p = self.run("audit", "prove", "--config", self.config, rec["attempt_id"], check=False)
            token = p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else ""
            if not token:
                self.fail("a recovered attempt cannot be proved (`mig06 audit prove` failed)")
                blocked += 1
                continue
            rng = random.Random(rec["attempt_id"])
            subj = opened.get("subject") or subject(rng)
            body = {
                "request_id": ulid(rng),
                "trigger": "operator_continuation",
                "subject": subj,
                "steps": [{"action": "draft_note", "params": {"note_kind": "referral_letter"}}],
                "continuation": {"evidence": token, "reason": "operator_amended_request"},
            }
            c = http.client.HTTPConnection(self.addr, timeout=30)
            c.request("POST", "/v1/attempts", body=json.dumps(body).encode(),
                      headers={"Authorization": f"Bearer {self.cred}"})
            out = json.loads(c.getresponse().read())
            if out.get("code") == "DENIED_CONTINUATION_ALREADY_USED":
                blocked += 1
        print(f"final: continued {tried} recovered continuations, {blocked} blocked", flush=True)
        if blocked:
            self.fail(f"{blocked} continuation chains are blocked after recovery")

    # ---- main -----------------------------------------------------------------------------

    def main(self) -> int:
        print(
            f"crash harness: seed {self.args.seed}, kills {self.args.kills}, clients {self.args.clients}, "
            f"run {self.args.min_run}-{self.args.max_run}s per cycle, attempt timeout "
            f"{self.args.attempt_timeout_ms} ms, work dir {self.work}",
            flush=True,
        )
        self.init()
        t0 = time.monotonic()
        try:
            self.start()
            for k in range(1, self.args.kills + 1):
                self.load_cycle(k)
                self.start()
                self.check(f"restart {k}")
                if self.failures and self.args.stop_on_failure:
                    break
            self.kill()
            self.final()
        finally:
            self.kill()
        s = self.shared
        lat = self.start_latency
        print("== summary")
        print(f"kills: {self.args.kills}; restarts: {len(self.restart_starts)}; wall {time.monotonic() - t0:.1f}s")
        print(f"attempts sent {s.sent}, answered {len(s.answered)}, unanswered (killed in flight) {s.unanswered}")
        print("answered codes: " + ", ".join(f"{c} {n}" for c, n in sorted(s.codes.items())))
        print("of which continuations: " + ", ".join(
            f"{c} {n}" for c, n in sorted(s.continuation_codes.items())))
        print(
            f"restart to healthy: min {min(lat):.3f}s median {statistics.median(lat):.3f}s max {max(lat):.3f}s"
        )
        print(
            f"open records without terminal: max seen {self.open_no_terminal_max}; "
            f"restarts with records past deadline for more than one restart: "
            f"{sum(1 for x in self.stale_per_restart if x)} (max {max(self.stale_per_restart, default=0)})"
        )
        if self.failures:
            print(f"RESULT: FAILED ({len(self.failures)} failed checks)")
            return 1
        print("RESULT: PASSED")
        if not self.args.keep and not self.args.workdir:
            subprocess.run(["rm", "-rf", self.work], check=False)
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mig06", required=True, help="path to the mig06 binary")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-run", type=float, default=0.2, help="shortest load before a kill (s)")
    ap.add_argument("--max-run", type=float, default=1.5, help="longest load before a kill (s)")
    ap.add_argument("--attempt-timeout-ms", type=int, default=2000,
                    help="attempt_timeout_ms written to the config (the open records' deadline)")
    ap.add_argument("--continuation-share", type=float, default=0.25)
    ap.add_argument("--require-recovery", action="store_true",
                    help="fail when open records past their deadline remain after the final restart")
    ap.add_argument("--stop-on-failure", action="store_true")
    ap.add_argument("--workdir", help="use this (empty) directory instead of a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.kills < 0 or args.clients < 1 or args.min_run > args.max_run:
        ap.error("bad parameters")
    return Harness(args).main()


if __name__ == "__main__":
    sys.exit(main())
