# Sourced by the scripts beside it: builds `mig06` in release, runs `mig06 init` in a temporary
# directory, adds one operator caller, starts `mig06 serve` on 127.0.0.1:$PORT and waits for
# /v1/health. Sets ROOT, MIG06, WORK, CONFIG, CRED and SERVER_PID; stops the server and removes
# WORK on exit. Needs PORT and CALLER (the caller id) set by the sourcing script.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -q --workspace)
MIG06=$TARGET/release/mig06

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mig06-bench-http.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$MIG06" init "$WORK/setup" >/dev/null
CONFIG=$WORK/setup/mig06.toml
CRED=$("$MIG06" caller add "$CALLER" --kind operator --trigger operator_explicit --config "$CONFIG" | tail -n 1)
# wrk opens all its connections from one address, and the runs follow each other while the
# previous run's connections are still closing: lift the per-peer cap above the default (64).
printf '\n[server]\nmax_connections_per_peer = 512\n' >> "$CONFIG"
"$MIG06" serve --config "$CONFIG" --listen "127.0.0.1:$PORT" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  sleep 0.05
done

# Server CPU time (user + system, in clock ticks) so far, from /proc.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
