//! A property: for random mixes of valid events, duplicates (on the same date and re-stamped
//! onto other dates), late events and bad lines over three dates, every grouping of `--date`,
//! `--from/--to` and incremental bronze-to-silver runs gives the same silver and quarantine as
//! one run per date. `VBDA_PROPERTY_CASES` sets how many mixes (default 4).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::common::TestContext;

const DATES: [&str; 3] = ["2025-03-01", "2025-03-02", "2025-03-03"];

#[derive(Debug, Clone)]
struct Line {
    id: u8,
    date: usize,
    minute: u16,
    kind: u8,
    /// 0: the first file; 1: a second file ingested later (late arrivals, retries).
    file: usize,
}

fn line() -> impl Strategy<Value = Line> {
    (0u8..10, 0usize..3, 0u16..1440, 0u8..8, 0usize..2).prop_map(|(id, date, minute, kind, file)| Line { id, date, minute, kind, file })
}

fn text(l: &Line) -> String {
    let ts = format!("{}T{:02}:{:02}:00Z", DATES[l.date], l.minute / 60, l.minute % 60);
    let id = format!("id{}", l.id);
    match l.kind {
        // A bad value (quarantined by range_position_s), an unknown event type, a malformed line.
        5 => json!({"event_id": id, "event_type": "play", "event_ts": ts, "user_id": "u", "session_id": "s", "content_id": "c", "playback": {"position_s": -1}}).to_string(),
        6 => json!({"event_id": id, "event_type": "teleport", "event_ts": ts, "user_id": "u", "session_id": "s"}).to_string(),
        7 => format!("{{\"event_id\":\"{id}\",\"event_ts\":\"{ts}\""),
        // Valid events; the watched time tells which arrival of an id won.
        _ => json!({"event_id": id, "event_type": "heartbeat", "event_ts": ts, "user_id": "u", "session_id": "s", "content_id": "c",
            "playback": {"position_s": l.minute, "watched_s": l.kind}})
        .to_string(),
    }
}

/// Silver and quarantine, sorted, without what records when or where a run happened.
fn silver(ctx: &TestContext) -> Vec<Vec<String>> {
    ["silver.video_events", "silver.video_events_quarantine"]
        .iter()
        .map(|table| {
            let run = ctx.run(&["show", table, "--limit", "100000", "--output", "json"]);
            if run.code != 0 {
                return vec![format!("<{}>", run.stderr.lines().next().unwrap_or_default())];
            }
            let out: Value = serde_json::from_str(run.stdout.trim()).unwrap();
            let mut rows: Vec<String> = out["rows"]
                .as_array()
                .unwrap()
                .iter()
                // Lines bronze could not read sit under their ingestion date, which only an
                // incremental run (or that date named) rebuilds: the property is about the
                // event dates.
                .filter(|r| DATES.iter().any(|d| r["event_date"] == *d))
                .map(|r| {
                    let mut r = r.as_object().unwrap().clone();
                    for volatile in ["processed_at", "quarantined_at", "ingested_at", "batch_id", "bronze_version", "source_file"] {
                        r.remove(volatile);
                    }
                    Value::Object(r).to_string()
                })
                .collect();
            rows.sort();
            rows
        })
        .collect()
}

/// One grouping: `steps` are "ingest N" (write file N to the landing folder and ingest it) or a
/// bronze-to-silver command line.
fn run(lines: &[Line], steps: &[&[&str]]) -> Vec<Vec<String>> {
    let ctx = TestContext::new();
    for step in steps {
        if step[0] == "ingest" {
            let file: usize = step[1].parse().unwrap();
            let body: String = lines.iter().filter(|l| l.file == file).map(|l| text(l) + "\n").collect();
            if !body.is_empty() {
                std::fs::write(ctx.landing().join(format!("f{file}.ndjson")), body).unwrap();
                ctx.run_json(&["ingest"]);
            }
            continue;
        }
        let out = ctx.run(&[step, &["--output", "json"][..]].concat());
        assert_eq!(out.code, 0, "{step:?}: {}", out.stderr);
    }
    silver(&ctx)
}

#[test]
fn any_grouping_of_dates_and_runs_gives_the_silver_of_one_run_per_date() {
    let cases = std::env::var("VBDA_PROPERTY_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(4);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, max_shrink_iters: 32, ..Config::default() });
    let b2s = "bronze-to-silver";
    runner
        .run(&proptest::collection::vec(line(), 4..24), |lines| {
            let per_date = run(&lines, &[&["ingest", "0"], &["ingest", "1"], &[b2s, "--date", DATES[0]], &[b2s, "--date", DATES[1]], &[b2s, "--date", DATES[2]]]);
            let groupings: [&[&[&str]]; 3] = [
                &[&["ingest", "0"], &["ingest", "1"], &[b2s, "--from", DATES[0], "--to", DATES[2]]],
                &[&["ingest", "0"], &[b2s], &["ingest", "1"], &[b2s]],
                &[&["ingest", "0"], &[b2s, "--from", DATES[0], "--to", DATES[1]], &["ingest", "1"], &[b2s, "--date", DATES[2]], &[b2s, "--from", DATES[0], "--to", DATES[1]]],
            ];
            for steps in groupings {
                let got = run(&lines, steps);
                prop_assert_eq!(&got, &per_date, "grouping {:?}", steps);
            }
            Ok(())
        })
        .unwrap();
}
