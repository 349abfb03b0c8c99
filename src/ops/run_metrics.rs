//! Metrics of one run of any command, for monitoring systems that do not scrape a long-lived
//! process: `--metrics-file PATH` writes them for the node exporter's textfile collector and
//! `--pushgateway URL` pushes them to a Prometheus Pushgateway. `vbda status --metrics` prints
//! the tables' freshness and the stream's Kafka lag the same way.
//!
//! Every sample is a gauge: a run's figures are a snapshot that the next run of the same
//! command replaces (the textfile collector reads the file as it is; a Pushgateway `PUT`
//! replaces the whole group). The names and labels are listed in `monitoring/README.md`; the
//! alert rules and dashboards in `monitoring/` use only these (a test checks it). The encoding
//! is `prometheus-client`'s Prometheus text format 0.0.4, as for the stream's `/metrics`.
//!
//! What can go wrong: the file's folder cannot be written, or the Pushgateway does not answer
//! or refuses. Both happen after the command's work is committed, so they are reported as a
//! warning and the exit code stays the command's own (a rerun would redo the work for nothing);
//! the settings are checked before the command runs, so a typo fails early instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::error::{Context as _, Error, Result};
use crate::quality::RuleOutcome;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// What a command measured, beyond its duration and exit code (filled from its report).
#[derive(Debug, Clone, Default)]
pub struct RunSamples {
    /// Rows the command read as input (bronze rows for bronze-to-silver, lines for ingest, ...).
    pub rows_read: Option<u64>,
    /// Rows written per table.
    pub rows_written: BTreeMap<String, u64>,
    /// Rows sent to quarantine, by the rule that sent them.
    pub quarantined_by_rule: BTreeMap<String, u64>,
    /// Duplicate rows removed.
    pub duplicates: Option<u64>,
    /// Expectations evaluated: (table, expectation, severity) -> failing rows.
    pub expectations: BTreeMap<(String, String, String), u64>,
    /// Tables by name: their state after the run (or, for `status`, now).
    pub tables: BTreeMap<String, TableSample>,
    /// Kafka consumer lag: (group, topic, partition) -> messages behind.
    pub kafka_lag: BTreeMap<(String, String, i32), i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TableSample {
    pub version: Option<i64>,
    /// Unix seconds of the table's newest commit.
    pub last_commit: Option<f64>,
    /// Unix seconds of the newest value of its time column.
    pub newest_data: Option<f64>,
    pub rows: Option<u64>,
    pub files: Option<u64>,
    pub bytes: Option<u64>,
}

impl RunSamples {
    pub fn expectations(&mut self, rules: &[RuleOutcome]) {
        for r in rules {
            if let Some(failing) = r.failing_rows {
                let key = (
                    r.table.clone(),
                    r.name.clone(),
                    r.severity.name().to_string(),
                );
                *self.expectations.entry(key).or_default() += failing;
            }
        }
    }

    /// A table the run committed to: its version and, the commit being this run's, now as
    /// its last commit time.
    pub fn committed(&mut self, table: &str, version: i64, rows: u64) {
        *self.rows_written.entry(table.to_string()).or_default() += rows;
        let t = self.tables.entry(table.to_string()).or_default();
        if t.version.is_none_or(|v| v < version) {
            t.version = Some(version);
        }
        t.last_commit = Some(unix_now());
    }
}

/// How the run ended, and what it is called.
#[derive(Debug, Clone)]
pub struct RunOutcome<'a> {
    pub command: &'a str,
    pub exit_code: u8,
    pub seconds: f64,
    /// Extra labels on every run sample (the Airflow DAG and task, when run by Airflow).
    pub labels: Labels,
}

/// Where a run's metrics go (both may be set).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsSinks {
    pub file: Option<PathBuf>,
    /// The Pushgateway's base URL (credentials in it are never printed).
    #[serde(serialize_with = "redacted_url")]
    pub pushgateway: Option<String>,
}

impl MetricsSinks {
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.pushgateway.is_none()
    }

    /// Before the command runs: the file's folder exists and the URL is an http(s) URL.
    pub fn check(&self) -> Result<()> {
        if let Some(file) = &self.file {
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(Error::data(format!(
                    "--metrics-file {}: the folder {} does not exist",
                    file.display(),
                    dir.display()
                ))
                .with_hint(
                    "create it, or point --metrics-file at the node exporter's textfile folder",
                ));
            }
            if file.file_name().is_none() || file.is_dir() {
                return Err(Error::data(format!(
                    "--metrics-file {}: not a file name",
                    file.display()
                )));
            }
        }
        if let Some(url) = &self.pushgateway {
            pushgateway_base(url)?;
        }
        Ok(())
    }

    /// Write and push; problems come back as warnings (the run's work is already done).
    pub async fn emit(&self, text: &str, outcome: &RunOutcome<'_>) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(file) = &self.file {
            if let Err(e) = write_file(file, text) {
                warnings.push(e.to_string());
            }
        }
        if let Some(url) = &self.pushgateway {
            if let Err(e) = push(url, text, outcome).await {
                warnings.push(format!(
                    "{e}{}",
                    e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
                ));
            }
        }
        warnings
    }
}

