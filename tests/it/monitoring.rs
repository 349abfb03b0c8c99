//! Metrics of every command (`--metrics-file`, `--pushgateway`, `vbda status --metrics`),
//! checked by `promtool check metrics` and pushed to a real Pushgateway (Debian's
//! `prometheus-pushgateway`) that the test starts on a free port.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;

/// Two dates, a duplicate, and rows for three quarantine rules (one a parse rule).
const EVENTS: &str = r#"{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T10:00:00Z","user_id":"u1","session_id":"s1","content_id":"c1","playback":{"position_s":5,"watched_s":5}}
{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T10:00:00Z","user_id":"u1","session_id":"s1","content_id":"c1","playback":{"position_s":5,"watched_s":5}}
{"event_id":"e2","event_type":"pause","event_ts":"2025-01-01T10:01:00Z","user_id":"u1","session_id":"s1","content_id":"c1","playback":{"position_s":65,"watched_s":60}}
{"event_id":"e3","event_type":"teleport","event_ts":"2025-01-01T10:02:00Z","user_id":"u2","session_id":"s2","content_id":"c1"}
{"event_id":"e4","event_type":"play","event_ts":"2025-01-01T10:03:00Z","user_id":"u2","session_id":"s2"}
{"event_id":"e6","event_type":"pause","event_ts":"2025-01-01T10:04:00Z","user_id":"u2","session_id":"s2","content_id":"c1","playback":{"position_s":"abc","watched_s":1}}
{"event_id":"e5","event_type":"play","event_ts":"2025-01-02T08:00:00Z","user_id":"u3","session_id":"s3","content_id":"c2","playback":{"position_s":1,"watched_s":1}}
"#;

/// `promtool check metrics` on the text: it must pass (lint warnings included).
pub fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}\non:\n{text}"
    );
}

/// The value of the sample whose line starts with `series` (name and labels exactly).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn landed(ctx: &TestContext) {
    std::fs::write(ctx.landing().join("a.ndjson"), EVENTS).unwrap();
}

