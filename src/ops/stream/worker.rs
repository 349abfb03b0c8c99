//! The stream worker's loop and its steps (see the parent module for the guarantees).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::arrow::record_batch::RecordBatch;
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::{
    CLOSE_WAIT, KAFKA_ERROR_LIMIT, LAG_REFRESH, Shutdown, StreamReport, StreamSettings,
};
use crate::catalog::{Catalog, TableSpec};
use crate::error::{Context, Error, Result};
use crate::kafka::Consumer;
use crate::kafka::problems::RefusalKind;
use crate::lake::bronze::{BronzeRows, Origin, Record, TABLE as BRONZE};
use crate::lake::{self, CommitInfo, Lakehouse};
use crate::ops::stream_metrics::Metrics;

mod catch_up;
mod topic_ids;

use catch_up::CatchUp;

/// A message's place and content, until its batch is committed.
struct Pending {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<String>,
    payload: Vec<u8>,
}

type TopicPartition = (String, i32);

/// The open micro-batch.
#[derive(Default)]
struct Batch {
    rows: Vec<Pending>,
    /// Next offset per partition, tombstones included.
    next: HashMap<TopicPartition, i64>,
    bytes: usize,
    tombstones: u64,
    opened: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

/// Kafka errors come in episodes (brokers away): retried with a pause, up to a limit.
#[derive(Default)]
struct KafkaTrouble {
    since: Option<Instant>,
    pause_until: Option<Instant>,
}

/// One stream worker: a consumer in the group and the bronze table it commits to.
pub(super) struct Worker<'a> {
    s: &'a StreamSettings,
    started: Instant,
    bronze: lake::Table,
    consumer: Option<Arc<Consumer>>,
    /// A client in no group, for offset and topic queries (polled by them; see
    /// `kafka::offsets::patiently`).
    meta: Arc<Consumer>,
    pub(super) metrics: Arc<Metrics>,
    report: StreamReport,
    batch: Batch,
    assigned: Vec<TopicPartition>,
    /// Per partition: whether the consumer's position was checked against bronze's offset
    /// since it was assigned (a first message beyond it means seeking back).
    aligned: HashMap<TopicPartition, bool>,
    /// Newly assigned partitions not yet sought to bronze's offset: without a seek, a
    /// partition whose Kafka position is past bronze's (bronze restored to an earlier
    /// version) and that gets no new message would never be read back.
    to_seek: std::collections::HashSet<TopicPartition>,
    last_seek: Instant,
    catch_up: Option<CatchUp>,
    trouble: KafkaTrouble,
    last_lag: Instant,
    /// Set once the loop decided to stop (caught up, or asked to): the batch is committed first.
    stop: Option<String>,
    /// Kafka's id of each topic (where the cluster has ids): offsets are recorded under it.
    topic_ids: HashMap<String, String>,
    /// Per topic: whether offsets recorded by name alone (by a vbda before topic ids) count.
    by_name: HashMap<String, bool>,
}

impl<'a> Worker<'a> {
    pub(super) async fn start(lake: &Lakehouse, catalog: &Catalog, s: &'a StreamSettings, metrics: Arc<Metrics>) -> Result<Worker<'a>> {
        let spec = catalog.table(BRONZE)?;
        let bronze = lake::Table::open_or_create(lake, spec).await?;
        let meta = Arc::new(s.connection.metadata_client()?);
        let catch_up = if s.until_caught_up {
            let targets = end_offsets(&meta, &s.topics, &s.connection.brokers).await?;
            Some(CatchUp { targets, last_peer_refresh: Instant::now(), progress: (-1, Instant::now()) })
        } else {
            None
        };
        let consumer = Arc::new(s.connection.consumer(&s.group)?);
        let topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).env_err(|| format!("cannot subscribe to {}", s.topics.join(", ")))?;
        let mut worker = Worker {
            s,
            started: Instant::now(),
            bronze,
            consumer: Some(consumer),
            meta,
            metrics,
            report: StreamReport::default(),
            batch: Batch::default(),
            assigned: Vec::new(),
            aligned: HashMap::new(),
            to_seek: Default::default(),
            last_seek: Instant::now(),
            catch_up,
            trouble: KafkaTrouble::default(),
            last_lag: Instant::now(),
            stop: None,
            topic_ids: HashMap::new(),
            by_name: HashMap::new(),
        };
        worker.learn_topic_ids()?;
        Ok(worker)
    }

