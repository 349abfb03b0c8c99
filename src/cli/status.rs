//! `vbda status`: `--table` and the stream's Kafka source into [`StatusSettings`], the run,
//! and the status table with the stream's lag.
//!
//! What can go wrong: an unknown table (exit 1). Kafka not answering does not fail the run:
//! the lag is then shown as unknown, with the reason.

use clap::Args;

use super::args::KafkaSourceArgs;
use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, StatusReport, StatusSettings};
use crate::ops::run_metrics::{self, RunSamples, TableSample};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda status                            # versions, freshness, files, small files of every table
  vbda status --brokers localhost:9092 --topic player-events   # and the stream's consumer lag
  vbda --output json status --table bronze.video_events
  vbda status --metrics                  # the same as Prometheus metrics (text format)
  vbda status --metrics --metrics-file /var/lib/node_exporter/textfile/vbda_status.prom")]
pub(super) struct StatusArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    /// The stream's Kafka source: with brokers and topic known, status shows its consumer lag
    #[command(flatten)]
    source: KafkaSourceArgs,
    /// Print the tables' versions, last commits, newest data, sizes and the stream's Kafka lag as
    /// Prometheus metrics (text format) instead of the table
    #[arg(long)]
    metrics: bool,
}

#[derive(Debug, serde::Serialize)]
pub(super) struct StatusPlan {
    #[serde(flatten)]
    settings: StatusSettings,
    metrics: bool,
}

pub(super) fn settings(args: StatusArgs, ctx: &Context) -> Result<StatusPlan> {
    let StatusArgs { table, source, metrics } = args;
    Ok(StatusPlan { settings: StatusSettings { table, stream: source.optional(&ctx.project.config.stream)? }, metrics })
}

pub(super) async fn run(plan: StatusPlan, ctx: &Context<'_>) -> Result<Rendered> {
    let StatusPlan { settings, metrics } = plan;
    let report = maintain::status(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let samples = samples(&report, &settings);
    let text = if metrics { run_metrics::encode(None, &samples).trim_end().to_string() } else { text(&report) };
    let failure = crate::error::TableProblem::run_error(report.tables.iter().filter_map(|t| Some((t.table.as_str(), t.problem.as_ref()?))));
    Ok(render("status", &report, text).with_samples(samples).failing(failure))
}

/// The status as metrics: per created table its figures; the lag per topic and partition.
fn samples(r: &StatusReport, settings: &StatusSettings) -> RunSamples {
    let mut s = RunSamples::default();
    for t in r.tables.iter().filter(|t| t.created && t.problem.is_none()) {
        let sample = TableSample {
            version: t.version,
            last_commit: t.last_commit.map(|c| c.timestamp_millis() as f64 / 1000.0),
            newest_data: t.newest_event_time.as_deref().and_then(run_metrics::unix_seconds_of),
            rows: t.rows,
            files: Some(t.files),
            bytes: Some(t.bytes),
        };
        s.tables.insert(t.table.clone(), sample);
        let group = settings.stream.as_ref().map(|g| g.group.clone()).unwrap_or_default();
        for (key, lag) in t.stream_lag.iter().flatten() {
            if let Some((topic, partition)) = key.rsplit_once('/').and_then(|(t, p)| Some((t, p.parse::<i32>().ok()?))) {
                s.kafka_lag.insert((group.clone(), topic.to_string(), partition), *lag);
            }
        }
    }
    s
}

fn text(r: &StatusReport) -> String {
    let mut out = format!(
        "{:<36} {:>7} {:>20} {:>10} {:>7} {:>12} {:>12} {:>6}  NEWEST",
        "TABLE", "VERSION", "LAST COMMIT (UTC)", "AGE", "FILES", "SIZE", "ROWS", "SMALL"
    );
    for t in &r.tables {
        if t.problem.is_some() {
            out.push_str(&format!("\n{:<36} {:>7}  cannot be read (see below)", t.table, "!"));
            continue;
        }
        if !t.created {
            out.push_str(&format!("\n{:<36} {:>7}", t.table, "-"));
            continue;
        }
        out.push_str(&format!(
            "\n{:<36} {:>7} {:>20} {:>10} {:>7} {:>12} {:>12} {:>6}  {}",
            t.table,
            t.version.map(|v| v.to_string()).unwrap_or_default(),
            t.last_commit.map(|c| c.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            t.freshness_seconds.map(|s| super::human::age(s as i64)).unwrap_or_default(),
            super::human::int(t.files as u64),
            super::human::bytes(t.bytes as u64),
            t.rows.map(|r| super::human::int(r as u64)).unwrap_or_else(|| "?".into()),
            t.small_files,
            t.newest_event_time.clone().unwrap_or_default(),
        ));
    }
    for t in &r.tables {
        if let Some(lag) = &t.stream_lag {
            let total: i64 = lag.values().sum();
            let parts: Vec<String> = lag.iter().map(|(p, l)| format!("{p}={l}")).collect();
            out.push_str(&format!("\nstream lag of {}: {total} messages ({})", t.table, parts.join(", ")));
        }
        if let Some(e) = &t.stream_error {
            out.push_str(&format!("\nstream lag of {}: unknown ({e})", t.table));
        }
    }
    out.push_str(&format!("\n(small: files under {} MiB)", r.small_file_bytes >> 20));
    out
}
