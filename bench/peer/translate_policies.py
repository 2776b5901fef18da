#!/usr/bin/env python3
"""Translates the policies `mig06 init` writes (policy/policies.cedar, Cedar 4 syntax) into
cedar-agent 0.2.0's PUT /v1/policies body: a JSON list of {"id", "content"}, one per policy,
the id being the policy's @id annotation.

cedar-agent 0.2.0 embeds Cedar 2.4, which has no `is` operator: `principal is Caller` and
`resource is Subject` in a scope become `principal` and `resource`. For the requests of this
benchmark that is the same policy: the principal is always a Caller and the resource always the
Subject (the rail's schema admits nothing else, and the peer's requests name only those).
Anything else the translation does not know fails loudly.

Usage: translate_policies.py POLICIES.cedar > policies.json
"""
import json
import re
import sys


def strip_comments(text):
    out = []
    for line in text.splitlines():
        # No policy string in the bundle contains "//"; refuse if one ever does.
        if "//" in line and '"' in line.split("//", 1)[0]:
            sys.exit("translate_policies: a string before a // comment; translate by hand")
        out.append(line.split("//", 1)[0].rstrip())
    return "\n".join(out)


def main():
    text = strip_comments(open(sys.argv[1], encoding="utf-8").read())
    chunks = [c.strip() for c in text.split(";") if c.strip()]
    policies = []
    for chunk in chunks:
        m = re.match(r'@id\("([^"]+)"\)\s*(.*)\Z', chunk, re.S)
        if not m:
            sys.exit("translate_policies: a policy without @id: " + chunk[:60])
        pid, body = m.group(1), m.group(2)
        body = re.sub(r"\b(principal|resource)\s+is\s+[A-Za-z_][A-Za-z0-9_]*", r"\1", body)
        if re.search(r"\bis\s+[A-Z]", body):
            sys.exit("translate_policies: an `is` test outside the scope in " + pid)
        # Keep the annotation: Cedar 2.4 parses it, and the answer names the policy by id.
        policies.append({"id": pid, "content": '@id("%s")\n%s;' % (pid, body)})
    json.dump(policies, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
