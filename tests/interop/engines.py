"""Other Delta readers and writers on the tables vbda writes (tests/it/interop.rs drives this).

Usage: python engines.py MANIFEST.json REPORT.json

The manifest (written by the Rust test) names the project, each table's location, its
version, its number of commits, the Parquet file `vbda sql` wrote of its rows now and at an
earlier version, the `vbda ddl --engine spark` output, and a copy of the lakehouse for writes.

Reads: Apache Spark with delta-spark, deltalake (delta-rs's Python package), Polars and DuckDB
(through deltalake's file list: its delta extension is a download this machine cannot make) each
read every table now and at the earlier version; rows (every column, exact values: dates,
UTC timestamps to the microsecond, doubles, strings, bytes) and types must equal vbda's; the
history each reports must have vbda's number of commits. Spark runs the DDL and counts rows
by table name.

Writes, on the copy: Spark appends rows to bronze (new event ids), writes a checkpoint of
bronze, and runs its own OPTIMIZE on silver. The Rust test then runs vbda on the result.

The report holds every comparison and the seconds each engine took per layer; the exit code
is 1 when anything differs, with the differences on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import time
import tomllib
from pathlib import Path

os.environ["TZ"] = "UTC"
time.tzset()

import polars as pl  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

SPARK_TYPES = {
    "string": "string", "binary": "binary", "boolean": "boolean", "integer": "int",
    "long": "bigint", "double": "double", "date": "date", "timestamp": "timestamp",
}
POLARS_TYPES = {
    "string": "String", "binary": "Binary", "boolean": "Boolean", "integer": "Int32",
    "long": "Int64", "double": "Float64", "date": "Date", "timestamp": "Datetime(time_unit='us', time_zone='UTC')",
}
DUCKDB_TYPES = {
    "string": "VARCHAR", "binary": "BLOB", "boolean": "BOOLEAN", "integer": "INTEGER",
    "long": "BIGINT", "double": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE",
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def spec_columns(project: Path, table_id: str) -> list[tuple[str, str]]:
    layer, name = table_id.split(".", 1)
    spec = tomllib.loads((project / "tables" / layer / f"{name}.toml").read_text())
    return [(c["name"], c["type"]) for c in spec["columns"]]


def canonical(v):
    """One comparable form per value, whichever engine produced it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return "nan" if math.isnan(v) else v
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        delta = v - EPOCH
        return ("ts", (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if isinstance(v, dt.date):
        return ("date", v.isoformat())
    if isinstance(v, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(v).hex())
    return v


def canonical_rows(rows) -> list:
    out = [tuple(canonical(x) for x in r) for r in rows]
    out.sort(key=repr)
    return out


def describe_difference(a: list, b: list) -> str:
    sa, sb = set(map(repr, a)), set(map(repr, b))
    only_a, only_b = sorted(sa - sb)[:3], sorted(sb - sa)[:3]
    return f"{len(a)} vs {len(b)} rows; only in the engine: {only_a}; only in vbda: {only_b}"


class Engines:
    def __init__(self):
        from delta import configure_spark_with_delta_pip
        from pyspark.sql import SparkSession

        started = time.time()
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("vbda-interop")
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
        )
        self.spark = configure_spark_with_delta_pip(builder).getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        self.spark_start_s = time.time() - started

    def spark_rows(self, location, columns, version=None):
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        df = reader.load(location)
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        return [tuple(r) for r in df.select(*columns).collect()], types

    def spark_history(self, location):
        return self.spark.sql(f"DESCRIBE HISTORY delta.`{location}`").count()


def deltalake_rows(location, columns, version=None):
    table = DeltaTable(location, version=version) if version is not None else DeltaTable(location)
    schema = json.loads(table.schema().to_json())
    types = {f["name"]: f["type"] for f in schema["fields"]}
    rows = table.to_pyarrow_table(columns=columns).to_pylist()
    return [tuple(r[c] for c in columns) for r in rows], types


def polars_rows(location, columns, version=None):
    df = pl.read_delta(location, version=version) if version is not None else pl.read_delta(location)
    types = {name: str(dtype) for name, dtype in df.schema.items()}
    return df.select(columns).rows(), types


def duckdb_rows(location, columns, version=None):
    """DuckDB without its delta extension (a download this machine cannot make): the snapshot's
    files from deltalake, read with hive partitioning for the partition column."""
    import duckdb

    table = DeltaTable(location, version=version) if version is not None else DeltaTable(location)
    files = table.file_uris()
    if not files:
        return [], {}
    partition_by = table.metadata().partition_columns
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    rel = con.sql(f"SELECT * FROM read_parquet({listing}, hive_partitioning = {str(bool(partition_by)).lower()}, union_by_name = true)")
    types = {name: str(ty) for name, ty in zip(rel.columns, rel.types)}
    quoted = ", ".join('"' + c + '"' for c in columns)
    return con.sql(f"SELECT {quoted} FROM rel").fetchall(), types


def expected_rows(path, columns):
    rows = pq.read_table(path).to_pylist()
    return [tuple(r[c] for c in columns) for r in rows]


def main() -> int:
    manifest = json.loads(Path(sys.argv[1]).read_text())
    project = Path(manifest["project"])
    engines = Engines()
    report = {"spark_start_s": engines.spark_start_s, "tables": [], "seconds_by_layer": {}, "problems": []}
    problems = report["problems"]

    for t in manifest["tables"]:
        columns_and_types = spec_columns(project, t["id"])
        columns = [c for c, _ in columns_and_types]
        expected = canonical_rows(expected_rows(t["expected"], columns))
        travel_expected = canonical_rows(expected_rows(t["travel_expected"], columns))
        layer = t["id"].split(".")[0]
        entry = {"id": t["id"], "rows": len(expected), "engines": {}}
        readers = {
            "spark": lambda v=None: engines.spark_rows(t["location"], columns, v),
            "deltalake": lambda v=None: deltalake_rows(t["location"], columns, v),
            "polars": lambda v=None: polars_rows(t["location"], columns, v),
            "duckdb": lambda v=None: duckdb_rows(t["location"], columns, v),
        }
        for engine, read in readers.items():
            started = time.time()
            rows, types = read()
            seconds = time.time() - started
            by_layer = report["seconds_by_layer"].setdefault(engine, {})
            by_layer[layer] = by_layer.get(layer, 0.0) + seconds
            rows = canonical_rows(rows)
            travel_rows = canonical_rows(read(t["travel_version"])[0])
            wanted_types = {
                "spark": {c: SPARK_TYPES[ty] for c, ty in columns_and_types},
                "deltalake": {c: ty for c, ty in columns_and_types},
                "polars": {c: POLARS_TYPES[ty] for c, ty in columns_and_types},
                "duckdb": {c: DUCKDB_TYPES[ty] for c, ty in columns_and_types},
            }[engine]
            got_types = {c: types.get(c) for c in columns}
            if engine == "duckdb" and not types:
                got_types = wanted_types  # an empty table has no files to take types from
            result = {
                "rows_equal": rows == expected,
                "types_equal": got_types == wanted_types,
                "time_travel_equal": travel_rows == travel_expected,
                "seconds": round(seconds, 3),
            }
            if engine == "spark":
                result["history"] = engines.spark_history(t["location"])
            elif engine == "deltalake":
                result["history"] = len(DeltaTable(t["location"]).history())
            if not result["rows_equal"]:
                problems.append(f"{engine} {t['id']} rows differ: {describe_difference(rows, expected)}")
            if not result["types_equal"]:
                problems.append(f"{engine} {t['id']} types differ: {got_types} vs {wanted_types}")
            if not result["time_travel_equal"]:
                problems.append(f"{engine} {t['id']} at v{t['travel_version']} differs: {describe_difference(travel_rows, travel_expected)}")
            if "history" in result and result["history"] != t["history"]:
                problems.append(f"{engine} {t['id']} history has {result['history']} commits, vbda {t['history']}")
            entry["engines"][engine] = result
        report["tables"].append(entry)

    # `vbda ddl --engine spark`, run as written; then every table by name.
    statements = [s.strip() for s in Path(manifest["ddl"]).read_text().split(";\n")]
    ran = 0
    for s in statements:
        s = "\n".join(line for line in s.splitlines() if not line.startswith("--")).strip().rstrip(";")
        if s:
            engines.spark.sql(s)
            ran += 1
    report["ddl_statements"] = ran
    report["ddl_counts"] = {}
    for t in manifest["tables"]:
        n = engines.spark.sql(f"SELECT count(*) AS n FROM {t['id']}").collect()[0]["n"]
        report["ddl_counts"][t["id"]] = n
        if n != len(canonical_rows(expected_rows(t["expected"], [c for c, _ in spec_columns(project, t['id'])]))):
            problems.append(f"ddl: {t['id']} counts {n} rows by name")

    # Writes on the copy: Spark appends to bronze, checkpoints it, and optimizes silver.
    from pyspark.sql import functions as F

    copy = Path(manifest["copy"])
    bronze, silver = str(copy / "bronze" / "video_events"), str(copy / "silver" / "video_events")
    b = engines.spark.read.format("delta").load(bronze)
    ids = engines.spark.read.format("delta").load(silver).select("event_id")
    picked = b.where("payload_error IS NULL").join(ids, "event_id", "left_semi").orderBy("event_id").limit(manifest["append_rows"])
    appended = (
        picked.withColumn("payload", F.regexp_replace("payload", r'"event_id"\s*:\s*"', '"event_id":"spark-'))
        .withColumn("event_id", F.concat(F.lit("spark-"), F.col("event_id")))
        .withColumn("source_file", F.lit("spark://vbda-interop"))
        .withColumn("batch_id", F.lit("spark-append"))
        .withColumn("ingested_at", F.current_timestamp())
        .select(*b.columns)
    )
    appended.write.format("delta").mode("append").save(bronze)
    report["spark_appended"] = engines.spark.read.format("delta").load(bronze).where("batch_id = 'spark-append'").count()
    jvm = engines.spark._jvm
    jvm.org.apache.spark.sql.delta.DeltaLog.forTable(engines.spark._jsparkSession, bronze).checkpoint()
    optimized = engines.spark.sql(f"OPTIMIZE delta.`{silver}`").collect()
    report["spark_optimize_metrics"] = str(optimized[0]["metrics"]) if optimized else None

    Path(sys.argv[2]).write_text(json.dumps(report, indent=2, default=str))
    engines.spark.stop()
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
