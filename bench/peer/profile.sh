#!/usr/bin/env bash
# Profiles `mig06 serve` under the peer benchmark's denied-attempt load (issue 22): the same
# set-up as bench/peer/run.sh (bench/http/server.sh: release build, init, one caller), one warm-up
# run, then `perf record` on the server's PID during a wrk run at 64 connections of DENIED_POLICY
# attempts. Writes perf.data and a folded-stack summary into OUT (default: a new temporary
# directory; printed at the end), and prints the grouped inclusive shares (perf_groups.py).
#
# Usage: bench/peer/profile.sh   (env: OUT, PORT=18406, DURATION=10s, FREQ=999,
#          CALLGRAPH=dwarf (a release build has no frame pointers: `-g`/fp stacks are broken;
#          set CALLGRAPH=fp to get the plain `perf record -g`), NOTE_KIND=prior_authorisation
#          (discharge_summary profiles completed attempts), CARGO_TARGET_DIR)
# Needs: perf, wrk, python3. The release profile keeps line tables (Cargo.toml), so no rebuild.
set -euo pipefail

PORT=${PORT:-18406}
DURATION=${DURATION:-10s}
FREQ=${FREQ:-999}
CALLGRAPH=${CALLGRAPH:-dwarf}
NOTE_KIND=${NOTE_KIND:-prior_authorisation}
CALLER=op-bench
command -v perf >/dev/null || { echo "perf not found" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
# shellcheck source=bench/http/server.sh
. "$(dirname "$0")/../http/server.sh"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/mig06-peer-profile.XXXXXX")}
mkdir -p "$OUT"

BODY=$(printf '{"request_id":"%s","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[{"action":"draft_note","params":{"note_kind":"%s"}}]}' "$(cat /proc/sys/kernel/random/uuid)" "$NOTE_KIND")
export MIG06_BENCH_CREDENTIAL=$CRED MIG06_BENCH_BODY=$BODY
URL=http://127.0.0.1:$PORT/v1/attempts
echo "== warm-up (5 s)"
wrk -t2 -c64 -d5s -s "$ROOT/bench/http/post.lua" "$URL" | awk '/Requests\/sec/'
case $CALLGRAPH in
  fp) CG=(-g) ;;
  *) CG=(--call-graph "$CALLGRAPH") ;;
esac
echo "== perf record -F $FREQ ${CG[*]} -p $SERVER_PID during wrk -t2 -c64 -d$DURATION ($NOTE_KIND); load average $(cut -d' ' -f1-3 /proc/loadavg)"
perf record -F "$FREQ" "${CG[@]}" -p "$SERVER_PID" -o "$OUT/perf.data" 2>"$OUT/perf-record.err" &
PERF_PID=$!
sleep 0.5
T0=$(server_ticks)
wrk -t2 -c64 -d"$DURATION" --latency -s "$ROOT/bench/http/post.lua" "$URL" | tee "$OUT/wrk.txt" | awk '/Requests\/sec|requests in/'
T1=$(server_ticks)
kill -INT "$PERF_PID"; wait "$PERF_PID" || true
awk -v t="$((T1 - T0))" -v n="$(awk '/requests in/{print $1}' "$OUT/wrk.txt")" -v hz="$(getconf CLK_TCK)" \
  'BEGIN{printf "server CPU per request (under perf): %.1f us\n", t / hz / n * 1e6}'
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^mig06_http_rejected_total\{reason="overloaded"\}'
echo "== folding stacks (perf script; can take a minute)"
perf script -i "$OUT/perf.data" -F comm,tid,period,ip,sym,dso 2>/dev/null \
  | python3 "$ROOT/bench/peer/perf_groups.py" --fold "$OUT/folded.txt" >"$OUT/groups.txt"
cat "$OUT/groups.txt"
echo "perf.data, folded.txt, groups.txt in $OUT"
