#!/usr/bin/env bash
# HTTP service benchmark: `mig06 serve` on loopback with the durable file store and the
# reference executor; wrk at 64 connections against GET /v1/health and POST /v1/attempts in the
# same run, then single-connection latency of a denied and a completed attempt.
#
# Usage: bench/http/run.sh            (DURATION=10s CONNECTIONS=64 THREADS=2 PORT=18406)
# Needs: wrk (apt-get install -y wrk), a release build (built here).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18406}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
CALLER=op-bench
# shellcheck source=bench/http/server.sh
. "$(dirname "$0")/server.sh"
HERE=$ROOT/bench/http

request() { # note_kind; a fresh request id each (one attempt per request id; post.lua mints its own)
  printf '{"request_id":"%s","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[{"action":"draft_note","params":{"note_kind":"%s"}}]}' "$(cat /proc/sys/kernel/random/uuid)" "$1"
}
COMPLETED=$(request discharge_summary)
DENIED=$(request prior_authorisation)   # DENIED_POLICY: one durable append

export MIG06_BENCH_CREDENTIAL=$CRED
echo "== machine: $(nproc) CPUs; data dir on $(df -T "$WORK" | awk 'NR==2{print $2}')"
echo "== sanity"
curl -sS -o /dev/null -w "completed: %{http_code}\n" -H "Authorization: Bearer $CRED" -d "$COMPLETED" "http://127.0.0.1:$PORT/v1/attempts"
curl -sS -o /dev/null -w "denied: %{http_code}\n" -H "Authorization: Bearer $CRED" -d "$DENIED" "http://127.0.0.1:$PORT/v1/attempts"

echo "== GET /v1/health: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
T0=$(server_ticks)
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/v1/health" | tee "$WORK/health.txt"
T1=$(server_ticks)

echo "== POST /v1/attempts (COMPLETED_DRAFT, 2 fdatasync each): wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s post.lua"
MIG06_BENCH_BODY=$COMPLETED wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/post.lua" "http://127.0.0.1:$PORT/v1/attempts" | tee "$WORK/attempts.txt"
T2=$(server_ticks)

echo "== single connection, DENIED_POLICY: wrk -t1 -c1 -d5s --latency"
MIG06_BENCH_BODY=$DENIED wrk -t1 -c1 -d5s --latency -s "$HERE/post.lua" "http://127.0.0.1:$PORT/v1/attempts" | tee "$WORK/denied1.txt"

echo "== single connection, COMPLETED_DRAFT: wrk -t1 -c1 -d5s --latency"
MIG06_BENCH_BODY=$COMPLETED wrk -t1 -c1 -d5s --latency -s "$HERE/post.lua" "http://127.0.0.1:$PORT/v1/attempts" | tee "$WORK/completed1.txt"

rps() { awk '/Requests\/sec/{print $2}' "$1"; }
p() { awk -v q="$2" '$1==q{print $2}' "$1"; }
H=$(rps "$WORK/health.txt"); A=$(rps "$WORK/attempts.txt")
echo
echo "== summary"
echo "health:   ${H} req/s  p50 $(p "$WORK/health.txt" 50%)  p99 $(p "$WORK/health.txt" 99%)"
echo "attempts: ${A} req/s  p50 $(p "$WORK/attempts.txt" 50%)  p99 $(p "$WORK/attempts.txt" 99%)"
awk -v a="$A" -v h="$H" 'BEGIN{printf "ratio attempts/health: %.3f (target >= 0.5)\n", a/h}'
# Server CPU (user + system) per request in each 64-connection run: what bounds throughput
# when both runs keep the 2 CPUs busy.
HZ=$(getconf CLK_TCK)
n() { awk '/requests in/{print $1}' "$1"; }
awk -v t="$((T1 - T0))" -v n="$(n "$WORK/health.txt")" -v hz="$HZ" 'BEGIN{printf "server CPU per request: health %.1f us", t / hz / n * 1e6}'
awk -v t="$((T2 - T1))" -v n="$(n "$WORK/attempts.txt")" -v hz="$HZ" 'BEGIN{printf ", attempt %.1f us\n", t / hz / n * 1e6}'
echo "single-connection denied:    p50 $(p "$WORK/denied1.txt" 50%)  p99 $(p "$WORK/denied1.txt" 99%)"
echo "single-connection completed: p50 $(p "$WORK/completed1.txt" 50%)  p99 $(p "$WORK/completed1.txt" 99%)"
echo "audit records written: $(wc -l < "$WORK/setup/data/audit/log.jsonl")"
echo "terminal codes counted by the server (the wrk runs must show only these two):"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^mig06_attempts_total" | grep -v " 0$"
echo "requests refused before an attempt (503 overloaded must be 0: 64 connections, default max_in_flight):"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^mig06_http_(rejected|connections_refused)_total"
