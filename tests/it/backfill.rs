//! `vbda backfill`: the daily transforms for a range of dates, in order, resumable.

use serde_json::Value;

use crate::common::TestContext;

const DATES: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];
const TABLES: [&str; 6] = ["ad_daily", "content_daily", "daily_kpis", "device_geo_daily", "user_activity", "user_daily"];

fn lakehouse_with_three_days() -> TestContext {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    let mut args = vec!["generate", "--out", landing.to_str().unwrap(), "--content-out", "c.csv", "--events", "30000", "--late-share", "0.02", "--duplicate-share", "0.02"];
    for d in DATES {
        args.extend(["--date", d]);
    }
    ctx.run_json(&args);
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["ingest", "--content", ctx.dir.path().join("c.csv").to_str().unwrap()]);
    ctx
}

fn gold(ctx: &TestContext) -> Vec<Value> {
    let mut out = Vec::new();
    for t in TABLES {
        for d in DATES {
            out.push(ctx.run_json(&["show", &format!("gold.{t}"), "--date", d, "--limit", "100000"])["rows"].clone());
        }
    }
    out
}

#[test]
fn a_killed_backfill_resumes_where_it_stopped_and_leaves_each_date_complete_once() {
    // The reference: the same input, backfilled without interruption.
    let clean = lakehouse_with_three_days();
    let out = clean.run_json(&["backfill", "--from", DATES[0], "--to", DATES[2]]);
    assert_eq!((out["done"].as_u64(), out["skipped"].as_u64()), (Some(3), Some(0)), "{out}");
    let expected = gold(&clean);
    assert!(expected.iter().all(|rows| !rows.as_array().unwrap().is_empty()), "every table has rows on every date");
    let again = clean.run_json(&["backfill", "--from", DATES[0], "--to", DATES[2]]);
    assert_eq!(again["skipped"], 3, "a finished backfill has nothing left: {again}");

    // Killed once the first date is recorded, then rerun.
    let ctx = lakehouse_with_three_days();
    let state = ctx.lakehouse().join(format!("_vbda/backfills/{}_{}.json", DATES[0], DATES[2]));
    let mut child = ctx.vbda().args(["-q", "backfill", "--from", DATES[0], "--to", DATES[2]]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !state.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().unwrap();
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let done_before = recorded["done"].as_array().unwrap().len();
    assert!(done_before >= 1, "{recorded}");

    let rerun = ctx.run_json(&["backfill", "--from", DATES[0], "--to", DATES[2]]);
    assert_eq!(rerun["skipped"].as_u64(), Some(done_before as u64), "dates done before the kill are skipped: {rerun}");
    assert_eq!(rerun["done"].as_u64(), Some(3 - done_before as u64), "{rerun}");
    assert_eq!(gold(&ctx), expected, "each date's gold is complete and not duplicated");

    // --restart does every date again, with the same result.
    let restart = ctx.run_json(&["backfill", "--from", DATES[0], "--to", DATES[2], "--restart"]);
    assert_eq!(restart["done"], 3, "{restart}");
    assert_eq!(gold(&ctx), expected);
}

#[test]
fn backfill_needs_a_range_and_bronze() {
    let ctx = TestContext::new();
    let run = ctx.run(&["backfill"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("backfill needs --from D1 --to D2"), "{}", run.stderr);
    let run = ctx.run(&["backfill", "--from", DATES[0], "--to", DATES[1]]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("backfill stopped at 2025-01-01") && run.stderr.contains("bronze.video_events does not exist yet"), "{}", run.stderr);
}