    fn consumer(&self) -> Result<&Arc<Consumer>> {
        self.consumer.as_ref().ok_or_else(|| Error::environment("the Kafka consumer is closed"))
    }

    /// The loop: each turn does the first step that applies.
    pub(super) async fn run(&mut self, shutdown: &Shutdown) -> Result<()> {
        loop {
            self.follow_assignment().await?;
            self.report_progress().await;
            if self.stop.is_none() && self.batch.is_empty() && self.caught_up().await? {
                self.stop = Some("caught up".into());
            }
            if self.batch_due() {
                self.commit().await?;
                continue;
            }
            if let Some(why) = self.stop.take() {
                self.report.stopped_by = why;
                return Ok(());
            }
            if let Some(why) = shutdown.requested() {
                self.stop = Some(why.to_string());
                continue;
            }
            if self.pausing().await {
                continue;
            }
            self.poll()?;
        }
    }

    /// Assignment changes: reload bronze's offsets (other workers may have committed these
    /// partitions since this one last looked); a new partition's position is checked again.
    async fn follow_assignment(&mut self) -> Result<()> {
        let now_assigned = current_assignment(self.consumer()?);
        if now_assigned != self.assigned {
            self.bronze.reload().await?;
            self.follow_topic_ids()?;
            for tp in &now_assigned {
                if !self.assigned.contains(tp) {
                    self.aligned.insert(tp.clone(), false);
                    self.to_seek.insert(tp.clone());
                }
            }
            self.to_seek.retain(|tp| now_assigned.contains(tp));
            info!(partitions = ?now_assigned, "Partitions assigned.");
            self.assigned = now_assigned;
            self.seek_to_bronze();
            // A rebalance is progress of a kind: the stall clock starts again.
            if let Some(catch_up) = self.catch_up.as_mut() {
                catch_up.progress.1 = Instant::now();
            }
        }
        Ok(())
    }

    /// Seek the partitions in `to_seek` to the offset bronze needs next. A seek librdkafka
    /// refuses (the partition's fetcher not started yet) is tried again on an idle poll; the
    /// first message of every new partition is checked in [`Self::take`] either way.
    fn seek_to_bronze(&mut self) {
        self.last_seek = Instant::now();
        let Ok(consumer) = self.consumer().cloned() else { return };
        for tp in self.to_seek.clone() {
            let expected = self.batch.next.get(&tp).copied().or_else(|| self.in_bronze(&tp)).unwrap_or(0);
            match consumer.seek(&tp.0, tp.1, Offset::Offset(expected), Duration::from_millis(500)) {
                Ok(()) => {
                    debug!(topic = %tp.0, partition = tp.1, offset = expected, "Sought to bronze's offset.");
                    self.to_seek.remove(&tp);
                }
                Err(e) => debug!(topic = %tp.0, partition = tp.1, error = %e, "Seek to bronze's offset refused; trying again."),
            }
        }
    }

    /// The lag gauges also move while nothing is committed (new messages, an idle stream).
    async fn report_progress(&mut self) {
        if self.s.metrics_addr.is_some() && self.last_lag.elapsed() > LAG_REFRESH {
            let partitions = self.assigned.clone();
            self.update_lag(&partitions).await;
            self.last_lag = Instant::now();
        }
    }

    /// Whether the open batch must be committed now: full, old enough, the worker is
    /// stopping, or it takes this worker's partitions to their end offsets.
    fn batch_due(&self) -> bool {
        if self.batch.is_empty() {
            return false;
        }
        let full = self.batch.rows.len() >= self.s.max_rows || self.batch.bytes >= self.s.max_bytes;
        let aged = self.batch.opened.is_some_and(|t| t.elapsed() >= self.s.max_age);
        full || aged || self.stop.is_some() || self.completes_catch_up()
    }

