//! Table maintenance on real Delta tables: vacuum, optimize, checkpoints, history, status,
//! restore.

use serde_json::Value;

use crate::common::{TestContext, files_under};

fn line(id: &str, day: &str, minute: u32) -> String {
    format!(
        r#"{{"event_id":"{id}","event_type":"like","event_ts":"{day}T10:{minute:02}:00Z","user_id":"u","session_id":"s","content_id":"c"}}"#
    )
}

/// `n` ingests of one new small file each: `n` bronze commits, `n` small files in 2025-01-01.
fn small_commits(ctx: &TestContext, n: usize) {
    small_commits_on(ctx, n, "2025-01-01", "f");
}

fn small_commits_on(ctx: &TestContext, n: usize, day: &str, prefix: &str) {
    for i in 0..n {
        let name = format!("{prefix}{i:03}.ndjson");
        assert!(!ctx.landing().join(&name).exists());
        std::fs::write(ctx.landing().join(&name), line(&format!("{prefix}{i}"), day, (i % 60) as u32) + "\n").unwrap();
        ctx.run_json(&["ingest"]);
    }
}

fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet") && !p.to_string_lossy().contains("_delta_log")).collect()
}

fn event_ids(ctx: &TestContext, table: &str) -> Vec<String> {
    let out = ctx.run_json(&["show", table, "--limit", "100000"]);
    let mut ids: Vec<String> = out["rows"].as_array().unwrap().iter().map(|r| r["event_id"].as_str().unwrap_or("<null>").to_string()).collect();
    ids.sort();
    ids
}

/// A retention beyond what a date can hold (it once panicked in chrono): exit 1 saying the
/// bound, nothing touched; the largest accepted one works.
#[test]
fn an_absurd_retention_is_refused_without_a_panic() {
    let ctx = TestContext::new();
    small_commits(&ctx, 1);
    let files = parquet_files(&ctx.lakehouse().join("bronze/video_events"));
    for hours in ["9999999999999", "876001", &i64::MAX.to_string()] {
        let run = ctx.run(&["vacuum", "--retention-hours", hours]);
        assert_eq!(run.code, 1, "{hours}: {}", run.stderr);
        assert!(run.stderr.contains("at most 876000 (100 years)"), "{hours}: {}", run.stderr);
    }
    let out = ctx.run_json(&["vacuum", "--table", "bronze.video_events", "--retention-hours", "876000"]);
    assert_eq!(out["tables"][0]["files_removed"], 0, "{out}");
    assert_eq!(parquet_files(&ctx.lakehouse().join("bronze/video_events")), files);
}

