#!/usr/bin/env bash
# Starts a one-node Apache Kafka 4.1 cluster (KRaft, broker and controller, PLAINTEXT only) from
# the jars scripts/kafka/fetch.sh fetches, for the benchmarks; the tests have their own harness
# with SASL and TLS listeners (tests/it/kafka_broker.rs).
# Usage: scripts/kafka/broker.sh DIR PORT   (formats DIR, starts the broker in the background,
#        waits until it answers; prints its pid; stop it with kill)
set -euo pipefail
dir=$1 port=$2
home="$(bash "$(dirname "$0")/fetch.sh")"
controller=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir"
cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
java -Xmx256m -cp "$home/libs/*" kafka.tools.StorageTool format --config "$dir/server.properties" \
  --cluster-id MkU3OEVBNTcwNTJENDM2Qk --standalone > "$dir/format.log" 2>&1
java -Xms256m -Xmx1g -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$home/libs/*" \
  kafka.Kafka "$dir/server.properties" > "$dir/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/broker.log" >&2; exit 1; }
  sleep 0.2
done
echo "$pid"
