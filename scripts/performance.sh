#!/usr/bin/env bash
# Everything in docs/performance.md, in one run, in the order of the doc:
#   1. scan time and memory at 1M-8M records beside jq, and the plot   (scripts/scale.sh)
#   2. the micro-benchmarks of the hot paths                            (cargo bench, divan)
#   3. service ingest with durable acknowledgement and its p99          (examples/ingest_bench.rs)
#   4. MinHash beside datasketch and rensa, the cross-account stage
#      beside Fraudar                                                   (scripts/peers.sh)
#
#     scripts/performance.sh             # the whole set (about half an hour on 2 cores)
#     SIZES="200000 400000" scripts/performance.sh   # a quicker scale part
#
# Each part prints its own table; the scale part also writes target/scale/results.csv and
# target/scale/scale.png. Needs what the parts need: /usr/bin/time, jq and gnuplot for the scale
# part, python3 (with venv) for the peers.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== scan at scale, beside jq"
scripts/scale.sh
echo "== micro-benchmarks"
cargo bench --bench hot_paths
echo "== service ingest: 1,000- and 10,000-record batches, 1, 4 and 8 clients"
cargo run --release --quiet --example ingest_bench -- 200000 1000 1,4,8
cargo run --release --quiet --example ingest_bench -- 200000 10000 1,4,8
echo "== peers"
scripts/peers.sh
