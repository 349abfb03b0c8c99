//! `--show-settings` of each command, snapshot-tested (insta): one JSON object with the global
//! settings, the command's name and its own resolved settings, secrets redacted. The runs
//! need no lakehouse and connect nowhere (the brokers given do not exist).
//!
//! The environment is cleaned of every `VBDA_*` and `AWS_*` variable the test process has,
//! so the snapshots do not depend on the machine; the filters blank the temporary folder and
//! the project folder (this repository). To update the snapshots after a deliberate change:
//! `INSTA_UPDATE=always cargo test --test it settings::`, then review the `.snap` diffs.

use crate::common::{TestContext, project_dir};

/// Brokers that refuse every connection: a run that tried to connect would fail.
const NOWHERE: &str = "127.0.0.1:1";

/// The real binary with only this context's and `env`'s variables of vbda, Kafka and AWS.
fn vbda_clean(ctx: &TestContext, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = ctx.vbda();
    // TestContext sets these three; everything else of ours must come from `env`.
    let kept = ["VBDA_PROJECT", "VBDA_LAKEHOUSE", "VBDA_LANDING"];
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("VBDA_") || key.starts_with("AWS_") || key.starts_with("PG")) && !kept.contains(&key.as_str()) {
            cmd.env_remove(&key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `vbda --show-settings ARGS` in a clean environment plus `env`; expects exit 0 and one JSON
/// object on stdout, and returns it as printed.
fn show_settings(ctx: &TestContext, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = vbda_clean(ctx, env).arg("--show-settings").args(args).output().expect("run vbda");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "vbda --show-settings {args:?}:\n{stderr}");
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{text}"));
    text
}

/// `text` with regex metacharacters escaped (insta filters are regexes; paths hold dots).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn snapshot_settings(ctx: &TestContext) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&literal(&ctx.dir.path().display().to_string()), "[TMP]");
    settings.add_filter(&literal(&project_dir().display().to_string()), "[PROJECT]");
    settings
}

#[test]
fn show_settings_of_each_command() {
    let ctx = TestContext::new();
    let cases: &[(&str, &[&str])] = &[
        ("generate", &["generate", "--from", "2025-01-01", "--to", "2025-01-03", "--events", "1000", "--gzip"]),
        ("ingest", &["ingest", "--reingest-changed", "--batch-rows", "5000"]),
        ("ingest_content", &["ingest", "--content", "content.csv"]),
        ("bronze_to_silver", &["bronze-to-silver", "--from", "2025-01-01", "--to", "2025-01-03"]),
        ("bronze_to_silver_incremental", &["bronze-to-silver"]),
        ("silver_to_gold", &["silver-to-gold", "--date", "2025-01-02", "--model", "daily_kpis"]),
        ("check", &["check", "--table", "silver.video_events", "--date", "2025-01-01"]),
        ("tables", &["tables"]),
        ("describe", &["describe", "gold.daily_kpis"]),
        ("show", &["show", "gold.daily_kpis", "--date", "2025-01-01", "--limit", "5", "--at-version", "2"]),
        ("vacuum", &["vacuum", "--table", "bronze.video_events", "--retention-hours", "24", "--dry-run", "--full", "--force"]),
        ("optimize", &["optimize", "--table", "bronze.video_events", "--date", "2025-01-01", "--target-file-size", "1048576"]),
        ("checkpoint", &["checkpoint", "--table", "silver.video_events"]),
        ("history", &["history", "silver.video_events", "--limit", "5"]),
        ("status", &["status"]),
        ("status_with_lag", &["status", "--brokers", NOWHERE, "--topic", "a,b", "--group", "g1", "-X", "client.id=vbda-status"]),
        ("restore", &["restore", "silver.video_events", "--version", "3"]),
        ("restore_timestamp", &["restore", "silver.video_events", "--timestamp", "2025-01-02T06:00:00Z"]),
        ("produce", &["produce", "--file", "landing", "--brokers", NOWHERE, "--topic", "player-events", "--rate", "500"]),
        ("backfill", &["backfill", "--from", "2025-01-01", "--to", "2025-01-03", "--restart"]),
        ("publish", &["publish", "--target", "postgres://bi@warehouse:5432/analytics?sslmode=require", "--from", "2025-01-01", "--to", "2025-01-02", "--model", "daily_kpis"]),
        ("publish_if_configured", &["publish", "--if-configured"]),
        ("ddl", &["ddl", "--engine", "trino", "--trino-catalog", "lake", "--table", "gold.daily_kpis"]),
    ];
    let settings = snapshot_settings(&ctx);
    for (name, args) in cases {
        let text = show_settings(&ctx, args, &[]);
        settings.bind(|| insta::assert_snapshot!(*name, text));
    }
    assert!(!ctx.lakehouse().exists(), "--show-settings must not create the lakehouse");
}

