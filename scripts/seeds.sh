#!/usr/bin/env bash
# Scores distillguard on every simulated log docs/quality.md quotes: the development seeds and the
# fresh ones, with corpora and with the built-in text, full-size and small. One markdown row per
# log: precision, recall, legitimate false-positive rate, and what is below target (campaigns not
# fully found or in more than two clusters, legitimate classes with any account flagged).
#
#     scripts/seeds.sh                 # build the release binary, then every log
#     DG=/path/to/distillguard scripts/seeds.sh 82:0.5 83:0.3:nc
#
# A log is SEED:VARIATION[:nc][:small]; `nc` simulates without corpora, `small` a quarter of the
# accounts over three days. Logs are simulated once into target/seeds/ (git-ignored) and reused;
# delete that folder after changing the simulator. Reports are rewritten on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DG:-}" ]; then
    cargo build --release --quiet
    DG=target/release/distillguard
fi
OUT=${SEEDS_DIR:-target/seeds}

LOGS=("$@")
if [ ${#LOGS[@]} -eq 0 ]; then
    LOGS=(
        # Development seeds.
        11:0 12:0 13:0 14:0.3 21:0.3 31:0.3 32:0.3 33:0.3 34:0.3 41:0.3 41:0.3:nc 62:0.5 64:0.5
        71:0.3 2026:0.3 2026:0.3:nc 1:0:nc:small
        # Fresh seeds, first measured after the detector they were used to check.
        2026:0.5 51:0.3 51:0.5 52:0.3 52:0.5 61:0.3 61:0.5 62:0.3 63:0.3 63:0.5 64:0.3 72:0.5
        73:0.4 81:0.3 82:0.5 83:0.3:nc 84:0.5:nc 85:0.5 86:0.3 62:0.5:nc 2:0:nc:small
        3:0:nc:small 4:0:small
        # Fresh seeds, first measured after the shared reasoning wrappers.
        91:0.3 92:0.5 93:0.5:nc 94:0.3:nc 95:0.5 96:0.4 97:0.5 98:0.3 5:0:nc:small 6:0:small
        # First measured then, and the client rule of the operator-core split developed on it.
        82:0.5:nc
        # Fresh seeds, first measured after that rule.
        101:0.5:nc 102:0.3:nc 103:0.5 104:0.5:nc 105:0.4:nc 106:0.3 107:0.5:nc 108:0.5
    )
fi

echo "| log | precision | recall | legit FPR | below target |"
echo "|---|---:|---:|---:|---|"
for log in "${LOGS[@]}"; do
    IFS=: read -r seed var rest <<<"$log"
    args=(--seed "$seed" --variation "$var")
    name="seed$seed-var$var"
    label="seed $seed, variation $var"
    case ":$rest:" in *:nc:*) args+=(--no-corpora); name+="-nc"; label+=", built-in text" ;; esac
    case ":$rest:" in *:small:*) args+=(--scale 0.25 --days 3); name+="-small"; label="small, $label" ;; esac
    dir="$OUT/$name"
    if [ ! -s "$dir/labels.csv" ]; then
        "$DG" simulate "${args[@]}" --out "$dir" >/dev/null
    fi
    "$DG" scan -q "$dir/logs.ndjson.gz" --out "$dir/report.json" >/dev/null
    "$DG" eval --labels "$dir/labels.csv" --report "$dir/report.json" --format json \
        | python3 -c '
import json, sys
e = json.load(sys.stdin)
notes = []
for c in e["campaigns"]:
    if c["recall"] < 1 or c["clusters"] > 2:
        notes.append("%s %.1f %% in %d" % (c["campaign"].split("-")[0], 100 * c["recall"], c["clusters"]))
for c in e["classes"]:
    if c["legit"] and c["flagged"]:
        notes.append("%s %d of %d flagged" % (c["class"], c["flagged"], c["accounts"]))
print("| %s | %.3f | %.3f | %.2f %% | %s |" % (sys.argv[1], e["precision"], e["recall"],
      100 * e["false_positive_rate"], ", ".join(notes) or "—"))
' "$label"
done
