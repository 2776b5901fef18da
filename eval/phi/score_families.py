#!/usr/bin/env python3
"""Per-family figures for a set with a "family" field (eval/phi/generate_faker23.py):
recall (the row's kind reported; and any finding) for positive families, the share of rows
with any finding for negative families. Uses score.py's driver (the `scan` example).

Usage: python3 eval/phi/score_families.py SET [--bin PATH] [--show FAMILY]
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score import DEFAULT_BIN, run_detector  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--show", default=None)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.set, encoding="utf-8")]
    verdicts, _ = run_detector(rows, a.bin)
    n = collections.Counter()
    right = collections.Counter()
    anyf = collections.Counter()
    for r, v in zip(rows, verdicts):
        for key in (r["family"], r["group"]):
            n[key] += 1
            if v["phi"]:
                anyf[key] += 1
            if r["kinds"] and all(k in v["kinds"] for k in r["kinds"]):
                right[key] += 1
        show = a.show and a.show in (r["family"], r["group"])
        if show and ((r["kinds"] and not all(k in v["kinds"] for k in r["kinds"])) or (not r["kinds"] and v["phi"])):
            print("SHOW", json.dumps(r["text"], ensure_ascii=False), v["kinds"])
    print(f"{'family/group':28} {'n':>5} {'right kind':>11} {'any finding':>12}")
    for k in sorted(n, key=lambda x: ("/" in x, x)):
        pos = any(r["kinds"] for r in rows if k in (r["family"], r["group"]))
        rk = f"{100 * right[k] / n[k]:10.2f}%" if pos else f"{'-':>11}"
        print(f"{k:28} {n[k]:5d} {rk} {100 * anyf[k] / n[k]:11.2f}%")


if __name__ == "__main__":
    sys.exit(main())
