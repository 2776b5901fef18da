#!/usr/bin/env python3
"""An independent cosignature/v1 implementation, written from C2SP tlog-cosignature and
signed-note alone (the `cryptography` package's Ed25519; no code shared with mig06-tlog).

    cosignature_ref.py vkey SEED_HEX NAME           -> the vkey
    cosignature_ref.py sign SEED_HEX NAME TIME      (checkpoint body on stdin) -> signature line
    cosignature_ref.py verify VKEY                  (cosigned note on stdin) -> "ok TIME" per line
                                                     of that key; exit 1 if none or one is bad
"""
import base64
import hashlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EM_DASH = "\u2014"


def key_id(name: str, pub: bytes) -> bytes:
    # tlog-cosignature "Format": SHA-256(<name> || "\n" || 0x04 || 32-byte key)[:4]
    return hashlib.sha256(name.encode() + b"\n" + b"\x04" + pub).digest()[:4]


def message(ts: int, body: str) -> bytes:
    # tlog-cosignature "Ed25519 signed message"
    return b"cosignature/v1\n" + b"time " + str(ts).encode() + b"\n" + body.encode()


def private(seed_hex: str):
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sk, pub


def main() -> int:
    cmd = sys.argv[1]
    if cmd == "vkey":
        _, pub = private(sys.argv[2])
        name = sys.argv[3]
        enc = base64.b64encode(bytes([4]) + pub).decode()
        print(f"{name}+{key_id(name, pub).hex()}+{enc}")
        return 0
    if cmd == "sign":
        sk, pub = private(sys.argv[2])
        name, ts = sys.argv[3], int(sys.argv[4])
        body = sys.stdin.buffer.read().decode()
        sig = sk.sign(message(ts, body))
        raw = key_id(name, pub) + ts.to_bytes(8, "big") + sig
        sys.stdout.write(f"{EM_DASH} {name} {base64.b64encode(raw).decode()}\n")
        return 0
    if cmd == "verify":
        name, kid_hex, b64 = sys.argv[2].split("+", 2)
        raw_key = base64.b64decode(b64, validate=True)
        assert raw_key[0] == 4 and len(raw_key) == 33
        pub = raw_key[1:]
        assert key_id(name, pub).hex() == kid_hex
        pk = Ed25519PublicKey.from_public_bytes(pub)
        note = sys.stdin.buffer.read().decode()
        body, sigs = note.rsplit("\n\n", 1)
        body += "\n"
        found = 0
        for line in sigs.rstrip("\n").split("\n"):
            prefix, lname, b64sig = line.split(" ")
            assert prefix == EM_DASH
            raw = base64.b64decode(b64sig, validate=True)
            if lname != name or raw[:4] != key_id(name, pub):
                continue
            assert len(raw) == 4 + 8 + 64
            ts = int.from_bytes(raw[4:12], "big")
            pk.verify(raw[12:], message(ts, body))  # raises InvalidSignature
            print(f"ok {ts}")
            found += 1
        return 0 if found else 1
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is a refusal
        print(f"refused: {type(e).__name__}", file=sys.stderr)
        sys.exit(1)
