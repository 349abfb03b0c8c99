//! Offset queries: a partition's watermarks, the end offsets of every partition of some
//! topics, a group's committed offsets, and the lag between the two. Blocking librdkafka
//! calls: run them off the async threads (`spawn_blocking`) or from blocking code.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::Connection;
use crate::error::{Context, Error, Result};

/// The first and end offsets (low and high watermarks) of each partition.
pub type PartitionEnds = HashMap<(String, i32), (i64, i64)>;

/// The (low, high) watermarks of one partition.
pub fn watermarks(consumer: &BaseConsumer, topic: &str, partition: i32, timeout: Duration) -> Result<(i64, i64)> {
    consumer.fetch_watermarks(topic, partition, timeout).env_err(|| format!("cannot read the offsets of {topic}/{partition}"))
}

/// The watermarks of every partition of `topics`. A topic Kafka does not know is the user's
/// to fix (exit 1); brokers that do not answer, the environment's (exit 3).
pub fn end_offsets(consumer: &BaseConsumer, brokers: &str, topics: &[String], timeout: Duration) -> Result<PartitionEnds> {
    let mut out = HashMap::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .env_err(|| format!("cannot read the partitions of topic {topic} from {brokers}"))?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else { continue };
        if let Some(e) = t.error() {
            return Err(Error::data(format!(
                "topic {topic} is not available on {brokers}: {}",
                rdkafka::error::RDKafkaErrorCode::from(e)
            ))
            .with_hint("check the topic name (--topic, VBDA_TOPIC) and that it exists"));
        }
        for p in t.partitions() {
            out.insert((topic.clone(), p.id()), watermarks(consumer, topic, p.id(), timeout)?);
        }
    }
    Ok(out)
}

/// The offsets `group` committed to Kafka for `partitions` (None where it committed nothing).
pub fn committed_offsets(
    consumer: &BaseConsumer,
    group: &str,
    partitions: impl IntoIterator<Item = (String, i32)>,
    timeout: Duration,
) -> Result<HashMap<(String, i32), Option<i64>>> {
    let mut wanted = TopicPartitionList::new();
    let partitions: Vec<(String, i32)> = partitions.into_iter().collect();
    for (topic, partition) in &partitions {
        wanted.add_partition(topic, *partition);
    }
    let committed =
        consumer.committed_offsets(wanted, timeout).env_err(|| format!("cannot read the committed offsets of group `{group}`"))?;
    Ok(partitions
        .into_iter()
        .map(|(topic, partition)| {
            let offset = committed.find_partition(&topic, partition).and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
            ((topic, partition), offset)
        })
        .collect())
}

/// Per `topic/partition`: the end offset minus the group's committed offset (or minus the
/// partition's first offset where the group has committed nothing yet).
pub fn consumer_lag(connection: &Connection, topics: &[String], group: &str, timeout: Duration) -> Result<BTreeMap<String, i64>> {
    let consumer: BaseConsumer = connection
        .client_config(&[("group.id", group), ("enable.auto.commit", "false")])
        .create()
        .data_err(|| format!("cannot create a Kafka client for {} (check the -X / VBDA_KAFKA_* settings)", connection.brokers))?;
    let ends = end_offsets(&consumer, &connection.brokers, topics, timeout)?;
    let committed = committed_offsets(&consumer, group, ends.keys().cloned(), timeout)?;
    Ok(ends
        .iter()
        .map(|((topic, partition), (low, high))| {
            let from = committed.get(&(topic.clone(), *partition)).copied().flatten().unwrap_or(*low);
            (format!("{topic}/{partition}"), (high - from).max(0))
        })
        .collect())
}