#[test]
fn vacuum_keeps_what_retention_protects_refuses_short_retention_and_full_removes_orphans() {
    let ctx = TestContext::new();
    small_commits(&ctx, 3);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]); // v2 replaces v1's files
    let silver_dir = ctx.lakehouse().join("silver/video_events");
    let files = parquet_files(&silver_dir);
    assert_eq!(files.len(), 2, "v1's file (removed in v2) and v2's: {files:?}");
    let rows = event_ids(&ctx, "silver.video_events");

    // The default retention (the spec's 168 hours) protects the file v2 removed a moment ago.
    let out = ctx.run_json(&["vacuum", "--table", "silver.video_events"]);
    assert_eq!(out["tables"][0]["files_removed"], 0, "{out}");
    assert_eq!(out["tables"][0]["retention_hours"], 168);

    // Shorter than the spec's minimum: refused, nothing touched.
    let run = ctx.run(&["vacuum", "--table", "silver.video_events", "--retention-hours", "0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("below the minimum of 168 hours") && run.stderr.contains("--force"), "{}", run.stderr);
    let run = ctx.run(&["vacuum", "--retention-hours", "-5"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--retention-hours must be 0 or more"), "{}", run.stderr);

    // Forced, a one-hour window still holds the file removed a moment ago, and every
    // version inside it reads back its rows.
    let v1 = ctx.run_json(&["show", "silver.video_events", "--at-version", "1"]);
    let out = ctx.run_json(&["vacuum", "--table", "silver.video_events", "--retention-hours", "1", "--force"]);
    assert_eq!(out["tables"][0]["files_removed"], 0, "{out}");
    assert_eq!(ctx.run_json(&["show", "silver.video_events", "--at-version", "1"])["rows"], v1["rows"]);
    assert_eq!(v1["total_rows"], 3);

    // A dry run lists the file and its bytes and deletes nothing.
    let out = ctx.run_json(&["vacuum", "--table", "silver.video_events", "--retention-hours", "0", "--force", "--dry-run"]);
    assert_eq!(out["tables"][0]["files_removed"], 1, "{out}");
    assert!(out["tables"][0]["bytes_removed"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(parquet_files(&silver_dir).len(), 2, "a dry run deletes nothing");

    // An orphan (a crashed writer's file): lite vacuum leaves it, full removes it.
    let orphan = silver_dir.join("event_date=2025-01-01/part-orphan-of-a-crashed-writer.parquet");
    std::fs::copy(&files[0], &orphan).unwrap();
    let out = ctx.run_json(&["vacuum", "--table", "silver.video_events", "--retention-hours", "0", "--force"]);
    assert_eq!(out["tables"][0]["files_removed"], 1, "the removed file only: {out}");
    assert!(orphan.exists(), "lite vacuum only removes files a commit removed");
    let out = ctx.run_json(&["vacuum", "--table", "silver.video_events", "--retention-hours", "0", "--force", "--full"]);
    assert_eq!(out["tables"][0]["files_removed"], 1, "the orphan only: {out}");
    assert!(!orphan.exists());
    assert_eq!(parquet_files(&silver_dir).len(), 1, "the current version's file stays");
    assert_eq!(event_ids(&ctx, "silver.video_events"), rows, "the current version reads the same rows");

    // The vacuum is in the history with its counts.
    let history = ctx.run_json(&["history", "silver.video_events"]);
    let vacuums: Vec<&Value> = history["entries"].as_array().unwrap().iter().filter(|e| e["command"] == "vacuum").collect();
    assert!(!vacuums.is_empty(), "{history}");
}

#[test]
fn optimize_compacts_small_files_without_changing_rows_and_a_second_run_does_nothing() {
    let ctx = TestContext::new();
    small_commits(&ctx, 12);
    let bronze_dir = ctx.lakehouse().join("bronze/video_events");
    assert_eq!(parquet_files(&bronze_dir).len(), 12);
    let before = event_ids(&ctx, "bronze.video_events");

    // Another date is not touched by --date.
    let out = ctx.run_json(&["optimize", "--table", "bronze.video_events", "--date", "2025-01-02"]);
    assert!(out["tables"][0]["version"].is_null(), "nothing in 2025-01-02: {out}");

    let out = ctx.run_json(&["optimize", "--table", "bronze.video_events", "--date", "2025-01-01"]);
    let t = &out["tables"][0];
    assert_eq!((t["files_before"].as_u64(), t["files_after"].as_u64(), t["files_removed"].as_u64()), (Some(12), Some(1), Some(12)), "{out}");
    assert_eq!(event_ids(&ctx, "bronze.video_events"), before, "the same rows");
    let version = t["version"].as_i64().unwrap();

    let again = ctx.run_json(&["optimize", "--table", "bronze.video_events"]);
    assert!(again["tables"][0]["version"].is_null(), "a second run commits nothing: {again}");
    let status = ctx.run_json(&["status", "--table", "bronze.video_events"]);
    assert_eq!(status["tables"][0]["version"].as_i64(), Some(version));
    assert_eq!(status["tables"][0]["files"], 1);

    // Ingest after optimize keeps exactly-once: nothing is ingested twice.
    ctx.run_json(&["ingest"]);
    assert_eq!(event_ids(&ctx, "bronze.video_events"), before);
}

#[test]
fn checkpoints_are_written_every_n_commits_and_on_demand() {
    let ctx = TestContext::new();
    small_commits(&ctx, 12);
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    // The spec's checkpoint interval is 10 commits: the 10th commit (version 9) wrote one.
    assert!(log.join("00000000000000000009.checkpoint.parquet").exists(), "{:?}", files_under(&log));
    let out = ctx.run_json(&["checkpoint", "--table", "bronze.video_events"]);
    let version = out["tables"][0]["version"].as_i64().unwrap();
    assert!(log.join(format!("{version:020}.checkpoint.parquet")).exists());
    let last: Value = serde_json::from_str(&std::fs::read_to_string(log.join("_last_checkpoint")).unwrap()).unwrap();
    assert_eq!(last["version"].as_i64(), Some(version));
    // Reading the table goes through the checkpoint: the rows are all there.
    assert_eq!(event_ids(&ctx, "bronze.video_events").len(), 12);
}

#[test]
fn restore_brings_back_old_rows_and_history_shows_every_operation() {
    let ctx = TestContext::new();
    small_commits(&ctx, 2);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let first = event_ids(&ctx, "silver.video_events");
    small_commits_on(&ctx, 1, "2025-01-01", "g"); // one more event
    let out = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let v2 = out["silver"]["version"].as_i64().unwrap();
    assert_eq!(event_ids(&ctx, "silver.video_events").len(), 3);

    let out = ctx.run_json(&["restore", "silver.video_events", "--version", &(v2 - 1).to_string()]);
    assert_eq!(out["version"].as_i64(), Some(v2 + 1), "a restore is a new commit: {out}");
    assert_eq!(event_ids(&ctx, "silver.video_events"), first);

    let history = ctx.run_json(&["history", "silver.video_events"]);
    let entries = history["entries"].as_array().unwrap();
    let ops: Vec<&str> = entries.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(ops[0], "RESTORE", "{history}");
    let writes: Vec<&Value> = entries.iter().filter(|e| e["command"] == "bronze-to-silver").collect();
    assert_eq!(writes.len(), 2, "{history}");
    assert_eq!(writes[0]["counts"]["silver_rows"], 3, "{history}");
    assert_eq!(writes[1]["counts"]["silver_rows"], 2, "{history}");
    let text = ctx.run(&["history", "silver.video_events"]);
    assert!(text.stdout.contains("RESTORE") && text.stdout.contains("vbda bronze-to-silver --date 2025-01-01"), "{}", text.stdout);

    // By time: the newest version at or before it; here the current one, so nothing to do
    // (exit 1: retrying will not help), as for --version of the current one.
    for args in [["--timestamp", "2999-01-01T00:00:00Z"], ["--version", &(v2 + 1).to_string()]] {
        let run = ctx.run(&[&["restore", "silver.video_events"][..], &args[..]].concat());
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("is at version {} already: nothing to restore", v2 + 1)), "{}", run.stderr);
    }
    let run = ctx.run(&["restore", "silver.video_events", "--timestamp", "2000-01-01T00:00:00Z"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("has no version at or before 2000-01-01T00:00:00Z"), "{}", run.stderr);

    // Bad input.
    let run = ctx.run(&["restore", "silver.video_events", "--version", "99"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has no version 99"), "{}", run.stderr);
    let run = ctx.run(&["restore", "silver.nope", "--version", "1"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no such table: `silver.nope`"), "{}", run.stderr);
    let run = ctx.run(&["vacuum", "--table", "gold.nope"]);
    assert_eq!(run.code, 1);
    let run = ctx.run(&["history", "gold.daily_kpis"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("does not exist yet"), "{}", run.stderr);
}

#[test]
fn restore_refuses_a_version_whose_files_were_vacuumed() {
    let ctx = TestContext::new();
    small_commits(&ctx, 1);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    ctx.run_json(&["vacuum", "--table", "silver.video_events", "--retention-hours", "0", "--force"]);
    let run = ctx.run(&["restore", "silver.video_events", "--version", "1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("removed by vacuum"), "{}", run.stderr);
}

#[test]
fn status_shows_versions_freshness_and_small_files() {
    let ctx = TestContext::new();
    small_commits(&ctx, 2);
    let out = ctx.run_json(&["status"]);
    let bronze = out["tables"].as_array().unwrap().iter().find(|t| t["table"] == "bronze.video_events").unwrap();
    assert_eq!((bronze["version"].as_i64(), bronze["files"].as_u64(), bronze["small_files"].as_u64()), (Some(2), Some(2), Some(2)), "{bronze}");
    assert_eq!(bronze["rows"], 2);
    assert!(bronze["freshness_seconds"].as_i64().unwrap() < 600);
    assert_eq!(bronze["newest_event_time"], "2025-01-01", "bronze's newest event date: {bronze}");
    let gold = out["tables"].as_array().unwrap().iter().find(|t| t["table"] == "gold.daily_kpis").unwrap();
    assert_eq!(gold["created"], false);
    let text = ctx.run(&["status"]);
    assert!(text.stdout.contains("bronze.video_events") && text.stdout.contains("SMALL"), "{}", text.stdout);
}

/// Maintenance next to a writer: a full vacuum with the default retention never takes a
/// file a concurrent ingest is about to commit, and optimizing one date does not conflict
/// with appends to another.
#[test]
fn vacuum_and_optimize_next_to_concurrent_ingests_lose_nothing() {
    let ctx = TestContext::new();
    small_commits_on(&ctx, 5, "2025-01-01", "a");
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| small_commits_on(&ctx, 8, "2025-01-02", "b"));
        for _ in 0..3 {
            ctx.run_json(&["vacuum", "--table", "bronze.video_events", "--full"]);
            ctx.run_json(&["optimize", "--table", "bronze.video_events", "--date", "2025-01-01"]);
        }
        writer.join().unwrap();
    });
    let ids = event_ids(&ctx, "bronze.video_events");
    assert_eq!(ids.len(), 13, "{ids:?}");
    let status = ctx.run_json(&["status", "--table", "bronze.video_events"]);
    assert_eq!(status["tables"][0]["files"], 9, "2025-01-01 compacted to one file, 8 on 2025-01-02: {status}");
    // A rerun of ingest finds nothing new: the optimize did not disturb exactly-once.
    let again = ctx.run_json(&["ingest"]);
    assert_eq!(again["rows"], 0, "{again}");
}

/// `status` asks Kafka (librdkafka's mock cluster here) for the stream's consumer lag, and
/// says so instead of failing when Kafka cannot be reached.
#[test]
fn status_reports_the_stream_consumer_lag_per_partition() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Offset, TopicPartitionList};
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    for (partition, n) in [(0, 5), (1, 3)] {
        for _ in 0..n {
            producer.send(BaseRecord::<(), str>::to("events").partition(partition).payload("{}")).unwrap();
        }
    }
    producer.flush(std::time::Duration::from_secs(10)).unwrap();
    // The group has consumed two messages of partition 0 and none of partition 1.
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", "g").create().unwrap();
    let mut done = TopicPartitionList::new();
    done.add_partition_offset("events", 0, Offset::Offset(2)).unwrap();
    consumer.commit(&done, CommitMode::Sync).unwrap();

    let ctx = TestContext::new();
    small_commits(&ctx, 1);
    let args = ["status", "--table", "bronze.video_events", "--topic", "events", "--group", "g", "--brokers"];
    let mut with_brokers = args.to_vec();
    with_brokers.push(&brokers);
    let out = ctx.run_json(&with_brokers);
    assert_eq!(out["tables"][0]["stream_lag"], serde_json::json!({"events/0": 3, "events/1": 3}), "{out}");
    let text = ctx.run(&with_brokers[..with_brokers.len()]);
    assert!(text.stdout.contains("stream lag of bronze.video_events: 6 messages"), "{}", text.stdout);
    // The same lag as Prometheus metrics, per group, topic and partition.
    let mut metrics = with_brokers.clone();
    metrics.push("--metrics");
    let page = ctx.run(&metrics);
    assert_eq!(page.code, 0, "{}", page.stderr);
    for (partition, lag) in [(0, 3), (1, 3)] {
        let series = format!(r#"vbda_kafka_consumer_group_lag{{group="g",topic="events",partition="{partition}"}}"#);
        assert_eq!(crate::monitoring::sample(&page.stdout, &series), Some(lag as f64), "{series} in\n{}", page.stdout);
    }
    crate::monitoring::promtool_check(&page.stdout);

    let mut unreachable = args.to_vec();
    unreachable.push("127.0.0.1:1");
    let out = ctx.run_json(&unreachable);
    assert!(out["tables"][0]["stream_lag"].is_null(), "{out}");
    assert!(out["tables"][0]["stream_error"].as_str().unwrap().contains("127.0.0.1:1"), "{out}");
}

/// `status` builds its Kafka client like `stream` does: `-X` settings and `VBDA_KAFKA_*`
/// variables reach it (here they point it at the real broker past a `--brokers` that does not
/// answer), and a setting librdkafka does not know is reported, not ignored.
#[test]
fn status_reaches_kafka_through_the_same_client_settings_as_stream() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    for _ in 0..4 {
        producer.send(BaseRecord::<(), str>::to("events").partition(0).payload("{}")).unwrap();
    }
    producer.flush(std::time::Duration::from_secs(10)).unwrap();
    let ctx = TestContext::new();
    small_commits(&ctx, 1);
    let base = ["status", "--table", "bronze.video_events", "--topic", "events", "--group", "g", "--brokers", "127.0.0.1:1"];

    let through_x = format!("bootstrap.servers={brokers}");
    let mut args = base.to_vec();
    args.extend(["-X", &through_x, "-X", "client.id=vbda-status-test"]);
    let out = ctx.run_json(&args);
    assert_eq!(out["tables"][0]["stream_lag"], serde_json::json!({"events/0": 4}), "{out}");

    let out = ctx.vbda().args(base).args(["--output", "json"]).env("VBDA_KAFKA_BOOTSTRAP_SERVERS", &brokers).output().unwrap();
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["tables"][0]["stream_lag"], serde_json::json!({"events/0": 4}), "{out}");

    let mut args = base.to_vec();
    args.extend(["-X", "no.such.setting=1"]);
    let out = ctx.run_json(&args);
    assert!(out["tables"][0]["stream_error"].as_str().unwrap().contains("-X"), "{out}");
}

/// Rows of a table as sorted JSON text, without the columns that record when a run happened.
fn table_rows(ctx: &TestContext, table: &str) -> Vec<String> {
    let out = ctx.run_json(&["show", table, "--limit", "100000"]);
    let mut rows: Vec<String> = out["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.as_object().unwrap().clone();
            for volatile in ["processed_at", "quarantined_at", "ingested_at", "batch_id", "bronze_version"] {
                r.remove(volatile);
            }
            Value::Object(r).to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// After `restore`, the data and the recorded progress agree: silver restored to an earlier
/// version is caught up by the next incremental bronze-to-silver, bronze restored to before a
/// file is ingested again by the next `ingest` (once), gold restored is rebuilt by the next
/// incremental silver-to-gold; everything ends as it was before the restores.
#[test]
fn after_a_restore_incremental_runs_catch_up_and_end_where_they_were() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), line("a1", "2025-01-01", 1) + "\n" + &line("a2", "2025-01-01", 2) + "\n").unwrap();
    let first = ctx.run_json(&["ingest"]);
    let bronze_after_a = first["bronze_version"].as_i64().unwrap_or_else(|| panic!("{first}"));
    let silver_first = ctx.run_json(&["bronze-to-silver"]);
    let silver_v1 = silver_first["silver"]["version"].as_i64().unwrap();
    let gold_first = ctx.run_json(&["silver-to-gold"]);
    assert_eq!(ctx.run(&["silver-to-gold"]).code, 0, "{gold_first}");

    // A late event for 2025-01-01 and a new date.
    std::fs::write(ctx.landing().join("b.ndjson"), line("b1", "2025-01-01", 3) + "\n" + &line("b2", "2025-01-02", 4) + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["bronze-to-silver"]);
    ctx.run_json(&["silver-to-gold"]);
    let tables = ["bronze.video_events", "silver.video_events", "gold.daily_kpis", "gold.content_daily"];
    let before: Vec<Vec<String>> = tables.iter().map(|t| table_rows(&ctx, t)).collect();
    assert_eq!(event_ids(&ctx, "silver.video_events"), ["a1", "a2", "b1", "b2"]);

    // Silver back to its first version: the next incremental run rebuilds what came after.
    let out = ctx.run_json(&["restore", "silver.video_events", "--version", &silver_v1.to_string()]);
    assert_eq!(out["transactions_restored"], 1, "{out}");
    assert_eq!(event_ids(&ctx, "silver.video_events"), ["a1", "a2"]);
    let caught_up = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!(caught_up["silver_rows"], 4, "2025-01-01 (a1 a2 b1) and 2025-01-02 (b2) again: {caught_up}");
    assert_eq!(event_ids(&ctx, "silver.video_events"), ["a1", "a2", "b1", "b2"]);
    let idle = ctx.run_json(&["bronze-to-silver"]);
    assert!(idle["silver"].is_null(), "caught up: {idle}");

    // Bronze back to before b.ndjson: the next ingest reads it again, once.
    let out = ctx.run_json(&["restore", "bronze.video_events", "--version", &bronze_after_a.to_string()]);
    assert!(out["transactions_restored"].as_u64().unwrap() >= 1, "b.ndjson's record: {out}");
    assert_eq!(event_ids(&ctx, "bronze.video_events"), ["a1", "a2"]);
    let again = ctx.run_json(&["ingest"]);
    assert_eq!((again["files_ingested"].as_u64(), again["files_already_ingested"].as_u64()), (Some(1), Some(1)), "{again}");
    assert_eq!(ctx.run_json(&["ingest"])["files_ingested"], 0, "and only once");
    ctx.run_json(&["bronze-to-silver"]);

    // Gold back to its first version: the next incremental run rebuilds both dates.
    let out = ctx.run_json(&["restore", "gold.daily_kpis", "--version", "1"]);
    assert_eq!(out["transactions_restored"], 1, "{out}");
    ctx.run_json(&["silver-to-gold"]);
    let after: Vec<Vec<String>> = tables.iter().map(|t| table_rows(&ctx, t)).collect();
    for ((table, b), a) in tables.iter().zip(&before).zip(&after) {
        assert_eq!(a, b, "{table} ends as it was before the restores");
    }

    // A restore needs a target: a usage error (exit 2), like any missing argument.
    let run = ctx.run(&["restore", "silver.video_events"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// One truncated commit file: every command that reads the table exits 1 naming the file with
/// what to do, never with a backtrace (even with RUST_BACKTRACE=1); `tables` and `status` go on
/// listing the healthy tables; following the hint (move the newest commit away, rerun) heals it.
#[test]
fn a_truncated_commit_file_is_named_with_a_way_out_and_the_healthy_tables_are_still_listed() {
    let ctx = TestContext::new();
    small_commits(&ctx, 1);
    ctx.run_json(&["bronze-to-silver"]);
    let before = event_ids(&ctx, "silver.video_events");
    let commit = ctx.lakehouse().join("silver/video_events/_delta_log/00000000000000000001.json");
    let bytes = std::fs::read(&commit).unwrap();
    std::fs::write(&commit, &bytes[..bytes.len() / 2]).unwrap();
    let named = commit.display().to_string();
    for args in [
        vec!["show", "silver.video_events"],
        vec!["history", "silver.video_events"],
        vec!["check", "--table", "silver.video_events"],
        vec!["tables"],
        vec!["status"],
    ] {
        let mut cmd = ctx.vbda();
        cmd.env("RUST_BACKTRACE", "1").arg("--output").arg("json").args(&args);
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&named) && stderr.contains("is not valid JSON"), "{args:?} names the file: {stderr}");
        assert!(stderr.contains("hint: a commit cut short"), "{args:?}: {stderr}");
        for text in [&stdout, &stderr] {
            assert!(!text.contains("with_backtrace") && !text.contains("   0: "), "{args:?}: no backtrace: {text}");
        }
        let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"));
        assert_eq!((json["ok"].as_bool(), json["exit_code"].as_i64()), (Some(false), Some(1)), "{args:?}: {json}");
        if args[0] == "tables" || args[0] == "status" {
            let tables = json["tables"].as_array().unwrap();
            let bronze = tables.iter().find(|t| t["table"] == "bronze.video_events").unwrap();
            assert!(bronze.get("problem").is_none() && bronze["version"].as_i64().is_some(), "healthy tables stay listed: {json}");
            let silver = tables.iter().find(|t| t["table"] == "silver.video_events").unwrap();
            assert!(silver["problem"]["error"].as_str().unwrap().contains(&named), "{json}");
        }
    }
    // The way out the hint gives: move the newest commit away, rerun what wrote it.
    std::fs::rename(&commit, ctx.dir.path().join("damaged.json")).unwrap();
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    assert_eq!(event_ids(&ctx, "silver.video_events"), before);
    assert_eq!(ctx.run(&["tables"]).code, 0);
}
