#!/usr/bin/env bash
# Two `mig06 serve` instances on one PostgreSQL audit log (docs/OPERATIONS.md, "Several
# instances"). Put any HTTP load balancer in front of the two ports; they share nothing but the
# database and the configuration (policy bundle, callers, the log's signing key).
#
#   MIG06_AUDIT_URL='host=127.0.0.1 port=5432 user=postgres dbname=mig06' \
#     bash examples/two-instances/run.sh [DIR] [PORT_A] [PORT_B]
#
# DIR (default: a new temporary directory) gets `mig06 init` and a caller `op-lb` whose bearer
# credential is printed; the script migrates the schema, starts both instances, prints their
# URLs and PIDs, and waits; Ctrl-C (or SIGTERM) stops both. MIG06 names the binary (default:
# `mig06` on PATH, else target/release/mig06 or target/debug/mig06 of this repository).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${MIG06_AUDIT_URL:?set MIG06_AUDIT_URL to the database the instances share}"
if [ -z "${MIG06:-}" ]; then
  if command -v mig06 >/dev/null; then MIG06=mig06
  elif [ -x "$ROOT/target/release/mig06" ]; then MIG06="$ROOT/target/release/mig06"
  else MIG06="$ROOT/target/debug/mig06"; fi
fi
DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mig06-two.XXXXXX")}
PORT_A=${2:-8401}
PORT_B=${3:-8402}
if [ ! -f "$DIR/mig06.toml" ]; then
  "$MIG06" init "$DIR" >/dev/null
  printf '\n[audit]\nbackend = "postgres"\nurl_env = "MIG06_AUDIT_URL"\n' >>"$DIR/mig06.toml"
  CRED=$("$MIG06" caller add op-lb --kind operator --trigger operator_explicit \
    --trigger operator_continuation --config "$DIR/mig06.toml" | tail -n 1)
  echo "caller op-lb credential: $CRED"
fi
"$MIG06" audit migrate --config "$DIR/mig06.toml"
export MIG06_AUDIT_URL
"$MIG06" serve --listen "127.0.0.1:$PORT_A" --config "$DIR/mig06.toml" &
A=$!
"$MIG06" serve --listen "127.0.0.1:$PORT_B" --config "$DIR/mig06.toml" &
B=$!
trap 'kill -TERM $A $B 2>/dev/null; wait' INT TERM EXIT
echo "instance A: http://127.0.0.1:$PORT_A pid $A"
echo "instance B: http://127.0.0.1:$PORT_B pid $B"
echo "config: $DIR/mig06.toml   verify: MIG06_AUDIT_URL=... $MIG06 audit verify --config $DIR/mig06.toml"
wait
