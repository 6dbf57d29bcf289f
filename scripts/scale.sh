#!/usr/bin/env bash
# Scan time and memory as the log grows, side by side with `jq` merely parsing the same bytes.
#
#     scripts/scale.sh                 # 1M, 2M, 4M and 8M records (8 per account), plus 100k accounts
#     SIZES="200000 400000" scripts/scale.sh   # a quick run
#
# For each size it writes a plain NDJSON log with `simulate --accounts --records --plain` (so scan
# and jq read the same uncompressed bytes), then measures with /usr/bin/time -v:
#   - `distillguard scan --quiet --format json FILE`: wall time, peak RSS, and (from -v) the time
#     spent reading/ingesting and in the cross-account stage, and the RSS between the two;
#   - `jq -c .account_id FILE > /dev/null`: wall time.
# Results go to target/scale/results.csv and target/scale/scale.png (gnuplot); logs are deleted
# after each size unless KEEP=1. Needs /usr/bin/time (Debian `time`), jq and gnuplot (`gnuplot-nox`).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000000 2000000 4000000 8000000"}
PER_ACCOUNT=${PER_ACCOUNT:-8}
# The 100k-account point; with the 8M-record run (1M accounts) it gives memory per account.
EXTRA=${EXTRA:-"800000:100000"}
OUT=target/scale
mkdir -p "$OUT"

for tool in /usr/bin/time jq gnuplot; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install time jq gnuplot-nox" >&2
        exit 2
    }
done

cargo build --release --quiet
DG=target/release/distillguard

# seconds from /usr/bin/time's "m:ss.ss" or "h:mm:ss"
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"; }
rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$1"; }
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$2" | tail -1; }

CSV=$OUT/results.csv
echo "records,accounts,bytes,gen_s,scan_s,read_s,detect_s,scan_rss_mb,rss_after_read_mb,scan_rec_per_s,jq_s,jq_rss_mb,speedup_vs_jq" >"$CSV"

runs=()
for m in $SIZES; do runs+=("$m:$((m / PER_ACCOUNT))"); done
[ -n "$EXTRA" ] && runs+=($EXTRA)

for run in "${runs[@]}"; do
    records=${run%%:*}
    accounts=${run##*:}
    dir=$OUT/r$records-a$accounts
    rm -rf "$dir"
    start=$(date +%s.%N)
    "$DG" simulate --seed 1 --accounts "$accounts" --records "$records" --plain --out "$dir" >"$dir.sim.txt"
    gen_s=$(echo "$(date +%s.%N) - $start" | bc)
    log=$dir/logs.ndjson
    bytes=$(stat -c %s "$log")
    # Warm the page cache for both readers alike.
    cat "$log" >/dev/null

    /usr/bin/time -v "$DG" -v scan --quiet --format json "$log" >"$dir.report.json" 2>"$dir.scan.txt"
    /usr/bin/time -v jq -c .account_id "$log" >/dev/null 2>"$dir.jq.txt"

    scan_s=$(wall "$dir.scan.txt")
    jq_s=$(wall "$dir.jq.txt")
    read_ms=$(field read_ms "$dir.scan.txt")
    detect_ms=$(field detect_ms "$dir.scan.txt")
    row=$(printf "%s,%s,%s,%.2f,%.2f,%.2f,%.2f,%s,%s,%.0f,%.2f,%s,%.2f" \
        "$records" "$(field accounts "$dir.scan.txt")" \
        "$bytes" "$gen_s" "$scan_s" "$(echo "$read_ms/1000" | bc -l)" "$(echo "$detect_ms/1000" | bc -l)" \
        "$(rss_mb "$dir.scan.txt")" "$(field rss_after_read_mib "$dir.scan.txt")" "$(echo "$records/$scan_s" | bc -l)" "$jq_s" "$(rss_mb "$dir.jq.txt")" \
        "$(echo "$jq_s/$scan_s" | bc -l)")
    echo "$row" | tee -a "$CSV"
    [ "${KEEP:-0}" = 1 ] || rm -f "$log"
done

# Scan time and peak memory against records, for the runs at PER_ACCOUNT records per account.
grep -E "^[0-9]+,[0-9]+," "$CSV" | awk -F, -v k="$PER_ACCOUNT" '$1/$2 > k*0.9 && $1/$2 < k*1.1' | sort -n >"$OUT/series.dat"
gnuplot <<EOF
set terminal png size 900,420 font ",10" noenhanced
set output "$OUT/scale.png"
set datafile separator ","
set multiplot layout 1,2
set xlabel "records (millions)"
set key left top
set grid
set ylabel "seconds"
set title "Scan time (2 cores), jq -c .account_id alongside"
plot "$OUT/series.dat" using (\$1/1e6):5 with linespoints title "distillguard scan", \
     "$OUT/series.dat" using (\$1/1e6):7 with linespoints title "  of which cross-account stage", \
     "$OUT/series.dat" using (\$1/1e6):11 with linespoints title "jq -c .account_id"
set ylabel "MiB"
set title "Scan peak RSS"
plot "$OUT/series.dat" using (\$1/1e6):8 with linespoints title "peak (cross-account stage)", \
     "$OUT/series.dat" using (\$1/1e6):9 with linespoints title "after reading, before it"
unset multiplot
EOF
echo "wrote $CSV and $OUT/scale.png"
