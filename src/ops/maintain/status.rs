//! `vbda status`: per table its version, last commit and age, size, small files and the
//! newest value of its time column; for the stream's table, the Kafka consumer lag.
//!
//! What can go wrong: the lag needs the brokers; when they do not answer, the error is
//! reported in the row (`stream_error`) and the rest of the status is still shown. The
//! newest time comes from partition values or file statistics, so files written without
//! statistics leave it unknown.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::specs;
use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result, TableProblem};
use crate::lake::Lakehouse;
use crate::lake::from_delta;

/// A data file smaller than this counts as small in `vbda status` (a sign that `optimize`
/// is due).
pub const SMALL_FILE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusSettings {
    /// Only this table; None for all.
    pub table: Option<String>,
    /// The stream's Kafka source, when brokers and topic are known: its lag is shown.
    pub stream: Option<StreamSource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusTable {
    pub table: String,
    pub created: bool,
    pub version: Option<i64>,
    pub last_commit: Option<DateTime<Utc>>,
    /// Seconds since the last commit.
    pub freshness_seconds: Option<i64>,
    /// The newest value of the table's time column, from the files' statistics.
    pub newest_event_time: Option<String>,
    pub time_column: Option<String>,
    pub files: u64,
    pub bytes: u64,
    pub rows: Option<u64>,
    pub small_files: u64,
    /// For the stream's table (bronze.video_events), when brokers, topic and group are set:
    /// the consumer group's lag per `topic/partition`.
    pub stream_lag: Option<BTreeMap<String, i64>>,
    /// Why the lag is missing although a stream source is set (Kafka unreachable, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_error: Option<String>,
    /// Why the table could not be read (a damaged log, storage refusing): the others are
    /// still reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<TableProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub tables: Vec<StatusTable>,
    pub small_file_bytes: u64,
    pub seconds: f64,
}

/// The column whose newest value tells how fresh a table is.
fn time_column(spec: &TableSpec) -> Option<&str> {
    ["event_ts", "event_date", "date", "loaded_at", "ingested_at"].into_iter().find(|c| spec.column(c).is_some())
}

pub async fn status(lake: &Lakehouse, catalog: &Catalog, s: &StatusSettings) -> Result<StatusReport> {
    let StatusSettings { table, stream } = s;
    let (table, stream) = (table.as_deref(), stream.as_ref());
    let started = Instant::now();
    let mut report = StatusReport { tables: Vec::new(), small_file_bytes: SMALL_FILE_BYTES, seconds: 0.0 };
    let now = Utc::now();
    for spec in specs(catalog, table)? {
        let column = time_column(spec);
        let mut row = StatusTable {
            table: spec.id.to_string(),
            created: false,
            version: None,
            last_commit: None,
            freshness_seconds: None,
            newest_event_time: None,
            time_column: column.map(str::to_string),
            files: 0,
            bytes: 0,
            rows: None,
            small_files: 0,
            stream_lag: None,
            stream_error: None,
            problem: None,
        };
        if let (Some(source), "bronze.video_events") = (stream, spec.id.to_string().as_str()) {
            let source = source.clone();
            let lag = tokio::task::spawn_blocking(move || consumer_lag(&source, std::time::Duration::from_secs(5)))
                .await
                .map_err(|e| Error::environment("the Kafka lag query panicked").with_source(e))?;
            match lag {
                Ok(l) => row.stream_lag = Some(l),
                Err(e) => row.stream_error = Some(e.to_string()),
            }
        }
        if let Err(e) = fill(lake, spec, column, now, &mut row).await {
            row.created = true;
            row.problem = Some(TableProblem::of(&e));
        }
        report.tables.push(row);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The row's figures from the table's log (nothing when the table does not exist yet).
async fn fill(lake: &Lakehouse, spec: &TableSpec, column: Option<&str>, now: DateTime<Utc>, row: &mut StatusTable) -> Result<()> {
    use futures::StreamExt;
    let Some(t) = lake.open(spec).await? else {
        return Ok(());
    };
    row.created = true;
    let stats = crate::lake::table_stats(&t).await?;
    row.version = stats.version;
    row.files = stats.files;
    row.bytes = stats.bytes;
    row.rows = stats.rows;
    if let Some(Ok(c)) = t.history(Some(1)).next().await {
        row.last_commit = c.timestamp.and_then(DateTime::from_timestamp_millis);
        row.freshness_seconds = row.last_commit.map(|t| (now - t).num_seconds());
    }
    let snapshot = t.snapshot().map_err(|e| from_delta(e, format!("cannot read {}", spec.id)))?;
    let partition_column = column.filter(|c| spec.partition_by.iter().any(|p| p == c));
    let mut newest: Option<String> = None;
    for file in snapshot.log_data().iter() {
        if (file.size().max(0) as u64) < SMALL_FILE_BYTES {
            row.small_files += 1;
        }
        let value = match (partition_column, column) {
            (Some(p), _) => file.partition_values_map().get(p).cloned().flatten(),
            (None, Some(c)) => file.stats().and_then(|s| {
                let v: serde_json::Value = serde_json::from_str(&s).ok()?;
                v.get("maxValues")?.get(c)?.as_str().map(str::to_string)
            }),
            _ => None,
        };
        if let Some(v) = value {
            if newest.as_ref().is_none_or(|n| v > *n) {
                newest = Some(v);
            }
        }
    }
    row.newest_event_time = newest;
    Ok(())
}

// ---- stream lag ---------------------------------------------------------------------------

/// Where `vbda stream` reads from: enough to ask Kafka for a consumer group's lag.
#[derive(Debug, Clone, Serialize)]
pub struct StreamSource {
    pub connection: crate::kafka::Connection,
    pub topics: Vec<String>,
    pub group: String,
}

/// Per `topic/partition`: the end offset minus the group's committed offset.
pub fn consumer_lag(source: &StreamSource, timeout: std::time::Duration) -> Result<BTreeMap<String, i64>> {
    crate::kafka::consumer_lag(&source.connection, &source.topics, &source.group, timeout)
}
