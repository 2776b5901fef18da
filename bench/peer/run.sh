#!/usr/bin/env bash
# Peer benchmark (issue 22): `mig06 serve` against cedar-agent 0.2.0 (permit.io's HTTP server for
# Cedar: one decision per request, no audit, no durability), both on loopback, in ONE run,
# alternated round by round, with the same Cedar policies (translated) and the same client load.
#
# Per round (ROUNDS, default 3), in this order:
#   64 connections (wrk -t$THREADS -c$CONNECTIONS -d$DURATION), with server CPU per request
#   (utime + stime from /proc/PID/stat, delta over the run / requests):
#     mig06 GET /v1/health | peer GET /v1/ | mig06 denied attempt | peer is_authorized |
#     mig06 completed attempt (reference executor)
#   one connection (wrk -t1 -c1 -d$DURATION1), p50:
#     mig06 denied | peer is_authorized | mig06 completed
# Then the medians of the rounds, and the ratios of issue 22's table, each the median of the
# per-round ratios (only ratios within one round count on a shared machine).
#
# The requests:
#   - mig06 denied: note_kind prior_authorisation, ends DENIED_POLICY (trigger gate permits,
#     step gate denies; one durable, signed audit record).
#   - mig06 completed: note_kind discharge_summary, ends COMPLETED_DRAFT with the reference
#     executor (two records and a durable draft file).
#   - peer: one POST /v1/is_authorized, the rail's deciding (step-gate) decision for the denied
#     request: principal Caller::"$CALLER" (kind "operator", from PUT /v1/data), action
#     Action::"draft_note", resource Subject::"subject", context {trigger, params, continuation}
#     exactly as crates/mig06-rail/src/policy.rs builds it for a fresh attempt. Answer: Deny.
#     The policies are the ones `mig06 init` wrote (policy/policies.cedar), translated by
#     translate_policies.py (Cedar 2.4 has no `is`); the schema is schema.json (the bundle's
#     schema.cedarschema in Cedar 2's JSON form), loaded first so the policies are validated.
#   Both bodies go through bench/http/post.lua (the peer's body carries an ignored request_id,
#   so the client does the same work per request for both servers); both servers check a bearer
#   credential (the peer: --authentication, an exact header match).
#   Logging (stderr of both to a file in the work directory): the rail at its default (one access
#   line per request, info); cedar-agent at PEER_LOG_LEVEL, default warn, i.e. quiet. At its own
#   default (info, log4rs) cedar-agent writes four to five lines per request, one of them the
#   Debug dump of the Cedar request (~2 KB), and runs 4-6x slower: PEER_LOG_LEVEL=info measures
#   that. Issue 22's peer figures (peer health ~ rail health) are those of a quiet peer.
#
# Usage: bench/peer/run.sh
#   env: CEDAR_AGENT (path; default: cedar-agent on PATH), ROUNDS=3 DURATION=10s DURATION1=5s
#        CONNECTIONS=64 THREADS=2 PORT=18406 PEER_PORT=18407 PEER_LOG_LEVEL (cedar-agent's
#        --log-level: off, error, warn, info, debug, trace; default warn), CARGO_TARGET_DIR, KEEP_WORK=1 keeps
#        the work directory (results.tsv, wrk outputs, server logs).
# Needs: wrk (apt-get install -y wrk), curl, python3, cedar-agent 0.2.0
#   (cargo install cedar-agent --version 0.2.0 --locked --root <dir>).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
DURATION1=${DURATION1:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18406}
PEER_PORT=${PEER_PORT:-18407}
PEER_LOG_LEVEL=${PEER_LOG_LEVEL:-warn}
CALLER=op-bench
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }
CEDAR_AGENT=${CEDAR_AGENT:-$(command -v cedar-agent || true)}
[ -n "$CEDAR_AGENT" ] && [ -x "$CEDAR_AGENT" ] || {
  echo "cedar-agent not found: set CEDAR_AGENT, or cargo install cedar-agent --version 0.2.0 --locked" >&2
  exit 1
}

