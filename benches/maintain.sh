#!/usr/bin/env bash
# Benchmark of the maintenance commands (issue 5), in release mode:
# - a table of 10,000 one-row files (examples/small_files.rs writes them in one commit):
#   `optimize` time and resulting file count, `vacuum --dry-run` time (nothing expired, then
#   all 10,000 compacted files listed), `status` time;
# - a table of 1,000 commits (`ingest --batch-rows 1` of 1,000 one-line files): `status` time
#   with the checkpoints vbda writes every 10 commits, and on a copy without them.
# Each timed step runs RUNS times; medians of wall time and peak RSS (/usr/bin/time).
#
# Usage: benches/maintain.sh [runs]      (default 3)
# Env:   BENCH_DIR (default ./bench-data/maintain)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
cargo build --locked --release --bin vbda --example small_files >&2
vbda="$CARGO_TARGET_DIR/release/vbda"
small_files="$CARGO_TARGET_DIR/release/examples/small_files"
runs="${1:-3}"
work="${BENCH_DIR:-$root/bench-data/maintain}"
export VBDA_PROJECT="$root"
rm -rf "$work" && mkdir -p "$work"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# measure NAME CMD...: runs $prepare then CMD, RUNS times; prints medians and CMD's last summary.
measure() {
  local name=$1; shift
  local times=() mems=()
  for _ in $(seq "$runs"); do
    eval "$prepare"
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/out.txt"
    read -r t m < "$work/time.txt"
    times+=("$t"); mems+=("$m")
  done
  printf '%-46s median %6.2f s  peak RSS %5.0f MiB  (runs: %s s)\n' "$name" \
    "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${mems[@]}" | median | awk '{print $1/1024}')" "${times[*]}"
  sed -n '1,4s/^/    /p' "$work/out.txt"
}

echo "vbda $("$vbda" --version | cut -d' ' -f2), release, $(nproc) cores, $(date -u +%FT%TZ)"
small="$work/small"
prepare="rm -rf '$small'; '$small_files' '$small' 10000 >/dev/null"
measure "optimize bronze, 10,000 one-row files" "$vbda" -q --lakehouse "$small" optimize --table bronze.video_events
prepare=':'
measure "optimize again (nothing to do)" "$vbda" -q --lakehouse "$small" optimize --table bronze.video_events
rm -rf "$small"; "$small_files" "$small" 10000 >/dev/null
measure "status, 10,000 files" "$vbda" -q --lakehouse "$small" status --table bronze.video_events
measure "vacuum --dry-run, 10,000 files, none expired" "$vbda" -q --lakehouse "$small" vacuum --table bronze.video_events --dry-run
"$vbda" -q --lakehouse "$small" optimize --table bronze.video_events >/dev/null
measure "vacuum --dry-run, 10,000 files expired" "$vbda" -q --lakehouse "$small" vacuum --table bronze.video_events --dry-run --retention-hours 0 --force

commits="$work/commits"
mkdir -p "$commits/landing"
for i in $(seq -w 0 999); do
  echo "{\"event_id\":\"e$i\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\"}" > "$commits/landing/f$i.ndjson"
done
start=$(date +%s.%N)
"$vbda" -q --lakehouse "$commits/lake" ingest --landing "$commits/landing" --batch-rows 1 >/dev/null
echo "(1,000 ingest commits took $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}') s)"
measure "status, 1,000 commits, checkpoints every 10" "$vbda" -q --lakehouse "$commits/lake" status --table bronze.video_events
cp -r "$commits/lake" "$commits/bare"
rm "$commits/bare/bronze/video_events/_delta_log/"*.checkpoint.parquet "$commits/bare/bronze/video_events/_delta_log/_last_checkpoint"
measure "status, 1,000 commits, no checkpoint" "$vbda" -q --lakehouse "$commits/bare" status --table bronze.video_events
