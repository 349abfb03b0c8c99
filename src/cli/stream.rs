//! `vbda stream`: flags into [`StreamSettings`] (the Kafka source through `cli::args`), SIGINT
//! and SIGTERM mapped to the worker's [`Shutdown`], and the summary.
//!
//! What can go wrong: no brokers or topic (exit 1, before anything connects); the metrics
//! address taken (exit 3); the signal handlers not installable (exit 3). Kafka and Delta
//! failures are the worker's (see `ops::stream`).

use clap::Args;

use super::args::KafkaSourceArgs;
use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::{Error, Result};
use crate::ops::stream::{self, Shutdown, StreamReport, StreamSettings};
use crate::settings::resolve;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda stream --brokers localhost:9092 --topic player-events
  vbda stream --brokers localhost:9092 --topic player-events --until-caught-up   # one batch run
  VBDA_KAFKA_SASL_PASSWORD=... vbda stream --brokers kafka:9093 --topic player-events \\
       -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=vbda \\
       -X ssl.ca.location=/etc/ssl/kafka-ca.pem --metrics-addr 0.0.0.0:9464")]
pub(super) struct StreamArgs {
    #[command(flatten)]
    source: KafkaSourceArgs,
    /// Stop once the end offsets seen at start are committed
    #[arg(long)]
    until_caught_up: bool,
    /// With --until-caught-up: fail (exit 3) after this many seconds in which nothing moves
    /// (a worker still waiting for partitions gets the group's session timeout on top)
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    stall_timeout: u64,
    /// Close a batch at this many rows (at most 5,000,000: a batch is held in memory)
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    max_rows: u64,
    /// Close a batch at this many payload bytes (at most 1 GiB: a batch is held in memory)
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_bytes: u64,
    /// Close a batch this many milliseconds after its first message
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    max_age_ms: u64,
    /// Serve Prometheus metrics on this address [env: VBDA_METRICS_ADDR]
    #[arg(long)]
    metrics_addr: Option<String>,
}

pub(super) fn settings(args: StreamArgs, ctx: &Context) -> Result<StreamSettings> {
    let StreamArgs { source, until_caught_up, stall_timeout, max_rows, max_bytes, max_age_ms, metrics_addr } = args;
    let file = &ctx.project.config.stream;
    let metrics_addr = resolve(metrics_addr, "VBDA_METRICS_ADDR", file.metrics_addr.clone(), None)?.value;
    let source = source.required(file)?;
    Ok(StreamSettings {
        connection: source.connection,
        topics: source.topics,
        group: source.group,
        max_rows: max_rows as usize,
        max_bytes: max_bytes as usize,
        max_age: std::time::Duration::from_millis(max_age_ms),
        until_caught_up,
        stall_timeout: std::time::Duration::from_secs(stall_timeout),
        metrics_addr,
        args: ctx.args.clone(),
    })
}

pub(super) async fn run(settings: StreamSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let shutdown = Shutdown::new();
    stop_on_signals(&shutdown)?;
    let report = stream::stream(&ctx.lakehouse()?, &ctx.catalog()?, &settings, shutdown).await?;
    let text = text(&report);
    let mut samples = RunSamples { rows_read: Some(report.messages), ..Default::default() };
    if let Some(version) = report.bronze_version.filter(|_| report.commits > 0) {
        samples.committed("bronze.video_events", version, report.rows_committed);
    }
    Ok(render("stream", &report, text).with_samples(samples))
}

/// SIGINT and SIGTERM stop a stream worker: it commits the batch in flight, then returns.
fn stop_on_signals(shutdown: &Shutdown) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [(SignalKind::interrupt(), "SIGINT"), (SignalKind::terminate(), "SIGTERM")] {
        let mut heard = signal(kind).map_err(|e| Error::environment(format!("cannot listen for {name}")).with_source(e))?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if heard.recv().await.is_some() {
                shutdown.stop(name);
            }
        });
    }
    Ok(())
}

fn text(r: &StreamReport) -> String {
    let offsets: Vec<String> = r.offsets.iter().map(|(p, o)| format!("{p}@{o}")).collect();
    format!(
        "stream: {} messages, {} rows in {} commits, {} tombstones skipped, {} already in bronze; bronze.video_events v{}; stopped: {} ({:.1}s)\n  next offsets in bronze: {}",
        r.messages,
        r.rows_committed,
        r.commits,
        r.tombstones,
        r.already_in_bronze,
        r.bronze_version.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        r.stopped_by,
        r.seconds,
        if offsets.is_empty() { "none".to_string() } else { offsets.join(", ") }
    )
}
