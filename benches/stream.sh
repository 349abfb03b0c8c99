#!/usr/bin/env bash
# Benchmark of `vbda stream` (release build) against Apache Kafka 4.1 (one KRaft node from its
# jars, scripts/kafka/broker.sh) on the same machine. 500-byte JSON events on 4 partitions.
#
# 1. Throughput: EVENTS events are produced first (`vbda produce`), then `vbda stream
#    --until-caught-up` reads them into a fresh bronze table, RUNS times (a new lakehouse and
#    consumer group each time): rows/s, wall seconds, peak RSS and CPU seconds of vbda, medians.
#    Twice: uncompressed batches, and zstd-compressed ones (`-X compression.type=zstd`).
# 2. Latency: `vbda stream --max-age-ms 1000 --metrics-addr` runs while `vbda produce --rate
#    RATE` sends RATE*SECONDS events at a steady rate; p50/p99 of vbda_stream_end_to_end_seconds
#    (the message's Kafka timestamp, i.e. the producer's create time, to the Delta commit),
#    read from the histogram's buckets (upper bounds at the bucket edges: 0.75, 1, 1.25, 1.5,
#    2, 2.5, 3, 4, 5 s ...).
#
# Usage: benches/stream.sh [events] [runs] [rate] [seconds]   (defaults: 1000000 3 50000 30)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
cargo build --locked --release --bin vbda >&2
vbda="$CARGO_TARGET_DIR/release/vbda"
python="${VBDA_CONFLUENT_VENV:-$HOME/.cache/vbda-confluent-venv}/bin/python"
[ -x "$python" ] || { echo "confluent-kafka is not installed at $python: run scripts/test.sh first" >&2; exit 1; }
events="${1:-1000000}"; runs="${2:-3}"; rate="${3:-50000}"; seconds="${4:-30}"
work="${BENCH_DIR:-$root/bench-data/stream}"
rm -rf "$work" && mkdir -p "$work"
export VBDA_PROJECT="$root"
port=$(free_port)
broker=$(bash scripts/kafka/broker.sh "$work/kafka" "$port")
trap 'kill $broker 2>/dev/null || true' EXIT
brokers="127.0.0.1:$port"
create() { VBDA_TEST_KAFKA="bootstrap.servers=$brokers" "$python" tests/kafka/client.py create "$1" 4; }
python3 - "$work/events.ndjson" "$events" "$work/steady.ndjson" "$((rate * seconds))" <<'PY'
import sys
def write(path, n):
    pad = "x" * 330
    with open(path, "w") as out:
        for i in range(n):
            out.write('{"event_id":"bench-%012d","event_type":"heartbeat","event_ts":"2025-01-01T10:00:00.000Z","user_id":"u%06d","session_id":"s%08d","content_id":"c%05d","pad":"%s"}\n'
                      % (i, i % 100000, i % 1000000, i % 5000, pad))
write(sys.argv[1], int(sys.argv[2])); write(sys.argv[3], int(sys.argv[4]))
PY
echo "vbda $("$vbda" --version | cut -d' ' -f2), release, $(nproc) cores, $(date -u +%FT%TZ); $(head -1 "$work/events.ndjson" | wc -c)-byte events"
for codec in none zstd; do
create "bulk-$codec"
"$vbda" -q produce --file "$work/events.ndjson" --brokers "$brokers" --topic "bulk-$codec" -X compression.type=$codec -X linger.ms=50
: > "$work/bulk.txt"
for run in $(seq 1 "$runs"); do
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$vbda" -q --lakehouse "$work/lake-$codec-$run" --output json stream \
    --brokers "$brokers" --topic "bulk-$codec" --group "bulk-$codec-$run" --until-caught-up > "$work/bulk-$run.json"
  python3 - "$work" "$run" <<'PY' | tee -a "$work/bulk.txt"
import json, sys
work, run = sys.argv[1], sys.argv[2]
r = json.load(open(f"{work}/bulk-{run}.json"))
wall, rss, user, sys_ = open(f"{work}/time.txt").read().split()
held = sum(r["offsets"].values())
assert r["rows_committed"] == held, f"committed {r['rows_committed']} but the broker holds {held}"
print(f"{r['rows_committed'] / r['seconds']:.0f} {r['seconds']:.2f} {int(rss) // 1024} {float(user) + float(sys_):.1f} {r['rows_committed']} {r['commits']}")
PY
done
python3 - "$work/bulk.txt" "$codec" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda i: statistics.median(float(r[i]) for r in rows)
print(f"throughput, compression {sys.argv[2]} ({len(rows)} runs, medians): {med(0):,.0f} events/s, {med(1):.1f} s for {rows[0][4]} events in {rows[0][5]} commits,"
      f" peak RSS {med(2):.0f} MiB, vbda CPU {med(3):.1f} s ({float(rows[0][4]) / med(3):,.0f} events per CPU-second)")
PY
done

create steady
mport=$(free_port)
/usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$vbda" -q --lakehouse "$work/lake-steady" --output json stream \
  --brokers "$brokers" --topic steady --group steady --max-age-ms 1000 --metrics-addr "127.0.0.1:$mport" \
  > "$work/steady.json" &
timer=$!
sleep 2
"$vbda" -q --output json produce --file "$work/steady.ndjson" --brokers "$brokers" --topic steady --rate "$rate" > "$work/produce.json"
deadline=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  curl -s "http://127.0.0.1:$mport/metrics" > "$work/metrics.txt" || true
  rows=$(sed -n 's/^vbda_stream_rows_committed_total \([0-9]*\)/\1/p' "$work/metrics.txt")
  [ "${rows:-0}" -ge "$((rate * seconds))" ] && break
  sleep 0.5
done
pkill -TERM -P "$timer" || true
wait "$timer" || true
python3 - "$work" "$rate" "$seconds" <<'PY'
import json, sys
work, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(f"{work}/steady.json")); p = json.load(open(f"{work}/produce.json"))
wall, rss, user, sys_ = open(f"{work}/time.txt").read().split()
buckets = []
for line in open(f"{work}/metrics.txt"):
    if line.startswith("vbda_stream_end_to_end_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), int(float(line.split()[-1]))))
total = buckets[-1][1]
q = lambda f: next(le for le, c in buckets if c >= f * total)
print(f"latency at {p['delivered'] / p['seconds']:,.0f} events/s for {p['seconds']:.0f} s (--max-age-ms 1000): committed {r['rows_committed']} of {p['delivered']}"
      f" in {r['commits']} commits; end-to-end p50 <= {q(0.5)} s, p99 <= {q(0.99)} s; peak RSS {int(rss) // 1024} MiB, vbda CPU {float(user) + float(sys_):.1f} s")
PY
