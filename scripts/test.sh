#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then runs them.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# The build's system packages (mold, libssl-dev), the same as quickstart.sh's, so the two
# share one compiled dependency tree; then promtool (package prometheus) for the metrics tests.
source scripts/build-deps.sh
# prometheus-pushgateway for the push tests, chromium (headless) for the report's rendering test.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  wanted=()
  command -v promtool >/dev/null 2>&1 || wanted+=(prometheus)
  command -v prometheus-pushgateway >/dev/null 2>&1 || wanted+=(prometheus-pushgateway)
  command -v chromium >/dev/null 2>&1 || wanted+=(chromium)
  if [ ${#wanted[@]} -gt 0 ]; then
    echo "== installing ${wanted[*]}" >&2
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
  fi
fi
# PostgreSQL (package postgresql) for the publish tests: each test runs its own initdb + pg_ctl.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing PostgreSQL (package postgresql)" >&2
  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
source scripts/env.sh

# A real Apache Kafka 4.1 broker for the stream's end-to-end tests: its jars and their runtime
# dependencies from Maven Central (about 45 MB, seconds), kept between runs; Java 17 runs it.
export VBDA_TEST_KAFKA_JARS
VBDA_TEST_KAFKA_JARS="$(bash scripts/kafka/fetch.sh)"

# A pinned Python package in its own virtual environment kept between runs: VENV MODULE VERSION SPEC.
venv_with() {
  local venv=$1 module=$2 version=$3 spec=$4
  if [ "$("$venv/bin/python" -c "import $module; print($module.__version__)" 2>/dev/null)" != "$version" ]; then
    echo "== installing $spec into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # SPEC may name several packages
    "$venv/bin/pip" install -q $spec
  fi
}

# Real Airflow for the DAG tests.
export VBDA_AIRFLOW_VENV="${VBDA_AIRFLOW_VENV:-$HOME/.cache/vbda-airflow-venv}"
venv_with "$VBDA_AIRFLOW_VENV" airflow 3.3.2 "apache-airflow==3.3.2"

# An independent Kafka client for those tests (topics, compressed batches, committed offsets):
# confluent-kafka from PyPI, which carries its own librdkafka.
export VBDA_CONFLUENT_VENV="${VBDA_CONFLUENT_VENV:-$HOME/.cache/vbda-confluent-venv}"
venv_with "$VBDA_CONFLUENT_VENV" confluent_kafka 2.12.1 "confluent-kafka==2.12.1"

# A real S3 endpoint for the S3 tests: moto_server (moto[server] from PyPI), in its own venv
# (its Flask/Werkzeug pins would fight Airflow's).
export VBDA_MOTO_VENV="${VBDA_MOTO_VENV:-$HOME/.cache/vbda-moto-venv}"
venv_with "$VBDA_MOTO_VENV" moto 5.2.5 "moto[server]==5.2.5"

# Other Delta engines for the interop tests (tests/it/interop.rs): Apache Spark 4.0 with
# delta-spark (its jars come from Maven Central on first start), deltalake, Polars and DuckDB.
export VBDA_SPARK_VENV="${VBDA_SPARK_VENV:-$HOME/.cache/vbda-spark-venv}"
venv_with "$VBDA_SPARK_VENV" pyspark 4.0.1 "pyspark==4.0.1 delta-spark==4.0.1 deltalake==1.6.6 polars==2.1.0 pyarrow==26.0.1 duckdb==2.0.1"

start=$(date +%s)
echo "== cargo build --tests (target: $CARGO_TARGET_DIR)" >&2
cargo build --locked --tests
echo "== built in $(( $(date +%s) - start ))s" >&2
cargo test --locked "$@"
echo "== test suite finished in $(( $(date +%s) - start ))s" >&2
