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
//! - offsets are recorded under the topic's Kafka id (`vbda.stream:<topic>#<id>:<partition>`),
//!   so a topic deleted and created again under the same name, whose offsets start at 0 again,
//!   is read from its start rather than skipped up to the old topic's offsets. Offsets that a
//!   vbda without topic ids recorded by name alone are taken as the current topic's, unless
//!   bronze already holds offsets of the topic under an id (then it was recreated since).
//!
//! A crash at any moment therefore loses nothing (uncommitted messages are read again) and
//! duplicates nothing (committed ones are skipped).
//!
//! Batches close at `max_rows`, `max_bytes` or `max_age`, whichever comes first. Tombstones
//! (null payloads) are counted and skipped; every other message is stored raw, valid JSON or
//! not (bronze is lossless). A [`Shutdown`] (the CLI maps SIGINT and SIGTERM to it) finishes and
//! commits the batch in flight, then the worker leaves the group and returns.
//! `--until-caught-up` reads the end offset of every partition of the topics at start and stops
//! once bronze holds them all, whichever worker of the group committed them: a worker must
//! not stop early because a member that died without leaving the group still holds some
//! partitions (they come back to the group when its session times out).

//!
//! The worker is a loop of named steps ([`Worker::run`]): follow the assignment, report
//! progress (lag gauges), decide whether `--until-caught-up` is done, commit a due batch
//! (trimmed against bronze), or poll Kafka for more.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::lake::{self, Lakehouse};
use crate::ops::stream_metrics::Metrics;

mod worker;
use worker::Worker;

/// How long leaving the consumer group may take on exit.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// How often an idle `--until-caught-up` worker re-reads bronze for other workers' commits.
const PEER_REFRESH: Duration = Duration::from_secs(1);

/// Kafka errors (brokers down, network) are retried for this long before the run gives up.
const KAFKA_ERROR_LIMIT: Duration = Duration::from_secs(300);

/// How often the lag gauges are refreshed while nothing is committed.
const LAG_REFRESH: Duration = Duration::from_secs(5);

/// librdkafka's default `session.timeout.ms`: how long a member that died without leaving
/// keeps its partitions.
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

/// The consumer group `vbda stream` joins unless told otherwise.
pub const DEFAULT_GROUP: &str = "vbda-stream";

#[derive(Debug, Clone, Serialize)]
pub struct StreamSettings {
    /// Brokers and librdkafka settings (`-X`, `VBDA_KAFKA_*`).
    pub connection: crate::kafka::Connection,
    pub topics: Vec<String>,
    pub group: String,
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
    #[serde(skip)]
    pub args: Vec<String>,
}

impl StreamSettings {
    /// The group's `session.timeout.ms` (`-X`), or librdkafka's default.
    pub fn session_timeout(&self) -> Duration {
        self.connection
            .config
            .iter()
            .rev()
            .find(|(k, _)| k == "session.timeout.ms")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_SESSION_TIMEOUT, Duration::from_millis)
    }
}

impl Default for StreamSettings {
    /// The CLI's defaults; `connection` and `topics` are left for the caller.
    fn default() -> Self {
        Self {
            connection: crate::kafka::Connection::default(),
            topics: Vec::new(),
            group: DEFAULT_GROUP.to_string(),
            max_rows: 100_000,
            max_bytes: 64 << 20,
            max_age: Duration::from_millis(5_000),
            until_caught_up: false,
            stall_timeout: Duration::from_secs(60),
            metrics_addr: None,
            args: Vec::new(),
        }
    }
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

/// Asks a running worker to stop: it commits the batch in flight, leaves the group and
/// returns its report, whose `stopped_by` is the first reason given.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop, for `reason` (e.g. `SIGTERM`); later reasons are ignored.
    pub fn stop(&self, reason: impl Into<String>) {
        let _ = self.reason.set(reason.into());
        self.token.cancel();
    }

    /// The reason, once a stop was asked for.
    pub fn requested(&self) -> Option<&str> {
        self.token.is_cancelled().then(|| self.reason.get().map(String::as_str).unwrap_or("cancelled"))
    }

    /// The underlying token (cancelled when a stop is asked for).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// The application id under which a partition's next offset is recorded in bronze: by topic
/// id where Kafka has one (a recreated topic is a new one), else by name.
pub fn app_id(topic: &str, topic_id: Option<&str>, partition: i32) -> String {
    lake::bronze::stream_app_id(topic, topic_id, partition)
}

/// Run a worker until it is caught up (with `until_caught_up`), stopped by `shutdown`, or
/// fails; serves metrics on `metrics_addr` meanwhile.
pub async fn stream(lake: &Lakehouse, catalog: &Catalog, s: &StreamSettings, shutdown: Shutdown) -> Result<StreamReport> {
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = &s.metrics_addr {
        crate::ops::stream_metrics::serve(addr, metrics.clone()).await?;
        info!(%addr, "Serving Prometheus metrics.");
    }
    run(lake, catalog, s, shutdown, metrics).await
}

/// [`stream`] with the caller's metrics (tests watch them), serving none.
pub async fn run(lake: &Lakehouse, catalog: &Catalog, s: &StreamSettings, shutdown: Shutdown, metrics: Arc<Metrics>) -> Result<StreamReport> {
    let mut worker = Worker::start(lake, catalog, s, metrics).await?;
    let outcome = worker.run(&shutdown).await;
    worker.leave_group();
    if outcome.is_err() {
        worker.metrics.add_error();
    }
    outcome.map(|()| worker.finish())
}

