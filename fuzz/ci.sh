#!/usr/bin/env bash
# Short fuzz run of every target, for .ci/run (docs/FUZZING.md). Budget: FUZZ_BUDGET seconds (720)
# for the build plus up to FUZZ_SECONDS per target (30). Uses the stable toolchain with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags). Installs cargo-fuzz only if it is missing.
# New inputs go to a temporary corpus; fuzz/corpus/ is only read. A failing property stops the
# run (exit non-zero) and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
# The fuzz crate has its own target directory (sanitizer flags): never a shared one.
unset CARGO_TARGET_DIR
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
# Whole-step budget (build + runs, seconds): when the build ate into it, each run gets less
# (at least 5 s), so the step stays near the budget unless the build alone exceeds it.
BUDGET=${FUZZ_BUDGET:-720}
START=$(date +%s)
TARGETS=${FUZZ_TARGETS:-"request audit_record checkpoint evidence phi"}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1
# `cargo fuzz build` has no --locked: check first that fuzz/Cargo.lock is current (it goes stale
# when the rail gains a dependency), as the workspace's --locked builds do.
cargo tree --locked --prefix none >/dev/null
cargo fuzz build -O
set -- $TARGETS
LEFT=$((BUDGET - ($(date +%s) - START)))
PER=$((LEFT / $#))
[ "$PER" -lt "$SECONDS_PER_TARGET" ] && SECONDS_PER_TARGET=$((PER > 5 ? PER : 5))
echo "fuzz build took $(($(date +%s) - START)) s; ${SECONDS_PER_TARGET} s per target"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mig06-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for t in $TARGETS; do
  mkdir -p "$WORK/$t"
  dict=()
  [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
  # Kept reproducers of earlier findings are replayed first, with the seed corpus.
  seeds=("corpus/$t")
  [ -d "regressions/$t" ] && seeds+=("regressions/$t")
  echo "== fuzz $t (${SECONDS_PER_TARGET}s)"
  if ! cargo fuzz run -O "$t" "$WORK/$t" "${seeds[@]}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -seed=1406 -print_final_stats=1 "${dict[@]}" \
    >"$WORK/$t.log" 2>&1; then
    tail -n 60 "$WORK/$t.log"
    echo "fuzz target $t FAILED: reproducer in fuzz/artifacts/$t/"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" "$WORK/$t.log"
  # The last status line: executions, coverage (edges), corpus size.
  grep -E "^#[0-9]+.*cov:" "$WORK/$t.log" | tail -n 1 || true
done
