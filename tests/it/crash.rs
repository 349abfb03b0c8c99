//! Crash points (`VBDA_FAILPOINT`, src/failpoint.rs): every writing command is aborted at each
//! boundary of its work (before and after each Delta commit, between silver and quarantine,
//! between gold tables, around the backfill state file), as a `kill -9` would; a rerun must then
//! end with every table exactly as a run that never crashed. (The stream's points are in
//! `stream.rs`, next to its Kafka mock cluster.)

use std::os::unix::process::ExitStatusExt;

use serde_json::Value;

use crate::common::TestContext;

const TABLES: &[&str] = &[
    "bronze.video_events", "silver.content", "silver.video_events", "silver.video_events_quarantine", "gold.daily_kpis",
    "gold.content_daily", "gold.user_daily", "gold.device_geo_daily", "gold.ad_daily", "gold.user_activity",
];

/// Two days of generated events with duplicates, late and malformed lines, and the content
/// catalog: the same bytes in every context.
fn setup() -> TestContext {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    let content = ctx.dir.path().join("content.csv");
    ctx.run_json(&[
        "generate", "--out", landing.to_str().unwrap(), "--content-out", content.to_str().unwrap(), "--events", "300",
        "--files-per-day", "2", "--date", "2025-01-01", "--date", "2025-01-02", "--users", "40", "--content-items", "20",
        "--duplicate-share", "0.05", "--late-share", "0.05", "--malformed-share", "0.02", "--bad-value-share", "0.02",
    ]);
    ctx
}

fn content(ctx: &TestContext) -> String {
    ctx.dir.path().join("content.csv").to_string_lossy().into_owned()
}

/// Every table's rows as sorted JSON text, without what records when or where a run happened.
fn snapshot(ctx: &TestContext) -> Vec<(String, Vec<String>)> {
    TABLES
        .iter()
        .map(|table| {
            let run = ctx.run(&["show", table, "--limit", "1000000", "--output", "json"]);
            if run.code == 1 && run.stderr.contains("does not exist yet") {
                return (table.to_string(), vec!["<not created>".to_string()]);
            }
            let out: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{table}: {e}: {}", run.stderr));
            let mut rows: Vec<String> = out["rows"]
                .as_array()
                .unwrap_or_else(|| panic!("{table}: {out}"))
                .iter()
                .map(|r| {
                    let mut r = r.as_object().unwrap().clone();
                    for volatile in ["processed_at", "quarantined_at", "ingested_at", "loaded_at", "batch_id", "bronze_version", "source_file"] {
                        r.remove(volatile);
                    }
                    // Which copy of a duplicate arrived first depends on the order files were
                    // ingested in (each ingest starts at a random file): silver keeps the same
                    // event either way, from another line.
                    if !table.starts_with("bronze.") {
                        r.remove("source_line");
                    }
                    Value::Object(r).to_string()
                })
                .collect();
            rows.sort();
            (table.to_string(), rows)
        })
        .collect()
}

/// The whole pipeline, incremental, as a scheduler runs it.
fn pipeline(ctx: &TestContext) {
    ctx.run_json(&["ingest", "--content", &content(ctx)]);
    ctx.run_json(&["ingest", "--batch-rows", "1"]);
    ctx.run_json(&["bronze-to-silver"]);
    ctx.run_json(&["silver-to-gold"]);
}

/// Run `args` with the crash point armed: the process must die there (SIGABRT), saying so.
fn crash(ctx: &TestContext, point: &str, args: &[&str]) {
    let out = ctx.vbda().env("VBDA_FAILPOINT", point).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = point.split('#').next().unwrap();
    assert_eq!(out.status.signal(), Some(6), "{point}: {args:?} must abort there: {stderr}");
    assert!(stderr.contains(&format!("failpoint {name} reached")), "{point}: {stderr}");
}

fn assert_same(ctx: &TestContext, clean: &[(String, Vec<String>)], point: &str) {
    for ((table, want), (_, got)) in clean.iter().zip(snapshot(ctx)) {
        assert_eq!(got.len(), want.len(), "{point}: {table} row count after the rerun");
        let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(2).collect();
        let extra: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(2).collect();
        assert!(got == *want, "{point}: {table} differs from a clean run: clean only {missing:?}, rerun only {extra:?}");
    }
}

fn clean() -> Vec<(String, Vec<String>)> {
    let ctx = setup();
    pipeline(&ctx);
    let out = ctx.run_json(&["show", "silver.video_events_quarantine", "--limit", "1"]);
    assert!(out["rows"].as_array().is_some_and(|r| !r.is_empty()), "the input exercises quarantine");
    snapshot(&ctx)
}

