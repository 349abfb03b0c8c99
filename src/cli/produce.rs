//! `vbda produce`: files, Kafka target and rate into [`ProduceSettings`], the run, the summary,
//! and the failure (exit 3) when messages were not delivered.
//!
//! What can go wrong: no brokers or topic, a path that is neither a file nor a folder, no
//! NDJSON files found (exit 1); the broker or the network (exit 3).

use std::path::PathBuf;

use clap::Args;

use super::args::kafka_target;
use super::{Context, Rendered, render};
use crate::error::{Error, Result};
use crate::kafka::Connection;
use crate::ops::produce::{self, ProduceReport, ProduceSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda produce --file landing --brokers localhost:9092 --topic player-events --rate 5000
  vbda produce --file landing/date=2025-01-01 --brokers localhost:9092 --topic player-events")]
pub(super) struct ProduceArgs {
    /// NDJSON files (optionally .gz) or folders of them, sent in name order
    #[arg(long = "file", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// Kafka bootstrap servers [env: VBDA_BROKERS] [vbda.toml: stream.brokers]
    #[arg(long)]
    brokers: Option<String>,
    /// Topic to send to [env: VBDA_TOPIC] [vbda.toml: stream.topic]
    #[arg(long)]
    topic: Option<String>,
    /// Messages per second [default: as fast as the broker takes them]
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// A librdkafka setting, repeatable (e.g. -X security.protocol=SASL_SSL); secrets are better
    /// passed as VBDA_KAFKA_<KEY> environment variables (VBDA_KAFKA_SASL_PASSWORD -> sasl.password)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    config: Vec<String>,
}

pub(super) fn settings(args: ProduceArgs, ctx: &Context) -> Result<ProduceSettings> {
    let ProduceArgs { files, brokers, topic, rate, config } = args;
    let (brokers, topic) = kafka_target(brokers, topic, &ctx.project.config.stream)?;
    Ok(ProduceSettings { connection: Connection::with_settings(brokers, &config)?, topic, inputs: files, rate })
}

pub(super) async fn run(settings: ProduceSettings, _ctx: &Context<'_>) -> Result<Rendered> {
    let report = produce::produce(&settings).await?;
    let text = text(&report);
    // The summary says `ok: false` with the error next to the work done.
    Ok(render("produce", &report, text).failing(failure(&report)))
}

fn text(r: &ProduceReport) -> String {
    let mut out = format!(
        "produce to {}: {} from {} ({}, {} without a session_id key): {} delivered, {} failed ({:.1}s, {:.0} messages/s)",
        r.topic,
        super::human::count(r.sent as u64, "message"),
        super::human::count(r.files as u64, "file"),
        super::human::bytes(r.bytes as u64),
        r.without_key,
        r.delivered,
        r.failed,
        r.seconds,
        r.sent as f64 / r.seconds.max(1e-9)
    );
    if let Some(e) = &r.error {
        out.push_str(&format!("\nfirst delivery error: {e}"));
    }
    out
}

/// Failed deliveries are an environment failure (exit 3): the broker or the network.
fn failure(r: &ProduceReport) -> Option<Error> {
    (r.failed > 0).then(|| {
        Error::environment(format!("{} of {} messages were not delivered to {}", r.failed, r.sent, r.topic))
            .with_hint("check that the brokers are reachable and the topic exists; rerunning sends every line again")
    })
}
