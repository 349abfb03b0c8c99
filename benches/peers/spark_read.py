"""Apache Spark 4 + delta-spark reading every table of each layer of a vbda lakehouse in full.

Usage: python spark_read.py LAKEHOUSE [RUNS]   (benches/publish.sh runs it)

Each run reads every column of every table of a layer into Spark's no-op sink (so nothing is
skipped and nothing is written); prints the median seconds per layer over RUNS runs, and the
Spark session's start-up time once.
"""

import statistics
import sys
import time
from pathlib import Path

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

lake = Path(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
started = time.time()
builder = (
    SparkSession.builder.master("local[2]")
    .appName("vbda-bench-read")
    .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
    .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.memory", "4g")
)
spark = configure_spark_with_delta_pip(builder).getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
print(f"spark {spark.version}: session started in {time.time() - started:.1f} s")
for layer in ("bronze", "silver", "gold"):
    tables = sorted(p for p in (lake / layer).iterdir() if (p / "_delta_log").is_dir())
    rows = sum(spark.read.format("delta").load(str(t)).count() for t in tables)
    times = []
    for _ in range(runs):
        t0 = time.time()
        for t in tables:
            spark.read.format("delta").load(str(t)).write.format("noop").mode("overwrite").save()
        times.append(time.time() - t0)
    shown = " ".join(f"{x:.2f}" for x in times)
    print(f"spark reads {layer:<6} ({len(tables)} tables, {rows:>10} rows)  median {statistics.median(times):6.2f} s  ({runs} runs: {shown} s)")
spark.stop()
