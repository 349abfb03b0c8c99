//! `vbda stream`: Kafka into `bronze.video_events` in micro-batches, exactly once.
//!
//! Every bronze commit carries, as Delta application transactions, the next offset to read of
//! each partition it covers (`vbda.stream:<topic>:<partition>`). Those, not Kafka's committed
//! offsets, are the truth:
//! - a message whose offset is below its partition's Delta offset is already in bronze and is
//!   skipped; when a partition's first message after an assignment is beyond it, the consumer
//!   seeks back to it (Kafka's own offsets are only committed after the Delta commit, for lag
//!   tools, so they are never ahead unless someone moved them);
//! - before committing, the batch is trimmed against the offsets in the table's latest
//!   version, and a commit that races another for the same partition fails Delta's
//!   transaction check and is trimmed and retried, so two workers in one group (during a
//!   rebalance) never write a message twice.
//!
//! A crash at any moment therefore loses nothing (uncommitted messages are read again) and
//! duplicates nothing (committed ones are skipped).
//!
//! Batches close at `max_rows`, `max_bytes` or `max_age`, whichever comes first. Tombstones
//! (null payloads) are counted and skipped; every other message is stored raw, valid JSON or
//! not (bronze is lossless). SIGINT/SIGTERM finish and commit the batch in flight, then exit.
//! `--until-caught-up` reads the end offset of every partition of the topics at start and stops
//! once bronze holds them all, whichever worker of the group committed them: a worker must
//! not stop early because a member that died without leaving the group still holds some
//! partitions (they come back to the group when its session times out).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::arrow::array::{ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use deltalake::arrow::record_batch::RecordBatch;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, BaseConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Context, Error, Result};
use crate::lake::{self, CommitInfo, Lakehouse};
use crate::ops::ingest::days_since_epoch;
use crate::ops::ingest::parse::probe;

const BRONZE: &str = "bronze.video_events";


/// How long leaving the consumer group may take on exit.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// How often an idle `--until-caught-up` worker re-reads bronze for other workers' commits.
const PEER_REFRESH: Duration = Duration::from_secs(1);

/// Kafka errors (brokers down, network) are retried for this long before the run gives up.
const KAFKA_ERROR_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub brokers: String,
    pub topics: Vec<String>,
    pub group: String,
    pub client_config: Vec<(String, String)>,
    pub max_rows: usize,
    pub max_bytes: usize,
    pub max_age: Duration,
    pub until_caught_up: bool,
    /// `--until-caught-up` gives up (exit 3) when nothing moves for this long (neither this
    /// worker's reads nor bronze): a consumer group that hands out nothing, a leader that is
    /// down, must not pass for caught up, nor hang a scheduled run.
    pub stall_timeout: Duration,
    /// Serve Prometheus metrics here.
    pub metrics_addr: Option<String>,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamReport {
    pub messages: u64,
    pub rows_committed: u64,
    pub tombstones: u64,
    /// Messages skipped because bronze already holds them (after a restart or a rebalance).
    pub already_in_bronze: u64,
    pub commits: u64,
    pub bronze_version: Option<i64>,
    /// Per `topic/partition`: the next offset recorded in bronze.
    pub offsets: BTreeMap<String, i64>,
    pub stopped_by: String,
    pub seconds: f64,
}

/// The application id under which a partition's next offset is recorded in bronze.
pub fn app_id(topic: &str, partition: i32) -> String {
    format!("vbda.stream:{topic}:{partition}")
}

/// The next offset bronze holds for a partition (from its `vbda.stream:` transaction).
fn in_bronze(recorded: &lake::txn::RecordedTransactions, topic: &str, partition: i32) -> Option<i64> {
    recorded.versions.get(&app_id(topic, partition)).copied()
}

/// Bring the table and its recorded offsets up to the latest version (other workers' commits).
async fn reload(table: &mut deltalake::DeltaTable, recorded: &mut lake::txn::RecordedTransactions) -> Result<()> {
    table.update_incremental(None).await.map_err(|e| crate::error::from_delta(e, "cannot read bronze.video_events"))?;
    recorded.refresh(table).await
}

struct Pending {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<String>,
    payload: Vec<u8>,
}

