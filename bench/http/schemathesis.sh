#!/usr/bin/env bash
# Schemathesis against `mig06 serve`'s own OpenAPI document: generated requests (positive and
# negative) to every operation with a valid bearer credential; no 5xx and every response must
# conform to the document (status, content type, headers, schema).
#
# Usage: bench/http/schemathesis.sh     (MAX_EXAMPLES=700 MAX_TIME=60 PORT=18416)
# --max-time makes the fuzzing phase repeat until the budget is spent (>= 2,000 requests).
# Needs: pip install schemathesis
set -euo pipefail

MAX_EXAMPLES=${MAX_EXAMPLES:-700}
PORT=${PORT:-18416}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

command -v schemathesis >/dev/null || { echo "schemathesis not found: pip install schemathesis" >&2; exit 1; }
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p mig06)
MIG06=$TARGET/release/mig06

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mig06-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$MIG06" init "$WORK/setup" >/dev/null
CONFIG=$WORK/setup/mig06.toml
CRED=$("$MIG06" caller add op-fuzz --kind operator --trigger operator_explicit --config "$CONFIG" | tail -n 1)
"$MIG06" serve --config "$CONFIG" --listen "127.0.0.1:$PORT" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  sleep 0.05
done

set +e
schemathesis --config-file "$ROOT/bench/http/schemathesis.toml" run "http://127.0.0.1:$PORT/v1/openapi.json" \
  --header "Authorization: Bearer $CRED" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "${MAX_TIME:-60}" \
  --seed "${SEED:-406}" \
  --no-color \
  --report ndjson --report-ndjson-path "$WORK/events.ndjson" "$@"
STATUS=$?
set -e
echo "== HTTP requests sent by schemathesis: $(grep -o '"elapsed"' "$WORK/events.ndjson" | wc -l) (response events in the ndjson report)"
echo "== terminal codes seen by the server:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^mig06_(attempts|http_rejected)_total' | grep -v ' 0$'
echo "== audit log: $(wc -l < "$WORK/setup/data/audit/log.jsonl") records"
exit $STATUS