fn redacted_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    url.as_deref()
        .map(crate::settings::redact_url_userinfo)
        .serialize(s)
}

/// The run's metrics in the Prometheus text format; without an outcome (`vbda status
/// --metrics`) only the tables' and the Kafka lag's.
pub fn encode(outcome: Option<&RunOutcome<'_>>, samples: &RunSamples) -> String {
    let mut registry = Registry::default();
    let mut family = |name: &str, help: &str| {
        let f = Family::<Labels, FloatGauge>::default();
        registry.register(name, help, f.clone());
        f
    };
    let set = |f: &Family<Labels, FloatGauge>, labels: Labels, v: f64| {
        f.get_or_create(&labels).set(v);
    };
    if let Some(outcome) = outcome {
        let run = |extra: &[(&str, String)]| -> Labels {
            let mut l: Labels = vec![("command".into(), outcome.command.to_string())];
            l.extend(outcome.labels.iter().cloned());
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
            l
        };
        let duration = family(
            "vbda_run_duration_seconds",
            "Wall time of the command's last run",
        );
        let exit_code = family(
            "vbda_run_exit_code",
            "Exit code of the command's last run (0 ok, 1 data or spec, 3 environment)",
        );
        let success = family(
            "vbda_run_success",
            "1 when the command's last run succeeded, else 0",
        );
        let finished = family(
            "vbda_run_finished_timestamp_seconds",
            "Unix time the command's last run finished",
        );
        let rows_read = family(
            "vbda_run_rows_read",
            "Rows the command's last run read as input",
        );
        let rows_written = family(
            "vbda_run_rows_written",
            "Rows the command's last run wrote, per table",
        );
        let quarantined = family(
            "vbda_run_rows_quarantined",
            "Rows the command's last run sent to quarantine, per rule",
        );
        let duplicates = family(
            "vbda_run_rows_duplicate",
            "Duplicate rows the command's last run removed",
        );
        let failing = family(
            "vbda_run_expectation_failing_rows",
            "Rows failing an expectation in the command's last run",
        );
        set(&duration, run(&[]), outcome.seconds);
        set(&exit_code, run(&[]), outcome.exit_code.into());
        set(
            &success,
            run(&[]),
            if outcome.exit_code == 0 { 1.0 } else { 0.0 },
        );
        set(&finished, run(&[]), unix_now());
        if let Some(n) = samples.rows_read {
            set(&rows_read, run(&[]), n as f64);
        }
        for (table, n) in &samples.rows_written {
            set(&rows_written, run(&[("table", table.clone())]), *n as f64);
        }
        for (rule, n) in &samples.quarantined_by_rule {
            set(&quarantined, run(&[("rule", rule.clone())]), *n as f64);
        }
        if let Some(n) = samples.duplicates {
            set(&duplicates, run(&[]), n as f64);
        }
        for ((table, name, severity), n) in &samples.expectations {
            let labels = run(&[
                ("table", table.clone()),
                ("expectation", name.clone()),
                ("severity", severity.clone()),
            ]);
            set(&failing, labels, *n as f64);
        }
    }
    let version = family("vbda_table_version", "The Delta table's current version");
    let last_commit = family(
        "vbda_table_last_commit_timestamp_seconds",
        "Unix time of the Delta table's newest commit",
    );
    let newest = family(
        "vbda_table_newest_data_timestamp_seconds",
        "Unix time of the newest value of the table's time column",
    );
    let table_rows = family(
        "vbda_table_rows",
        "Rows in the Delta table's current version",
    );
    let table_files = family(
        "vbda_table_files",
        "Data files in the Delta table's current version",
    );
    let table_bytes = family(
        "vbda_table_bytes",
        "Bytes of data files in the Delta table's current version",
    );
    let lag = family(
        "vbda_kafka_consumer_group_lag",
        "Messages in the partition after the consumer group's committed offset",
    );
    // A run's samples carry its command (and Airflow labels): two commands' files in one
    // textfile folder then never hold the same series, which the collector would reject.
    let source: Labels = match outcome {
        Some(o) => std::iter::once(("command".to_string(), o.command.to_string())).chain(o.labels.iter().cloned()).collect(),
        None => Vec::new(),
    };
    for (table, t) in &samples.tables {
        let figures = [
            (&version, t.version.map(|v| v as f64)),
            (&last_commit, t.last_commit),
            (&newest, t.newest_data),
            (&table_rows, t.rows.map(|v| v as f64)),
            (&table_files, t.files.map(|v| v as f64)),
            (&table_bytes, t.bytes.map(|v| v as f64)),
        ];
        for (family, value) in figures {
            if let Some(v) = value {
                let mut labels = source.clone();
                labels.push(("table".to_string(), table.clone()));
                set(family, labels, v);
            }
        }
    }
    for ((group, topic, partition), n) in &samples.kafka_lag {
        let mut labels = source.clone();
        labels.extend([
            ("group".to_string(), group.clone()),
            ("topic".to_string(), topic.clone()),
            ("partition".to_string(), partition.to_string()),
        ]);
        set(&lag, labels, *n as f64);
    }
    let mut out = String::new();
    // Writing into a String cannot fail, and gauges' encoders return no error. Families with
    // no sample print only their HELP and TYPE lines (valid; it says the metric exists).
    let _ = prometheus_text::encode(&mut out, &registry);
    out
}

