//! Offset queries: a partition's watermarks, the end offsets of every partition of some
//! topics, a group's committed offsets, and the lag between the two. Blocking librdkafka
//! calls: run them off the async threads (`spawn_blocking`) or from blocking code.
//!
//! Each query runs in short attempts until its timeout, and stops at once when the cluster
//! refused the client ([`super::problems`]): a wrong password is told in a second or two, not
//! after the timeout as if the brokers were down.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer as _;
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};

use super::{Connection, Consumer};
use crate::error::{Context, Error, Result};

/// The first and end offsets (low and high watermarks) of each partition.
pub type PartitionEnds = HashMap<(String, i32), (i64, i64)>;

/// How long one attempt of a query may take before the refusal watch is looked at again.
const ATTEMPT: Duration = Duration::from_secs(2);

/// Runs `query` in attempts of at most [`ATTEMPT`] until it succeeds or `timeout` has passed;
/// a refusal seen meanwhile ends it at once as the user's error.
///
/// rust-rdkafka hands librdkafka's log lines to the client's main queue, which only a poll
/// reads, so `consumer` is polled between attempts: it must be a client that subscribes to
/// nothing ([`Connection::metadata_client`]), or messages would be taken from under its user.
pub fn patiently<T>(
    consumer: &Consumer,
    brokers: &str,
    timeout: Duration,
    mut query: impl FnMut(Duration) -> KafkaResult<T>,
) -> Result<KafkaResult<T>> {
    let first = Instant::now();
    let deadline = first + timeout;
    loop {
        let started = Instant::now();
        let left = deadline.saturating_duration_since(started);
        let outcome = query(left.min(ATTEMPT).max(Duration::from_millis(1)));
        drain(consumer);
        if let Some(refusal) = consumer.context().refusal() {
            return Err(refusal.to_error(brokers));
        }
        match outcome {
            Ok(v) => return Ok(Ok(v)),
            Err(e) => {
                let out_of_time = Instant::now() >= deadline;
                // Nothing but connections closed at hello for a while: the wrong protocol.
                if let Some(refusal) = consumer.context().stuck_at_hello(first, out_of_time) {
                    return Err(refusal.to_error(brokers));
                }
                if out_of_time {
                    return Ok(Err(e));
                }
                // An attempt that failed at once (no broker yet): do not spin.
                if started.elapsed() < Duration::from_millis(100) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Delivers what waits on the client's queue (log lines, errors) to its [`super::Watch`].
fn drain(consumer: &Consumer) {
    for _ in 0..10_000 {
        if consumer.poll(Duration::ZERO).is_none() {
            break;
        }
    }
}

/// The (low, high) watermarks of one partition.
pub fn watermarks(consumer: &Consumer, brokers: &str, topic: &str, partition: i32, timeout: Duration) -> Result<(i64, i64)> {
    patiently(consumer, brokers, timeout, |t| consumer.fetch_watermarks(topic, partition, t))?
        .env_err(|| format!("cannot read the offsets of {topic}/{partition} from {brokers}"))
}

/// The watermarks of every partition of `topics`. A topic Kafka does not know is the user's
/// to fix (exit 1); brokers that do not answer, the environment's (exit 3).
pub fn end_offsets(consumer: &Consumer, brokers: &str, topics: &[String], timeout: Duration) -> Result<PartitionEnds> {
    let mut out = HashMap::new();
    for topic in topics {
        let metadata = patiently(consumer, brokers, timeout, |t| consumer.fetch_metadata(Some(topic), t))?
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
            out.insert((topic.clone(), p.id()), watermarks(consumer, brokers, topic, p.id(), timeout)?);
        }
    }
    Ok(out)
}

/// The offsets `group` committed to Kafka for `partitions` (None where it committed nothing).
/// `consumer` must be a member of `group` (librdkafka asks for its own group's offsets).
pub fn committed_offsets(
    consumer: &Consumer,
    brokers: &str,
    group: &str,
    partitions: impl IntoIterator<Item = (String, i32)>,
    timeout: Duration,
) -> Result<HashMap<(String, i32), Option<i64>>> {
    let mut wanted = TopicPartitionList::new();
    let partitions: Vec<(String, i32)> = partitions.into_iter().collect();
    for (topic, partition) in &partitions {
        wanted.add_partition(topic, *partition);
    }
    let committed = patiently(consumer, brokers, timeout, |t| consumer.committed_offsets(wanted.clone(), t))?
        .env_err(|| format!("cannot read the committed offsets of group `{group}` from {brokers}"))?;
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
    // A client with the group's id that never subscribes: it reads the group's offsets
    // without joining it (no rebalance of the running workers).
    let consumer: Consumer = connection.create(&connection.client_config(&[("group.id", group), ("enable.auto.commit", "false")]))?;
    let brokers = &connection.brokers;
    let ends = end_offsets(&consumer, brokers, topics, timeout)?;
    let committed = committed_offsets(&consumer, brokers, group, ends.keys().cloned(), timeout)?;
    Ok(ends
        .iter()
        .map(|((topic, partition), (low, high))| {
            let from = committed.get(&(topic.clone(), *partition)).copied().flatten().unwrap_or(*low);
            (format!("{topic}/{partition}"), (high - from).max(0))
        })
        .collect())
}
