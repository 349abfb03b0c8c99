#!/usr/bin/env bash
# Benchmark of the hot paths built so far, in release mode: `vbda generate`, `vbda ingest` and
# `vbda bronze-to-silver` (one date).
# Each step runs RUNS times on fresh output; the script prints the median wall time, events/s
# and the peak resident memory (from /usr/bin/time). The machines are shared and noisy: compare
# medians and ratios, not single runs.
#
# Usage: benches/ingest.sh [events] [runs]      (defaults: 1000000 events, 3 runs)
# Env:   BENCH_DIR (default ./bench-data), GEN_EVENTS (events for the generate-only figure,
#        default 10000000), VBDA_PROFILE (default release)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
profile="${VBDA_PROFILE:-release}"
cargo build --locked --profile "$profile" --bin vbda >&2
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
vbda="$CARGO_TARGET_DIR/$dir/vbda"
events="${1:-1000000}"
runs="${2:-3}"
gen_events="${GEN_EVENTS:-10000000}"
work="${BENCH_DIR:-$root/bench-data}"
export VBDA_PROJECT="$root"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# measure NAME UNITS CMD...: runs CMD RUNS times (after $prepare), prints medians.
measure() {
  local name=$1 units=$2; shift 2
  local times=() mems=()
  for _ in $(seq "$runs"); do
    eval "$prepare"
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null
    read -r t m < "$work/time.txt"
    times+=("$t"); mems+=("$m")
  done
  local t m
  t=$(printf '%s\n' "${times[@]}" | median)
  m=$(printf '%s\n' "${mems[@]}" | median)
  awk -v n="$name" -v u="$units" -v t="$t" -v m="$m" -v r="$runs" \
    'BEGIN {printf "%-34s median %7.2f s  %12.0f events/s  peak RSS %6.0f MiB  (%d runs)\n", n, t, (t > 0 ? u / t : 0), m / 1024, r}'
}

mkdir -p "$work"
echo "vbda $("$vbda" --version | cut -d' ' -f2), profile $profile, $(nproc) cores, $(date -u +%FT%TZ)"

prepare='rm -rf "$work/gen"'
measure "generate ${gen_events} (ndjson, 8 files)" "$gen_events" \
  "$vbda" -q generate --out "$work/gen" --content-out "$work/gen-content.csv" --events "$gen_events" --files-per-day 8
measure "generate ${gen_events} (ndjson.gz, 8 files)" "$gen_events" \
  "$vbda" -q generate --out "$work/gen" --content-out "$work/gen-content.csv" --events "$gen_events" --files-per-day 8 --gzip
rm -rf "$work/gen"

# The ingest input: one day with every kind of bad line.
rm -rf "$work/landing"
"$vbda" -q generate --out "$work/landing" --content-out "$work/content.csv" --events "$events" --files-per-day 8 \
  --malformed-share 0.01 --duplicate-share 0.01 --late-share 0.01 --bad-value-share 0.01 >/dev/null
export VBDA_LANDING="$work/landing" VBDA_LAKEHOUSE="$work/lake"
prepare='rm -rf "$work/lake"'
measure "ingest ${events} (first run)" "$events" "$vbda" -q ingest
prepare=':'
measure "ingest ${events} (rerun, nothing new)" "$events" "$vbda" -q ingest
date_arg=$(ls "$work/landing" | sed -n 's/^date=//p' | head -1)
prepare=':'
measure "bronze-to-silver ${events} (one date)" "$events" "$vbda" -q bronze-to-silver --date "$date_arg"
rows=$("$vbda" -q tables --output json | python3 -c 'import json,sys; print([t["rows"] for t in json.load(sys.stdin)["tables"] if t["table"]=="bronze.video_events"][0])')
echo "bronze rows: $rows (lines generated: $events)"
