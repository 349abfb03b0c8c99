//! `vbda bronze-to-silver --date`: typed, validated, deduplicated, reconciled, idempotent.

use polars::prelude::*;
use vbda::catalog::Catalog;
use vbda::lake::{self, Lakehouse};

use crate::common::{TestContext, project_dir};

fn read(ctx: &TestContext, table: &str) -> DataFrame {
    ctx.table(table)
}

fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    let ca = df.column(column).unwrap().cast(&DataType::String).unwrap();
    let ca = ca.str().unwrap().clone();
    let mut out: Vec<String> = (0..ca.len()).map(|i| ca.get(i).unwrap_or("<null>").to_string()).collect();
    out.sort();
    out
}

const DAY1: &str = r#"{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T10:00:00Z","user_id":"u1","session_id":"s1","content_id":"c1","playback":{"position_s":5,"watched_s":5}}
{"event_id":"e2","event_type":"heartbeat","event_ts":"2025-01-01T23:30:00-05:00","user_id":"u1","session_id":"s1","content_id":"c1"}
{"event_id":"e3","event_type":"pause","event_ts":1735725600000,"user_id":"u2","session_id":"s2","content_id":"c2","extra":{"x":1}}
{"event_id":"e4","event_type":"play","event_ts":"2025-01-01T11:00:00+05:30","user_id":"u2","session_id":"s2","content_id":"c2","playback":{"position_s":"abc"}}
{"event_id":"e5","event_type":"play","event_ts":"2025-01-01T12:00:00Z","user_id":"u3","session_id":"s3","content_id":"c3","playback":{"position_s":-1}}
{"event_id":"e6","event_type":"teleport","event_ts":"2025-01-01T12:00:00Z","user_id":"u3","session_id":"s3"}
{"event_type":"play","event_ts":"2025-01-01T12:00:00Z","user_id":"u3","session_id":"s3","content_id":"c3"}
{"event_id":"e7","event_type":"play","event_ts":"2025-01-01T12:00:00Z","user_id":"u3","session_id":"s3"}
{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T10:00:00Z","user_id":"u1","session_id":"s1","content_id":"c1","playback":{"position_s":5,"watched_s":5}}
"#;

#[test]
fn one_date_is_typed_validated_deduplicated_and_reconciled_and_a_rerun_changes_nothing() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), DAY1).unwrap();
    ctx.run_json(&["ingest"]);
    // The same event again, later, with other content: the first arrival wins.
    std::fs::write(ctx.landing().join("b.ndjson"), DAY1.lines().next().unwrap().replace("\"position_s\":5", "\"position_s\":99")).unwrap();
    ctx.run_json(&["ingest"]);

    let out = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let day = &out["dates"]["2025-01-01"];
    assert_eq!(day["bronze_rows"], 9, "{out}");
    assert_eq!(day["silver_rows"], 2, "e1, e3: {out}");
    assert_eq!(day["duplicates"], 2, "e1 twice more: {out}");
    assert_eq!(day["quarantined"], 5, "{out}");

    let silver = read(&ctx, "silver.video_events");
    assert_eq!(strings(&silver, "event_id"), ["e1", "e3"]);
    let e1 = silver.clone().lazy().filter(col("event_id").eq(lit("e1"))).collect().unwrap();
    assert_eq!(e1.column("position_s").unwrap().f64().unwrap().get(0), Some(5.0), "first arrival wins");
    assert_eq!(strings(&silver, "event_date"), ["2025-01-01", "2025-01-01"]);

    let quarantine = read(&ctx, "silver.video_events_quarantine");
    assert_eq!(
        strings(&quarantine, "rule"),
        ["accepted_values_event_type", "not_null_content_id_playback", "not_null_event_id", "range_position_s", "type_position_s"]
    );
    let reasons = strings(&quarantine, "reason");
    assert!(reasons.contains(&r#"playback.position_s must be a number, got "abc""#.to_string()), "{reasons:?}");
    assert!(strings(&quarantine, "payload").iter().any(|p| p.contains("teleport")), "the raw payload is kept");
    assert!(strings(&quarantine, "source_file").iter().all(|f| f.ends_with("a.ndjson")));

    // e2 (23:30-05:00) belongs to 2025-01-02.
    let out2 = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-02"]);
    assert_eq!(out2["dates"]["2025-01-02"]["silver_rows"], 1, "{out2}");

    // Rerun: same rows, same counts.
    let again = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    assert_eq!(again["dates"], out["dates"]);
    let silver_again = read(&ctx, "silver.video_events");
    assert_eq!(strings(&silver_again, "event_id"), ["e1", "e2", "e3"]);
    assert_eq!(read(&ctx, "silver.video_events_quarantine").height(), 5);
}

#[test]
fn without_bronze_or_dates_the_errors_say_what_to_do() {
    let ctx = TestContext::new();
    let run = ctx.run(&["bronze-to-silver", "--date", "2025-01-01"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("bronze.video_events does not exist yet") && run.stderr.contains("hint: run `vbda ingest`"), "{}", run.stderr);
    let run = ctx.run(&["bronze-to-silver"]);
    assert_eq!(run.code, 1, "incremental needs bronze too: {}", run.stderr);
}

#[test]
fn incremental_runs_rebuild_exactly_the_dates_new_bronze_commits_touched() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), DAY1).unwrap();
    ctx.run_json(&["ingest"]);
    let first = ctx.run_json(&["bronze-to-silver"]);
    let dates: Vec<&String> = first["dates"].as_object().unwrap().keys().collect();
    assert_eq!(dates, ["2025-01-01", "2025-01-02"], "{first}");

    let idle = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!((idle["bronze_rows"].as_u64(), idle["silver"].is_null()), (Some(0), true), "nothing new: {idle}");

    // A late event for a date already built.
    let late = r#"{"event_id":"late1","event_type":"like","event_ts":"2025-01-01T08:00:00Z","user_id":"u9","session_id":"s9","content_id":"c1"}"#;
    std::fs::write(ctx.landing().join("late.ndjson"), format!("{late}\n")).unwrap();
    ctx.run_json(&["ingest"]);
    let again = ctx.run_json(&["bronze-to-silver"]);
    let dates: Vec<&String> = again["dates"].as_object().unwrap().keys().collect();
    assert_eq!(dates, ["2025-01-01"], "only the late event's date: {again}");
    assert_eq!(again["dates"]["2025-01-01"]["silver_rows"], 3, "{again}");
    assert_eq!(strings(&read(&ctx, "silver.video_events"), "event_id"), ["e1", "e2", "e3", "late1"]);
}

