//! Table maintenance: `vacuum`, `optimize`, `checkpoint`, `history`, `status`, `restore`.
//!
//! Each is delta-rs's own operation (VACUUM LITE/FULL, bin-packing OPTIMIZE, checkpoints and
//! expired-log cleanup, RESTORE, the commit history) with vbda's rules around it: retention
//! defaults and minimums from the table specs, commit info naming the command, partitions
//! chosen by date, and clear errors for the usual mistakes.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use deltalake::DeltaTable;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::operations::vacuum::VacuumMode;
use serde::Serialize;
use tracing::info;

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Context, Error, Result};
use crate::lake::from_delta;
use crate::lake::{CommitInfo, Lakehouse};
use crate::telemetry::Progress;

/// A data file smaller than this counts as small in `vbda status` (a sign that `optimize`
/// is due).
pub const SMALL_FILE_BYTES: u64 = 16 << 20;

fn specs<'a>(catalog: &'a Catalog, table: Option<&str>) -> Result<Vec<&'a TableSpec>> {
    match table {
        Some(name) => Ok(vec![catalog.table(name)?]),
        None => Ok(catalog.tables().collect()),
    }
}

async fn open_existing(lake: &Lakehouse, spec: &TableSpec) -> Result<DeltaTable> {
    lake.open(spec).await?.ok_or_else(|| {
        Error::data(format!("table {} does not exist yet", spec.id)).with_hint("`vbda tables` shows which tables have been created")
    })
}

// ---- vacuum -------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct VacuumSettings {
    pub table: Option<String>,
    pub retention_hours: Option<i64>,
    pub dry_run: bool,
    pub full: bool,
    pub force: bool,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumTable {
    pub table: String,
    pub retention_hours: u64,
    pub mode: &'static str,
    pub dry_run: bool,
    /// The files removed (or, in a dry run, that would be).
    pub files: Vec<String>,
    pub files_removed: u64,
    pub bytes_removed: u64,
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    pub tables: Vec<VacuumTable>,
    pub tables_missing: Vec<String>,
    pub seconds: f64,
}

