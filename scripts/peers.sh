#!/usr/bin/env bash
# Side by side with peers on the same data, time and quality:
#   1. our near-duplicate prompt sketching (shingles + MinHash + LSH bands) against the PyPI
#      packages datasketch and rensa, on the prompts of one simulated log;
#   2. our cross-account stage against Fraudar (rgmining-fraudar) on the same log: accounts
#      flagged, precision, recall, and the detection time alone beside the wall time.
#
#     scripts/peers.sh [SEED]        # default seed 2026 with --variation 0.3
#
# Work files go to target/peers/ (git-ignored); the Python packages to target/peers-venv and
# target/baselines-venv, made once from the pinned requirements.
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${1:-2026}
OUT=target/peers/seed$SEED
mkdir -p "$OUT"

# Without the Kafka feature: neither part needs it, and it spares building librdkafka.
cargo build --release --quiet --no-default-features --bin distillguard --example minhash_peers
DG=target/release/distillguard

for venv in peers baselines; do
    VENV=target/$venv-venv
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet -r "scripts/$venv/requirements.txt"
    fi
done

# The simulator's log (with ../shared/corpora when present, as `simulate` does by default).
[ -f "$OUT/logs.ndjson.gz" ] || "$DG" simulate --seed "$SEED" --variation 0.3 --out "$OUT" >/dev/null

# One prompt per line as a JSON string: `prompt`, else the last user message, as the contract says.
target/peers-venv/bin/python - "$OUT/logs.ndjson.gz" "$OUT/prompts.jsonl" <<'PY'
import gzip, json, sys
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f, open(sys.argv[2], "w") as out:
    for line in f:
        rec = json.loads(line)
        p = rec.get("prompt")
        if not isinstance(p, str):
            users = [m.get("content") for m in rec.get("messages") or [] if m.get("role") == "user"]
            p = users[-1] if users and isinstance(users[-1], str) else None
        if p:
            out.write(json.dumps(p) + "\n")
PY

echo "## Near-duplicate prompt sketching, seed $SEED"
target/release/examples/minhash_peers "$OUT/prompts.jsonl" "$OUT" >/dev/null
target/peers-venv/bin/python scripts/peers/minhash_peers.py "$OUT"

echo
echo "## Cross-account stage against Fraudar, seed $SEED"
target/baselines-venv/bin/python scripts/baselines/compare.py "$OUT" --distillguard "$DG"
