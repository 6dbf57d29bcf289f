#!/bin/sh
# Overload: measures what the service sustains, drives it at twice that, then at half, and
# prints the answers and peak memory. Usage: scripts/overload.sh [SECONDS_PER_PHASE]
set -eu
cd "$(dirname "$0")/.."
cargo build --release --bin distillguard --example overload
exec target/release/examples/overload "${1:-10}"
