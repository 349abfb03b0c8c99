//! `vbda silver-to-gold`: every gold metric on hand-made events, worked out by hand below;
//! incremental runs that pick up late events; reruns and SIGKILL that change nothing.

use serde_json::{Value, json};

use crate::common::TestContext;

const D1: &str = "2025-01-01";
const D2: &str = "2025-01-02";
const D3: &str = "2025-01-03";
const D10: &str = "2025-01-10";

/// One event line. `extra` is merged into the base fields.
fn ev(id: &str, ty: &str, ts: Value, user: &str, session: &str, extra: Value) -> String {
    let mut e = json!({"event_id": id, "event_type": ty, "event_ts": ts, "user_id": user, "session_id": session});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e.to_string()
}

fn pb(position: f64, duration: f64, watched: Option<f64>) -> Value {
    match watched {
        Some(w) => json!({"position_s": position, "duration_s": duration, "watched_s": w}),
        None => json!({"position_s": position, "duration_s": duration}),
    }
}

/// The hand-made event set. Sessions:
/// - s1 (u1, mobile/US): plays c1 (100 s) to position 90, exactly 90%: a completed view; 50 + 45 s watched,
///   one 2 s stall, bitrates 3000 and 5000; a like; an ad a1/k1 impression and completion.
/// - s2 (u2, tablet/IN, times with a +05:30 offset, ad events in epoch milliseconds): plays c2
///   (200 s) to 60: not completed; an error on c2 (a failed view); a share; ad a1/k1
///   impression and click; ad a2 (no campaign) impression and skip.
/// - s3 (u3, smart_tv, no geo, times with a -08:00 offset): plays c3 (1000 s) at 23:50 UTC on
///   D1, watches 540 s before midnight and 660 s after, so D2 has c3 watch time but no c3
///   view; then plays c4 (not in the catalog, 50 s) to the end on D2.
/// - s4 (u4, no device, no geo): one like of c1 on D3, no play: zero denominators.
/// - u3 likes c1 on D10; on D10, u1, u2 and u4 have been idle 7 days or more.
/// Unknown extra fields ride along on e02.
fn events() -> String {
    let s1 = |id: &str, ty: &str, ts: &str, extra: Value| {
        let mut extra = extra;
        extra["device"] = json!({"type": "mobile", "os": "ios", "app_version": "1.0"});
        extra["geo"] = json!({"country": "US"});
        ev(id, ty, json!(ts), "u1", "s1", extra)
    };
    let s2 = |id: &str, ty: &str, ts: Value, extra: Value| {
        let mut extra = extra;
        extra["device"] = json!({"type": "tablet"});
        extra["geo"] = json!({"country": "IN", "city": "Mumbai"});
        ev(id, ty, ts, "u2", "s2", extra)
    };
    let s3 = |id: &str, ty: &str, ts: &str, extra: Value| {
        let mut extra = extra;
        extra["device"] = json!({"type": "smart_tv"});
        ev(id, ty, json!(ts), "u3", "s3", extra)
    };
    // 2025-01-01T00:00:00Z in epoch milliseconds.
    let day1_ms: i64 = 1_735_689_600_000;
    let at = |h: i64, m: i64, s: i64| json!(day1_ms + ((h * 60 + m) * 60 + s) * 1000);
    let lines = vec![
        s1("e01", "session_start", "2025-01-01T10:00:00Z", json!({})),
        s1("e02", "play", "2025-01-01T10:00:05Z", json!({"content_id": "c1", "playback": {"position_s": 0, "duration_s": 100, "bitrate_kbps": 3000}, "sdk": {"name": "x", "v": [1, 2]}, "tracking_id": 7})),
        s1("e03", "heartbeat", "2025-01-01T10:01:00Z", json!({"content_id": "c1", "playback": {"position_s": 50, "duration_s": 100, "watched_s": 50, "bitrate_kbps": 5000}})),
        s1("e04", "buffer", "2025-01-01T10:01:30Z", json!({"content_id": "c1", "playback": {"position_s": 50, "duration_s": 100, "buffer_ms": 2000}})),
        // Exactly 90%: completed (0.9 * 100 is 90.00000000000001 in floating point).
        s1("e05", "heartbeat", "2025-01-01T10:02:00Z", json!({"content_id": "c1", "playback": pb(90.0, 100.0, Some(45.0))})),
        s1("e06", "like", "2025-01-01T10:03:00Z", json!({"content_id": "c1"})),
        s1("e16", "ad_impression", "2025-01-01T10:04:00Z", json!({"ad": {"ad_id": "a1", "campaign_id": "k1", "position": "midroll", "duration_s": 15}})),
        s1("e17", "ad_complete", "2025-01-01T10:04:30Z", json!({"ad": {"ad_id": "a1", "campaign_id": "k1", "position": "midroll", "duration_s": 15}})),
        s2("e10", "play", json!("2025-01-01T15:30:00+05:30"), json!({"content_id": "c2", "playback": pb(0.0, 200.0, None)})),
        s2("e11", "heartbeat", json!("2025-01-01T15:31:00+05:30"), json!({"content_id": "c2", "playback": pb(60.0, 200.0, Some(60.0))})),
        s2("e12", "error", json!("2025-01-01T15:32:00+05:30"), json!({"content_id": "c2", "error": {"code": "E42", "message": "decoder"}})),
        s2("e13", "ad_impression", at(10, 5, 0), json!({"ad": {"ad_id": "a1", "campaign_id": "k1", "position": "preroll"}})),
        s2("e14", "ad_click", at(10, 5, 10), json!({"ad": {"ad_id": "a1", "campaign_id": "k1", "position": "preroll"}})),
        s2("e18", "ad_impression", at(10, 6, 0), json!({"ad": {"ad_id": "a2", "position": "postroll"}})),
        s2("e19", "ad_skip", at(10, 6, 10), json!({"ad": {"ad_id": "a2", "position": "postroll"}})),
        s2("e15", "share", json!("2025-01-01T15:37:00+05:30"), json!({"content_id": "c2"})),
        s3("e20", "play", "2025-01-01T15:50:00-08:00", json!({"content_id": "c3", "playback": pb(0.0, 1000.0, None)})),
        s3("e21", "heartbeat", "2025-01-01T15:59:00-08:00", json!({"content_id": "c3", "playback": pb(540.0, 1000.0, Some(540.0))})),
        s3("e22", "heartbeat", "2025-01-01T16:10:00-08:00", json!({"content_id": "c3", "playback": pb(1000.0, 1000.0, Some(660.0))})),
        s3("e23", "session_end", "2025-01-01T16:11:00-08:00", json!({})),
        s3("e24", "play", "2025-01-01T16:12:00-08:00", json!({"content_id": "c4", "playback": pb(0.0, 50.0, None)})),
        s3("e25", "heartbeat", "2025-01-01T16:13:00-08:00", json!({"content_id": "c4", "playback": pb(50.0, 50.0, Some(50.0))})),
        ev("e40", "like", json!("2025-01-03T09:00:00Z"), "u4", "s4", json!({"content_id": "c1"})),
        ev("e50", "like", json!("2025-01-10T12:00:00Z"), "u3", "s9", json!({"content_id": "c1", "device": {"type": "smart_tv"}})),
    ];
    lines.join("\n") + "\n"
}