#[derive(Default)]
struct Batch {
    rows: Vec<Pending>,
    /// Next offset per partition, tombstones included.
    next: HashMap<(String, i32), i64>,
    /// First offset per partition in this batch.
    first: HashMap<(String, i32), i64>,
    bytes: usize,
    tombstones: u64,
    opened: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

pub async fn stream(lake: &Lakehouse, catalog: &Catalog, s: &StreamSettings) -> Result<StreamReport> {
    let started = Instant::now();
    let spec = catalog.table(BRONZE)?.clone();
    let mut table = lake.open_or_create(&spec).await?;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &s.brokers)
        .set("group.id", &s.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (k, v) in &s.client_config {
        config.set(k, v);
    }
    let consumer: Arc<BaseConsumer> =
        Arc::new(config.create().env_err(|| format!("cannot create a Kafka consumer for {}", s.brokers))?);
    let metrics = Arc::new(crate::ops::stream_metrics::Metrics::default());
    if let Some(addr) = &s.metrics_addr {
        crate::ops::stream_metrics::serve(addr, metrics.clone()).await?;
        info!(%addr, "Serving Prometheus metrics.");
    }
    let topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).env_err(|| format!("cannot subscribe to {}", s.topics.join(", ")))?;

    let mut recorded = lake::txn::RecordedTransactions::load(&table).await?;
    let mut report = StreamReport::default();
    let mut batch = Batch::default();
    let mut assigned: Vec<(String, i32)> = Vec::new();
    let targets = if s.until_caught_up { end_offsets(&consumer, &s.topics, &s.brokers).await? } else { HashMap::new() };
    let mut last_peer_refresh = Instant::now();
    let mut aligned: HashMap<(String, i32), bool> = HashMap::new();
    let mut stop: Option<&'static str> = None;
    let signal = listen_for_signals()?;
    let mut seek_error: Option<Error> = None;
    let mut progress: (i64, Instant) = (-1, Instant::now());
    let mut failing_since: Option<Instant> = None;
    let mut backoff_until: Option<Instant> = None;
    let mut last_lag = Instant::now();

