#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) and runs each, one at a time, for RUNS executions (default
# 10,000,000), with FUZZ_MAX_TIME seconds per target as a guard (default 3600). Prints the
# executions, seconds and executions per second of each target; a crash or hang stops the script
# with the input saved under fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh [RUNS] [TARGET...]
#
# cargo-fuzz needs nightly features; on a stable toolchain RUSTC_BOOTSTRAP=1 enables them.
# Debug assertions (integer overflow checks) are on; no sanitizer, since the code under test is
# safe Rust and ASan would only slow it down.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

RUNS=${1:-10000000}
shift || true
MAX_TIME=${FUZZ_MAX_TIME:-3600}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(record split csv parquet litellm mapping body)
fi
FLAGS=(-O -a -s none)

cargo fuzz build "${FLAGS[@]}"
printf '%-8s %12s %8s %9s\n' target executions seconds exec/s
for t in "${TARGETS[@]}"; do
    # The committed seeds start a working corpus that stays out of git.
    mkdir -p "corpus/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    log=$(mktemp)
    start=$(date +%s.%N)
    if ! cargo fuzz run "${FLAGS[@]}" "$t" "corpus/$t" -- \
        -runs="$RUNS" -max_total_time="$MAX_TIME" -timeout=10 -max_len=65536 \
        -dict=json.dict -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "$t: crash or hang, input in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rm -f "$log"
    awk -v t="$t" -v n="$execs" -v s="$start" -v e="$end" \
        'BEGIN { d = e - s; printf "%-8s %12d %8.0f %9.0f\n", t, n, d, n / d }'
done