#[test]
fn a_batch_run_writes_its_counts_to_the_metrics_file_for_the_textfile_collector() {
    let ctx = TestContext::new();
    landed(&ctx);
    let dir = ctx.dir.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let ingest_file = dir.join("vbda_ingest.prom");
    let out = ctx.run_json(&["ingest", "--metrics-file", ingest_file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&ingest_file).unwrap();
    promtool_check(&text);
    assert_eq!(
        sample(&text, r#"vbda_run_success{command="ingest"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"vbda_run_rows_read{command="ingest"}"#),
        Some(out["rows"].as_f64().unwrap()),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"vbda_table_version{command="ingest",table="bronze.video_events"}"#),
        out["bronze_version"].as_f64(),
        "{text}"
    );

    let file = dir.join("vbda_bronze_to_silver.prom");
    let out = ctx.run_json(&[
        "bronze-to-silver",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
        "--metrics-file",
        file.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&file).unwrap();
    promtool_check(&text);
    let run = |name: &str| sample(&text, &format!(r#"{name}{{command="bronze-to-silver"}}"#));
    assert_eq!(run("vbda_run_success"), Some(1.0), "{text}");
    assert_eq!(run("vbda_run_exit_code"), Some(0.0), "{text}");
    assert_eq!(run("vbda_run_rows_read"), Some(7.0), "{text}");
    assert_eq!(run("vbda_run_rows_duplicate"), Some(1.0), "{text}");
    assert!(
        run("vbda_run_duration_seconds").is_some_and(|s| s > 0.0 && s < 600.0),
        "{text}"
    );
    let finished = run("vbda_run_finished_timestamp_seconds").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - finished).abs() < 600.0, "{finished} vs {now}");
    // Quarantined rows by rule: the same counts as the run's summary, and their sum.
    let by_rule = out["quarantined_by_rule"].as_object().unwrap();
    assert!(by_rule.len() >= 3, "{out}");
    for (rule, n) in by_rule {
        let series =
            format!(r#"vbda_run_rows_quarantined{{command="bronze-to-silver",rule="{rule}"}}"#);
        assert_eq!(sample(&text, &series), n.as_f64(), "{series} in\n{text}");
    }
    let silver_version = out["silver"]["version"].as_f64().unwrap();
    assert_eq!(
        sample(&text, r#"vbda_table_version{command="bronze-to-silver",table="silver.video_events"}"#),
        Some(silver_version),
        "{text}"
    );
    let silver_rows = out["silver"]["rows"].as_f64().unwrap();
    let written =
        r#"vbda_run_rows_written{command="bronze-to-silver",table="silver.video_events"}"#;
    assert_eq!(sample(&text, written), Some(silver_rows), "{text}");
    // Each expectation evaluated, with its severity.
    assert!(text.contains(r#"vbda_run_expectation_failing_rows{command="bronze-to-silver",table="silver.video_events",expectation="accepted_values_event_type",severity="drop"} 1"#), "{text}");
    // Written under a temporary name and renamed: nothing else is left in the folder.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // The gold run, then a failing run: the file says it failed, with its exit code.
    let gold = dir.join("vbda_silver_to_gold.prom");
    ctx.run_json(&[
        "silver-to-gold",
        "--date",
        "2025-01-01",
        "--metrics-file",
        gold.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&gold).unwrap();
    promtool_check(&text);
    assert!(
        sample(&text, r#"vbda_table_version{command="silver-to-gold",table="gold.daily_kpis"}"#).is_some(),
        "{text}"
    );
    let failed = ctx.run(&[
        "silver-to-gold",
        "--model",
        "no_such_model",
        "--metrics-file",
        gold.to_str().unwrap(),
    ]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let text = std::fs::read_to_string(&gold).unwrap();
    promtool_check(&text);
    assert_eq!(
        sample(&text, r#"vbda_run_success{command="silver-to-gold"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"vbda_run_exit_code{command="silver-to-gold"}"#),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn metrics_settings_that_cannot_work_fail_before_the_command_runs() {
    let ctx = TestContext::new();
    landed(&ctx);
    let missing = ctx.dir.path().join("no/such/folder/vbda.prom");
    let (out, stderr) =
        ctx.run_json_code(&["ingest", "--metrics-file", missing.to_str().unwrap()], 1);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert_eq!(out["ok"], false);
    assert!(
        !ctx.lakehouse().join("bronze").exists(),
        "nothing was ingested"
    );
    for bad in [
        "127.0.0.1:9091",
        "ftp://127.0.0.1:9091",
        "http://user:hunter2@127.0.0.1:9091/?x=1",
    ] {
        let run = ctx.run(&["ingest", "--pushgateway", bad]);
        assert_eq!(run.code, 1, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--pushgateway"), "{}", run.stderr);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    assert!(
        !ctx.lakehouse().join("bronze").exists(),
        "nothing was ingested"
    );
    // From the environment too.
    let run = ctx
        .vbda()
        .args(["ingest"])
        .env("VBDA_METRICS_FILE", missing.to_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
}

#[test]
fn an_unreachable_pushgateway_is_a_warning_and_the_run_keeps_its_exit_code() {
    let ctx = TestContext::new();
    landed(&ctx);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://metrics:hunter2@127.0.0.1:{port}");
    let run = ctx.run(&["ingest", "--pushgateway", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot push metrics to the Pushgateway"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.lakehouse()
            .join("bronze/video_events/_delta_log")
            .exists()
    );
    // --show-settings shows the URL without its password.
    let shown = ctx.run(&["ingest", "--pushgateway", &url, "--show-settings"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("pushgateway") && !shown.stdout.contains("hunter2"),
        "{}",
        shown.stdout
    );
}

/// A Pushgateway of its own on a free port, stopped on drop.
struct Pushgateway {
    child: Child,
    addr: String,
}

impl Pushgateway {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (Debian package; scripts/test.sh installs it)");
        let gateway = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while gateway.get("/-/ready").is_none_or(|b| !b.contains("OK")) {
            assert!(Instant::now() < deadline, "the Pushgateway did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        gateway
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut s = std::net::TcpStream::connect(&self.addr).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        (head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"))
            .then(|| body.to_string())
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_command_pushes_its_own_group_to_a_real_pushgateway() {
    let gateway = Pushgateway::start();
    let url = format!("http://{}", gateway.addr);
    let ctx = TestContext::new();
    landed(&ctx);
    let ingested = ctx.run_json(&["ingest", "--pushgateway", &url]);
    let bronze_version = ingested["bronze_version"].as_i64().unwrap();
    // Run by Airflow: the DAG and task become labels (and part of the group).
    let run = ctx
        .vbda()
        .args([
            "bronze-to-silver",
            "--date",
            "2025-01-01",
            "--pushgateway",
            &url,
        ])
        .env("AIRFLOW_CTX_DAG_ID", "vbda_daily")
        .env("AIRFLOW_CTX_TASK_ID", "bronze_to_silver")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // A failing run replaces its own group only.
    let failed = ctx
        .vbda()
        .args(["silver-to-gold", "--model", "nope"])
        .env("VBDA_PUSHGATEWAY", &url)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));

    let page = gateway.get("/metrics").expect("the Pushgateway's /metrics");
    let has = |needle: &str| assert!(page.contains(needle), "{needle} not in\n{page}");
    has(r#"vbda_run_success{command="ingest",instance="",job="vbda"} 1"#);
    has(
        r#"vbda_run_success{command="bronze-to-silver",dag_id="vbda_daily",instance="",job="vbda",task_id="bronze_to_silver"} 1"#,
    );
    has(
        r#"vbda_run_rows_quarantined{command="bronze-to-silver",dag_id="vbda_daily",instance="",job="vbda",rule="accepted_values_event_type",task_id="bronze_to_silver"} 1"#,
    );
    has(r#"vbda_run_exit_code{command="silver-to-gold",instance="",job="vbda"} 1"#);
    has(&format!(
        r#"vbda_table_version{{command="ingest",instance="",job="vbda",table="bronze.video_events"}} {bronze_version}"#
    ));
    // A rerun replaces the group (PUT), it does not add to it.
    ctx.run_json(&["ingest", "--pushgateway", &url]);
    let page = gateway.get("/metrics").unwrap();
    let lines = page
        .lines()
        .filter(|l| l.starts_with(r#"vbda_run_success{command="ingest""#))
        .count();
    assert_eq!(lines, 1, "{page}");
    let only_vbda: String = page
        .lines()
        .filter(|l| {
            l.starts_with("vbda_") || l.starts_with("# HELP vbda_") || l.starts_with("# TYPE vbda_")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    promtool_check(&only_vbda);
}

#[test]
fn status_prints_freshness_and_sizes_as_metrics() {
    let ctx = TestContext::new();
    landed(&ctx);
    let bronze = ctx.run_json(&["ingest"])["bronze_version"].as_f64();
    let silver =
        ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"])["silver"]["version"].as_f64();
    let run = ctx.run(&["status", "--metrics"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout;
    promtool_check(&text);
    assert_eq!(
        sample(&text, r#"vbda_table_version{table="bronze.video_events"}"#),
        bronze,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"vbda_table_rows{table="bronze.video_events"}"#),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"vbda_table_version{table="silver.video_events"}"#),
        silver,
        "{text}"
    );
    // Silver's newest data is its newest event time, on 2025-01-01 (2025-01-02 not built yet).
    let newest = sample(
        &text,
        r#"vbda_table_newest_data_timestamp_seconds{table="silver.video_events"}"#,
    )
    .unwrap();
    assert!(
        (1_735_689_600.0..1_735_776_000.0).contains(&newest),
        "{newest}: {text}"
    );
    let committed = sample(
        &text,
        r#"vbda_table_last_commit_timestamp_seconds{table="silver.video_events"}"#,
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - committed).abs() < 600.0, "{committed} vs {now}");
    // Tables not created yet have no samples (not zeros that would look fresh or empty).
    assert!(!text.contains(r#"table="gold.daily_kpis""#), "{text}");
    // An unknown table is still an error.
    let bad = ctx.run(&["status", "--metrics", "--table", "gold.nope"]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
}

fn quality_log(ctx: &TestContext, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["check", "--history"];
    all.extend(args);
    let out = ctx.run_json(&all);
    out["rows"].as_array().unwrap().clone()
}

#[test]
fn writing_runs_log_every_rule_per_date_and_check_history_reads_it() {
    let ctx = TestContext::new();
    landed(&ctx);
    let empty = ctx.run(&["check", "--history"]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stdout.contains("empty"), "{}", empty.stdout);
    let bronze_version = ctx.run_json(&["ingest"])["bronze_version"]
        .as_i64()
        .unwrap();
    let out = ctx.run_json(&[
        "bronze-to-silver",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
    ]);
    let silver_version = out["silver"]["version"].as_i64().unwrap();

    // Every rule on every date, passing ones too.
    let rows = quality_log(&ctx, &["--all"]);
    let find = |rule: &str, date: &str| {
        rows.iter()
            .find(|r| r["rule"] == rule && r["date"] == date)
            .unwrap_or_else(|| panic!("{rule} on {date} not in {rows:#?}"))
            .clone()
    };
    let bad_type = find("accepted_values_event_type", "2025-01-01");
    assert_eq!(
        (
            bad_type["rows_failing"].as_i64(),
            bad_type["severity"].as_str()
        ),
        (Some(1), Some("drop")),
        "{bad_type}"
    );
    assert_eq!(bad_type["table"], "silver.video_events");
    assert_eq!(bad_type["command"], "bronze-to-silver");
    assert_eq!(bad_type["table_version"].as_i64(), Some(silver_version));
    assert_eq!(
        bad_type["source_versions"]["bronze.video_events"], bronze_version,
        "{bad_type}"
    );
    let next_day = find("accepted_values_event_type", "2025-01-02");
    assert_eq!(
        (
            next_day["rows_failing"].as_i64(),
            next_day["rows_checked"].as_i64()
        ),
        (Some(0), Some(1)),
        "{next_day}"
    );
    // The parse rule that quarantined the row whose position was text, with the date's bronze rows.
    let parse = find("type_position_s", "2025-01-01");
    assert_eq!(
        (
            parse["rows_failing"].as_i64(),
            parse["rows_checked"].as_i64()
        ),
        (Some(1), Some(6)),
        "{parse}"
    );
    // The log's failing rows add up to what the run quarantined, per rule.
    for (rule, n) in out["quarantined_by_rule"].as_object().unwrap() {
        let logged: i64 = rows
            .iter()
            .filter(|r| &r["rule"] == rule)
            .map(|r| r["rows_failing"].as_i64().unwrap())
            .sum();
        assert_eq!(Some(logged), n.as_i64(), "{rule}");
    }
    // Without --all: only the rules that found rows.
    let failing = quality_log(&ctx, &[]);
    assert!(
        !failing.is_empty()
            && failing
                .iter()
                .all(|r| r["rows_failing"].as_i64().unwrap() > 0),
        "{failing:?}"
    );

    // Gold's rules too, per date; a rerun adds a run (the log is a history).
    ctx.run_json(&["silver-to-gold", "--date", "2025-01-01"]);
    ctx.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let gold = quality_log(&ctx, &["--all", "--table", "gold.daily_kpis"]);
    assert!(
        !gold.is_empty()
            && gold
                .iter()
                .all(|r| r["command"] == "silver-to-gold" && r["date"] == "2025-01-01"),
        "{gold:?}"
    );
    let newest = quality_log(&ctx, &["--all", "--last", "1"]);
    // (A rule that could not be evaluated, here the relationship to a content table not loaded, has no date.)
    assert!(
        newest.iter().all(|r| r["command"] == "bronze-to-silver"
            && (r["date"] == "2025-01-01" || r["rows_failing"].is_null())),
        "{newest:?}"
    );
    let runs = ctx.run_json(&["check", "--history", "--all", "--last", "100"]);
    assert_eq!(runs["runs"], 3, "{runs}");
    let by_date = quality_log(&ctx, &["--all", "--last", "100", "--date", "2025-01-02"]);
    assert!(
        !by_date.is_empty() && by_date.iter().all(|r| r["date"] == "2025-01-02"),
        "{by_date:?}"
    );
    // The text form names the rule and its counts.
    let text = ctx.run(&["check", "--history"]);
    assert!(
        text.stdout.contains("accepted_values_event_type") && text.stdout.contains("RULE"),
        "{}",
        text.stdout
    );
    // An unknown table is an error with the known ones.
    let bad = ctx.run(&["check", "--history", "--table", "gold.nope"]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
}

/// A `fail` rule that stops a run still reaches the metrics (for the alert on it), with the
/// run's exit code; nothing is committed and nothing is logged.
#[test]
fn a_fail_rule_that_stops_the_run_is_in_its_metrics() {
    let ctx = TestContext::new();
    landed(&ctx);
    let project = crate::common::project_copy(&ctx);
    crate::common::edit(
        &project.join("tables/silver/video_events.toml"),
        "rule = \"accepted_values\"\ncolumn = \"event_type\"\nseverity = \"drop\"",
        "rule = \"accepted_values\"\ncolumn = \"event_type\"\nseverity = \"fail\"",
    );
    let file = ctx.dir.path().join("b2s.prom");
    let run = |args: &[&str]| ctx.vbda().args(args).env("VBDA_PROJECT", &project).output().unwrap();
    assert!(run(&["ingest"]).status.success());
    let out = run(&["bronze-to-silver", "--date", "2025-01-01", "--metrics-file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    promtool_check(&text);
    let series = r#"vbda_run_expectation_failing_rows{command="bronze-to-silver",table="silver.video_events",expectation="accepted_values_event_type",severity="fail"}"#;
    assert_eq!(sample(&text, series), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"vbda_run_exit_code{command="bronze-to-silver"}"#), Some(1.0), "{text}");
    assert!(!ctx.lakehouse().join("silver/video_events/_delta_log/00000000000000000001.json").exists(), "nothing committed");
    assert!(!ctx.lakehouse().join("ops/quality_runs").exists(), "nothing logged");
}
