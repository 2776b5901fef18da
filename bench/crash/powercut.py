#!/usr/bin/env python3
"""Power-cut harness for the MIG-06 rail (issue 14). Python 3.11 standard library only.

Runs `mig06 serve` with its data directory on the `powercut` FUSE filesystem
(tools/powercut), which keeps only what was fsynced/fdatasynced (file data) and what a
directory fsync made durable (directory entries). Under load from several clients it cuts the
power at a seeded random moment: the filesystem keeps exactly its durable image, every later
operation fails. Then, on the after-cut image, it checks:

  1. `mig06 audit verify` passes;
  2. the rail starts (`mig06 serve` answers /v1/health);
  3. every attempt whose answer a client received before the cut is in the log with that
     answer's code;
  4. every confirmed COMPLETED_DRAFT answer names a draft file (`drafts/<draft_ref>.json`, the
     reference executor's) that exists with the SHA-256 its `content_sha256` names.

Each round continues from the previous round's after-cut image (a fresh set-up after a round
whose image the rail cannot use). `--cold` skips the `sync` that makes the fresh set-up durable
before the load, so the first round also tests that the store makes the files and directories
it creates durable.

If FUSE cannot be mounted here it prints `SKIPPED: <reason>` and exits 77.
Exit status: 0 all rounds passed (or --report-only), 1 a check failed, 2 usage or set-up
error, 77 skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash import Harness  # noqa: E402  (same directory)

SKIP = 77


def skip(reason: str) -> int:
    print(f"SKIPPED: the power-cut test did not run: {reason}", flush=True)
    return SKIP


def mounted(path: str) -> bool:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split()[4] == real for line in f)


def check_drafts(data_dir: str, confirmed: dict) -> tuple[int, list[str], list[str]]:
    """Every confirmed COMPLETED_DRAFT's draft file under `data_dir/drafts`: returns the number
    checked, the draft references with no file, and those whose file's SHA-256 differs from the
    answer's `content_sha256`."""
    checked, missing, differ = 0, [], []
    for ans in confirmed.values():
        if ans.code != "COMPLETED_DRAFT":
            continue
        checked += 1
        ref, want = ans.draft_ref, ans.content_sha256
        path = os.path.join(data_dir, "drafts", f"{ref}.json") if ref else None
        if path is None or not os.path.isfile(path):
            missing.append(str(ref))
            continue
        with open(path, "rb") as f:
            got = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        if got != want:
            differ.append(str(ref))
    return checked, missing, differ


def self_test() -> int:
    """The draft check on a made-up image: a good draft, a missing one, a changed one."""
    from crash import Answered  # noqa: E402

    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "drafts"))
        good, bad = b'{"a": 1}', b'{"a": 2}'
        for name, data in (("draft_good", good), ("draft_changed", bad)):
            with open(os.path.join(d, "drafts", f"{name}.json"), "wb") as f:
                f.write(data)
        digest = "sha256:" + hashlib.sha256(good).hexdigest()
        confirmed = {
            "a1": Answered("COMPLETED_DRAFT", 1, "draft_good", digest),
            "a2": Answered("COMPLETED_DRAFT", 1, "draft_gone", digest),
            "a3": Answered("COMPLETED_DRAFT", 1, "draft_changed", digest),
            "a4": Answered("DENIED_POLICY", 1),
            "a5": Answered("COMPLETED_DRAFT", 1),
        }
        got = check_drafts(d, confirmed)
    want = (4, ["draft_gone", "None"], ["draft_changed"])
    if got != want:
        print(f"self-test FAILED: check_drafts gave {got}, expected {want}")
        return 1
    print("self-test passed: a missing draft, a changed draft and a draft-less answer are caught")
    return 0