#[test]
fn the_content_catalog_replaces_silver_content_and_feeds_the_relationship_rule() {
    let ctx = TestContext::new();
    let csv = ctx.dir.path().join("content.csv");
    std::fs::write(&csv, "content_id,title,genre,duration_s,release_year\nc1,\"One, the film\",drama,3600,2020\nc2,Two,comedy,1800.5,\n").unwrap();
    let out = ctx.run_json(&["ingest", "--content", csv.to_str().unwrap()]);
    assert_eq!((out["rows_read"].as_u64(), out["rows_loaded"].as_u64()), (Some(2), Some(2)), "{out}");
    let content = read(&ctx, "silver.content");
    assert_eq!(strings(&content, "title"), ["One, the film", "Two"]);

    // c3 is not in the catalog: a warning, counted on the two rows that name it (both also
    // break drop rules); c1 and c2 rows pass.
    std::fs::write(ctx.landing().join("a.ndjson"), DAY1).unwrap();
    ctx.run_json(&["ingest"]);
    let silver = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let rel = silver["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "relationships").unwrap();
    assert_eq!((rel["severity"].as_str(), rel["failing_rows"].as_u64()), (Some("warn"), Some(2)), "{silver}");
    assert_eq!(silver["silver_rows"], 2);

    // A reload replaces the table; a bad value or a repeated id loads nothing.
    std::fs::write(&csv, "content_id,title,genre,duration_s,release_year\nc9,Nine,drama,60,2001\n").unwrap();
    ctx.run_json(&["ingest", "--content", csv.to_str().unwrap()]);
    assert_eq!(strings(&read(&ctx, "silver.content"), "content_id"), ["c9"]);
    std::fs::write(&csv, "content_id,title,genre,duration_s,release_year\nc1,A,drama,abc,2001\n").unwrap();
    let run = ctx.run(&["ingest", "--content", csv.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("column `duration_s` must hold double values"), "{}", run.stderr);
    std::fs::write(&csv, "content_id,title,genre,duration_s,release_year\nc1,A,drama,1,2001\nc1,B,drama,2,2002\n").unwrap();
    let run = ctx.run(&["ingest", "--content", csv.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("nothing committed") && run.stderr.contains("unique_content_id"), "{}", run.stderr);
    assert_eq!(strings(&read(&ctx, "silver.content"), "content_id"), ["c9"], "a failed load changes nothing");
}

#[test]
fn check_reports_every_rule_and_fails_on_a_broken_fail_rule() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), DAY1).unwrap();
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let out = ctx.run_json(&["check", "--table", "silver.video_events", "--date", "2025-01-01"]);
    assert_eq!(out["failed"], 0, "{out}");
    let unique = out["rules"].as_array().unwrap().iter().find(|r| r["name"] == "unique_event_id").unwrap();
    assert_eq!(unique["failing_rows"], 0);

    // Someone appends a copy of silver's rows behind vbda's back: `unique_event_id` breaks.
    let catalog = Catalog::load(&project_dir()).unwrap();
    let spec = catalog.table("silver.video_events").unwrap().clone();
    let lake = Lakehouse::new(ctx.lakehouse().to_str().unwrap(), Default::default()).unwrap();
    let rows = read(&ctx, "silver.video_events");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let t = lake.open(&spec).await.unwrap().unwrap();
        let batches = lake::df_to_batches(&rows, &lake::arrow_schema(&spec)).unwrap();
        lake::append(t, &spec, batches, lake::CommitInfo::new("test")).await.unwrap();
    });
    let (out, stderr) = ctx.run_json_code(&["check"], 1);
    assert!(stderr.contains("unique_event_id on silver.video_events"), "{stderr}");
    assert!(out["tables_missing"].as_array().unwrap().iter().any(|t| t == "gold.daily_kpis"), "{out}");
    let text = ctx.run(&["check", "--table", "silver.video_events"]);
    assert!(text.stdout.contains("unique_event_id") && text.stdout.contains("fail"), "{}", text.stdout);
}

