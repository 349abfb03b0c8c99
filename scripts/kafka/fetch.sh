#!/usr/bin/env bash
# Fetches Apache Kafka's broker (org.apache.kafka:kafka_2.13) with its runtime dependencies from Maven
# Central into $VBDA_TEST_KAFKA_JARS/libs, once. The tests run it as a one-node KRaft cluster from there.
# Usage: scripts/kafka/fetch.sh   (prints the folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="${VBDA_TEST_KAFKA_JARS:-$HOME/.cache/vbda-kafka-4.1.1}"
if [ ! -f "$home/libs/.complete" ]; then
  echo "== fetching Apache Kafka 4.1.1 jars into $home/libs" >&2
  rm -rf "$home/libs"
  mkdir -p "$home/libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/libs" -DincludeScope=runtime >&2
  touch "$home/libs/.complete"
fi
echo "$home"
