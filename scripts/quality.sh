#!/usr/bin/env bash
# Measures distillguard against two baselines (a keyword rule and Fraudar) on simulated traffic
# and prints one markdown table per log. Slow-ish and needs Python packages, so it is kept out of
# `cargo test`; run it by hand when detection changes:
#
#     scripts/quality.sh
#
# Simulated logs and reports go to target/quality/ (git-ignored); the Python packages to
# target/baselines-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
DG=target/release/distillguard

# The baselines run in their own virtualenv, made once from the pinned requirements.
VENV=target/baselines-venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r scripts/baselines/requirements.txt
fi

# Three seeds with the default class parameters, and two with jittered parameters so the
# comparison is not made only at the point the simulator's defaults describe.
run() {
    local dir=$1; shift
    "$DG" simulate "$@" --out "$dir" >/dev/null
    "$VENV/bin/python" scripts/baselines/compare.py "$dir" --distillguard "$DG" "${COMPARE_ARGS[@]}"
}
COMPARE_ARGS=("$@")   # e.g. --by-class
for seed in 11 12 13; do
    run "target/quality/seed$seed" --seed "$seed"
done
run target/quality/seed14-var0.3 --seed 14 --variation 0.3
# The seed tests/quality.rs asserts on.
run target/quality/seed2026-var0.3 --seed 2026 --variation 0.3
