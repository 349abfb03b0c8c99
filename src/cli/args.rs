//! Argument groups that more than one command flattens in, and their resolution: the dates
//! (`--date` | `--from --to`) of the transforms, optimize and backfill, and the Kafka source
//! (`--brokers`, `--topic`, `--group`, `-X`) that `stream` reads and `status` reports the lag
//! of. `produce` resolves its brokers and topic with [`kafka_target`] too.
//!
//! What can go wrong: `--from` after `--to` (exit 1, with a hint), a Kafka command without
//! brokers or topic (exit 1, naming the flag, variable and `vbda.toml` key), a `-X` that is not
//! `KEY=VALUE` (exit 1). Nothing here connects to Kafka.

use chrono::NaiveDate;
use clap::Args;

use crate::error::{Error, Result};
use crate::kafka::{Connection, topic_list};
use crate::ops::maintain::StreamSource;
use crate::ops::stream::DEFAULT_GROUP;
use crate::settings::{StreamConfig, resolve};

#[derive(Debug, Args)]
pub(super) struct DateArgs {
    /// One event date
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"])]
    date: Option<NaiveDate>,
    /// First date of a range (with --to)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    from: Option<NaiveDate>,
    /// Last date of a range, inclusive (with --from)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<NaiveDate>,
}

/// The dates a `--date` / `--from --to` pair names (empty: incremental).
pub(super) fn dates_of(d: DateArgs) -> Result<Vec<NaiveDate>> {
    let DateArgs { date, from, to } = d;
    match (date, from, to) {
        (Some(date), _, _) => Ok(vec![date]),
        (None, Some(from), Some(to)) => date_range(from, to),
        _ => Ok(Vec::new()),
    }
}

/// Every day from `from` to `to`, inclusive.
pub(super) fn date_range(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(Error::data(format!("--from {from} is after --to {to}")).with_hint("swap the two dates"));
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

/// Where `vbda stream` reads, shared by `stream` and `status` (for the lag).
#[derive(Debug, Args)]
pub(super) struct KafkaSourceArgs {
    /// Kafka bootstrap servers [env: VBDA_BROKERS] [vbda.toml: stream.brokers]
    #[arg(long)]
    brokers: Option<String>,
    /// Topic(s), comma-separated [env: VBDA_TOPIC] [vbda.toml: stream.topic]
    #[arg(long)]
    topic: Option<String>,
    /// Consumer group [env: VBDA_GROUP] [vbda.toml: stream.group] [default: vbda-stream]
    #[arg(long)]
    group: Option<String>,
    /// A librdkafka setting, repeatable (e.g. -X security.protocol=SASL_SSL); secrets are better
    /// passed as VBDA_KAFKA_<KEY> environment variables (VBDA_KAFKA_SASL_PASSWORD -> sasl.password)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    config: Vec<String>,
}

impl KafkaSourceArgs {
    /// The source `stream` reads: brokers and topic are required.
    pub(super) fn required(self, file: &StreamConfig) -> Result<StreamSource> {
        let Self { brokers, topic, group, config } = self;
        let (brokers, topic) = kafka_target(brokers, topic, file)?;
        let group = stream_group(group, file)?;
        Ok(StreamSource { connection: Connection::with_settings(brokers, &config)?, topics: topic_list(&topic), group })
    }

    /// The source `status` shows the lag of: only when brokers and topic are both known, and
    /// then for the group the stream uses, its default included.
    pub(super) fn optional(self, file: &StreamConfig) -> Result<Option<StreamSource>> {
        let Self { brokers, topic, group, config } = self;
        let brokers = resolve(brokers, "VBDA_BROKERS", file.brokers.clone(), None)?.value;
        let topic = resolve(topic, "VBDA_TOPIC", file.topic.clone(), None)?.value;
        match (brokers, topic) {
            (Some(brokers), Some(topic)) => Ok(Some(StreamSource {
                connection: Connection::with_settings(brokers, &config)?,
                topics: topic_list(&topic),
                group: stream_group(group, file)?,
            })),
            _ => Ok(None),
        }
    }
}

/// The consumer group: flag > VBDA_GROUP > vbda.toml > vbda-stream.
fn stream_group(flag: Option<String>, file: &StreamConfig) -> Result<String> {
    Ok(resolve(flag, "VBDA_GROUP", file.group.clone(), Some(DEFAULT_GROUP.to_string()))?.value.unwrap_or_default())
}

/// The brokers and topic of a Kafka command: flag, then `VBDA_BROKERS`/`VBDA_TOPIC`, then
/// `[stream]` in vbda.toml; both required.
pub(super) fn kafka_target(brokers: Option<String>, topic: Option<String>, file: &StreamConfig) -> Result<(String, String)> {
    let brokers = resolve(brokers, "VBDA_BROKERS", file.brokers.clone(), None)?.value.ok_or_else(|| {
        Error::data("no Kafka brokers given").with_hint("pass --brokers HOST:PORT (or set VBDA_BROKERS, or stream.brokers in vbda.toml)")
    })?;
    let topic = resolve(topic, "VBDA_TOPIC", file.topic.clone(), None)?
        .value
        .ok_or_else(|| Error::data("no topic given").with_hint("pass --topic NAME (or set VBDA_TOPIC, or stream.topic in vbda.toml)"))?;
    Ok((brokers, topic))
}