# Builds mig06 (release, CARGO_TARGET_DIR respected), inits, adds the caller, starts the rail;
# sets ROOT, MIG06, WORK, CONFIG, CRED, SERVER_PID, server_ticks and a cleanup trap.
# shellcheck source=bench/http/server.sh
. "$(dirname "$0")/../http/server.sh"
HERE=$ROOT/bench/peer
POST_LUA=$ROOT/bench/http/post.lua
RAIL_PID=$SERVER_PID

PEER_PID=
peer_cleanup() {
  if [ -n "$PEER_PID" ]; then kill -TERM "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true; fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "work directory kept: $WORK" >&2
    WORK=$(mktemp -d) # cleanup removes this empty one instead
  fi
  cleanup
}
trap peer_cleanup EXIT

curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null || { cat "$WORK/serve.err" >&2; exit 1; }

# ---- the peer ----
PEER_TOKEN=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$WORK/peer"
# cedar-agent merges unprefixed environment variables (PORT, ADDR, ...) over its arguments:
# start it with none of them, from a directory with no Rocket.toml.
(cd "$WORK/peer" && exec env -u PORT -u ADDR -u AUTHENTICATION -u DATA -u POLICIES -u SCHEMA \
  -u LOG_LEVEL "$CEDAR_AGENT" --addr 127.0.0.1 --port "$PEER_PORT" \
  --authentication "Bearer $PEER_TOKEN" --log-level "$PEER_LOG_LEVEL" \
  >"$WORK/peer.out" 2>"$WORK/peer.err") &
PEER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PEER_PORT/v1/" 2>/dev/null && break
  sleep 0.05
done
peer_put() { # path file
  curl -fsS -o "$WORK/peer/put.out" -w "%{http_code}" -X PUT -H "Authorization: Bearer $PEER_TOKEN" \
    -H "Content-Type: application/json" --data-binary "@$2" "http://127.0.0.1:$PEER_PORT$1" || {
    echo "PUT $1 failed:" >&2; cat "$WORK/peer/put.out" >&2; exit 1; }
}
python3 "$HERE/translate_policies.py" "$WORK/setup/policy/policies.cedar" >"$WORK/peer/policies.json"
printf '[{"uid":{"type":"Caller","id":"%s"},"attrs":{"kind":"operator"},"parents":[]},{"uid":{"type":"Subject","id":"subject"},"attrs":{},"parents":[]}]\n' \
  "$CALLER" >"$WORK/peer/data.json"
echo "== peer set-up: PUT /v1/schema $(peer_put /v1/schema "$HERE/schema.json")," \
  "PUT /v1/policies $(peer_put /v1/policies "$WORK/peer/policies.json")" \
  "($(grep -c '"id"' "$WORK/peer/policies.json") policies)," \
  "PUT /v1/data $(peer_put /v1/data "$WORK/peer/data.json")"

# ---- the requests ----
request() { # note_kind
  printf '{"request_id":"%s","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[{"action":"draft_note","params":{"note_kind":"%s"}}]}' "$(cat /proc/sys/kernel/random/uuid)" "$1"
}
COMPLETED=$(request discharge_summary)
DENIED=$(request prior_authorisation)
CONT='{"is_continuation":false,"depth":0,"prior_code":"","reason":"","unchanged_request":false,"prior_request_known":false,"prior_caller":"","same_caller":false}'
PEER_BODY=$(printf '{"request_id":"x","principal":"Caller::\\"%s\\"","action":"Action::\\"draft_note\\"","resource":"Subject::\\"subject\\"","context":{"trigger":"operator_explicit","params":{"note_kind":"prior_authorisation"},"continuation":%s}}' "$CALLER" "$CONT")