pub async fn vacuum(lake: &Lakehouse, catalog: &Catalog, s: &VacuumSettings) -> Result<VacuumReport> {
    let started = Instant::now();
    if let Some(h) = s.retention_hours.filter(|h| *h < 0) {
        return Err(Error::data(format!("--retention-hours must be 0 or more, got {h}")));
    }
    let specs = specs(catalog, s.table.as_deref())?;
    // Refuse before touching anything: every table's retention must be allowed.
    for spec in &specs {
        let hours = s.retention_hours.map(|h| h as u64).unwrap_or(spec.retention.hours);
        if hours < spec.retention.min_hours && !s.force {
            return Err(Error::data(format!(
                "retention of {hours} hours is below the minimum of {} hours for {}",
                spec.retention.min_hours, spec.id
            ))
            .with_hint("readers of versions inside the table's retention window still need those files; pass --force only if no reader, stream or restore needs them"));
        }
    }
    let mut report = VacuumReport { tables: Vec::new(), tables_missing: Vec::new(), seconds: 0.0 };
    let progress = Progress::new("vacuum", specs.len() as u64, false);
    for spec in specs {
        let Some(table) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            progress.inc(1);
            continue;
        };
        let hours = s.retention_hours.map(|h| h as u64).unwrap_or(spec.retention.hours);
        let mode = if s.full { VacuumMode::Full } else { VacuumMode::Lite };
        let retention = chrono::Duration::hours(hours as i64);
        // A dry run first: the files and their sizes, for the report and the commit info.
        let (_, plan) = table
            .clone()
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_mode(mode.clone())
            .with_dry_run(true)
            .await
            .map_err(|e| from_delta(e, format!("cannot plan a vacuum of {}", spec.id)))?;
        // Sizes, and only the files that are there: delta-rs also lists tombstones whose files
        // an earlier vacuum already removed.
        let store = table.log_store().object_store(None);
        // delta-rs names the files relative to the table, or absolute (a local path or the
        // table's URL, e.g. on S3): the store wants them relative.
        let url = table.table_url().to_string();
        let url = url.trim_end_matches('/').to_string() + "/";
        let root = table.table_url().to_file_path().ok().map(|p| p.to_string_lossy().trim_end_matches('/').to_string() + "/");
        let relative = |f: &str| -> String {
            let f = f.strip_prefix(url.as_str()).unwrap_or(f);
            match &root {
                Some(r) => f.strip_prefix(r.as_str()).unwrap_or(f).to_string(),
                None => f.to_string(),
            }
        };
        let mut bytes = 0u64;
        let mut files = Vec::new();
        for f in &plan.files_deleted {
            let rel = relative(f);
            let path = deltalake::Path::parse(&rel).unwrap_or_else(|_| deltalake::Path::from(rel.as_str()));
            if let Ok(meta) = store.head(&path).await {
                bytes += meta.size;
                files.push(rel);
            }
        }
        if !s.dry_run && !files.is_empty() {
            let info = CommitInfo::new("vacuum")
                .with_args(s.args.iter().cloned())
                .with_count("files_removed", files.len() as u64)
                .with_count("bytes_removed", bytes)
                .with_detail("retention_hours", serde_json::json!(hours))
                .with_detail("mode", serde_json::json!(if s.full { "full" } else { "lite" }));
            let (_, done) = table
                .clone()
                .vacuum()
                .with_retention_period(retention)
                .with_enforce_retention_duration(false)
                .with_mode(mode)
                .with_commit_properties(info.properties())
                .await
                .map_err(|e| from_delta(e, format!("cannot vacuum {}", spec.id)))?;
            let deleted: std::collections::HashSet<String> = done.files_deleted.iter().map(|f| relative(f)).collect();
            files.retain(|f| deleted.contains(f));
        }
        let after = lake.open(spec).await?.and_then(|t| t.version()).map(|v| v as i64);
        info!(table = %spec.id, files = files.len(), bytes, dry_run = s.dry_run, "Vacuumed.");
        report.tables.push(VacuumTable {
            table: spec.id.to_string(),
            retention_hours: hours,
            mode: if s.full { "full" } else { "lite" },
            dry_run: s.dry_run,
            files_removed: files.len() as u64,
            bytes_removed: bytes,
            files,
            version: after,
        });
        progress.inc(1);
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

pub fn vacuum_summary(r: &VacuumReport) -> String {
    let mut out = String::from("vacuum:");
    for t in &r.tables {
        let verb = if t.dry_run { "would remove" } else { "removed" };
        out.push_str(&format!(
            "\n  {:<36} {verb} {} files, {} bytes (retention {} h, {})",
            t.table, t.files_removed, t.bytes_removed, t.retention_hours, t.mode
        ));
        if t.dry_run {
            for f in &t.files {
                out.push_str(&format!("\n    {f}"));
            }
        }
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}

// ---- optimize -----------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct OptimizeSettings {
    pub table: Option<String>,
    pub dates: Vec<NaiveDate>,
    pub target_file_size: Option<u64>,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptimizeTable {
    pub table: String,
    pub files_removed: u64,
    pub files_added: u64,
    pub bytes_removed: u64,
    pub bytes_added: u64,
    pub partitions_optimized: u64,
    pub files_before: u64,
    pub files_after: u64,
    /// None when there was nothing to compact (no commit).
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptimizeReport {
    pub tables: Vec<OptimizeTable>,
    pub tables_missing: Vec<String>,
    pub seconds: f64,
}

pub async fn optimize(lake: &Lakehouse, catalog: &Catalog, s: &OptimizeSettings) -> Result<OptimizeReport> {
    use deltalake::{FilterOp, FilterValue};
    let started = Instant::now();
    if s.target_file_size == Some(0) {
        return Err(Error::data("--target-file-size must be more than 0 bytes"));
    }
    let specs = specs(catalog, s.table.as_deref())?;
    let mut report = OptimizeReport { tables: Vec::new(), tables_missing: Vec::new(), seconds: 0.0 };
    let progress = Progress::new("optimize", specs.len() as u64, false);
    let date_strings: Vec<String> = s.dates.iter().map(NaiveDate::to_string).collect();
    for spec in specs {
        let Some(table) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            progress.inc(1);
            continue;
        };
        // Dates limit the partitions of tables partitioned by a date; others are skipped.
        let date_column = spec.date_partition().map(str::to_string);
        if !s.dates.is_empty() && date_column.is_none() {
            progress.inc(1);
            continue;
        }
        let files_before = crate::lake::table_stats(&table).await?.files;
        let filters = match &date_column {
            Some(column) if !s.dates.is_empty() => {
                vec![(column.as_str(), FilterOp::In, FilterValue::Set(date_strings.iter().map(String::as_str).collect()))]
            }
            _ => Vec::new(),
        };
        let info = CommitInfo::new("optimize").with_args(s.args.iter().cloned());
        let mut builder = table.clone().optimize().with_filters(&filters).with_commit_properties(info.properties());
        if let Some(size) = s.target_file_size.and_then(std::num::NonZeroU64::new) {
            builder = builder.with_target_size(size);
        }
        let (after, metrics) = builder.await.map_err(|e| from_delta(e, format!("cannot optimize {}", spec.id)))?;
        let files_after = crate::lake::table_stats(&after).await?.files;
        let committed = metrics.num_files_added > 0 || metrics.num_files_removed > 0;
        report.tables.push(OptimizeTable {
            table: spec.id.to_string(),
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            bytes_removed: metrics.files_removed.total_size as u64,
            bytes_added: metrics.files_added.total_size as u64,
            partitions_optimized: metrics.partitions_optimized,
            files_before,
            files_after,
            version: if committed { after.version().map(|v| v as i64) } else { None },
        });
        progress.inc(1);
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

pub fn optimize_summary(r: &OptimizeReport) -> String {
    let mut out = format!("optimize ({:.1}s):", r.seconds);
    for t in &r.tables {
        match t.version {
            None => out.push_str(&format!("\n  {:<36} nothing to compact ({} files)", t.table, t.files_before)),
            Some(v) => out.push_str(&format!(
                "\n  {:<36} {} files -> {} ({} removed, {} added, {} partitions), v{v}",
                t.table, t.files_before, t.files_after, t.files_removed, t.files_added, t.partitions_optimized
            )),
        }
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}

// ---- checkpoint ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointTable {
    pub table: String,
    pub version: i64,
    pub log_files_removed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub tables: Vec<CheckpointTable>,
    pub tables_missing: Vec<String>,
}

pub async fn checkpoint(lake: &Lakehouse, catalog: &Catalog, table: Option<&str>) -> Result<CheckpointReport> {
    let mut report = CheckpointReport { tables: Vec::new(), tables_missing: Vec::new() };
    for spec in specs(catalog, table)? {
        let Some(t) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            continue;
        };
        deltalake::checkpoints::create_checkpoint(&t, None)
            .await
            .map_err(|e| from_delta(e, format!("cannot write a checkpoint of {}", spec.id)))?;
        let removed = deltalake::checkpoints::cleanup_metadata(&t, None)
            .await
            .map_err(|e| from_delta(e, format!("cannot clean up the log of {}", spec.id)))?;
        report.tables.push(CheckpointTable {
            table: spec.id.to_string(),
            version: t.version().map(|v| v as i64).unwrap_or(0),
            log_files_removed: removed as u64,
        });
    }
    Ok(report)
}

pub fn checkpoint_summary(r: &CheckpointReport) -> String {
    let mut out = String::from("checkpoint:");
    for t in &r.tables {
        out.push_str(&format!("\n  {:<36} checkpoint at v{}, {} expired log files removed", t.table, t.version, t.log_files_removed));
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}

// ---- history ------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub timestamp: Option<DateTime<Utc>>,
    pub operation: String,
    /// The vbda command and its arguments, when vbda made the commit.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub rows_added: Option<u64>,
    pub files_added: Option<u64>,
    pub files_removed: Option<u64>,
    pub counts: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub table: String,
    pub entries: Vec<HistoryEntry>,
}

pub async fn history(lake: &Lakehouse, catalog: &Catalog, table: &str, limit: usize) -> Result<HistoryReport> {
    use futures::StreamExt;
    let spec = catalog.table(table)?;
    let t = open_existing(lake, spec).await?;
    let current = t.version().map(|v| v as i64).unwrap_or(0);
    let mut entries = Vec::new();
    let mut stream = t.history(Some(limit));
    let mut version = current;
    while let Some(item) = stream.next().await {
        let c = item.map_err(|e| from_delta(e, format!("cannot read the history of {}", spec.id)))?;
        let vbda = c.info.get("vbda");
        let metrics = c.info.get("operationMetrics");
        let metric = |names: &[&str]| -> Option<u64> {
            names.iter().find_map(|n| metrics.and_then(|m| m.get(*n)).and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))))
        };
        entries.push(HistoryEntry {
            version: c.read_version.map(|v| v as i64 + 1).unwrap_or(version),
            timestamp: c.timestamp.and_then(DateTime::from_timestamp_millis),
            operation: c.operation.clone().unwrap_or_default(),
            command: vbda.and_then(|v| v.get("command")).and_then(|v| v.as_str()).map(str::to_string),
            args: vbda
                .and_then(|v| v.get("args"))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            rows_added: metric(&["num_added_rows", "numOutputRows", "num_output_rows"]),
            files_added: metric(&["num_added_files", "numAddedFiles", "numFilesAdded"]),
            files_removed: metric(&["num_removed_files", "numRemovedFiles", "numFilesRemoved", "numDeletedFiles"]),
            counts: vbda.and_then(|v| v.get("counts")).cloned().unwrap_or(serde_json::Value::Null),
        });
        version -= 1;
    }
    // Commits without a read version (the first) are numbered from the newest down.
    Ok(HistoryReport { table: spec.id.to_string(), entries })
}