class PowerCut:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="mig06-powercut.")
        self.failures = 0
        self.findings: dict[str, int] = {}

    def harness(self) -> Harness:
        ns = argparse.Namespace(
            seed=self.args.seed, mig06=self.args.mig06, workdir=None, kills=0,
            clients=self.args.clients, min_run=self.args.min_run, max_run=self.args.max_run,
            attempt_timeout_ms=self.args.attempt_timeout_ms, continuation_share=0.25,
            require_recovery=False, stop_on_failure=False, keep=True,
        )
        h = Harness(ns)
        h.work = os.path.join(self.work, f"setup-{len(os.listdir(self.work))}")
        os.makedirs(h.work)
        h.setup = os.path.join(h.work, "setup")
        h.config = os.path.join(h.setup, "mig06.toml")
        return h

    def note(self, what: str) -> None:
        what = re.sub(r"image-[0-9a-z-]+", "IMAGE", what.replace(self.work, "$WORK"))
        self.findings[what] = self.findings.get(what, 0) + 1

    def mount(self, backing: str, mnt: str, ctl: str) -> subprocess.Popen[bytes]:
        os.makedirs(ctl, exist_ok=True)
        p = subprocess.Popen(
            [self.args.powercut, backing, mnt, ctl],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(500):
            if mounted(mnt):
                return p
            if p.poll() is not None:
                err = p.stderr.read().decode("utf-8", "replace").strip() if p.stderr else ""
                raise RuntimeError(f"powercut exited {p.returncode}: {err}")
            time.sleep(0.01)
        p.kill()
        raise RuntimeError("the mount did not appear within 5 s")

    def control(self, ctl: str, what: str) -> str:
        done = os.path.join(ctl, f"{what}.done")
        open(os.path.join(ctl, what), "w").close()
        for _ in range(3000):
            if os.path.exists(done):
                time.sleep(0.01)
                with open(done, encoding="utf-8") as f:
                    return f.read()
            time.sleep(0.005)
        raise RuntimeError(f"powercut did not answer `{what}`")

    def unmount(self, mnt: str, proc: subprocess.Popen[bytes]) -> None:
        subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def round(self, k: int, h: Harness, backing: str, fresh: bool) -> bool:
        """One cut. Returns whether the after-cut image is usable for the next round."""
        mnt = os.path.join(h.setup, "data")
        ctl = os.path.join(self.work, f"ctl-{k}")
        base = os.path.join(h.setup, "mig06.toml")
        proc = self.mount(backing, mnt, ctl)
        # The rail's config for the mounted data dir is the set-up's own (data_dir = "data").
        h.config = base
        try:
            h.start()
            if fresh and not self.args.cold:
                if self.args.prime:
                    # Attempts before the sync, so every file the store creates exists and is
                    # durable: the cuts then test steady-state appends only.
                    body, _, _, _ = h.request_body(random.Random(f"{self.args.seed}/prime/{k}"))
                    c = http.client.HTTPConnection(h.addr, timeout=30)
                    for _ in range(self.args.prime):
                        c.request("POST", "/v1/attempts", body=body,
                                  headers={"Authorization": f"Bearer {h.cred}"})
                        c.getresponse().read()
                self.control(ctl, "sync")
            h.shared.answered.clear()
            stop = threading.Event()
            threads = [
                threading.Thread(target=h.client, args=(n, k, stop), daemon=True)
                for n in range(self.args.clients)
            ]
            for t in threads:
                t.start()
            time.sleep(self.rng.uniform(self.args.min_run, self.args.max_run))
            with h.shared.lock:
                confirmed = dict(h.shared.answered)
            report = self.control(ctl, "cut")
            stop.set()
            h.kill()
            for t in threads:
                t.join(timeout=60)
        finally:
            h.kill()
            self.unmount(mnt, proc)
        lost_lines = [l for l in report.splitlines() if l.startswith(("entry", "data"))]
        print(f"cut {k}: {len(confirmed)} answers confirmed before the cut; {report.splitlines()[0]}", flush=True)
        grouped: dict[str, int] = {}
        for line in lost_lines:
            kind, rest = line.split(":", 1)
            path = rest.strip().split(" ")[0].removeprefix("./").rstrip(":")
            # Draft files lost by a cut are counted per directory (drafts of attempts not yet
            # confirmed may be lost; a confirmed one fails the round, below).
            path = re.sub(r"^drafts/.+", "drafts/<draft files>", path)
            key = f"{kind}: {path}"
            grouped[key] = grouped.get(key, 0) + 1
        for key, n in sorted(grouped.items()):
            print(f"cut {k}:   {key}" + (f" ({n})" if n > 1 else ""), flush=True)
            self.note(key)
        # The after-cut image: a config that points at it.
        after = os.path.join(h.setup, "after-cut.toml")
        with open(base, encoding="utf-8") as f:
            text = f.read()
        lines = [l for l in text.splitlines() if not l.startswith("data_dir =")]
        with open(after, "w", encoding="utf-8") as f:
            f.write(f'data_dir = "{backing}"\n' + "\n".join(lines) + "\n")
        h.config = after
        ok = True
        v = h.run("audit", "verify", "--config", after, check=False)
        if v.returncode != 0:
            ok = False
            msg = (v.stdout + v.stderr).strip().splitlines()
            print(f"cut {k}: FAIL audit verify exited {v.returncode}: {msg[-1] if msg else ''}", flush=True)
            self.note(f"audit verify fails after a cut: {msg[-1] if msg else ''}")
        started = True
        try:
            h.start()
        except SystemExit:
            started = False
        if not started:
            ok = False
            err = open(os.path.join(h.work, "serve.err"), encoding="utf-8", errors="replace").read().strip().splitlines()
            print(f"cut {k}: FAIL the rail does not start: {err[-1] if err else ''}", flush=True)
            self.note(f"the rail does not start after a cut: {err[-1] if err else ''}")
        recs = h.records() if v.returncode == 0 or started else []
        h.kill()
        source = "audit show"
        if not recs:
            # The rail cannot read its log: look at the log file itself (JSON lines) to tell a
            # lost record from an unreadable store.
            path = os.path.join(backing, "audit", "log.jsonl")
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        try:
                            recs.append(json.loads(line))
                        except ValueError:
                            break
                source = "the log file read directly (audit show failed)"
        terminal: dict[str, list[str]] = {}
        for r in recs:
            if r.get("kind") == "terminal":
                terminal.setdefault(r["attempt_id"], []).append(r.get("code", ""))
        lost = sum(1 for a in confirmed if a not in terminal)
        changed = sum(1 for a, ans in confirmed.items() if a in terminal and terminal[a] != [ans.code])
        if lost or changed:
            ok = False
            print(f"cut {k}: FAIL {lost} confirmed answers missing from the log, {changed} with another code", flush=True)
            self.note("confirmed answers missing after a cut")
        drafts, no_file, differ = check_drafts(backing, confirmed)
        if no_file or differ:
            ok = False
            print(
                f"cut {k}: FAIL of {drafts} confirmed drafts, {len(no_file)} have no draft file and "
                f"{len(differ)} a file whose SHA-256 differs from content_sha256",
                flush=True,
            )
            self.note("confirmed drafts missing or changed after a cut")
        print(
            f"cut {k}: after the cut: log records {len(recs)} (from {source}), verify "
            f"{'ok' if v.returncode == 0 else 'FAILED'}, rail {'starts' if started else 'DOES NOT START'}, "
            f"confirmed answers lost {lost}, changed {changed}; confirmed drafts {drafts}, "
            f"without their file {len(no_file)}, with another hash {len(differ)}",
            flush=True,
        )
        if not ok:
            self.failures += 1
        return ok and started

    def main(self) -> int:
        if not os.path.exists("/dev/fuse"):
            return skip("/dev/fuse does not exist (FUSE is not available in this kernel or container)")
        try:
            os.close(os.open("/dev/fuse", os.O_RDWR))
        except OSError as e:
            return skip(f"/dev/fuse cannot be opened ({e.strerror})")
        if not os.path.exists(self.args.powercut):
            return skip(f"the powercut binary is missing: build tools/powercut first")
        print(
            f"power-cut harness: seed {self.args.seed}, cuts {self.args.cuts}, clients {self.args.clients}, "
            f"load {self.args.min_run}-{self.args.max_run}s before each cut, "
            f"{'cold (set-up not synced)' if self.args.cold else 'warm (set-up synced first)'}; work dir {self.work}",
            flush=True,
        )
        h = self.harness()
        h.init()
        backing = os.path.join(self.work, "image-0")
        os.makedirs(backing)
        fresh = True
        for k in range(1, self.args.cuts + 1):
            try:
                usable = self.round(k, h, backing, fresh)
            except RuntimeError as e:
                if k == 1:
                    return skip(f"FUSE could not be mounted: {e}")
                print(f"cut {k}: FAIL {e}", flush=True)
                self.failures += 1
                usable = False
            if usable:
                # Next round starts from this image (copied: the mount reads it as durable).
                nxt = os.path.join(self.work, f"image-{k}")
                shutil.copytree(backing, nxt)
                backing, fresh = nxt, False
            else:
                h = self.harness()
                h.init()
                backing = os.path.join(self.work, f"image-{k}-fresh")
                os.makedirs(backing)
                fresh = True
        print("== summary")
        print(f"cuts {self.args.cuts}, failed rounds {self.failures}")
        for what, n in sorted(self.findings.items()):
            print(f"  {n} x {what}")
        if self.failures:
            print(f"RESULT: FAILED ({self.failures} of {self.args.cuts} cuts)")
            if self.args.report_only:
                print("(--report-only: exit status 0; the failures above are findings, not ignored)")
                return 0
            return 1
        print("RESULT: PASSED")
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mig06", help="path to the mig06 binary")
    ap.add_argument("--powercut", help="path to the powercut binary (tools/powercut)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the draft check on a made-up image, without FUSE or mig06")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--cuts", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--min-run", type=float, default=0.2)
    ap.add_argument("--max-run", type=float, default=1.5)
    ap.add_argument("--attempt-timeout-ms", type=int, default=2000)
    ap.add_argument("--cold", action="store_true", help="do not sync the fresh set-up before the load")
    ap.add_argument("--prime", type=int, default=0, metavar="N",
                    help="send N attempts before syncing a fresh set-up (steady state: the store's "
                         "files all exist and are durable before the first cut)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--report-only", action="store_true",
                    help="exit 0 even when a check fails (CI, until the store's durability fixes land)")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.mig06 or not args.powercut:
        ap.error("--mig06 and --powercut are required")
    return PowerCut(args).main()


if __name__ == "__main__":
    sys.exit(main())