    /// After a Kafka error, wait a moment (a stop is still heard) before reading again.
    async fn pausing(&mut self) -> bool {
        match self.trouble.pause_until.filter(|u| *u > Instant::now()) {
            Some(until) => {
                tokio::time::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(50))).await;
                true
            }
            None => {
                self.trouble.pause_until = None;
                false
            }
        }
    }

    /// Read what librdkafka has fetched, up to the room left in the batch, on this thread:
    /// polling a BaseConsumer in a loop costs no thread wake-up per message (a
    /// StreamConsumer's per-message wake-ups cost more CPU than the rest of the stream).
    fn poll(&mut self) -> Result<()> {
        let consumer = self.consumer()?.clone();
        let room = self.s.max_rows.saturating_sub(self.batch.rows.len()).max(1);
        let age_left = match self.batch.opened {
            Some(t) => self.s.max_age.saturating_sub(t.elapsed()),
            None => Duration::from_millis(500),
        };
        let mut timeout = age_left.clamp(Duration::from_millis(1), Duration::from_millis(100));
        let mut taken = 0;
        let polled = tokio::task::block_in_place(|| -> Result<Option<rdkafka::error::KafkaError>> {
            while taken < room && self.batch.bytes < self.s.max_bytes {
                let m = match consumer.poll(timeout) {
                    None => return Ok(None),
                    Some(Err(e)) => return Ok(Some(e)),
                    Some(Ok(m)) => m,
                };
                timeout = Duration::ZERO;
                taken += 1;
                self.take(&consumer, &m)?;
                if taken % 1024 == 0 && self.batch.opened.is_some_and(|t| t.elapsed() >= self.s.max_age) {
                    break;
                }
            }
            Ok(None)
        })?;
        if let Some(refusal) = consumer.context().take_refusal() {
            // Told once and for all: retrying a wrong password only hides it. A TLS failure
            // after messages flowed is more likely a broker restarting: retried below.
            if refusal.kind != RefusalKind::Tls || self.report.messages == 0 {
                return Err(refusal.to_error(&self.s.connection.brokers));
            }
            warn!(error = %refusal.message, "TLS handshake failed after messages had flowed; retrying.");
        }
        if taken == 0 && !self.to_seek.is_empty() && self.last_seek.elapsed() >= Duration::from_secs(1) {
            self.seek_to_bronze();
        }
        match polled {
            // Only messages prove that Kafka is back: an empty poll is not a success.
            None if taken > 0 => self.trouble.since = None,
            None => {}
            // Brokers going away and coming back is routine: librdkafka reconnects, so keep
            // going (nothing is lost: offsets come from bronze). Only give up when it lasts, so
            // that a scheduled --until-caught-up run ends.
            Some(e) => {
                self.metrics.add_error();
                let since = *self.trouble.since.get_or_insert_with(Instant::now);
                warn!(error = %e, "Kafka error; retrying.");
                if since.elapsed() > KAFKA_ERROR_LIMIT {
                    return Err(Error::environment(format!(
                        "Kafka at {} kept failing for {} s",
                        self.s.connection.brokers,
                        KAFKA_ERROR_LIMIT.as_secs()
                    ))
                    .with_source(e)
                    .with_hint("check that the brokers are up and reachable; rerun: bronze holds what was committed"));
                }
                self.trouble.pause_until = Some(Instant::now() + Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// One message into the batch, unless bronze holds it already; a partition whose first
    /// message is past bronze's offset is sought back to it.
    fn take(&mut self, consumer: &Consumer, m: &BorrowedMessage<'_>) -> Result<()> {
        self.report.messages += 1;
        self.metrics.add_messages(1);
        let tp = (m.topic().to_string(), m.partition());
        let offset = m.offset();
        // The next offset bronze needs: after this batch's, else what bronze recorded, else the
        // partition's start (a seek to 0 lands on the oldest retained message).
        let expected = self.batch.next.get(&tp).copied().or_else(|| self.in_bronze(&tp)).unwrap_or(0);
        if offset < expected {
            self.report.already_in_bronze += 1;
            self.metrics.add_skipped(1);
            return Ok(());
        }
        if offset > expected && !self.aligned.get(&tp).copied().unwrap_or(true) {
            // Kafka's position is past what bronze holds: go back for the rest.
            debug!(topic = %tp.0, partition = tp.1, from = offset, to = expected, "Seeking back to bronze's offset.");
            consumer
                .seek(&tp.0, tp.1, Offset::Offset(expected), Duration::from_secs(10))
                .env_err(|| format!("cannot seek {}/{} to {expected}", tp.0, tp.1))?;
            // librdkafka drops what it fetched before the seek (its messages carry an older
            // version), so the next message of this partition is `expected`'s.
            self.aligned.insert(tp, true);
            return Ok(());
        }
        self.aligned.insert(tp.clone(), true);
        self.batch.opened.get_or_insert_with(Instant::now);
        self.batch.next.insert(tp.clone(), offset + 1);
        match m.payload() {
            None => self.batch.tombstones += 1,
            Some(p) => {
                self.batch.bytes += p.len();
                self.metrics.add_bytes(p.len() as u64);
                self.batch.rows.push(Pending {
                    topic: tp.0,
                    partition: tp.1,
                    offset,
                    timestamp: m.timestamp().to_millis(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: p.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Commit the open batch: trimmed against bronze's latest offsets, retried on a
    /// concurrent commit of the same partitions; then Kafka's offsets, for lag tools.
    async fn commit(&mut self) -> Result<()> {
        let mut batch = std::mem::take(&mut self.batch);
        let partitions: Vec<TopicPartition> = batch.next.keys().cloned().collect();
        let started = Instant::now();
        for attempt in 0..20 {
            self.bronze.reload().await?;
            let advancing = trim(&mut batch, |tp| self.in_bronze(tp).unwrap_or(0));
            if advancing.is_empty() {
                debug!("Every message of the batch is already in bronze.");
                return Ok(());
            }
            let rows = batch.rows.len() as u64;
            let mut info = CommitInfo::new("stream").with_args(self.s.args.iter().cloned());
            for (topic, partition, next) in &advancing {
                info = info.with_transaction(self.app_id(&(topic.clone(), *partition)), *next);
            }
            let info = info.with_count("rows", rows).with_count("tombstones", batch.tombstones).with_detail(
                "offsets",
                serde_json::json!(batch.next.iter().map(|((t, p), n)| (format!("{t}/{p}"), *n)).collect::<BTreeMap<_, _>>()),
            );
            let record_batch = to_bronze(self.bronze.spec(), &batch.rows)?;
            crate::failpoint::hit("stream.before_commit");
            match self.bronze.append(vec![record_batch], info).await {
                Ok(outcome) => {
                    crate::failpoint::hit("stream.after_commit");
                    self.report.rows_committed += rows;
                    self.report.tombstones += batch.tombstones;
                    self.report.commits += 1;
                    self.metrics.committed(rows, batch.tombstones, started.elapsed().as_secs_f64());
                    let now_ms = Utc::now().timestamp_millis();
                    for ts in batch.rows.iter().filter_map(|r| r.timestamp) {
                        self.metrics.end_to_end(now_ms.saturating_sub(ts) as f64 / 1000.0);
                    }
                    info!(version = outcome.version, rows, seconds = started.elapsed().as_secs_f64(), "Committed a batch to bronze.");
                    self.commit_to_kafka(&batch.next);
                    if self.s.metrics_addr.is_some() {
                        self.update_lag(&partitions).await;
                    }
                    return Ok(());
                }
                Err(e) if lake::is_concurrent_commit(&e) => {
                    debug!(attempt, "Another worker committed the same partitions; trimming and retrying.");
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::environment("gave up committing a batch after 20 concurrent commits to the same partitions"))
    }

    /// Kafka's committed offsets follow bronze's, for lag tools only: a failure costs nothing.
    fn commit_to_kafka(&self, next: &HashMap<TopicPartition, i64>) {
        let Ok(consumer) = self.consumer() else { return };
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), n) in next {
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*n));
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
            warn!(error = %e, "Could not commit offsets to Kafka (bronze has them; only lag tools are behind).");
        }
    }

    /// Lag per partition (end offset minus bronze's), for the metrics; best effort.
    async fn update_lag(&self, partitions: &[TopicPartition]) {
        for tp in partitions {
            let (c, b, t, p) = (self.meta.clone(), self.s.connection.brokers.clone(), tp.0.clone(), tp.1);
            let ends = tokio::task::spawn_blocking(move || crate::kafka::watermarks(&c, &b, &t, p, Duration::from_secs(2))).await;
            if let Ok(Ok((_, high))) = ends {
                self.metrics.set_lag(&tp.0, tp.1, high - self.in_bronze(tp).unwrap_or(0));
            }
        }
    }

    /// Leave the group now, so that the partitions move to the other workers at once. Closing
    /// the consumer waits for the group coordinator, which never answers while the brokers
    /// are down: close on another thread and wait at most CLOSE_WAIT (bronze is committed).
    pub(super) fn leave_group(&mut self) {
        let Some(consumer) = self.consumer.take() else { return };
        // Kafka's committed offsets end where bronze's do, so lag tools read 0 for what this
        // worker finished (the commits after each batch are asynchronous and may be in flight).
        let mut held = TopicPartitionList::new();
        for tp in &self.assigned {
            if let Some(next) = self.in_bronze(tp) {
                let _ = held.add_partition_offset(&tp.0, tp.1, Offset::Offset(next));
            }
        }
        let (closed, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if held.count() > 0 {
                if let Err(e) = consumer.commit(&held, CommitMode::Sync) {
                    warn!(error = %e, "Could not commit offsets to Kafka on exit (bronze has them; only lag tools are behind).");
                }
            }
            consumer.unsubscribe();
            drop(consumer);
            let _ = closed.send(());
        });
        if wait.recv_timeout(CLOSE_WAIT).is_err() {
            warn!(
                seconds = CLOSE_WAIT.as_secs(),
                "Kafka did not confirm leaving the group (brokers down?); the partitions move on after the session timeout."
            );
        }
    }

    /// The report: bronze's version and the offsets it holds for these topics.
    pub(super) fn finish(mut self) -> StreamReport {
        self.report.bronze_version = self.bronze.version();
        let mut partitions: Vec<TopicPartition> = self
            .bronze
            .recorded()
            .versions
            .keys()
            .filter_map(|app| lake::bronze::parse_stream_app_id(app))
            .filter(|(topic, _, _)| self.s.topics.iter().any(|t| t == topic))
            .map(|(topic, _, partition)| (topic.to_string(), partition))
            .collect();
        partitions.sort();
        partitions.dedup();
        for tp in partitions {
            if let Some(next) = self.in_bronze(&tp) {
                self.report.offsets.insert(format!("{}/{}", tp.0, tp.1), next);
            }
        }
        self.report.seconds = self.started.elapsed().as_secs_f64();
        self.report
    }
}

/// Drop the rows another worker committed meanwhile (below `done`); returns the partitions
/// whose recorded offset this batch moves forward, with their next offset.
fn trim(batch: &mut Batch, done: impl Fn(&TopicPartition) -> i64) -> Vec<(String, i32, i64)> {
    // A handful of partitions: a list, looked up without allocating per row.
    let offsets: Vec<(&str, i32, i64)> = batch.next.keys().map(|tp| (tp.0.as_str(), tp.1, done(tp))).collect();
    let done_of = |topic: &str, partition: i32| offsets.iter().find(|(t, p, _)| *p == partition && *t == topic).map_or(0, |o| o.2);
    let advancing: Vec<(String, i32, i64)> = batch
        .next
        .iter()
        .filter(|((t, p), next)| **next > done_of(t, *p))
        .map(|((t, p), next)| (t.clone(), *p, *next))
        .collect();
    batch.rows.retain(|r| r.offset >= done_of(&r.topic, r.partition));
    advancing
}

fn current_assignment(consumer: &Consumer) -> Vec<TopicPartition> {
    let mut out: Vec<TopicPartition> = consumer
        .assignment()
        .map(|tpl| tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The end offset (high watermark) of every partition of the topics, for `--until-caught-up`.
async fn end_offsets(consumer: &Arc<Consumer>, topics: &[String], brokers: &str) -> Result<HashMap<TopicPartition, i64>> {
    let (c, topics, brokers) = (consumer.clone(), topics.to_vec(), brokers.to_string());
    let ends = tokio::task::spawn_blocking(move || crate::kafka::end_offsets(&c, &brokers, &topics, Duration::from_secs(30)))
        .await
        .map_err(|e| Error::environment("the end-offset query panicked").with_source(e))??;
    Ok(ends.into_iter().map(|(tp, (_, high))| (tp, high)).collect())
}

/// Bronze rows for Kafka messages.
fn to_bronze(spec: &TableSpec, rows: &[Pending]) -> Result<RecordBatch> {
    let mut out = BronzeRows::new(&uuid::Uuid::new_v4().to_string());
    for r in rows {
        let record = Record::from_bytes(&r.payload, 0);
        out.push(
            &record,
            Origin::Kafka { topic: &r.topic, partition: r.partition, offset: r.offset, timestamp_ms: r.timestamp, key: r.key.as_deref() },
        );
    }
    out.finish(spec)
}
