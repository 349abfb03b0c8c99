#!/usr/bin/env bash
# From nothing to gold: build vbda, generate a day of player events, ingest them, validate
# and deduplicate them into silver, build the gold tables, and print the day's KPIs. Everything goes under
# ./quickstart (delete it to start over).
# Usage: scripts/quickstart.sh [events-per-day]   (VBDA_PROFILE=release for an optimised build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/build-deps.sh   # the same linker and flags as scripts/test.sh: one shared build
source scripts/env.sh
profile="${VBDA_PROFILE:-dev}"
cargo build --locked --profile "$profile" --bin vbda
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
vbda="$CARGO_TARGET_DIR/$dir/vbda"
events="${1:-200000}"

mkdir -p quickstart && cd quickstart
export VBDA_PROJECT="$root" VBDA_LAKEHOUSE="$PWD/lakehouse" VBDA_LANDING="$PWD/landing"
"$vbda" generate --out landing --content-out content.csv --date 2025-01-01 --events "$events" --files-per-day 4 \
  --malformed-share 0.01 --duplicate-share 0.01 --late-share 0.01 --bad-value-share 0.01
"$vbda" ingest
"$vbda" ingest   # a second run finds nothing new
"$vbda" ingest --content content.csv
"$vbda" bronze-to-silver --date 2025-01-01
"$vbda" silver-to-gold --date 2025-01-01
"$vbda" check --date 2025-01-01
"$vbda" tables
"$vbda" show gold.daily_kpis --date 2025-01-01

cat <<NEXT

Next (from $PWD, with the same VBDA_* settings as above):
  $vbda sql "SELECT date, active_users, watch_time_s, rebuffer_ratio FROM gold.daily_kpis"
  $vbda sql "SELECT title, views FROM gold.content_daily ORDER BY views DESC LIMIT 10"
  $vbda check --all                       # every rule of every table
  $vbda history silver.video_events       # what each command committed
  $vbda status                            # versions, freshness, small files
Schedule it: airflow/README.md (the daily, micro-batch and maintenance DAGs).
Your own project: $vbda init DIR (vbda.toml, tables/, jobs/, airflow/), then $vbda validate.
NEXT