pub fn history_summary(r: &HistoryReport) -> String {
    let mut out = format!("{}: {} commits shown\n{:>7}  {:<20}  {:<18}  {:>8}  {:>6}  {:>6}  COMMAND", r.table, r.entries.len(), "VERSION", "TIME (UTC)", "OPERATION", "ROWS+", "FILES+", "FILES-");
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    for e in &r.entries {
        let time = e.timestamp.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
        let command = match &e.command {
            Some(c) => format!("vbda {c} {}", e.args.join(" ")).trim_end().to_string(),
            None => String::new(),
        };
        out.push_str(&format!(
            "\n{:>7}  {:<20}  {:<18}  {:>8}  {:>6}  {:>6}  {command}",
            e.version, time, e.operation, num(e.rows_added), num(e.files_added), num(e.files_removed)
        ));
    }
    out
}

// ---- status -------------------------------------------------------------------------------

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

pub async fn status(lake: &Lakehouse, catalog: &Catalog, table: Option<&str>, stream: Option<&StreamSource>) -> Result<StatusReport> {
    use futures::StreamExt;
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
        let Some(t) = lake.open(spec).await? else {
            report.tables.push(row);
            continue;
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
        report.tables.push(row);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

pub fn status_summary(r: &StatusReport) -> String {
    let mut out = format!(
        "{:<36} {:>7} {:>20} {:>10} {:>7} {:>12} {:>12} {:>6}  NEWEST",
        "TABLE", "VERSION", "LAST COMMIT (UTC)", "AGE (s)", "FILES", "BYTES", "ROWS", "SMALL"
    );
    for t in &r.tables {
        if !t.created {
            out.push_str(&format!("\n{:<36} {:>7}", t.table, "-"));
            continue;
        }
        out.push_str(&format!(
            "\n{:<36} {:>7} {:>20} {:>10} {:>7} {:>12} {:>12} {:>6}  {}",
            t.table,
            t.version.map(|v| v.to_string()).unwrap_or_default(),
            t.last_commit.map(|c| c.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            t.freshness_seconds.map(|s| s.to_string()).unwrap_or_default(),
            t.files,
            t.bytes,
            t.rows.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
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

// ---- restore ------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub table: String,
    pub restored_to: i64,
    pub version: i64,
    pub files_removed: u64,
    pub files_restored: u64,
}

pub async fn restore(
    lake: &Lakehouse,
    catalog: &Catalog,
    table: &str,
    version: Option<i64>,
    timestamp: Option<&str>,
    args: &[String],
) -> Result<RestoreReport> {
    let spec = catalog.table(table)?;
    let t = open_existing(lake, spec).await?;
    let current = t.version().map(|v| v as i64).unwrap_or(0);
    let mut builder = t.clone().restore();
    let target = match (version, timestamp) {
        (Some(v), _) => {
            if v < 0 || v > current {
                return Err(Error::data(format!("{} has no version {v}: its versions are 0 to {current}", spec.id))
                    .with_hint(format!("`vbda history {}` lists them", spec.id)));
            }
            builder = builder.with_version_to_restore(v as u64);
            format!("version {v}")
        }
        (None, Some(ts)) => {
            let when = DateTime::parse_from_rfc3339(ts)
                .data_err(|| format!("--timestamp `{ts}` is not RFC 3339 (e.g. 2025-01-01T12:00:00Z)"))?
                .with_timezone(&Utc);
            builder = builder.with_datetime_to_restore(when);
            format!("timestamp {ts}")
        }
        (None, None) => return Err(Error::data("restore needs --version N or --timestamp T")),
    };
    let info = CommitInfo::new("restore").with_args(args.iter().cloned());
    let (after, metrics) = builder.with_commit_properties(info.properties()).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("missing") || text.contains("not found") || text.contains("NotFound") {
            Error::data(format!("cannot restore {} to {target}: some of its data files were removed by vacuum", spec.id))
                .with_hint("a version can be restored only while its files are inside the retention window")
                .with_source(e)
        } else {
            from_delta(e, format!("cannot restore {} to {target}", spec.id))
        }
    })?;
    let restored_to = match version {
        Some(v) => v,
        None => after.snapshot().ok().map(|_| -1).unwrap_or(-1),
    };
    Ok(RestoreReport {
        table: spec.id.to_string(),
        restored_to,
        version: after.version().map(|v| v as i64).unwrap_or(current),
        files_removed: metrics.num_removed_file as u64,
        files_restored: metrics.num_restored_file as u64,
    })
}

pub fn restore_summary(r: &RestoreReport) -> String {
    let to = if r.restored_to >= 0 { format!("version {}", r.restored_to) } else { "the given time".to_string() };
    format!(
        "restore {}: back to {to} as new version {} ({} files restored, {} removed)",
        r.table, r.version, r.files_restored, r.files_removed
    )
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