    loop {
        // Assignment changes: reload bronze's offsets, note the end offsets to catch up to.
        let now_assigned = current_assignment(&consumer);
        if now_assigned != assigned {
            // Other workers may have committed these partitions since this one last looked.
            reload(&mut table, &mut recorded).await?;
            for tp in &now_assigned {
                if !assigned.contains(tp) {
                    aligned.insert(tp.clone(), false);
                }
            }
            info!(partitions = ?now_assigned, "Partitions assigned.");
            assigned = now_assigned;
        }
        // The lag gauges also move while nothing is committed (new messages, an idle stream).
        if s.metrics_addr.is_some() && last_lag.elapsed() > Duration::from_secs(5) {
            update_lag(&consumer, &recorded, &assigned, &metrics).await;
            last_lag = Instant::now();
        }
        if s.until_caught_up && stop.is_none() && batch.is_empty() {
            // Where this worker's consumer stands on the partitions it holds: past a target it
            // has read everything there is below it, even when the last offsets were not
            // messages (transaction markers) and so never reach bronze.
            let positions: HashMap<(String, i32), i64> = consumer
                .position()
                .map(|tpl| {
                    tpl.elements()
                        .iter()
                        .filter_map(|e| match e.offset() {
                            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let behind = |recorded: &lake::txn::RecordedTransactions| -> Vec<(String, i32)> {
                let mut v: Vec<_> = targets
                    .iter()
                    .filter(|(tp, end)| {
                        let read = if assigned.contains(tp) { positions.get(*tp).copied().unwrap_or(0) } else { 0 };
                        in_bronze(recorded, &tp.0, tp.1).unwrap_or(0).max(read) < **end
                    })
                    .map(|(tp, _)| tp.clone())
                    .collect();
                v.sort();
                v
            };
            let mut left = behind(&recorded);
            // Partitions this worker does not hold are caught up by the others: look at bronze.
            if !left.is_empty() && last_peer_refresh.elapsed() >= PEER_REFRESH {
                last_peer_refresh = Instant::now();
                reload(&mut table, &mut recorded).await?;
                left = behind(&recorded);
            }
            let moved: i64 = targets.keys().map(|tp| in_bronze(&recorded, &tp.0, tp.1).unwrap_or(0)).sum::<i64>()
                + positions.values().sum::<i64>();
            if moved != progress.0 {
                progress = (moved, Instant::now());
            }
            if left.is_empty() {
                stop = Some("caught up");
            } else if progress.1.elapsed() > s.stall_timeout {
                let list = left.iter().map(|(t, p)| format!("{t}/{p}")).collect::<Vec<_>>().join(", ");
                return Err(Error::environment(format!(
                    "not caught up: {list} still behind their end offsets, and nothing moved for {} s (neither this worker's reads nor bronze)",
                    s.stall_timeout.as_secs()
                ))
                .with_hint(format!(
                    "check the brokers and the consumer group {} (`vbda status`: lag, members); rerun: bronze holds what was committed",
                    s.group
                )));
            }
        }
        let age_left = match batch.opened {
            Some(t) => s.max_age.saturating_sub(t.elapsed()),
            None => Duration::from_millis(500),
        };
        let full = batch.rows.len() >= s.max_rows || batch.bytes >= s.max_bytes;
        let aged = batch.opened.is_some_and(|t| t.elapsed() >= s.max_age);
        if !batch.is_empty() && (full || aged || stop.is_some() || (s.until_caught_up && caught_up_with(&batch, &recorded, &assigned, &targets))) {
            let b = std::mem::take(&mut batch);
            let partitions: Vec<(String, i32)> = b.next.keys().cloned().collect();
            table = match commit(&spec, table, &mut recorded, &consumer, b, &s.args, &mut report, &metrics).await {
                Ok(t) => t,
                Err(e) => {
                    metrics.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
            };
            if s.metrics_addr.is_some() {
                update_lag(&consumer, &recorded, &partitions, &metrics).await;
            }
            continue;
        }
        if let Some(why) = stop {
            report.stopped_by = why.to_string();
            break;
        }
        if let Some(why) = signalled(&signal) {
            stop = Some(why);
            continue;
        }
        // After a Kafka error, wait a moment (signals are still heard) before reading again.
        if let Some(until) = backoff_until.filter(|u| *u > Instant::now()) {
            tokio::time::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(50))).await;
            continue;
        }
        backoff_until = None;
        // Read what librdkafka has fetched, up to the room left in the batch, on this thread:
        // polling a BaseConsumer in a loop costs no thread wake-up per message (a
        // BaseConsumer's per-message wake-ups cost more CPU than the rest of the stream).
        let room = s.max_rows.saturating_sub(batch.rows.len()).max(1);
        let wait = age_left.clamp(Duration::from_millis(1), Duration::from_millis(100));
        let mut taken = 0;
        let polled = tokio::task::block_in_place(|| {
            let mut timeout = wait;
            while taken < room && batch.bytes < s.max_bytes {
                let m = match consumer.poll(timeout) {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(m)) => m,
                };
                timeout = Duration::ZERO;
                taken += 1;
                report.messages += 1;
                metrics.messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let tp = (m.topic().to_string(), m.partition());
                let offset = m.offset();
                // The next offset bronze needs: after this batch's, else what bronze recorded,
                // else the partition's start (a seek to 0 lands on the oldest retained message).
                // (bronze's offset is looked up only for a partition's first message in a batch)
                let expected = batch.next.get(&tp).copied().or_else(|| in_bronze(&recorded, &tp.0, tp.1)).unwrap_or(0);
                if offset < expected {
                    report.already_in_bronze += 1;
                    metrics.skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                if offset > expected && !aligned.get(&tp).copied().unwrap_or(true) {
                    // Kafka's position is past what bronze holds: go back for the rest.
                    debug!(topic = %tp.0, partition = tp.1, from = offset, to = expected, "Seeking back to bronze's offset.");
                    if let Err(e) = consumer.seek(&tp.0, tp.1, Offset::Offset(expected), Duration::from_secs(10)) {
                        seek_error = Some(Error::environment(format!("cannot seek {}/{} to {expected}", tp.0, tp.1)).with_source(e));
                        return Ok(());
                    }
                    // librdkafka drops what it fetched before the seek (its messages carry an
                    // older version), so the next message of this partition is `expected`'s.
                    aligned.insert(tp, true);
                    continue;
                }
                aligned.insert(tp.clone(), true);
                batch.opened.get_or_insert_with(Instant::now);
                batch.first.entry(tp.clone()).or_insert(offset);
                batch.next.insert(tp.clone(), offset + 1);
                match m.payload() {
                    None => batch.tombstones += 1,
                    Some(p) => {
                        batch.bytes += p.len();
                        metrics.bytes.fetch_add(p.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        batch.rows.push(Pending {
                            topic: tp.0,
                            partition: tp.1,
                            offset,
                            timestamp: m.timestamp().to_millis(),
                            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                            payload: p.to_vec(),
                        });
                    }
                }
                if taken % 1024 == 0 && batch.opened.is_some_and(|t| t.elapsed() >= s.max_age) {
                    return Ok(());
                }
            }
            Ok(())
        });
        if let Some(e) = seek_error.take() {
            return Err(e);
        }
        match polled {
            // Only messages prove that Kafka is back: an empty poll is not a success.
            Ok(()) if taken > 0 => failing_since = None,
            Ok(()) => {}
            // Brokers going away and coming back is routine: librdkafka reconnects, so keep
            // going (nothing is lost: offsets come from bronze). Only give up when it lasts, so
            // that a scheduled --until-caught-up run ends.
            Err(e) => {
                metrics.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let since = *failing_since.get_or_insert_with(Instant::now);
                warn!(error = %e, "Kafka error; retrying.");
                if since.elapsed() > KAFKA_ERROR_LIMIT {
                    return Err(Error::environment(format!("Kafka at {} kept failing for {} s", s.brokers, KAFKA_ERROR_LIMIT.as_secs()))
                        .with_source(e)
                        .with_hint("check that the brokers are up and reachable; rerun: bronze holds what was committed"));
                }
                backoff_until = Some(Instant::now() + Duration::from_millis(200));
            }
        }
    }
    // Leave the group now, so that the partitions move to the other workers at once. Closing
    // the consumer waits for the group coordinator, which never answers while the brokers are
    // down: close on another thread and wait at most CLOSE_WAIT (bronze is committed already).
    consumer.unsubscribe();
    let (closed, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(consumer);
        let _ = closed.send(());
    });
    if wait.recv_timeout(CLOSE_WAIT).is_err() {
        warn!(seconds = CLOSE_WAIT.as_secs(), "Kafka did not confirm leaving the group (brokers down?); the partitions move on after the session timeout.");
    }
    report.bronze_version = table.version().map(|v| v as i64);
    for (app, v) in &recorded.versions {
        if let Some(rest) = app.strip_prefix("vbda.stream:") {
            if let Some((topic, partition)) = rest.rsplit_once(':') {
                if s.topics.iter().any(|t| t == topic) {
                    report.offsets.insert(format!("{topic}/{partition}"), *v);
                }
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// SIGINT and SIGTERM, heard on the runtime's threads while this one polls Kafka.
fn listen_for_signals() -> Result<Arc<std::sync::atomic::AtomicU8>> {
    let flag = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .env_err(|| "cannot listen for SIGTERM".to_string())?;
    let f = flag.clone();
    tokio::spawn(async move {
        if sigterm.recv().await.is_some() {
            f.store(2, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .env_err(|| "cannot listen for SIGINT".to_string())?;
    let f = flag.clone();
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            f.store(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    Ok(flag)
}

fn signalled(flag: &std::sync::atomic::AtomicU8) -> Option<&'static str> {
    match flag.load(std::sync::atomic::Ordering::SeqCst) {
        1 => Some("SIGINT"),
        2 => Some("SIGTERM"),
        _ => None,
    }
}

/// Lag per partition (end offset minus bronze's), for the metrics; best effort.
async fn update_lag(
    consumer: &Arc<BaseConsumer>,
    recorded: &lake::txn::RecordedTransactions,
    partitions: &[(String, i32)],
    metrics: &crate::ops::stream_metrics::Metrics,
) {
    for (topic, partition) in partitions {
        let c = consumer.clone();
        let (t, p) = (topic.clone(), *partition);
        let high = tokio::task::spawn_blocking(move || c.fetch_watermarks(&t, p, Duration::from_secs(2))).await;
        if let Ok(Ok((_, high))) = high {
            let done = in_bronze(recorded, topic, *partition).unwrap_or(0);
            metrics.set_lag(topic, *partition, high - done);
        }
    }
}

fn current_assignment(consumer: &BaseConsumer) -> Vec<(String, i32)> {
    let mut out: Vec<(String, i32)> = consumer
        .assignment()
        .map(|tpl| tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Whether the open batch takes this worker's partitions to their end offsets, moving at
/// least one of them there (then it is committed at once instead of waiting for its age; once
/// there, later messages wait for the batch's age like any others).
fn caught_up_with(batch: &Batch, recorded: &lake::txn::RecordedTransactions, assigned: &[(String, i32)], targets: &HashMap<(String, i32), i64>) -> bool {
    let done = |tp: &(String, i32)| in_bronze(recorded, &tp.0, tp.1).unwrap_or(0);
    let crosses = batch.next.iter().any(|(tp, n)| targets.get(tp).is_some_and(|end| done(tp) < *end && n >= end));
    crosses
        && assigned.iter().all(|tp| {
            let next = batch.next.get(tp).copied().unwrap_or_else(|| done(tp));
            targets.get(tp).is_none_or(|end| next >= *end)
        })
}

/// The end offset (high watermark) of every partition of the topics, for `--until-caught-up`.
async fn end_offsets(consumer: &Arc<BaseConsumer>, topics: &[String], brokers: &str) -> Result<HashMap<(String, i32), i64>> {
    let c = consumer.clone();
    let topics = topics.to_vec();
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || {
        let mut out = HashMap::new();
        for topic in &topics {
            let metadata = c
                .fetch_metadata(Some(topic), Duration::from_secs(30))
                .env_err(|| format!("cannot read the partitions of topic {topic} from {brokers}"))?;
            let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else { continue };
            if let Some(e) = t.error() {
                return Err(Error::data(format!("topic {topic} is not available on {brokers}: {}", rdkafka::error::RDKafkaErrorCode::from(e)))
                    .with_hint("check the topic name (--topic, VBDA_TOPIC) and that it exists"));
            }
            for p in t.partitions() {
                let (_, high) = c
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .env_err(|| format!("cannot read the end offset of {topic}/{}", p.id()))?;
                out.insert((topic.clone(), p.id()), high);
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| Error::environment("the end-offset query panicked").with_source(e))?
}

/// Commit a batch: trimmed against bronze's latest offsets, retried on a concurrent commit
/// of the same partitions; then Kafka's offsets, for lag tools.
async fn commit(
    spec: &TableSpec,
    mut table: deltalake::DeltaTable,
    recorded: &mut lake::txn::RecordedTransactions,
    consumer: &BaseConsumer,
    mut batch: Batch,
    args: &[String],
    report: &mut StreamReport,
    metrics: &crate::ops::stream_metrics::Metrics,
) -> Result<deltalake::DeltaTable> {
    let started = Instant::now();
    for attempt in 0..20 {
        reload(&mut table, recorded).await?;
        // Another worker may have committed some of these offsets meanwhile: drop them.
        // (a handful of partitions: a list, looked up without allocating per row)
        let offsets: Vec<(&str, i32, i64)> =
            batch.next.keys().map(|(t, p)| (t.as_str(), *p, in_bronze(recorded, t, *p).unwrap_or(0))).collect();
        let done = |topic: &str, partition: i32| offsets.iter().find(|(t, p, _)| *p == partition && *t == topic).map_or(0, |o| o.2);
        batch.rows.retain(|r| r.offset >= done(&r.topic, r.partition));
        let mut info = CommitInfo::new("stream").with_args(args.iter().cloned());
        let mut advancing = 0;
        for ((topic, partition), next) in &batch.next {
            if *next > done(topic, *partition) {
                info = info.with_transaction(app_id(topic, *partition), *next);
                advancing += 1;
            }
        }
        if advancing == 0 {
            debug!("Every message of the batch is already in bronze.");
            return Ok(table);
        }
        let rows = batch.rows.len() as u64;
        let info = info
            .with_count("rows", rows)
            .with_count("tombstones", batch.tombstones)
            .with_detail("offsets", serde_json::json!(batch.next.iter().map(|((t, p), n)| (format!("{t}/{p}"), *n)).collect::<BTreeMap<_, _>>()));
        let record_batch = to_bronze(spec, &batch.rows)?;
        match lake::append(table.clone(), spec, vec![record_batch], info).await {
            Ok((t, outcome)) => {
                report.rows_committed += rows;
                report.tombstones += batch.tombstones;
                report.commits += 1;
                metrics.committed(rows, batch.tombstones, started.elapsed().as_secs_f64());
                let now_ms = Utc::now().timestamp_millis();
                for r in batch.rows.iter().filter_map(|r| r.timestamp) {
                    metrics.end_to_end((now_ms - r) as f64 / 1000.0);
                }
                info!(version = outcome.version, rows, seconds = started.elapsed().as_secs_f64(), "Committed a batch to bronze.");
                recorded.refresh(&t).await?;
                let mut tpl = TopicPartitionList::new();
                for ((topic, partition), next) in &batch.next {
                    let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
                }
                if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                    warn!(error = %e, "Could not commit offsets to Kafka (bronze has them; only lag tools are behind).");
                }
                return Ok(t);
            }
            Err(e) if crate::ops::ingest::is_concurrent_commit(&e) => {
                debug!(attempt, "Another worker committed the same partitions; trimming and retrying.");
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::environment("gave up committing a batch after 20 concurrent commits to the same partitions"))
}

/// Bronze rows for Kafka messages.
fn to_bronze(spec: &TableSpec, rows: &[Pending]) -> Result<RecordBatch> {
    let schema = lake::arrow_schema(spec);
    let now = Utc::now();
    let (mut payload, mut payload_bytes, mut format, mut error) = (StringBuilder::new(), BinaryBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut event_id, mut fallback, mut kind) = (StringBuilder::new(), BooleanBuilder::new(), StringBuilder::new());
    let (mut file, mut line, mut topic, mut partition, mut offset) =
        (StringBuilder::new(), Int64Builder::new(), StringBuilder::new(), Int32Builder::new(), Int64Builder::new());
    let (mut ts, mut key, mut batch_id, mut ingested, mut date) = (
        TimestampMicrosecondBuilder::new().with_timezone("UTC"),
        StringBuilder::new(),
        StringBuilder::new(),
        TimestampMicrosecondBuilder::new().with_timezone("UTC"),
        Date32Builder::new(),
    );
    let id = uuid::Uuid::new_v4().to_string();
    for r in rows {
        let (text, raw) = match std::str::from_utf8(&r.payload) {
            Ok(t) => (t.to_string(), None),
            Err(_) => (String::from_utf8_lossy(&r.payload).into_owned(), Some(r.payload.as_slice())),
        };
        let (eid, day) = probe(&text, false);
        payload.append_value(&text);
        payload_bytes.append_option(raw);
        format.append_value("kafka");
        event_id.append_option(eid.as_deref());
        match day {
            Ok(d) => {
                error.append_null();
                fallback.append_value(false);
                date.append_value(days_since_epoch(d));
            }
            Err(reason) => {
                error.append_value(reason);
                fallback.append_value(true);
                date.append_value(days_since_epoch(now.date_naive()));
            }
        }
        kind.append_value("kafka");
        file.append_null();
        line.append_null();
        topic.append_value(&r.topic);
        partition.append_value(r.partition);
        offset.append_value(r.offset);
        ts.append_option(r.timestamp.map(|ms| ms * 1000));
        key.append_option(r.key.as_deref());
        batch_id.append_value(&id);
        ingested.append_value(now.timestamp_micros());
    }
    let mut columns: HashMap<&str, ArrayRef> = HashMap::new();
    columns.insert("payload", Arc::new(payload.finish()));
    columns.insert("payload_bytes", Arc::new(payload_bytes.finish()));
    columns.insert("payload_format", Arc::new(format.finish()));
    columns.insert("payload_error", Arc::new(error.finish()));
    columns.insert("event_id", Arc::new(event_id.finish()));
    columns.insert("event_date_fallback", Arc::new(fallback.finish()));
    columns.insert("source_kind", Arc::new(kind.finish()));
    columns.insert("source_file", Arc::new(file.finish()));
    columns.insert("source_line", Arc::new(line.finish()));
    columns.insert("kafka_topic", Arc::new(topic.finish()));
    columns.insert("kafka_partition", Arc::new(partition.finish()));
    columns.insert("kafka_offset", Arc::new(offset.finish()));
    columns.insert("kafka_timestamp", Arc::new(ts.finish()));
    columns.insert("kafka_key", Arc::new(key.finish()));
    columns.insert("batch_id", Arc::new(batch_id.finish()));
    columns.insert("ingested_at", Arc::new(ingested.finish()));
    columns.insert("event_date", Arc::new(date.finish()));
    let ordered = schema
        .fields()
        .iter()
        .map(|f| columns.remove(f.name().as_str()).ok_or_else(|| Error::data(format!("stream does not fill bronze column `{}`", f.name()))))
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema, ordered).map_err(|e| Error::data("bronze rows from Kafka do not match the spec").with_source(e))
}

pub fn summary(r: &StreamReport) -> String {
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
