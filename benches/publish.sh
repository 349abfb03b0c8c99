#!/usr/bin/env bash
# Benchmark of `vbda publish` and of other engines reading vbda's tables, in release mode.
#
# One generated day (default 10,000,000 events in 8 files, 1% duplicates, late, malformed and
# bad values) goes through ingest -> bronze-to-silver -> silver-to-gold once (not timed here:
# benches/medallion.sh measures those). Then:
#   1. `vbda publish --date D` of the day's six gold tables into a local PostgreSQL (Debian's
#      package; a fresh cluster by initdb on a free port, default durability settings), RUNS
#      times (each run replaces the date): median wall time, rows, rows/s, peak RSS.
#   2. Apache Spark 4 + delta-spark (the interop tests' venv) reading every table of each layer
#      in full (every column, into Spark's no-op sink), RUNS times: median seconds per layer.
#
# Usage: benches/publish.sh [events] [runs]      (defaults: 10000000 events, 3 runs)
# Env:   BENCH_DIR (default ./bench-data/publish; the lakehouse is kept and reused when its
#        day has the same events and users), USERS (distinct users of the day, `generate
#        --users`; more users, more gold rows), VBDA_PROFILE (default release),
#        VBDA_SPARK_VENV (default ~/.cache/vbda-spark-venv), SKIP_SPARK=1
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
work="${BENCH_DIR:-$root/bench-data/publish}"
date=2025-01-01
export VBDA_PROJECT="$root" VBDA_LAKEHOUSE="$work/lake" VBDA_LANDING="$work/landing"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "vbda $("$vbda" --version | cut -d' ' -f2), profile $profile, $(nproc) cores, $(date -u +%FT%TZ)"
users="${USERS:-}"
if [ "$(cat "$work/events" 2>/dev/null)" != "$events ${users}" ]; then
  rm -rf "$work" && mkdir -p "$work"
  "$vbda" -q generate --out "$work/landing" --content-out "$work/content.csv" --date "$date" --events "$events" \
    --files-per-day 8 --malformed-share 0.01 --duplicate-share 0.01 --late-share 0.01 --bad-value-share 0.01 \
    ${users:+--users "$users"} >/dev/null
  "$vbda" -q ingest >/dev/null
  "$vbda" -q ingest --content "$work/content.csv" >/dev/null
  "$vbda" -q bronze-to-silver >/dev/null
  "$vbda" -q silver-to-gold >/dev/null
  rm -rf "$work/landing"
  echo "$events ${users}" > "$work/events"
fi
"$vbda" -q tables | sed -n '1,20p'

# 1. PostgreSQL.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg="$work/pg"
rm -rf "$pg" && mkdir -p "$pg"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$pg"; as_pg=(runuser -u postgres --); fi
port=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$pg/data" -U vbda --auth=trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg" start >/dev/null
trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
target="postgres://vbda@127.0.0.1:$port/postgres"
times=() mems=() rows=0
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$vbda" -q publish --target "$target" --date "$date" --output json > "$work/publish.json"
  read -r t m < "$work/time.txt"
  times+=("$t"); mems+=("$m")
  rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$work/publish.json")
done
t=$(printf '%s\n' "${times[@]}" | median)
m=$(printf '%s\n' "${mems[@]}" | median)
awk -v t="$t" -v m="$m" -v rows="$rows" -v r="$runs" -v all="${times[*]}" \
  'BEGIN {printf "publish --date (6 gold tables, %d rows)  median %6.2f s  %9.0f rows/s  peak RSS %5.0f MiB  (%d runs: %s s)\n", rows, t, rows / t, m / 1024, r, all}'
python3 - "$work/publish.json" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["tables"]:
    print("  %-24s %9d rows" % (t["table"], t["rows"]))
PY

# 2. Spark reading each layer.
if [ "${SKIP_SPARK:-0}" != 1 ]; then
  venv="${VBDA_SPARK_VENV:-$HOME/.cache/vbda-spark-venv}"
  "$venv/bin/python" benches/peers/spark_read.py "$work/lake" "$runs"
fi
