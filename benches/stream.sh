#!/usr/bin/env bash
# Benchmark of `vbda stream` (release): 500-byte JSON events on a 4-partition topic of a
# Kafka-protocol broker (librdkafka's mock cluster in examples/kafka_source.rs; it keeps only
# the newest few MB per partition, so it is fed while the stream runs, never preloaded).
# For each rate: the source produces RATE events/s for SECONDS while `vbda stream
# --max-age-ms 1000 --metrics-addr` consumes; then SIGTERM. Prints rows committed vs produced,
# rows/s over the run, peak RSS, and p50/p99 of vbda_stream_end_to_end_seconds (producer
# timestamp to Delta commit, from the histogram buckets: an upper bound).
#
# Usage: benches/stream.sh [seconds] [rate...]     (defaults: 30 s; 10000 and 100000 events/s)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
cargo build --locked --release --bin vbda --example kafka_source >&2
vbda="$CARGO_TARGET_DIR/release/vbda"
source_bin="$CARGO_TARGET_DIR/release/examples/kafka_source"
seconds="${1:-30}"; shift || true
rates=("${@:-10000 100000}")
work="${BENCH_DIR:-$root/bench-data/stream}"
export VBDA_PROJECT="$root"
echo "vbda $("$vbda" --version | cut -d' ' -f2), release, $(nproc) cores, $(date -u +%FT%TZ)"
for rate in ${rates[@]}; do
  rm -rf "$work" && mkdir -p "$work"
  "$source_bin" 0 "$rate" "$seconds" > "$work/brokers.txt" 2> "$work/source.err" &
  src=$!
  for _ in $(seq 1 60); do [ -s "$work/brokers.txt" ] && break; sleep 0.5; done
  brokers=$(head -1 "$work/brokers.txt")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$vbda" -q --lakehouse "$work/lake" --output json stream --brokers "$brokers" \
    --topic events --group bench --max-age-ms 1000 --metrics-addr "127.0.0.1:$port" > "$work/report.json" &
  vb=$!
  sleep "$seconds"
  curl -s "http://127.0.0.1:$port/metrics" > "$work/metrics.txt" || true
  wait "$src" || true
  sleep 3
  curl -s "http://127.0.0.1:$port/metrics" > "$work/metrics.txt" || true
  kill -TERM "$vb"; wait "$vb" || true
  produced=$(sed -n 's/produced \([0-9]*\) events.*/\1/p' "$work/source.err")
  python3 - "$work" "$rate" "$produced" <<'PY'
import json, sys
work, rate, produced = sys.argv[1], int(sys.argv[2]), int(sys.argv[3] or 0)
report = json.load(open(f"{work}/report.json"))
t, rss = open(f"{work}/time.txt").read().split()
buckets = []
for line in open(f"{work}/metrics.txt"):
    if line.startswith("vbda_stream_end_to_end_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), int(line.split()[-1])))
total = buckets[-1][1] if buckets else 0
q = lambda p: next((le for le, c in buckets if c >= p * total), float("nan")) if total else float("nan")
rows = report.get("rows_committed", 0)
print(f"rate {rate}/s: produced {produced}, committed {rows} ({'all' if rows == produced else 'MISSING ' + str(produced - rows)}), "
      f"{rows / float(report['seconds']):.0f} rows/s over {float(report['seconds']):.1f} s, {report['commits']} commits, "
      f"peak RSS {int(rss) / 1024:.0f} MiB, end-to-end p50 <= {q(0.5)} s, p99 <= {q(0.99)} s")
PY
done
