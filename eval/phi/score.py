#!/usr/bin/env python3
"""Scores mig06-phi on a labelled set via the `scan` example (Detector::scan, `mig06 scan` verdicts).

Usage: python3 eval/phi/score.py [eval/phi/set.jsonl] [--bin PATH] [--show-misses KIND]
Builds nothing itself; build first with
  cargo build --release --workspace --example scan
Prints per-kind recall on positives and the false-positive rate on negatives.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target")), "release", "examples", "scan")


def run_detector(rows, binary):
    inp = "".join(json.dumps({"text": r["text"], **({"key": r["key"]} if "key" in r else {})}) + "\n" for r in rows)
    t0 = time.perf_counter()
    proc = subprocess.run([binary, "--time"], input=inp.encode(), capture_output=True, check=True)
    dt = time.perf_counter() - t0
    out = proc.stdout.decode()
    run_detector.timing = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert len(verdicts) == len(rows), (len(verdicts), len(rows))
    return verdicts, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set", nargs="?", default=os.path.join(HERE, "set.jsonl"))
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--show-misses", default=None)
    ap.add_argument("--show-fp", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.set)]
    verdicts, dt = run_detector(rows, args.bin)
    pos = collections.Counter()
    hit = collections.Counter()
    neg = fp = 0
    fp_kinds = collections.Counter()
    fp_by_key = collections.Counter()
    for r, v in zip(rows, verdicts):
        if r["kinds"]:
            for k in r["kinds"]:
                for g in {k, r["group"]}:
                    pos[g] += 1
                    if k in v["kinds"]:
                        hit[g] += 1
                    elif args.show_misses and g == args.show_misses:
                        print("MISS", json.dumps({"text": r["text"], "key": r.get("key")}), v["kinds"])
        else:
            neg += 1
            if v["phi"]:
                fp += 1
                fp_kinds.update(v["kinds"])
                fp_by_key[r.get("key")] += 1
                if args.show_fp:
                    print("FP", json.dumps({"text": r["text"], "key": r.get("key")}), v["kinds"])
    tm = run_detector.timing
    print(f"set: {os.path.relpath(args.set)}  rows: {len(rows)}  scan: {tm['scan_seconds']:.4f}s "
          f"({len(rows) / tm['scan_seconds']:,.0f} texts/s); Detector::new {tm['build_seconds'] * 1000:.1f} ms; "
          f"process wall {dt:.3f}s")
    print(f"{'kind':28} {'n':>6} {'recall':>8}")
    for g in sorted(pos):
        print(f"{g:28} {pos[g]:6d} {100 * hit[g] / pos[g]:7.2f}%")
    total_pos = sum(pos[k] for k in pos if "/" not in k)
    total_hit = sum(hit[k] for k in pos if "/" not in k)
    print(f"{'ALL positives':28} {total_pos:6d} {100 * total_hit / total_pos:7.2f}%")
    print(f"{'negatives (FP rate)':28} {neg:6d} {100 * fp / max(neg, 1):7.2f}%  ({fp} false positives)")
    if fp_kinds:
        print("FP kinds:", dict(fp_kinds.most_common()))


if __name__ == "__main__":
    sys.exit(main())
