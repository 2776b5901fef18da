#!/usr/bin/env python3
"""Compares mig06-phi with Presidio's pattern recognizers on the same labelled set.

Installs nothing. Needs `pip install presidio-analyzer` (no spaCy model is loaded: the
predefined pattern recognizers are called directly with nlp_artifacts=None, so Presidio's
NER, and with it PERSON / LOCATION, is off; context words are not used either).
Our detector runs through the `scan` example (Detector::scan), built with
  cargo build --release --workspace --example scan

Usage: python3 eval/phi/presidio_compare.py [eval/phi/set.jsonl] [--bin PATH]
Prints texts/second for both (ours includes process start and JSON I/O), the ratio, and
Presidio's per-kind recall and false-positive rate with the same scoring as score.py.
"""
import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score import DEFAULT_BIN, HERE, run_detector  # noqa: E402

# Presidio entity -> our kind code (best-effort mapping for recall).
ENTITY_MAP = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "payment_card",
    "US_SSN": "us_ssn", "US_ITIN": "us_ssn", "IBAN_CODE": "iban", "IP_ADDRESS": "ip_address",
    "URL": "url", "DATE_TIME": "person_date", "US_BANK_NUMBER": "account_number",
    "ABA_ROUTING_NUMBER": "account_number", "US_DRIVER_LICENSE": "drivers_license",
    "MEDICAL_LICENSE": "us_dea", "US_MBI": "us_mbi", "US_NPI": "us_npi",
    "US_HEALTH_INSURANCE_MEMBER_ID": "health_plan_id", "MAC_ADDRESS": "device_serial",
}


def build_presidio():
    # Offline: Presidio's email recognizer calls tldextract, whose default extractor
    # fetches the public suffix list over the network. Use the bundled snapshot instead.
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import predefined_recognizers as p

    names = ["EmailRecognizer", "PhoneRecognizer", "CreditCardRecognizer", "UsSsnRecognizer",
             "UsItinRecognizer", "IbanRecognizer", "IpRecognizer", "UrlRecognizer", "DateRecognizer",
             "UsBankRecognizer", "AbaRoutingRecognizer", "UsLicenseRecognizer", "MedicalLicenseRecognizer",
             "UsMbiRecognizer", "UsNpiRecognizer", "UsHealthInsuranceMemberIdRecognizer",
             "MacAddressRecognizer"]
    recs = []
    for n in names:
        cls = getattr(p, n, None)
        if cls is None:
            print(f"note: presidio has no {n}; skipped")
            continue
        recs.append(cls())
    return recs


def presidio_scan(recs, text):
    kinds = set()
    for r in recs:
        for res in r.analyze(text, r.supported_entities, None) or []:
            k = ENTITY_MAP.get(res.entity_type)
            if k:
                kinds.add(k)
    return kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set", nargs="?", default=os.path.join(HERE, "set.jsonl"))
    ap.add_argument("--bin", default=DEFAULT_BIN)
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.set)]
    recs = build_presidio()
    # Presidio: same texts, one recognizer pass each.
    t0 = time.perf_counter()
    pres = [presidio_scan(recs, r["text"]) for r in rows]
    tp = time.perf_counter() - t0
    # Ours: best of 3 runs of the scan example over the whole set. `scan` is the example's
    # own time (JSON parse + scan + write, detector already built, as Presidio's
    # recognizers are); `wall` adds process start, Detector::new and pipe I/O.
    scan_t, wall_t = [], []
    for _ in range(3):
        wall = run_detector(rows, args.bin)[1]
        wall_t.append(wall)
        scan_t.append(run_detector.timing["scan_seconds"])
    ts, tw = min(scan_t), min(wall_t)
    n = len(rows)
    print(f"set: {os.path.relpath(args.set)}  texts: {n}")
    print(f"presidio pattern recognizers ({len(recs)}): {tp:8.3f}s  {n / tp:12,.0f} texts/s")
    print(f"mig06-phi scan:                        {ts:8.4f}s  {n / ts:12,.0f} texts/s")
    print(f"mig06-phi whole process (start+build):  {tw:8.4f}s  {n / tw:12,.0f} texts/s")
    print(f"speed ratio (scan): {tp / ts:,.0f}x   (whole process): {tp / tw:,.0f}x")
    pos, hit = collections.Counter(), collections.Counter()
    neg = fp = 0
    for r, got in zip(rows, pres):
        if r["kinds"]:
            for k in r["kinds"]:
                pos[k] += 1
                hit[k] += k in got
        else:
            neg += 1
            fp += bool(got)
    print("\nPresidio recall (kinds it has a recognizer for; others are 0 by construction)")
    print(f"{'kind':28} {'n':>6} {'recall':>8}")
    for k in sorted(pos):
        print(f"{k:28} {pos[k]:6d} {100 * hit[k] / pos[k]:7.2f}%")
    print(f"{'negatives (FP rate)':28} {neg:6d} {100 * fp / max(neg, 1):7.2f}%")


if __name__ == "__main__":
    main()