echo "== machine: $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg); data dir on $(df -T "$WORK" | awk 'NR==2{print $2}')"
echo "== mig06 $("$MIG06" --version 2>/dev/null || true) at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); peer: $CEDAR_AGENT (--log-level $PEER_LOG_LEVEL)"
echo "== sanity"
curl -sS -o "$WORK/sanity.json" -w "mig06 completed: %{http_code} " -H "Authorization: Bearer $CRED" -d "$COMPLETED" "http://127.0.0.1:$PORT/v1/attempts"
grep -o '"code":"[A-Z_]*"' "$WORK/sanity.json" | head -n 1
curl -sS -o "$WORK/sanity.json" -w "mig06 denied: %{http_code} " -H "Authorization: Bearer $CRED" -d "$DENIED" "http://127.0.0.1:$PORT/v1/attempts"
grep -o '"code":"[A-Z_]*"' "$WORK/sanity.json" | head -n 1
curl -sS -o "$WORK/sanity.json" -w "peer is_authorized: %{http_code} " -H "Authorization: Bearer $PEER_TOKEN" -H "Content-Type: application/json" -d "$PEER_BODY" "http://127.0.0.1:$PEER_PORT/v1/is_authorized"
cat "$WORK/sanity.json"; echo
grep -q '"decision":"Deny"' "$WORK/sanity.json" || { echo "the peer's answer is not Deny" >&2; exit 1; }
grep -q 'permit-operator-draft-note\|forbid' "$WORK/sanity.json" && { echo "unexpected policy in the peer's reason" >&2; exit 1; }

HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
RESULTS=$WORK/results.tsv
: >"$RESULTS"
# run ROUND NAME PID CONNS THREADS DUR URL [BODY CREDENTIAL]: one wrk run; appends
# round, name, req/s, p50 ms, server CPU us per request, requests, non-2xx, socket errors.
run() {
  local round=$1 name=$2 pid=$3 conns=$4 threads=$5 dur=$6 url=$7 body=${8:-} cred=${9:-}
  local out=$WORK/r$round-$name.txt t0 t1 i
  # The attempts of the previous run still running hold admission permits: a run started
  # before they end has its first requests refused (503) on top of its own 64.
  for i in $(seq 1 600); do
    [ "$(curl -s "$RAIL/metrics" | awk '/^mig06_attempts_in_flight /{print $2}')" = "0" ] && break
    sleep 0.05
  done
  t0=$(ticks "$pid")
  if [ -n "$body" ]; then
    MIG06_BENCH_BODY=$body MIG06_BENCH_CREDENTIAL=$cred \
      wrk -t"$threads" -c"$conns" -d"$dur" --latency -s "$POST_LUA" "$url" >"$out"
  else
    wrk -t"$threads" -c"$conns" -d"$dur" --latency "$url" >"$out"
  fi
  t1=$(ticks "$pid")
  awk -v r="$round" -v n="$name" -v dt="$((t1 - t0))" -v hz="$HZ" '
    function ms(s) { if (s ~ /us$/) return s / 1000; if (s ~ /ms$/) return s + 0;
                     if (s ~ /m$/) return s * 60000; if (s ~ /s$/) return s * 1000; return s }
    /requests in/ { req = $1 }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    /Non-2xx/ { non2xx = $NF }
    /Socket errors/ { gsub(/,/, ""); se = $4 + $6 + $8 + $10 }
    END { printf "%s\t%s\t%.1f\t%.3f\t%.1f\t%d\t%d\t%d\n", r, n, rps, p50, dt / hz / req * 1e6, req, non2xx, se }' \
    "$out" >>"$RESULTS"
  tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  %-22s %10s req/s  p50 %8s ms  CPU/req %7s us  (%s requests, %s non-2xx, %s socket errors)\n", $2, $3, $4, $5, $6, $7, $8}'
}