#[test]
fn show_settings_of_stream_redacts_kafka_secrets() {
    let ctx = TestContext::new();
    let args = [
        "stream", "--brokers", NOWHERE, "--topic", "player-events", "--until-caught-up", "--max-rows", "500",
        "-X", "sasl.password=hunter2", "-X", "security.protocol=SASL_SSL",
    ];
    let env = [("VBDA_KAFKA_SASL_USERNAME", "u"), ("VBDA_KAFKA_SASL_PASSWORD", "s3cret"), ("VBDA_GROUP", "g-env")];
    let text = show_settings(&ctx, &args, &env);
    for secret in ["hunter2", "s3cret"] {
        assert!(!text.contains(secret), "`{secret}` shown:\n{text}");
    }
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let config = &value["settings"]["connection"]["config"];
    assert_eq!(config["sasl.password"], "<redacted>", "{text}");
    assert_eq!((config["sasl.username"].as_str(), config["security.protocol"].as_str()), (Some("u"), Some("SASL_SSL")));
    assert_eq!(value["settings"]["group"], "g-env", "VBDA_GROUP applies: {text}");
    snapshot_settings(&ctx).bind(|| insta::assert_snapshot!("stream", text));

    // produce and status take the same connection settings, redacted alike.
    let produce = ["produce", "--file", "landing", "--brokers", NOWHERE, "--topic", "t", "-X", "sasl.password=hunter2"];
    let status = ["status", "--brokers", NOWHERE, "--topic", "t", "-X", "sasl.password=hunter2"];
    for args in [&produce[..], &status[..]] {
        let text = show_settings(&ctx, args, &env);
        assert!(!text.contains("hunter2") && !text.contains("s3cret"), "secret shown:\n{text}");
        assert!(text.contains("\"sasl.password\": \"<redacted>\""), "{text}");
    }
}

#[test]
fn show_settings_blanks_credentials_in_urls() {
    let ctx = TestContext::new();
    let text = show_settings(&ctx, &["--lakehouse", "s3://AKIAEXAMPLE:very-secret@minio:9000/lake", "tables"], &[]);
    assert!(!text.contains("very-secret") && !text.contains("AKIAEXAMPLE"), "{text}");
    let text = show_settings(&ctx, &["produce", "--file", "x", "--brokers", "sasl://user:pw@broker:9092", "--topic", "t"], &[]);
    assert!(!text.contains("user:pw"), "{text}");
}

#[test]
fn show_settings_reports_settings_that_do_not_resolve() {
    // Nothing to print without the required settings: the usual error, before any connection.
    let ctx = TestContext::new();
    for (args, message) in [(["--show-settings", "stream"], "no Kafka brokers given"), (["--show-settings", "backfill"], "backfill needs --from D1 --to D2")] {
        let run = crate::common::Run::from(vbda_clean(&ctx, &[]).args(args).output().expect("run vbda"));
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "nothing printed on stdout: {}", run.stdout);
    }
}