/// A time column's newest value (a date, or a timestamp as Delta statistics write it) as
/// Unix seconds.
pub fn unix_seconds_of(value: &str) -> Option<f64> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    let t = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    Some(t.and_utc().timestamp_micros() as f64 / 1e6)
}

/// The labels Airflow's BashOperator puts in a task's environment, when present.
pub fn airflow_labels() -> Labels {
    [
        ("dag_id", "AIRFLOW_CTX_DAG_ID"),
        ("task_id", "AIRFLOW_CTX_TASK_ID"),
    ]
    .into_iter()
    .filter_map(|(label, var)| {
        let v = std::env::var(var).ok().filter(|v| !v.is_empty())?;
        Some((label.to_string(), v))
    })
    .collect()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Write next to the target under a temporary name, then rename: the textfile collector
/// never reads half a file.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.env_err(|| format!("cannot write the metrics file {}", path.display()))
}

/// The Pushgateway's base URL, checked: http or https, no query or fragment.
fn pushgateway_base(url: &str) -> Result<url::Url> {
    let shown = crate::settings::redact_url_userinfo(url);
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::data(format!("--pushgateway {shown}: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::data(format!("--pushgateway {shown}: expected http://HOST:PORT or https://HOST:PORT"))
            .with_hint("the Pushgateway listens on port 9091 by default: --pushgateway http://pushgateway:9091"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::data(format!(
            "--pushgateway {shown}: a query or fragment has no meaning here"
        )));
    }
    Ok(parsed)
}

/// `PUT {base}/metrics/job/vbda/command/<command>[/dag_id/<d>/task_id/<t>]`: the group of this
/// command (and Airflow task) is replaced by this run's samples. Label values are
/// base64url-encoded in the path (`@base64`), so any value is safe.
async fn push(url: &str, text: &str, outcome: &RunOutcome<'_>) -> Result<()> {
    use base64::Engine as _;
    let mut target = pushgateway_base(url)?;
    let shown = crate::settings::redact_url_userinfo(url);
    // The URL holds them percent-encoded (`p%40ss` for `p@ss`); Basic auth wants them as they are.
    let decode = |v: &str| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
    let (user, password) = (decode(target.username()), target.password().map(decode));
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let mut path = target.path().trim_end_matches('/').to_string();
    path.push_str("/metrics/job/vbda");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for (k, v) in std::iter::once(("command".to_string(), outcome.command.to_string()))
        .chain(outcome.labels.iter().cloned())
    {
        let encoded = if v.is_empty() {
            "=".to_string()
        } else {
            b64.encode(v.as_bytes())
        };
        path.push_str(&format!("/{k}@base64/{encoded}"));
    }
    target.set_path(&path);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::environment("cannot start an HTTP client").with_source(e))?;
    let mut request = client
        .put(target.clone())
        .header("content-type", "text/plain; version=0.0.4")
        .body(text.to_string());
    if !user.is_empty() {
        request = request.basic_auth(user, password);
    }
    let response = request.send().await.map_err(|e| {
        // reqwest's message names the URL; ours is redacted.
        let why = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        Error::environment(format!(
            "cannot push metrics to the Pushgateway {shown}: {why}"
        ))
        .with_hint("check --pushgateway / VBDA_PUSHGATEWAY and that the Pushgateway runs")
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        return Err(Error::environment(format!(
            "the Pushgateway {shown} refused the metrics: HTTP {status}: {}",
            body.trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