RAIL=http://127.0.0.1:$PORT
PEER=http://127.0.0.1:$PEER_PORT
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  run "$round" rail_health "$RAIL_PID" "$CONNECTIONS" "$THREADS" "$DURATION" "$RAIL/v1/health"
  run "$round" peer_health "$PEER_PID" "$CONNECTIONS" "$THREADS" "$DURATION" "$PEER/v1/"
  run "$round" rail_denied "$RAIL_PID" "$CONNECTIONS" "$THREADS" "$DURATION" "$RAIL/v1/attempts" "$DENIED" "$CRED"
  run "$round" peer_decision "$PEER_PID" "$CONNECTIONS" "$THREADS" "$DURATION" "$PEER/v1/is_authorized" "$PEER_BODY" "$PEER_TOKEN"
  run "$round" rail_completed "$RAIL_PID" "$CONNECTIONS" "$THREADS" "$DURATION" "$RAIL/v1/attempts" "$COMPLETED" "$CRED"
  run "$round" rail_denied_1 "$RAIL_PID" 1 1 "$DURATION1" "$RAIL/v1/attempts" "$DENIED" "$CRED"
  run "$round" peer_decision_1 "$PEER_PID" 1 1 "$DURATION1" "$PEER/v1/is_authorized" "$PEER_BODY" "$PEER_TOKEN"
  run "$round" rail_completed_1 "$RAIL_PID" 1 1 "$DURATION1" "$RAIL/v1/attempts" "$COMPLETED" "$CRED"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== medians of $ROUNDS rounds (load average at end: $LOAD_END)"
python3 - "$RESULTS" <<'EOF'
import statistics as st, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
R = {}
for r, name, rps, p50, cpu, req, non2xx, se in rows:
    R.setdefault(name, {})[int(r)] = dict(rps=float(rps), p50=float(p50), cpu=float(cpu))
rounds = sorted(R["rail_denied"])
med = lambda name, k: st.median(R[name][r][k] for r in rounds)
def ratio(a, b, k):
    v = [R[a][r][k] / R[b][r][k] for r in rounds]
    return st.median(v), v
print("| | mig06 | cedar-agent | ratio (median of per-round ratios; per round) |")
print("|---|---|---|---|")
for label, a, b, k, unit in [
    ("64 conns, denied attempt vs is_authorized (req/s)", "rail_denied", "peer_decision", "rps", ""),
    ("64 conns, completed attempt (reference executor) vs is_authorized (req/s)", "rail_completed", "peer_decision", "rps", ""),
    ("server CPU per request at 64 conns, denied (us)", "rail_denied", "peer_decision", "cpu", ""),
    ("server CPU per request at 64 conns, completed (us)", "rail_completed", "peer_decision", "cpu", ""),
    ("one connection p50, denied (ms)", "rail_denied_1", "peer_decision_1", "p50", ""),
    ("one connection p50, completed (ms)", "rail_completed_1", "peer_decision_1", "p50", ""),
    ("health at 64 conns (req/s)", "rail_health", "peer_health", "rps", ""),
    ("health at 64 conns, server CPU per request (us)", "rail_health", "peer_health", "cpu", ""),
]:
    m, v = ratio(a, b, k)
    fmt = "{:,.0f}" if k == "rps" else ("{:.1f}" if k == "cpu" else "{:.3f}")
    print(f"| {label} | {fmt.format(med(a, k))} | {fmt.format(med(b, k))} | **{m:.2f}** ({', '.join(f'{x:.2f}' for x in v)}) |")
bad = []
for r, n, rps, p50, cpu, req, non2xx, se in rows:
    expect = int(req) if n.startswith("rail_denied") else 0  # a denied attempt is a 403
    if int(se) != 0 or int(non2xx) != expect:
        bad.append((r, n, non2xx, se))
print("runs with socket errors or unexpected statuses:", bad if bad else "none")
EOF

echo
echo "== mig06 counters (attempts by terminal code; the runs must show only DENIED_POLICY and COMPLETED_DRAFT)"
curl -s "$RAIL/metrics" | grep -E "^mig06_attempts_total" | grep -v " 0$"
OVERLOADED=$(curl -s "$RAIL/metrics" | awk '/^mig06_http_rejected_total/ && /overloaded/ {print $NF}')
curl -s "$RAIL/metrics" | grep -E "^mig06_http_(rejected|connections_refused)_total" | grep -v " 0$" || true
if [ "${OVERLOADED:-missing}" = 0 ]; then
  echo "overloaded (503 at admission): 0 (the figures count)"
else
  echo "overloaded (503 at admission): ${OVERLOADED:-missing}: THE FIGURES DO NOT COUNT" >&2
  exit 2
fi
