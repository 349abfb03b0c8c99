#!/usr/bin/env bash
# Benchmark of issue 3's target: one generated day through `vbda bronze-to-silver` and
# `vbda silver-to-gold`, in release mode. The day is generated and ingested once (not timed
# here: benches/ingest.sh measures those), then each step runs RUNS times on the same
# lakehouse (every run rewrites the same partitions, so runs are alike). Prints the median
# wall time, bronze rows/s and the peak resident memory (/usr/bin/time), and the sum of the
# two medians. Shared, noisy machines: compare medians and ratios, not single runs.
#
# Usage: benches/medallion.sh [events] [runs]     (defaults: 10000000 events, 3 runs)
# Env:   BENCH_DIR (default ./bench-data/medallion), VBDA_PROFILE (default release)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
profile="${VBDA_PROFILE:-release}"
cargo build --locked --profile "$profile" --bin vbda >&2
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
vbda="$CARGO_TARGET_DIR/$dir/vbda"
events="${1:-10000000}"
runs="${2:-3}"
work="${BENCH_DIR:-$root/bench-data/medallion}"
date=2025-01-01
export VBDA_PROJECT="$root" VBDA_LAKEHOUSE="$work/lake" VBDA_LANDING="$work/landing"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "vbda $("$vbda" --version | cut -d' ' -f2), profile $profile, $(nproc) cores, $(date -u +%FT%TZ)"
rm -rf "$work" && mkdir -p "$work"
"$vbda" -q generate --out "$work/landing" --content-out "$work/content.csv" --date "$date" --events "$events" \
  --files-per-day 8 --malformed-share 0.01 --duplicate-share 0.01 --late-share 0.01 --bad-value-share 0.01 >/dev/null
"$vbda" -q ingest >/dev/null
"$vbda" -q ingest --content "$work/content.csv" >/dev/null
# The bronze rows of the date (late events land on other dates), from a first run's summary.
bronze=$("$vbda" -q bronze-to-silver --date "$date" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bronze_rows"])')
echo "day $date: $events events generated, $bronze bronze rows on that date"

total=0
for step in bronze-to-silver silver-to-gold; do
  times=() mems=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$vbda" -q "$step" --date "$date" >/dev/null
    read -r t m < "$work/time.txt"
    times+=("$t"); mems+=("$m")
  done
  t=$(printf '%s\n' "${times[@]}" | median)
  m=$(printf '%s\n' "${mems[@]}" | median)
  total=$(awk -v a="$total" -v b="$t" 'BEGIN {print a + b}')
  awk -v n="$step" -v rows="$bronze" -v t="$t" -v m="$m" -v r="$runs" -v all="${times[*]}" \
    'BEGIN {printf "%-18s median %6.2f s  %10.0f bronze rows/s  peak RSS %6.0f MiB  (%d runs: %s s)\n", n, t, rows / t, m / 1024, r, all}'
done
echo "both steps: $total s (target < 60 s, peak < 4096 MiB)"
"$vbda" -q show gold.daily_kpis --date "$date"