const CONTENT: &str = "content_id,title,genre,duration_s,release_year\nc1,One,drama,100,2020\nc2,Two,comedy,200,2021\nc3,Three,drama,1000,2022\n";

/// Ingest the events (and a later copy of e03 with other numbers), the catalog, and silver.
fn lakehouse_with_events() -> TestContext {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), events()).unwrap();
    ctx.run_json(&["ingest"]);
    // A duplicate of e03, ingested later: the first arrival (50 s watched) wins.
    let dup = events().lines().find(|l| l.contains("\"e03\"")).unwrap().replace("\"watched_s\":50", "\"watched_s\":999");
    assert!(dup.contains("999"), "{dup}");
    std::fs::write(ctx.landing().join("b.ndjson"), dup + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    let csv = ctx.dir.path().join("content.csv");
    std::fs::write(&csv, CONTENT).unwrap();
    ctx.run_json(&["ingest", "--content", csv.to_str().unwrap()]);
    let silver = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!((silver["silver_rows"].as_u64(), silver["duplicates"].as_u64(), silver["quarantined"].as_u64()), (Some(24), Some(1), Some(0)), "{silver}");
    ctx
}

/// The rows of a table (one date), as `vbda show --output json` prints them.
fn rows(ctx: &TestContext, table: &str, date: &str) -> Vec<Value> {
    let out = ctx.run_json(&["show", table, "--date", date, "--limit", "1000"]);
    out["rows"].as_array().unwrap().clone()
}

fn one(ctx: &TestContext, table: &str, date: &str) -> Value {
    let r = rows(ctx, table, date);
    assert_eq!(r.len(), 1, "{table} {date}: {r:?}");
    r[0].clone()
}

/// The row whose `key` column equals `value` (null for the "unknown" group).
fn find(rows: &[Value], key: &str, value: Value) -> Value {
    rows.iter().find(|r| r[key] == value).cloned().unwrap_or_else(|| panic!("no row with {key} = {value}: {rows:?}"))
}

/// Assert each `(column, expected)`; floats to 1e-9, `Value::Null` for null.
fn expect(row: &Value, expected: &[(&str, Value)]) {
    for (column, want) in expected {
        let got = &row[*column];
        let same = match (got.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => got == want,
        };
        assert!(same, "{column}: got {got}, want {want} in {row}");
    }
}

