use std::path::Path;

use super::sinks::pushgateway_base;
use super::*;

#[test]
fn encodes_a_run_with_labels() {
    let mut s = RunSamples {
        rows_read: Some(10),
        duplicates: Some(1),
        ..Default::default()
    };
    s.quarantined_by_rule.insert("malformed_json".into(), 2);
    s.committed("silver.video_events", 4, 7);
    let outcome = RunOutcome {
        command: "bronze-to-silver",
        exit_code: 0,
        seconds: 1.5,
        labels: vec![("dag_id".into(), "vbda_daily".into())],
    };
    let text = encode(Some(&outcome), &s);
    assert!(
        text.contains(r#"vbda_run_success{command="bronze-to-silver",dag_id="vbda_daily"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"vbda_run_rows_quarantined{command="bronze-to-silver",dag_id="vbda_daily",rule="malformed_json"} 2"#), "{text}");
    assert!(
        text.contains(r#"vbda_table_version{command="bronze-to-silver",dag_id="vbda_daily",table="silver.video_events"} 4"#),
        "{text}"
    );
    assert!(text.contains(r#"vbda_run_rows_written{command="bronze-to-silver",dag_id="vbda_daily",table="silver.video_events"} 7"#), "{text}");
}

#[test]
fn time_column_values_become_unix_seconds() {
    assert_eq!(unix_seconds_of("2025-01-02"), Some(1_735_776_000.0));
    assert_eq!(
        unix_seconds_of("2025-01-02T00:00:01.500Z"),
        Some(1_735_776_001.5)
    );
    assert_eq!(
        unix_seconds_of("2025-01-02T00:00:01"),
        Some(1_735_776_001.0)
    );
    assert_eq!(unix_seconds_of("soon"), None);
}

#[test]
fn pushgateway_urls_are_checked() {
    assert!(pushgateway_base("http://127.0.0.1:9091").is_ok());
    assert!(pushgateway_base("https://u:secret@pg.example/base").is_ok());
    for bad in ["127.0.0.1:9091", "ftp://x", "http://x/?a=1", "not a url"] {
        let e = pushgateway_base(bad).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{bad}");
    }
    let e = pushgateway_base("ftp://u:secret@x").unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
}

/// Every sample family, filled, as one page: the batch metrics and the stream's.
fn everything_emitted() -> String {
    let mut s = RunSamples {
        rows_read: Some(1),
        duplicates: Some(1),
        ..Default::default()
    };
    s.quarantined_by_rule.insert("parse_json".into(), 1);
    s.expectations
        .insert(("t.x".into(), "r".into(), "fail".into()), 1);
    s.committed("gold.daily_kpis", 1, 1);
    s.tables.insert(
        "t.y".into(),
        TableSample {
            version: Some(1),
            last_commit: Some(1.0),
            newest_data: Some(1.0),
            rows: Some(1),
            files: Some(1),
            bytes: Some(1),
        },
    );
    s.kafka_lag.insert(("g".into(), "t".into(), 0), 1);
    let outcome = RunOutcome {
        command: "x",
        exit_code: 0,
        seconds: 1.0,
        labels: Vec::new(),
    };
    let stream = crate::ops::stream_metrics::Metrics::default();
    stream.committed(1, 1, 0.1);
    stream.add_error();
    stream.add_skipped(1);
    stream.add_bytes(1);
    stream.add_messages(1);
    stream.set_lag("t", 0, 1);
    format!("{}{}", encode(Some(&outcome), &s), stream.render())
}

/// `vbda_*` names in PromQL text (comments, summaries and descriptions skipped).
fn queried(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| {
            !l.trim_start().starts_with('#')
                && !l.contains("summary:")
                && !l.contains("description:")
        })
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("vbda_"))
        .map(str::to_string)
        .collect()
}

/// The alert rules and the Grafana dashboards in `monitoring/` query only metrics vbda
/// emits; the rules pass `promtool check rules` and their `promtool test rules` tests; every
/// dashboard query is valid PromQL (checked by promtool as a recording rule).
#[test]
fn monitoring_queries_only_emitted_metrics_and_passes_promtool() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring");
    let emitted = everything_emitted();
    let is_emitted = |name: &str| {
        emitted.lines().any(|l| {
            !l.starts_with('#')
                && (l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
        })
    };
    let promtool = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}: {said}");
    };
    let rules_dir = root.join("prometheus");
    for name in ["vbda-stream-rules", "vbda-batch-rules"] {
        let text = std::fs::read_to_string(rules_dir.join(format!("{name}.yml"))).unwrap();
        let names = queried(&text);
        assert!(names.len() >= 3, "{name}: {names:?}");
        for metric in &names {
            assert!(
                is_emitted(metric),
                "{name}.yml queries `{metric}`, which vbda does not emit"
            );
        }
        promtool(&rules_dir, &["check", "rules", &format!("{name}.yml")]);
        promtool(&rules_dir, &["test", "rules", &format!("{name}.test.yml")]);
    }
    let tmp = tempfile::tempdir().unwrap();
    for name in ["vbda-stream", "vbda-batch"] {
        let text = std::fs::read_to_string(root.join(format!("grafana/{name}.json"))).unwrap();
        let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
        let exprs: Vec<String> = dashboard["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .map(|t| t["expr"].as_str().unwrap().to_string())
            .collect();
        assert!(exprs.len() >= 8, "{name}: {exprs:?}");
        for metric in exprs.iter().flat_map(|e| queried(e)) {
            assert!(
                is_emitted(&metric),
                "dashboard {name} queries `{metric}`, which vbda does not emit"
            );
        }
        let rules: Vec<serde_json::Value> = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({ "record": format!("vbda:dashboard_query:{i}"), "expr": e }))
            .collect();
        // JSON is YAML: the queries as recording rules, for promtool to parse.
        let file = tmp.path().join(format!("{name}.rules.yml"));
        std::fs::write(
            &file,
            serde_json::json!({ "groups": [{ "name": name, "rules": rules }] }).to_string(),
        )
        .unwrap();
        promtool(tmp.path(), &["check", "rules", file.to_str().unwrap()]);
    }
}
