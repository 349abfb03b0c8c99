#!/usr/bin/env bash
# Benchmark of the pipeline with the landing zone and the lakehouse on S3 against the same on
# local disk (release build). The S3 endpoint is moto_server (installed by scripts/test.sh into
# ~/.cache/vbda-moto-venv) on 127.0.0.1: a single-threaded Python server, so the S3 figures
# measure vbda's S3 path plus moto, and are an upper bound for a real store's request costs.
#
# Per run: ingest, bronze-to-silver --date and silver-to-gold --date, on local disk and on S3,
# with wall seconds and peak RSS; medians over RUNS, and the S3/local ratio.
#
# Usage: benches/s3.sh [events] [runs]   (defaults: 200000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
cargo build --locked --release --bin vbda >&2
vbda="$CARGO_TARGET_DIR/release/vbda"
venv="${VBDA_MOTO_VENV:-$HOME/.cache/vbda-moto-venv}"
[ -x "$venv/bin/moto_server" ] || { echo "moto_server is not installed in $venv: run scripts/test.sh first" >&2; exit 1; }
events="${1:-200000}"; runs="${2:-3}"
work="${BENCH_DIR:-$root/bench-data/s3}"
rm -rf "$work" && mkdir -p "$work"
export VBDA_PROJECT="$root"
port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
"$vbda" -q generate --out "$work/landing" --content-out "$work/content.csv" --events "$events" --files-per-day 4 --date 2025-01-01 > /dev/null
"$venv/bin/python" - "$work/landing" <<'PY'
import boto3, os, sys
s3 = boto3.client("s3")
for b in ["landing", "lake"]:
    s3.create_bucket(Bucket=b)
root = sys.argv[1]
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        s3.upload_file(p, "landing", "events/" + os.path.relpath(p, root))
PY
echo "vbda $("$vbda" --version | cut -d' ' -f2), release, $(nproc) cores, $(date -u +%FT%TZ); $events events in 4 files; moto_server on 127.0.0.1"
timed() { # name where args...
  local name=$1 where=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/t" "$vbda" -q "$@" > /dev/null
  echo "$name $where $(cat "$work/t")" >> "$work/times.txt"
}
for run in $(seq 1 "$runs"); do
  for where in local s3; do
    if [ "$where" = local ]; then lake="$work/lake-$run"; landing="$work/landing"; else lake="s3://lake/run-$run"; landing="s3://landing/events/"; fi
    timed ingest "$where" --lakehouse "$lake" ingest --landing "$landing"
    timed bronze-to-silver "$where" --lakehouse "$lake" bronze-to-silver --date 2025-01-01
    timed silver-to-gold "$where" --lakehouse "$lake" silver-to-gold --date 2025-01-01
  done
done
python3 - "$work/times.txt" <<'PY'
import statistics, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    step, where, secs, rss = line.split()
    t[(step, where)].append((float(secs), int(rss) // 1024))
print(f"{'step':18} {'local s':>8} {'S3 s':>8} {'S3/local':>9} {'local MiB':>10} {'S3 MiB':>8}")
for step in ["ingest", "bronze-to-silver", "silver-to-gold"]:
    l = statistics.median(s for s, _ in t[(step, "local")]); s3 = statistics.median(s for s, _ in t[(step, "s3")])
    lm = statistics.median(m for _, m in t[(step, "local")]); sm = statistics.median(m for _, m in t[(step, "s3")])
    print(f"{step:18} {l:8.2f} {s3:8.2f} {s3 / l:9.2f} {lm:10.0f} {sm:8.0f}")
PY