#[test]
fn every_gold_metric_matches_the_hand_computed_value() {
    let ctx = lakehouse_with_events();
    let out = ctx.run_json(&["silver-to-gold"]);
    assert_eq!(out["incremental"], true, "{out}");
    let models: Vec<&str> = out["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["ad_daily", "content_daily", "daily_kpis", "device_geo_daily", "user_activity", "user_daily"]);

    // ---- daily_kpis -------------------------------------------------------------------
    // D1: users u1 u2 u3; views (s1,c1) (s2,c2) (s3,c3); only (s1,c1) reaches 90% (90/100);
    // watch 50 + 45 + 60 + 540 = 695; stall 2 s; (s2,c2) had an error; 3 impressions
    // (e13 e16 e18), 1 click, 1 complete; 1 like, 1 share. The duplicate e03 (999 s) lost.
    expect(&one(&ctx, "gold.daily_kpis", D1), &[
        ("active_users", json!(3)), ("sessions", json!(3)), ("views", json!(3)), ("completed_views", json!(1)),
        ("completion_rate", json!(1.0 / 3.0)), ("watch_time_s", json!(695.0)), ("buffer_time_s", json!(2.0)),
        ("rebuffer_ratio", json!(2.0 / 697.0)), ("failed_views", json!(1)), ("playback_failure_rate", json!(1.0 / 3.0)),
        ("ad_impressions", json!(3)), ("ad_clicks", json!(1)), ("ad_completes", json!(1)),
        ("ad_ctr", json!(1.0 / 3.0)), ("ad_completion_rate", json!(1.0 / 3.0)),
        ("likes", json!(1)), ("shares", json!(1)), ("comments", json!(0)), ("subscribes", json!(0)),
    ]);
    // D2: only s3 after midnight: 660 s of c3 (no play of c3 on D2, so no view) and c4
    // played to the end (50/50): 1 view, completed. No stall: rebuffer 0/710 = 0. No ads: null.
    expect(&one(&ctx, "gold.daily_kpis", D2), &[
        ("active_users", json!(1)), ("sessions", json!(1)), ("views", json!(1)), ("completed_views", json!(1)),
        ("completion_rate", json!(1.0)), ("watch_time_s", json!(710.0)), ("buffer_time_s", json!(0.0)),
        ("rebuffer_ratio", json!(0.0)), ("failed_views", json!(0)), ("playback_failure_rate", json!(0.0)),
        ("ad_impressions", json!(0)), ("ad_ctr", Value::Null), ("ad_completion_rate", Value::Null),
    ]);
    // D3: one like and nothing else: every ratio has a zero denominator and is null.
    expect(&one(&ctx, "gold.daily_kpis", D3), &[
        ("active_users", json!(1)), ("views", json!(0)), ("completion_rate", Value::Null), ("watch_time_s", json!(0.0)),
        ("rebuffer_ratio", Value::Null), ("playback_failure_rate", Value::Null), ("ad_ctr", Value::Null), ("likes", json!(1)),
    ]);
    assert!(rows(&ctx, "gold.daily_kpis", "2025-01-05").is_empty(), "no silver, no row");

    // ---- content_daily ----------------------------------------------------------------
    let d1 = rows(&ctx, "gold.content_daily", D1);
    assert_eq!(d1.len(), 3, "{d1:?}");
    expect(&find(&d1, "content_id", json!("c1")), &[
        ("title", json!("One")), ("genre", json!("drama")), ("views", json!(1)), ("unique_viewers", json!(1)),
        ("watch_time_s", json!(95.0)), ("completed_views", json!(1)), ("completion_rate", json!(1.0)), ("likes", json!(1)),
        ("dislikes", json!(0)), ("shares", json!(0)), ("comments", json!(0)),
    ]);
    expect(&find(&d1, "content_id", json!("c2")), &[
        ("title", json!("Two")), ("views", json!(1)), ("watch_time_s", json!(60.0)), ("completed_views", json!(0)),
        ("completion_rate", json!(0.0)), ("shares", json!(1)),
    ]);
    expect(&find(&d1, "content_id", json!("c3")), &[("views", json!(1)), ("watch_time_s", json!(540.0)), ("completion_rate", json!(0.0))]);
    let d2 = rows(&ctx, "gold.content_daily", D2);
    assert_eq!(d2.len(), 2, "{d2:?}");
    expect(&find(&d2, "content_id", json!("c3")), &[
        ("views", json!(0)), ("unique_viewers", json!(0)), ("watch_time_s", json!(660.0)), ("completion_rate", Value::Null),
    ]);
    // c4 is not in the catalog: null title and genre, and a relationships warning.
    expect(&find(&d2, "content_id", json!("c4")), &[
        ("title", Value::Null), ("genre", Value::Null), ("views", json!(1)), ("completed_views", json!(1)), ("completion_rate", json!(1.0)),
    ]);
    let content_model = out["models"].as_array().unwrap().iter().find(|m| m["model"] == "content_daily").unwrap();
    let rel = content_model["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "relationships").unwrap();
    assert_eq!((rel["severity"].as_str(), rel["failing_rows"].as_u64()), (Some("warn"), Some(1)), "{content_model}");

    // ---- user_daily -------------------------------------------------------------------
    let d1 = rows(&ctx, "gold.user_daily", D1);
    expect(&find(&d1, "user_id", json!("u1")), &[
        ("sessions", json!(1)), ("views", json!(1)), ("watch_time_s", json!(95.0)), ("distinct_content", json!(1)),
        ("ad_clicks", json!(0)), ("interactions", json!(1)), ("last_event_ts", json!("2025-01-01T10:04:30Z")),
    ]);
    expect(&find(&d1, "user_id", json!("u2")), &[
        ("views", json!(1)), ("watch_time_s", json!(60.0)), ("ad_clicks", json!(1)), ("interactions", json!(1)),
        ("last_event_ts", json!("2025-01-01T10:07:00Z")),
    ]);
    expect(&find(&d1, "user_id", json!("u3")), &[("watch_time_s", json!(540.0)), ("last_event_ts", json!("2025-01-01T23:59:00Z"))]);
    expect(&one(&ctx, "gold.user_daily", D2), &[
        ("user_id", json!("u3")), ("sessions", json!(1)), ("views", json!(1)), ("watch_time_s", json!(710.0)),
        ("distinct_content", json!(1)), ("last_event_ts", json!("2025-01-02T00:13:00Z")),
    ]);

    // ---- device_geo_daily -------------------------------------------------------------
    let d1 = rows(&ctx, "gold.device_geo_daily", D1);
    assert_eq!(d1.len(), 3, "{d1:?}");
    expect(&find(&d1, "device_type", json!("mobile")), &[
        ("country", json!("US")), ("active_users", json!(1)), ("views", json!(1)), ("watch_time_s", json!(95.0)),
        ("buffer_time_s", json!(2.0)), ("rebuffer_ratio", json!(2.0 / 97.0)), ("avg_bitrate_kbps", json!(4000.0)),
        ("errors", json!(0)), ("failed_views", json!(0)), ("playback_failure_rate", json!(0.0)),
    ]);
    expect(&find(&d1, "device_type", json!("tablet")), &[
        ("country", json!("IN")), ("views", json!(1)), ("avg_bitrate_kbps", Value::Null), ("errors", json!(1)),
        ("failed_views", json!(1)), ("playback_failure_rate", json!(1.0)),
    ]);
    // No geo: the "unknown" country is a group of its own.
    expect(&find(&d1, "device_type", json!("smart_tv")), &[("country", Value::Null), ("views", json!(1)), ("watch_time_s", json!(540.0))]);
    expect(&one(&ctx, "gold.device_geo_daily", D3), &[
        ("device_type", Value::Null), ("country", Value::Null), ("active_users", json!(1)), ("views", json!(0)),
        ("rebuffer_ratio", Value::Null), ("playback_failure_rate", Value::Null),
    ]);

    // ---- ad_daily ---------------------------------------------------------------------
    let d1 = rows(&ctx, "gold.ad_daily", D1);
    assert_eq!(d1.len(), 2, "{d1:?}");
    expect(&find(&d1, "ad_id", json!("a1")), &[
        ("campaign_id", json!("k1")), ("impressions", json!(2)), ("clicks", json!(1)), ("skips", json!(0)), ("completes", json!(1)),
        ("ctr", json!(0.5)), ("completion_rate", json!(0.5)), ("skip_rate", json!(0.0)),
    ]);
    expect(&find(&d1, "ad_id", json!("a2")), &[
        ("campaign_id", Value::Null), ("impressions", json!(1)), ("skips", json!(1)), ("ctr", json!(0.0)), ("skip_rate", json!(1.0)),
    ]);
    assert!(rows(&ctx, "gold.ad_daily", D2).is_empty());

    // ---- user_activity ----------------------------------------------------------------
    let d2 = rows(&ctx, "gold.user_activity", D2);
    assert_eq!(d2.len(), 3, "u1 u2 u3: {d2:?}");
    expect(&find(&d2, "user_id", json!("u3")), &[
        ("active_days_7d", json!(2)), ("active_days_28d", json!(2)), ("watch_time_7d_s", json!(1250.0)),
        ("watch_time_28d_s", json!(1250.0)), ("last_active_date", json!(D2)), ("days_since_last_active", json!(0)), ("churn_risk", json!(false)),
    ]);
    expect(&find(&d2, "user_id", json!("u1")), &[
        ("active_days_7d", json!(1)), ("watch_time_7d_s", json!(95.0)), ("last_active_date", json!(D1)), ("days_since_last_active", json!(1)),
    ]);
    // D10: the 7-day window is [01-04, 01-10]. u4 was last active on 01-03, exactly 7 days
    // before: idle for the whole window, so at risk; u3 came back on D10.
    let d10 = rows(&ctx, "gold.user_activity", D10);
    assert_eq!(d10.len(), 4, "{d10:?}");
    expect(&find(&d10, "user_id", json!("u1")), &[
        ("active_days_7d", json!(0)), ("active_days_28d", json!(1)), ("watch_time_7d_s", json!(0.0)), ("watch_time_28d_s", json!(95.0)),
        ("last_active_date", json!(D1)), ("days_since_last_active", json!(9)), ("churn_risk", json!(true)),
    ]);
    expect(&find(&d10, "user_id", json!("u4")), &[("active_days_7d", json!(0)), ("days_since_last_active", json!(7)), ("churn_risk", json!(true))]);
    expect(&find(&d10, "user_id", json!("u3")), &[
        ("active_days_7d", json!(1)), ("active_days_28d", json!(3)), ("watch_time_7d_s", json!(0.0)), ("watch_time_28d_s", json!(1250.0)),
        ("last_active_date", json!(D10)), ("days_since_last_active", json!(0)), ("churn_risk", json!(false)),
    ]);
    // Incremental builds as-of dates that have silver; an explicit date without events
    // still gets its window (u1..u4 as of 01-05).
    assert!(rows(&ctx, "gold.user_activity", "2025-01-05").is_empty());
    ctx.run_json(&["silver-to-gold", "--date", "2025-01-05", "--model", "user_activity"]);
    assert_eq!(rows(&ctx, "gold.user_activity", "2025-01-05").len(), 4);

    // The gold specs' rules hold on what was written.
    let check = ctx.run_json(&["check", "--table", "gold.daily_kpis"]);
    assert_eq!(check["failed"], 0, "{check}");
}

#[test]
fn a_late_event_is_picked_up_by_the_next_incremental_run_and_only_its_dates_are_rebuilt() {
    let ctx = lakehouse_with_events();
    ctx.run_json(&["silver-to-gold"]);
    let idle = ctx.run_json(&["silver-to-gold"]);
    assert!(idle["models"].as_array().unwrap().iter().all(|m| m["write"].is_null()), "nothing new: {idle}");

    // Late for D1: u1 subscribes, and u5 starts a view of c1 in a new session (no device).
    let late = [
        ev("e30", "subscribe", json!("2025-01-01T11:00:00Z"), "u1", "s1", json!({"device": {"type": "mobile"}, "geo": {"country": "US"}})),
        ev("e31", "play", json!("2025-01-01T12:00:00Z"), "u5", "s5", json!({"content_id": "c1", "playback": pb(0.0, 100.0, Some(10.0))})),
    ];
    std::fs::write(ctx.landing().join("late.ndjson"), late.join("\n") + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["bronze-to-silver"]);
    let out = ctx.run_json(&["silver-to-gold"]);
    for m in out["models"].as_array().unwrap() {
        let dates: Vec<&str> = m["dates"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
        let want: &[&str] = if m["model"] == "user_activity" { &[D1, D2, D3, D10] } else { &[D1] };
        assert_eq!(dates, want, "{m}");
    }
    expect(&one(&ctx, "gold.daily_kpis", D1), &[
        ("active_users", json!(4)), ("sessions", json!(4)), ("views", json!(4)), ("completed_views", json!(1)),
        ("completion_rate", json!(0.25)), ("watch_time_s", json!(705.0)), ("subscribes", json!(1)),
    ]);
    let d10 = rows(&ctx, "gold.user_activity", D10);
    expect(&find(&d10, "user_id", json!("u5")), &[("days_since_last_active", json!(9)), ("churn_risk", json!(true))]);
    // Untouched dates keep their version-1 rows: D2 was not rewritten.
    expect(&one(&ctx, "gold.daily_kpis", D2), &[("views", json!(1))]);
}

#[test]
fn reruns_and_a_single_model_give_the_same_tables() {
    let ctx = lakehouse_with_events();
    let all = ["ad_daily", "content_daily", "daily_kpis", "device_geo_daily", "user_activity", "user_daily"];
    let snapshot = |ctx: &TestContext| -> Vec<Vec<Value>> {
        let mut out = Vec::new();
        for t in all {
            for d in [D1, D2, D3, D10] {
                out.push(rows(ctx, &format!("gold.{t}"), d));
            }
        }
        out
    };
    let range = ["silver-to-gold", "--from", D1, "--to", D10];
    let first = ctx.run_json(&range);
    let before = snapshot(&ctx);
    let second = ctx.run_json(&range);
    assert_eq!(snapshot(&ctx), before, "a rerun changes nothing");
    for (a, b) in first["models"].as_array().unwrap().iter().zip(second["models"].as_array().unwrap()) {
        assert_eq!(a["rows_per_date"], b["rows_per_date"]);
        assert_eq!(b["write"]["version"].as_i64(), a["write"]["version"].as_i64().map(|v| v + 1), "one commit per table per run");
    }
    // --model rebuilds one table only.
    let one_model = ctx.run_json(&["silver-to-gold", "--date", D1, "--model", "gold.daily_kpis"]);
    assert_eq!(one_model["models"].as_array().unwrap().len(), 1, "{one_model}");
    assert_eq!(snapshot(&ctx), before);
}

#[test]
fn bad_requests_fail_with_a_clear_message() {
    let ctx = TestContext::new();
    let run = ctx.run(&["silver-to-gold", "--date", D1]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("silver.video_events does not exist yet") && run.stderr.contains("vbda bronze-to-silver"), "{}", run.stderr);

    let ctx = lakehouse_with_events();
    let run = ctx.run(&["silver-to-gold", "--date", D1, "--model", "nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no such gold model: `nope`") && run.stderr.contains("daily_kpis"), "{}", run.stderr);
    let run = ctx.run(&["silver-to-gold", "--date", "2025-02-30"]);
    assert_eq!(run.code, 2, "a date that does not exist is a usage error: {}", run.stderr);
    let run = ctx.run(&["silver-to-gold", "--from", D2, "--to", D1]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is after --to"), "{}", run.stderr);
    let run = ctx.run(&["show", "gold.nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no such table"), "{}", run.stderr);
}

/// A model whose SQL does not match its table, or breaks a `fail` rule, commits nothing.
#[test]
fn a_broken_model_commits_nothing() {
    let ctx = lakehouse_with_events();
    let project = ctx.dir.path().join("project");
    copy_dir(&crate::common::project_dir().join("tables"), &project.join("tables"));
    copy_dir(&crate::common::project_dir().join("jobs"), &project.join("jobs"));
    let sql = project.join("jobs/daily_kpis.sql");
    let original = std::fs::read_to_string(&sql).unwrap();
    let with_project = |args: &[&str]| {
        let out = ctx.vbda().env("VBDA_PROJECT", &project).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    std::fs::write(&sql, original.replace("    subscribes\nFROM joined", "    subscribes AS subscriptions\nFROM joined")).unwrap();
    let (code, stderr) = with_project(&["silver-to-gold", "--date", D1]);
    assert_eq!(code, Some(1), "{stderr}");
    // Found by the model planning every transform starts with, before any data is read.
    assert!(stderr.contains("returns column `subscriptions`") && stderr.contains("did you mean `subscribes`?"), "{stderr}");
    assert!(stderr.contains("does not return gold.daily_kpis's column(s) subscribes"), "{stderr}");

    // completion_rate > 1 breaks a fail rule of gold.daily_kpis.
    std::fs::write(&sql, original.replace("CAST(completed_views AS DOUBLE) / views END AS completion_rate", "2.0 END AS completion_rate")).unwrap();
    let (code, stderr) = with_project(&["silver-to-gold", "--date", D1]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("gold model daily_kpis") && stderr.contains("range_completion_rate"), "{stderr}");
    for table in ["ad_daily", "content_daily", "daily_kpis", "device_geo_daily", "user_activity", "user_daily"] {
        let out = ctx.run_json(&["show", &format!("gold.{table}")]);
        assert_eq!(out["total_rows"], 0, "nothing was written, not even by the models that passed: {out}");
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// SIGKILL during silver-to-gold, then a rerun: the same gold as a run never interrupted.
#[test]
fn killed_mid_run_then_rerun_gives_the_same_gold_as_a_clean_run() {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    ctx.run_json(&["generate", "--out", landing.to_str().unwrap(), "--content-out", "c.csv", "--events", "20000",
        "--date", D1, "--date", D2, "--duplicate-share", "0.02", "--late-share", "0.02"]);
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["ingest", "--content", ctx.dir.path().join("c.csv").to_str().unwrap()]);
    ctx.run_json(&["bronze-to-silver"]);
    let args = ["silver-to-gold", "--from", D1, "--to", D2];
    let tables = ["ad_daily", "content_daily", "daily_kpis", "device_geo_daily", "user_activity", "user_daily"];
    let snapshot = |ctx: &TestContext| -> Vec<Value> {
        tables.iter().flat_map(|t| [D1, D2].map(|d| ctx.run_json(&["show", &format!("gold.{t}"), "--date", d, "--limit", "100000"])["rows"].clone())).collect()
    };
    ctx.run_json(&args);
    let clean = snapshot(&ctx);
    assert!(clean.iter().all(|rows| !rows.as_array().unwrap().is_empty()), "every table has rows on both dates");
    for delay_ms in [100u64, 300, 600, 900] {
        let mut child = ctx.vbda().args(args).arg("-q").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        ctx.run_json(&args);
        assert_eq!(snapshot(&ctx), clean, "after a kill at {delay_ms} ms");
    }
}

/// Event times at the very ends of the calendar (epoch milliseconds near chrono's limits):
/// incremental silver-to-gold once panicked adding the lookback window to such a date. Every
/// run succeeds, and the ordinary date's gold is built as usual.
#[test]
fn event_times_at_the_ends_of_the_calendar_do_not_stop_incremental_gold() {
    let ctx = TestContext::new();
    let last = chrono::NaiveDate::MAX.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
    let first = chrono::NaiveDate::MIN.and_hms_opt(23, 0, 0).unwrap().and_utc().timestamp_millis();
    let line = |id: &str, ts: Value| {
        json!({"event_id": id, "event_type": "play", "event_ts": ts, "user_id": "u1", "session_id": "s1", "content_id": "c1"}).to_string()
    };
    let lines = [line("e1", json!("2025-01-01T10:00:00Z")), line("e2", json!(last)), line("e3", json!(first))];
    std::fs::write(ctx.landing().join("ends.ndjson"), lines.join("\n") + "\n").unwrap();
    ctx.run_json(&["ingest"]);
    let silver = ctx.run_json(&["bronze-to-silver"]);
    let accounted = silver["silver_rows"].as_u64().unwrap() + silver["quarantined"].as_u64().unwrap();
    assert_eq!(accounted, 3, "{silver}");
    for _ in 0..2 {
        let gold = ctx.run(&["silver-to-gold"]);
        assert_eq!(gold.code, 0, "{}", gold.stderr);
    }
    let kpis = ctx.run_json(&["show", "gold.daily_kpis", "--date", "2025-01-01"]);
    assert_eq!(kpis["rows"].as_array().map(Vec::len), Some(1), "{kpis}");
}

#[test]
fn check_shows_warnings_and_failures_grouped_with_sample_keys_then_one_line_of_counts() {
    let ctx = lakehouse_with_events();
    ctx.run_json(&["silver-to-gold"]);
    // c4 is played but not in the catalog: silver's and content_daily's `warn` relationships
    // rules find its events (e24, e25) and its gold row.
    let out = ctx.run_json(&["check"]);
    assert_eq!((out["warned"].as_u64(), out["failed"].as_u64()), (Some(2), Some(0)), "{out}");
    let rules = out["rules"].as_array().unwrap();
    let warn = |table: &str| rules.iter().find(|r| r["status"] == "warn" && r["table"] == table).unwrap_or_else(|| panic!("{table}: {out}"));
    let gold = warn("gold.content_daily");
    assert_eq!((gold["rule"].as_str(), gold["failing_rows"].as_u64()), (Some("relationships"), Some(1)), "{gold}");
    assert_eq!(gold["sample_keys"], json!(["date=2025-01-02, content_id=c4"]), "{gold}");
    assert_eq!(warn("silver.video_events")["sample_keys"], json!(["event_id=e24", "event_id=e25"]));
    assert_eq!(out["passed"].as_u64().unwrap() + 2, rules.len() as u64, "{out}");

    let run = ctx.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // Only the warnings, under their tables, with sample keys; then the counts.
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    assert_eq!((lines[0], lines[3]), ("silver.video_events", "gold.content_daily"), "{}", run.stdout);
    assert!(lines[4].starts_with("  WARN  relationships_content_id (warn relationships on content_id): 1 row"), "{}", run.stdout);
    assert_eq!(lines[5].trim(), "e.g. date=2025-01-02, content_id=c4", "{}", run.stdout);
    let passed = out["passed"].as_u64().unwrap();
    assert!(lines[6].starts_with(&format!("Done. PASS={passed} WARN=2 FAIL=0 SKIP=0")), "{}", run.stdout);
    // --all: every rule, passing ones too.
    let all = ctx.run(&["check", "--all"]);
    assert_eq!(all.stdout.lines().filter(|l| l.trim_start().starts_with("PASS ")).count() as u64, passed, "{}", all.stdout);

    // The same rule as `fail`: FAIL, exit 1, the counts still printed.
    let project = crate::common::project_copy(&ctx);
    let spec = project.join("tables/gold/content_daily.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let at = text.find("rule = \"relationships\"").unwrap();
    let fixed = format!("{}{}", &text[..at], text[at..].replacen("severity = \"warn\"", "severity = \"fail\"", 1));
    std::fs::write(&spec, fixed).unwrap();
    let run = ctx.run(&["--project", project.to_str().unwrap(), "check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("  FAIL  ") && run.stdout.contains("WARN=1 FAIL=1"), "{}", run.stdout);
    assert!(run.stderr.contains("1 `fail` rule(s) failed") && run.stderr.contains("gold.content_daily"), "{}", run.stderr);
}

#[test]
fn sql_queries_tables_by_name_prunes_date_partitions_and_writes_each_format() {
    let ctx = lakehouse_with_events();
    ctx.run_json(&["silver-to-gold"]);
    let q = |sql: &str| ctx.run_json(&["sql", sql]);

    let all = q("SELECT date, active_users FROM gold.daily_kpis ORDER BY date");
    let dates: Vec<&str> = all["rows"].as_array().unwrap().iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert_eq!(dates, [D1, D2, D3, D10], "{all}");
    assert!(all["tables"][0]["partitions"].is_null(), "no WHERE: every partition read: {all}");
    assert_eq!(all["rows"][0]["active_users"], one(&ctx, "gold.daily_kpis", D1)["active_users"]);

    // A date predicate reads only that partition, with the same answer.
    let d2 = q(&format!("SELECT * FROM gold.daily_kpis WHERE date = '{D2}'"));
    assert_eq!(d2["tables"][0]["partitions"], json!([D2]), "{d2}");
    assert_eq!(Value::Object(d2["rows"][0].as_object().unwrap().clone()), one(&ctx, "gold.daily_kpis", D2));
    let range = q(&format!("SELECT COUNT(*) AS n FROM gold.daily_kpis WHERE date BETWEEN '{D2}' AND '{D10}' AND active_users >= 0"));
    assert_eq!((range["rows"][0]["n"].as_u64(), range["tables"][0]["partitions"].clone()), (Some(3), json!([D2, D3, D10])), "{range}");
    // Not provably safe (OR): every partition is read, and the answer is still right.
    let or = q(&format!("SELECT COUNT(*) AS n FROM gold.daily_kpis WHERE date = '{D1}' OR date = '{D3}'"));
    assert_eq!((or["rows"][0]["n"].as_u64(), or["tables"][0]["partitions"].is_null()), (Some(2), true), "{or}");
    // Two tables in one query.
    let join = q(&format!(
        "SELECT k.date, COUNT(*) AS users FROM gold.daily_kpis k JOIN gold.user_daily u ON k.date = u.date WHERE k.date = '{D1}' GROUP BY k.date"
    ));
    assert_eq!(join["rows"][0]["users"].as_u64(), Some(rows(&ctx, "gold.user_daily", D1).len() as u64), "{join}");
    assert_eq!(join["tables"].as_array().unwrap().len(), 2);

    // Formats: CSV with a header, JSON lines, Parquet to a file; an earlier version.
    let csv = ctx.run(&["sql", "SELECT date, sessions FROM gold.daily_kpis ORDER BY date", "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!((lines.len(), lines[0]), (5, "date,sessions"), "{}", csv.stdout);
    let json_lines = ctx.run(&["sql", "SELECT date FROM gold.daily_kpis ORDER BY date", "--format", "json"]);
    let first: Value = serde_json::from_str(json_lines.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first, json!({"date": D1}));
    let out = ctx.dir.path().join("kpis.parquet");
    let v = ctx.run_json(&["sql", "SELECT * FROM gold.daily_kpis", "--format", "parquet", "--out", out.to_str().unwrap()]);
    assert_eq!(v["total_rows"], 4);
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&out).unwrap()).finish().unwrap();
    assert_eq!(df.height(), 4);
    let text = ctx.run(&["sql", "SELECT date FROM gold.daily_kpis ORDER BY date"]);
    assert!(text.stdout.starts_with("date\n2025-01-01\n") && text.stdout.trim_end().ends_with("4 rows"), "{}", text.stdout);
    let v1 = ctx.run_json(&["sql", "SELECT COUNT(*) AS n FROM gold.daily_kpis", "--at-version", "0"]);
    assert_eq!((v1["rows"][0]["n"].as_u64(), v1["tables"][0]["version"].as_i64()), (Some(0), Some(0)), "{v1}");

    // Errors say what to do; none dumps a query plan.
    let (e, _) = ctx.run_json_code(&["sql", "SELECT * FROM daily_kpis"], 1);
    assert!(e["error"].as_str().unwrap().contains("names no catalog table") && e["hint"].as_str().unwrap().contains("gold.daily_kpis"), "{e}");
    let (e, _) = ctx.run_json_code(&["sql", "SELECT no_such_column FROM gold.daily_kpis"], 1);
    assert!(e["error"].as_str().unwrap().contains("no_such_column") && !e["error"].as_str().unwrap().contains("Resolved plan"), "{e}");
    let (e, _) = ctx.run_json_code(&["sql", "SELECT * FROM gold.daily_kpis", "--format", "parquet"], 1);
    assert!(e["hint"].as_str().unwrap().contains("--out"), "{e}");
    let (e, _) = ctx.run_json_code(&["sql", "SELECT * FROM gold.daily_kpis", "--at-version", "99"], 1);
    assert!(e["error"].as_str().unwrap().contains("no version 99"), "{e}");
}

#[test]
fn a_failed_check_says_ok_false_in_its_json_summary() {
    let ctx = lakehouse_with_events();
    ctx.run_json(&["silver-to-gold"]);
    let project = crate::common::project_copy(&ctx);
    let spec = project.join("tables/gold/content_daily.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let at = text.find("rule = \"relationships\"").unwrap();
    std::fs::write(&spec, format!("{}{}", &text[..at], text[at..].replacen("severity = \"warn\"", "severity = \"fail\"", 1))).unwrap();
    let (v, _) = ctx.run_json_code(&["--project", project.to_str().unwrap(), "check"], 1);
    assert_eq!((v["ok"].clone(), v["exit_code"].clone(), v["failed"].clone()), (false.into(), 1.into(), 1.into()), "{v}");
    assert!(v["error"].as_str().unwrap().contains("`fail` rule"), "{v}");
}
