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
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use crate::quality::RuleOutcome;

mod sinks;
#[cfg(test)]
mod tests;

pub use sinks::MetricsSinks;

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

