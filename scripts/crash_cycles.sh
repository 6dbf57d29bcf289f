#!/bin/sh
# Crash safety: CYCLES (default 100) rounds of concurrent ingest into the real service, SIGKILL at
# a seeded random moment, and a check that every acknowledged request_id is stored exactly once.
# Exits non-zero if one is lost or doubled. Usage: scripts/crash_cycles.sh [CYCLES] [SEED]
set -eu
cd "$(dirname "$0")/.."
cargo build --release --bin distillguard --example crash_cycles
exec target/release/examples/crash_cycles "${1:-100}" "${2:-1}"