#[test]
fn every_crash_point_of_ingest_bronze_to_silver_and_silver_to_gold_is_repaired_by_a_rerun() {
    let clean = clean();
    // (crash point, what ran before the crashed command, the crashed command)
    let ingest = ["ingest", "--batch-rows", "1"];
    let content_args: Vec<String> = vec!["ingest".into(), "--content".into(), "CONTENT".into()];
    let cases: &[(&str, usize, Vec<String>)] = &[
        ("content.before_commit", 0, content_args.clone()),
        ("content.after_commit", 0, content_args.clone()),
        ("ingest.before_commit", 1, ingest.iter().map(|s| s.to_string()).collect()),
        ("ingest.after_commit", 1, ingest.iter().map(|s| s.to_string()).collect()),
        ("ingest.before_commit#3", 1, ingest.iter().map(|s| s.to_string()).collect()),
        ("ingest.after_commit#3", 1, ingest.iter().map(|s| s.to_string()).collect()),
        ("bronze_to_silver.before_commits", 2, vec!["bronze-to-silver".into()]),
        ("bronze_to_silver.between_commits", 2, vec!["bronze-to-silver".into()]),
        ("bronze_to_silver.after_commits", 2, vec!["bronze-to-silver".into()]),
        ("silver_to_gold.before_commit", 3, vec!["silver-to-gold".into()]),
        ("silver_to_gold.after_commit", 3, vec!["silver-to-gold".into()]),
        ("silver_to_gold.before_commit#4", 3, vec!["silver-to-gold".into()]),
        ("silver_to_gold.after_commit#4", 3, vec!["silver-to-gold".into()]),
    ];
    for (point, step, command) in cases {
        let ctx = setup();
        let steps: Vec<Vec<String>> = vec![
            vec!["ingest".into(), "--content".into(), content(&ctx)],
            ingest.iter().map(|s| s.to_string()).collect(),
            vec!["bronze-to-silver".into()],
            vec!["silver-to-gold".into()],
        ];
        for done in &steps[..*step] {
            ctx.run_json(&done.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let command: Vec<String> = command.iter().map(|a| if a == "CONTENT" { content(&ctx) } else { a.clone() }).collect();
        crash(&ctx, point, &command.iter().map(String::as_str).collect::<Vec<_>>());
        // The scheduler's retry: the crashed command, then the rest of the pipeline.
        for next in &steps[*step..] {
            ctx.run_json(&next.iter().map(String::as_str).collect::<Vec<_>>());
        }
        assert_same(&ctx, &clean, point);
        // And the next scheduled runs have nothing left to do.
        let idle = ctx.run_json(&["bronze-to-silver"]);
        assert!(idle["silver"].is_null(), "{point}: bronze-to-silver caught up: {idle}");
    }
}

#[test]
fn a_backfill_crashed_around_its_state_file_resumes_to_the_same_tables() {
    let reference = {
        let ctx = setup();
        ctx.run_json(&["ingest", "--content", &content(&ctx)]);
        ctx.run_json(&["ingest"]);
        ctx.run_json(&["backfill", "--from", "2025-01-01", "--to", "2025-01-02"]);
        snapshot(&ctx)
    };
    for point in ["backfill.before_state", "backfill.after_state", "backfill.before_state#2", "bronze_to_silver.between_commits#2", "silver_to_gold.after_commit#8"] {
        let ctx = setup();
        ctx.run_json(&["ingest", "--content", &content(&ctx)]);
        ctx.run_json(&["ingest"]);
        crash(&ctx, point, &["backfill", "--from", "2025-01-01", "--to", "2025-01-02"]);
        let out = ctx.run_json(&["backfill", "--from", "2025-01-01", "--to", "2025-01-02"]);
        assert_eq!(out["done"].as_u64().unwrap() + out["skipped"].as_u64().unwrap(), 2, "{point}: {out}");
        assert_same(&ctx, &reference, point);
    }
}

#[test]
fn a_restore_crashed_before_or_after_its_commit_is_finished_by_a_rerun() {
    for point in ["restore.before_commit", "restore.after_commit"] {
        let ctx = setup();
        ctx.run_json(&["ingest", "--content", &content(&ctx)]);
        ctx.run_json(&["ingest"]);
        ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
        let one_date = snapshot(&ctx);
        ctx.run_json(&["bronze-to-silver", "--date", "2025-01-02"]);
        crash(&ctx, point, &["restore", "silver.video_events", "--version", "1"]);
        ctx.run_json(&["restore", "silver.video_events", "--version", "1"]);
        // Only silver.video_events was restored: it holds the first date again.
        let silver = |s: &[(String, Vec<String>)]| s.iter().find(|(t, _)| t == "silver.video_events").unwrap().1.clone();
        assert_eq!(silver(&snapshot(&ctx)), silver(&one_date), "{point}");
    }
}