/// SIGKILL during bronze-to-silver, then a rerun: the same silver and quarantine as a run
/// that was never interrupted.
#[test]
fn killed_mid_run_then_rerun_gives_the_same_tables_as_a_clean_run() {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    ctx.run_json(&["generate", "--out", landing.to_str().unwrap(), "--content-out", "c.csv", "--events", "20000",
        "--date", "2025-01-01", "--date", "2025-01-02", "--malformed-share", "0.02", "--duplicate-share", "0.02", "--bad-value-share", "0.02"]);
    ctx.run_json(&["ingest"]);
    let args = ["bronze-to-silver", "--from", "2025-01-01", "--to", "2025-01-02"];
    let clean = ctx.run_json(&args);
    let snapshot = |table: &str| {
        let df = read(&ctx, table);
        let mut ids = strings(&df, if table.ends_with("quarantine") { "payload" } else { "event_id" });
        ids.sort();
        (df.height(), ids)
    };
    let (silver, quarantine) = (snapshot("silver.video_events"), snapshot("silver.video_events_quarantine"));
    for delay_ms in [150u64, 400, 800, 1200] {
        let mut child = ctx.vbda().args(args).arg("-q").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let again = ctx.run_json(&args);
        assert_eq!(again["dates"], clean["dates"], "after a kill at {delay_ms} ms");
        assert_eq!(snapshot("silver.video_events"), silver, "after a kill at {delay_ms} ms");
        assert_eq!(snapshot("silver.video_events_quarantine"), quarantine, "after a kill at {delay_ms} ms");
    }
}

