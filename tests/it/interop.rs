//! Other engines on vbda's tables, both ways (tests/interop/engines.py does the engines' part):
//! Apache Spark 4 with delta-spark, deltalake (Python), Polars and DuckDB read every table vbda writes
//! after appends, partition overwrites, optimize, a checkpoint, vacuum and restore, and get
//! vbda's rows, types, time travel and history; Spark registers them with `vbda ddl`. Then
//! Spark appends to bronze, checkpoints it and optimizes silver on a copy, and vbda carries on
//! there: the appended rows reach silver, ingest stays exactly once, check passes.
//!
//! The engines are installed by scripts/test.sh into ~/.cache/vbda-spark-venv (pyspark,
//! delta-spark, deltalake, polars from PyPI; the Delta jars come from Maven Central on first use).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::TestContext;

const TABLES: [&str; 11] = [
    "bronze.video_events", "silver.video_events", "silver.video_events_quarantine", "silver.content", "gold.daily_kpis",
    "gold.content_daily", "gold.user_daily", "gold.device_geo_daily", "gold.ad_daily", "gold.user_activity", "ops.quality_runs",
];
const APPEND_ROWS: u64 = 25;

fn engines_python() -> PathBuf {
    let venv = std::env::var_os("VBDA_SPARK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vbda-spark-venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "Spark and friends are not installed at {}: run scripts/test.sh, which installs them", venv.display());
    python
}

fn generate(ctx: &TestContext, dates: &[&str]) {
    let landing = ctx.landing();
    let content = ctx.dir.path().join("content.csv");
    let mut args = vec![
        "generate", "--out", landing.to_str().unwrap(), "--content-out", content.to_str().unwrap(), "--events", "600", "--files-per-day", "2",
        "--users", "50", "--content-items", "20", "--duplicate-share", "0.03", "--late-share", "0.03", "--malformed-share", "0.02",
        "--bad-value-share", "0.02",
    ];
    for d in dates {
        args.extend(["--date", d]);
    }
    ctx.run_json(&args);
}

fn count(ctx: &TestContext, table: &str) -> u64 {
    let out = ctx.run(&["sql", &format!("SELECT count(*) AS n FROM {table}"), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(out.stdout.trim()).unwrap()["n"].as_u64().unwrap()
}

#[test]
fn spark_deltalake_polars_and_duckdb_read_every_table_vbda_writes_and_vbda_carries_on_after_spark_writes() {
    let ctx = TestContext::new();
    // Appends (two ingests), partition overwrites (gold and silver dates rebuilt), optimize,
    // a checkpoint, vacuum and a restore: every kind of commit vbda makes.
    generate(&ctx, &["2025-01-01", "2025-01-02"]);
    ctx.run_json(&["ingest"]);
    generate(&ctx, &["2025-01-03"]);
    ctx.run_json(&["ingest"]);
    let content = ctx.dir.path().join("content.csv");
    ctx.run_json(&["ingest", "--content", content.to_str().unwrap()]);
    ctx.run_json(&["bronze-to-silver"]);
    ctx.run_json(&["silver-to-gold"]);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-02"]);
    ctx.run_json(&["silver-to-gold", "--date", "2025-01-01"]);
    ctx.run_json(&["optimize"]);
    ctx.run_json(&["checkpoint"]);
    ctx.run_json(&["vacuum"]);
    let kpis_version = ctx.run_json(&["history", "gold.daily_kpis"])["entries"][0]["version"].as_i64().unwrap();
    ctx.run_json(&["restore", "gold.daily_kpis", "--version", &(kpis_version - 1).to_string()]);
    assert!(count(&ctx, "silver.video_events_quarantine") > 0, "the quarantine has rows to compare");

    let work = ctx.dir.path().join("interop");
    std::fs::create_dir_all(&work).unwrap();
    let listed = ctx.run_json(&["tables"]);
    let mut tables = Vec::new();
    for id in TABLES {
        let t = listed["tables"].as_array().unwrap().iter().find(|t| t["table"] == id).unwrap_or_else(|| panic!("{id}: {listed}"));
        let version = t["version"].as_i64().unwrap();
        let history = ctx.run_json(&["history", id, "--limit", "100000"])["entries"].as_array().unwrap().len();
        let expected = work.join(format!("{id}.parquet"));
        let travel_version = (version - 1).max(0);
        let travel_expected = work.join(format!("{id}@{travel_version}.parquet"));
        let sql = format!("SELECT * FROM {id}");
        ctx.run_json(&["sql", &sql, "--format", "parquet", "--out", expected.to_str().unwrap()]);
        ctx.run_json(&["sql", &sql, "--at-version", &travel_version.to_string(), "--format", "parquet", "--out", travel_expected.to_str().unwrap()]);
        let location = url::Url::parse(t["location"].as_str().unwrap()).unwrap().to_file_path().unwrap();
        tables.push(json!({
            "id": id, "location": location.to_str().unwrap().trim_end_matches('/'), "version": version, "history": history,
            "expected": expected, "travel_version": travel_version, "travel_expected": travel_expected,
        }));
    }
    let ddl = ctx.run(&["ddl", "--engine", "spark"]);
    assert_eq!(ddl.code, 0, "{}", ddl.stderr);
    let ddl_file = work.join("register.sql");
    std::fs::write(&ddl_file, &ddl.stdout).unwrap();
    let copy = ctx.dir.path().join("lake-copy");
    assert!(Command::new("cp").arg("-a").arg(ctx.lakehouse()).arg(&copy).status().unwrap().success());
    let manifest = json!({
        "project": crate::common::project_dir(), "tables": tables, "ddl": ddl_file, "copy": copy, "append_rows": APPEND_ROWS,
    });
    let manifest_file = work.join("manifest.json");
    std::fs::write(&manifest_file, manifest.to_string()).unwrap();
    let report_file = work.join("report.json");
    let script = crate::common::project_dir().join("tests/interop/engines.py");
    let started = std::time::Instant::now();
    let out = Command::new(engines_python()).arg(&script).arg(&manifest_file).arg(&report_file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the engines disagree with vbda:\n{}", stderr.lines().rev().take(40).collect::<Vec<_>>().join("\n"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    eprintln!("engines took {:.1}s (Spark start {:.1}s); seconds by layer: {}", started.elapsed().as_secs_f64(), report["spark_start_s"].as_f64().unwrap(), report["seconds_by_layer"]);
    assert_eq!(report["tables"].as_array().unwrap().len(), TABLES.len());
    for t in report["tables"].as_array().unwrap() {
        for engine in ["spark", "deltalake", "polars", "duckdb"] {
            let r = &t["engines"][engine];
            assert!(r["rows_equal"] == true && r["types_equal"] == true && r["time_travel_equal"] == true, "{engine} on {}: {r}", t["id"]);
        }
    }
    assert!(report["tables"].as_array().unwrap().iter().any(|t| t["id"] == "bronze.video_events" && t["rows"].as_u64().unwrap() > 1000));
    for id in TABLES {
        assert_eq!(report["ddl_counts"][id].as_u64(), Some(count(&ctx, id)), "{id} by name in Spark");
    }
    assert_eq!(report["spark_appended"].as_u64(), Some(APPEND_ROWS));

    // vbda on the copy Spark wrote to.
    let on_copy = |args: &[&str]| -> Value {
        let out = ctx.vbda().env("VBDA_LAKEHOUSE", &copy).args(args).args(["--output", "json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "vbda {args:?} on Spark's copy: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
    };
    let silver_before = count(&ctx, "silver.video_events");
    let ingest = on_copy(&["ingest"]);
    assert_eq!(ingest["files_ingested"], 0, "exactly once through Spark's checkpoint: {ingest}");
    assert!(ingest["files_already_ingested"].as_u64().unwrap() >= 6, "{ingest}");
    on_copy(&["bronze-to-silver"]);
    let out = ctx
        .vbda()
        .env("VBDA_LAKEHOUSE", &copy)
        .args(["sql", "SELECT count(*) AS n FROM silver.video_events WHERE event_id LIKE 'spark-%'", "--format", "json"])
        .output()
        .unwrap();
    let spark_rows: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(spark_rows["n"].as_u64(), Some(APPEND_ROWS), "Spark's rows in silver: {spark_rows}");
    let out = ctx.vbda().env("VBDA_LAKEHOUSE", &copy).args(["sql", "SELECT count(*) AS n FROM silver.video_events", "--format", "json"]).output().unwrap();
    let total: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(total["n"].as_u64(), Some(silver_before + APPEND_ROWS), "{total}");
    on_copy(&["silver-to-gold"]);
    on_copy(&["check"]);
    let rerun = on_copy(&["bronze-to-silver"]);
    assert_eq!(rerun["silver_rows"].as_u64(), Some(0), "nothing new after Spark's commits were processed: {rerun}");
    on_copy(&["optimize"]);
    on_copy(&["checkpoint"]);
    on_copy(&["vacuum", "--dry-run"]);
}

#[test]
fn ddl_registers_the_tables_that_exist_and_refuses_what_an_engine_cannot_read() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), "{\"event_id\":\"e1\",\"event_type\":\"play\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u1\",\"session_id\":\"s1\"}\n").unwrap();
    ctx.run_json(&["ingest"]);
    let out = ctx.run(&["ddl", "--engine", "trino", "--trino-catalog", "lake"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bronze = ctx.lakehouse().join("bronze/video_events");
    assert!(out.stdout.contains("delta.register-table-procedure.enabled=true"), "{}", out.stdout);
    assert!(out.stdout.contains("CREATE SCHEMA IF NOT EXISTS \"lake\".\"bronze\";"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("CALL \"lake\".system.register_table(schema_name => 'bronze', table_name => 'video_events', table_location => 'file://{}');", bronze.display())),
        "{}",
        out.stdout
    );
    // Only bronze exists: the others are named in a comment, not registered.
    assert!(out.stdout.contains("-- not created yet (run the pipeline first): silver.content, silver.video_events"), "{}", out.stdout);
    assert_eq!(out.stdout.matches(".system.register_table(").count(), 1, "{}", out.stdout);

    let (err, _) = ctx.run_json_code(&["ddl", "--engine", "athena"], 1);
    assert!(err["error"].as_str().unwrap().contains("Athena reads tables on S3 only"), "{err}");
    let (err, _) = ctx.run_json_code(&["ddl", "--engine", "spark", "--table", "gold.daily_kpi"], 1);
    assert!(err["error"].as_str().unwrap().contains("gold.daily_kpi"), "{err}");
    let (err, _) = ctx.run_json_code(&["ddl", "--engine", "duckdb"], 2);
    assert!(err["error"].as_str().unwrap().contains("duckdb"), "{err}");
}
