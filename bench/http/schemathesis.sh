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
command -v schemathesis >/dev/null || { echo "schemathesis not found: pip install schemathesis" >&2; exit 1; }
CALLER=op-fuzz
# shellcheck source=bench/http/server.sh
. "$(dirname "$0")/server.sh"

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