/// Payloads that cannot be read land in quarantine under their parse rule, a 1 MB event is
/// just an event, and every bronze row is accounted for.
#[test]
fn unreadable_payloads_are_quarantined_with_their_rule_and_nothing_is_lost() {
    use std::io::Write;
    let ctx = TestContext::new();
    let mut f = std::fs::File::create(ctx.landing().join("bad.ndjson")).unwrap();
    let ok = r#"{"event_id":"ok1","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s","content_id":"c"}"#;
    writeln!(f, "{ok}").unwrap();
    writeln!(f, r#"{{"event_id":"trunc","event_type":"play","event_ts":"2025-01-01T10:00:00Z""#).unwrap();
    f.write_all(b"{\"event_id\":\"bad\xff\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\"}\n").unwrap();
    let pad = "x".repeat(1 << 20);
    writeln!(f, r#"{{"event_id":"big","event_type":"like","event_ts":"2025-01-01T11:00:00Z","user_id":"u","session_id":"s","pad":"{pad}"}}"#).unwrap();
    writeln!(f, r#"{{"event_id":"ts","event_type":"like","event_ts":"yesterday","user_id":"u","session_id":"s"}}"#).unwrap();
    writeln!(f, "[1,2,3]").unwrap();
    // A repeated key: bronze cannot read it (ingestion date, no id); it must not become an event.
    let today = chrono::Utc::now().date_naive();
    writeln!(f, r#"{{"event_id":"dk","event_id":"dk","event_type":"like","event_ts":"{today}T00:00:01Z","user_id":"u","session_id":"s"}}"#).unwrap();
    writeln!(f, r#"{{"event_id":"neg","event_type":"heartbeat","event_ts":"2025-01-01T12:00:00Z","user_id":"u","session_id":"s","content_id":"c","playback":{{"watched_s":-4}}}}"#).unwrap();
    drop(f);
    ctx.run_json(&["ingest"]);

    let out = ctx.run_json(&["bronze-to-silver"]);
    let (bronze, silver, quarantined, duplicates) =
        (out["bronze_rows"].as_u64().unwrap(), out["silver_rows"].as_u64().unwrap(), out["quarantined"].as_u64().unwrap(), out["duplicates"].as_u64().unwrap());
    assert_eq!(bronze, 8, "{out}");
    assert_eq!(bronze, silver + quarantined + duplicates, "{out}");
    assert_eq!(strings(&read(&ctx, "silver.video_events"), "event_id"), ["big", "ok1"]);
    let quarantine = read(&ctx, "silver.video_events_quarantine");
    assert_eq!(strings(&quarantine, "rule"), ["parse_event_ts", "parse_json", "parse_json", "parse_json", "parse_utf8", "range_watched_s"]);
    let bytes = quarantine.column("payload_bytes").unwrap().binary().unwrap().clone();
    assert!(bytes.iter().flatten().any(|b| b.windows(4).any(|w| w == b"bad\xff")), "the invalid UTF-8 bytes are kept as they came");
}

/// Extreme numbers (a watched_s of 1e308, a buffer_ms of 1e15) are quarantined by the silver
/// spec's bounds with the rule and the value; gold builds and its sums stay finite.
#[test]
fn extreme_playback_numbers_are_quarantined_and_gold_stays_finite() {
    let ctx = TestContext::new();
    let ev = |id: &str, kind: &str, playback: serde_json::Value| {
        serde_json::json!({"event_id": id, "event_type": kind, "event_ts": "2025-01-01T10:00:00Z", "user_id": "u1",
            "session_id": "s1", "content_id": "c1", "playback": playback})
        .to_string()
    };
    let lines = [
        ev("x1", "heartbeat", serde_json::json!({"watched_s": 1e308, "position_s": 10})),
        ev("x2", "heartbeat", serde_json::json!({"watched_s": 1e308, "position_s": 20})),
        ev("x3", "buffer", serde_json::json!({"buffer_ms": 1_000_000_000_000_000_i64, "position_s": 20})),
        ev("x4", "heartbeat", serde_json::json!({"watched_s": 10.0, "position_s": 30})),
    ];
    std::fs::write(ctx.landing().join("extreme.ndjson"), lines.join("\n") + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    let out = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!((out["silver_rows"].as_u64(), out["quarantined"].as_u64()), (Some(1), Some(3)), "{out}");
    let q = ctx.run_json(&["show", "silver.video_events_quarantine", "--date", "2025-01-01"]);
    let mut reasons: Vec<(String, String)> =
        q["rows"].as_array().unwrap().iter().map(|r| (r["rule"].as_str().unwrap().into(), r["reason"].as_str().unwrap().into())).collect();
    reasons.sort();
    assert_eq!(reasons[0], ("range_buffer_ms".into(), "buffer_ms 1000000000000000 is outside [0, 86400000]".into()), "{reasons:?}");
    assert_eq!(reasons[1], ("range_watched_s".into(), "watched_s 1e+308 is outside [0, 604800]".into()), "{reasons:?}");
    let gold = ctx.run(&["silver-to-gold", "--date", "2025-01-01"]);
    assert_eq!(gold.code, 0, "{}", gold.stderr);
    let kpis = ctx.run_json(&["show", "gold.daily_kpis", "--date", "2025-01-01"]);
    let watch = kpis["rows"][0]["watch_time_s"].as_f64().unwrap_or_else(|| panic!("{kpis}"));
    assert_eq!(watch, 10.0, "{kpis}");
}

/// One event_id sent twice on 2025-03-01 and once more re-stamped onto 2025-03-02: a run over
/// both dates (and the incremental run) gives exactly what one run per date gives; the
/// repeated id's rows are deduplicated and checked per date, not as one frame.
#[test]
fn a_retry_restamped_onto_the_next_date_does_not_block_a_run_over_both_dates() {
    let ev = |ts: &str, watched: u32| {
        serde_json::json!({"event_id": "r1", "event_type": "heartbeat", "event_ts": ts, "user_id": "u1",
            "session_id": "s1", "content_id": "c1", "playback": {"watched_s": watched, "position_s": 1}})
        .to_string()
    };
    let other = r#"{"event_id":"o1","event_type":"play","event_ts":"2025-03-02T01:00:00Z","user_id":"u2","session_id":"s2","content_id":"c1"}"#;
    let lines = [ev("2025-03-01T23:59:00Z", 1), ev("2025-03-01T23:59:00Z", 2), ev("2025-03-02T00:00:10Z", 3), other.to_string()];
    let runs: [&[&[&str]]; 3] = [
        &[&["bronze-to-silver", "--date", "2025-03-01"], &["bronze-to-silver", "--date", "2025-03-02"]],
        &[&["bronze-to-silver", "--from", "2025-03-01", "--to", "2025-03-02"]],
        &[&["bronze-to-silver"]],
    ];
    let mut results = Vec::new();
    for run in runs {
        let ctx = TestContext::new();
        std::fs::write(ctx.landing().join("retry.ndjson"), lines.join("\n") + "\n").unwrap();
        ctx.run_json(&["ingest"]);
        let mut counts = serde_json::Map::new();
        for args in run {
            let out = ctx.run_json(args);
            counts.extend(out["dates"].as_object().unwrap().clone());
        }
        let silver = read(&ctx, "silver.video_events");
        let sorted = silver.lazy().sort(["event_date", "event_id"], Default::default()).collect().unwrap();
        let text = |c: &str| sorted.column(c).unwrap().cast(&DataType::String).unwrap().str().unwrap().clone();
        let (d, i) = (text("event_date"), text("event_id"));
        let by_date: Vec<String> = d.iter().zip(i.iter()).map(|(d, i)| format!("{} {}", d.unwrap(), i.unwrap())).collect();
        let watched: Vec<Option<f64>> = sorted.column("watched_s").unwrap().f64().unwrap().iter().collect();
        results.push((serde_json::Value::Object(counts), by_date, watched));
    }
    let (counts, rows, watched) = &results[0];
    assert_eq!(counts["2025-03-01"]["duplicates"], 1, "{counts}");
    assert_eq!(counts["2025-03-02"]["silver_rows"], 2, "{counts}");
    assert_eq!(rows, &["2025-03-01 r1", "2025-03-02 o1", "2025-03-02 r1"]);
    assert_eq!(watched, &[Some(1.0), None, Some(3.0)], "first arrival wins on 03-01, the re-stamped retry stays on 03-02");
    assert_eq!(results[1], results[0], "--from/--to gives what one run per date gives");
    assert_eq!(results[2], results[0], "the incremental run gives what one run per date gives");
}

/// Event times outside 2000..2099 (a clock reset to 1970, milliseconds that were microseconds,
/// the end of chrono's calendar) are quarantined under `range_event_ts` with the value; the
/// run, its rerun and gold go on.
#[test]
fn event_times_outside_the_spec_bounds_are_quarantined_with_the_rule() {
    let ctx = TestContext::new();
    let line = |id: &str, ts: serde_json::Value| {
        serde_json::json!({"event_id": id, "event_type": "like", "event_ts": ts, "user_id": "u1", "session_id": "s1", "content_id": "c1"}).to_string()
    };
    let micros_as_millis = 1_735_725_600_000_000_i64; // 2025-01-01 in microseconds: year ~57000 as milliseconds
    let lines = [
        line("ok", serde_json::json!("2025-01-01T10:00:00Z")),
        line("epoch", serde_json::json!(0)),
        line("unit", serde_json::json!(micros_as_millis)),
        line("far", serde_json::json!("2150-06-01T00:00:00Z")),
        line("edge", serde_json::json!("2099-12-31T23:59:59Z")),
    ];
    std::fs::write(ctx.landing().join("times.ndjson"), lines.join("\n") + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    let out = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!((out["silver_rows"].as_u64(), out["quarantined"].as_u64()), (Some(2), Some(3)), "{out}");
    let rule = out["rules"].as_array().unwrap().iter().find(|r| r["name"] == "range_event_ts").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(rule["failing_rows"], 3, "{out}");
    let q = read(&ctx, "silver.video_events_quarantine");
    assert_eq!(strings(&q, "rule"), ["range_event_ts", "range_event_ts", "range_event_ts"]);
    let reasons = strings(&q, "reason");
    assert!(reasons.iter().all(|r| r.starts_with("event_ts ") && r.ends_with("is outside [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("1970-01-01")), "{reasons:?}");
    assert_eq!(strings(&read(&ctx, "silver.video_events"), "event_id"), ["edge", "ok"]);
    let again = ctx.run_json(&["bronze-to-silver", "--date", "1970-01-01"]);
    assert_eq!(again["dates"]["1970-01-01"]["quarantined"], 1, "a rerun gives the same verdict: {again}");
    assert_eq!(ctx.run(&["silver-to-gold"]).code, 0);
}

#[test]
fn a_date_without_bronze_rows_writes_nothing_says_so_and_other_waiting_dates_are_named() {
    let ctx = TestContext::new();
    let line = |id: &str, ts: &str| format!("{{\"event_id\":\"{id}\",\"event_type\":\"like\",\"event_ts\":\"{ts}\",\"user_id\":\"u\",\"session_id\":\"s\"}}");
    let lines = [
        line("a1", "2025-01-01T10:00:00Z"),
        line("a2", "2025-01-01T11:00:00Z"),
        "{not json".to_string(),
        "{\"event_id\":\"a3\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T12:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\",\"playback\":{\"position_s\":\"ten\"}}".to_string(),
        line("a4", "not a time"),
        line("b1", "2025-01-02T10:00:00Z"),
    ];
    std::fs::write(ctx.landing().join("a.ndjson"), lines.join("\n") + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    let silver_version = |ctx: &TestContext| ctx.run_json(&["describe", "silver.video_events"])["version"].as_i64();

    let out = ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    // Every quarantined row under the rule that sent it, the parse rules included.
    let by_rule = out["quarantined_by_rule"].as_object().unwrap_or_else(|| panic!("{out}"));
    let sum: u64 = by_rule.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(sum, out["quarantined"].as_u64().unwrap(), "{out}");
    assert!(by_rule.keys().any(|k| k.starts_with("type_")), "{out}");
    assert_eq!(out["dates"]["2025-01-01"]["quarantined_by_rule"].as_object().map(|m| m.len()), Some(by_rule.len()), "{out}");
    // 2025-01-02, and the ingestion date the unreadable lines sit under, are still waiting.
    let pending: Vec<&str> = out["other_dates_pending"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(pending.contains(&"2025-01-02") && !pending.contains(&"2025-01-01"), "{out}");
    let text = ctx.run(&["bronze-to-silver", "--date", "2025-01-01"]);
    assert!(text.stdout.contains("quarantined by rule:") && text.stdout.contains("run `vbda bronze-to-silver` (no dates)"), "{}", text.stdout);
    let before = silver_version(&ctx);
    assert!(before.is_some_and(|v| v > 0));

    // A date bronze has nothing of: exit 0, nothing written however often it is rerun, and said.
    for _ in 0..2 {
        let out = ctx.run_json(&["bronze-to-silver", "--date", "2030-01-01"]);
        assert_eq!(out["dates_without_bronze"], serde_json::json!(["2030-01-01"]), "{out}");
        assert!(out["silver"].is_null(), "{out}");
    }
    assert_eq!(silver_version(&ctx), before, "no empty versions");
    let run = ctx.run(&["bronze-to-silver", "--date", "2030-01-01"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("bronze has no rows of 2030-01-01") && run.stderr.contains("mistyped"), "{}\n{}", run.stdout, run.stderr);

    // The same for gold.
    ctx.run_json(&["silver-to-gold", "--date", "2025-01-01"]);
    let gold = |ctx: &TestContext| ctx.run_json(&["describe", "gold.daily_kpis"])["version"].as_i64();
    let before = gold(&ctx);
    assert!(before.is_some_and(|v| v > 0));
    for _ in 0..2 {
        let out = ctx.run_json(&["silver-to-gold", "--date", "2030-01-01"]);
        assert_eq!(out["dates_without_silver"], serde_json::json!(["2030-01-01"]), "{out}");
        assert!(out["models"].as_array().unwrap().iter().all(|m| m["write"].is_null()), "{out}");
    }
    assert_eq!(gold(&ctx), before, "no empty gold versions");
}
