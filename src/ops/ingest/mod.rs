//! `vbda ingest`: landing files -> `bronze.video_events`, each file exactly once.
//!
//! Exactly once rests on Delta application transactions: the commit that appends a file's
//! rows also records `txn { appId: "vbda.ingest:<file uri>", version: <fingerprint> }`, where
//! the fingerprint hashes the file's size and change marker (mtime, or ETag on S3). Data and
//! bookkeeping are one atomic commit, so a run killed at any moment leaves each file either
//! fully in bronze and recorded, or absent and unrecorded; the next run reads the recorded
//! set back and takes the rest. Two ingests racing on one file both try to commit the same
//! `appId`; Delta's conflict check rejects the later one, which re-reads and skips the file.
//!
//! A recorded file whose fingerprint changed is reported and left alone unless
//! `--reingest-changed`, which appends its current content as new data (bronze is
//! append-only; silver's dedup by `event_id` absorbs repeated events).
//!
//! Memory: a file is read whole (decompressed) and rows are buffered until a batch bound
//! (rows or payload bytes) is reached, then committed. A single file is never split across
//! commits, so one very large file needs memory for its own rows.

pub mod landing;
pub mod parse;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use deltalake::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use deltalake::arrow::record_batch::RecordBatch;
use serde::Serialize;
use tracing::{info, warn};

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result};
use crate::lake::{self, CommitInfo, Lakehouse, WriteOutcome};
use crate::telemetry::Progress;

pub use landing::{Landing, LandingObject};
use parse::{FileFormat, Record};

/// The bronze table every source lands in.
pub const BRONZE: &str = "bronze.video_events";
const APP_PREFIX: &str = "vbda.ingest:";

/// What `vbda ingest` does, resolved from flags, environment and `vbda.toml`.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// A local folder (or, later, an `s3://` prefix).
    pub landing: String,
    /// Ingest files whose size or change marker differs from when they were ingested.
    pub reingest_changed: bool,
    /// Commit once this many rows are buffered.
    pub batch_rows: usize,
    /// Commit once this many payload bytes are buffered.
    pub batch_bytes: usize,
    /// The command line, recorded in commit info (secrets already redacted).
    pub args: Vec<String>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            landing: "landing".into(),
            reingest_changed: false,
            batch_rows: 2_000_000,
            batch_bytes: 512 * 1024 * 1024,
            args: Vec::new(),
        }
    }
}

/// A landing file that could not be read as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: String,
}

/// The run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub landing: String,
    pub files_seen: u64,
    pub files_already_ingested: u64,
    pub files_ingested: u64,
    /// Files that were ingested before and have changed since (see `--reingest-changed`).
    pub files_changed: Vec<String>,
    /// Files recorded as ingested with no rows (empty files).
    pub files_empty: Vec<String>,
    /// Files whose content could not be read; nothing of them was committed.
    pub files_unreadable: Vec<SkippedFile>,
    /// Files ignored because their extension is not a data format.
    pub files_ignored: Vec<String>,
    pub rows: u64,
    /// Rows whose event time could not be read (stored with the ingestion date, flagged).
    pub rows_without_event_time: u64,
    pub blank_lines: u64,
    pub commits: Vec<WriteOutcome>,
    pub bronze_version: Option<i64>,
    pub seconds: f64,
}

/// The fingerprint recorded for a file: a stable 63-bit hash of its size and change marker.
pub fn file_version(object: &LandingObject) -> i64 {
    // FNV-1a: stable across builds and machines (std's hasher is not).
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in format!("{}|{}", object.size, object.fingerprint).bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    (hash & (i64::MAX as u64)) as i64
}

pub fn app_id(object: &LandingObject) -> String {
    format!("{APP_PREFIX}{}", object.uri)
}

/// Run one ingest: discover, read, append, record.
pub async fn ingest(lake: &Lakehouse, catalog: &Catalog, settings: &IngestSettings) -> Result<IngestReport> {
    let started = Instant::now();
    let spec = catalog.table(BRONZE)?;
    let landing = Landing::parse(&settings.landing)?;
    let mut report = IngestReport { landing: landing.display(), ..Default::default() };

    let mut table = lake.open_or_create(spec).await?;
    let objects = landing.list().await?;
    report.files_seen = objects.len() as u64;

    // Plan against what is recorded; re-planned after a commit conflict.
    let mut attempts = 0;
    let mut pending: Vec<(LandingObject, FileFormat, bool)> = Vec::new();
    let recorded = lake::txn::app_transactions(&table).await?;
    for object in objects {
        let Some((format, gzip)) = FileFormat::from_name(&object.relative) else {
            report.files_ignored.push(object.uri.clone());
            continue;
        };
        match recorded.get(&app_id(&object)) {
            Some(v) if *v == file_version(&object) => report.files_already_ingested += 1,
            Some(_) if !settings.reingest_changed => {
                warn!(file = %object.uri, "File changed since it was ingested; skipped (use --reingest-changed).");
                report.files_changed.push(object.uri.clone());
            }
            Some(_) => {
                report.files_changed.push(object.uri.clone());
                pending.push((object, format, gzip));
            }
            None => pending.push((object, format, gzip)),
        }
    }
    let progress = Progress::new("ingest", pending.iter().map(|(o, _, _)| o.size).sum(), true);
    let batch_id = format!("ingest-{}", uuid::Uuid::new_v4());
    let mut batch = BronzeBatch::new(&batch_id);
    let mut files_in_batch: Vec<(LandingObject, u64)> = Vec::new();

    let mut queue = std::collections::VecDeque::from(pending);
    while let Some((object, format, gzip)) = queue.pop_front() {
        let bytes = landing.read(&object).await?;
        progress.inc(object.size);
        match parse::parse_file(&bytes, format, gzip) {
            Err(reason) if reason == "the file is empty" => {
                report.files_empty.push(object.uri.clone());
                files_in_batch.push((object, 0));
            }
            Err(reason) => {
                warn!(file = %object.uri, %reason, "Cannot read landing file; skipped, nothing of it committed.");
                report.files_unreadable.push(SkippedFile { file: object.uri.clone(), reason });
            }
            Ok(parsed) => {
                report.blank_lines += parsed.blank_lines;
                let rows = parsed.records.len() as u64;
                batch.push_file(&object.uri, format, parsed.records);
                files_in_batch.push((object, rows));
            }
        }
        let full = batch.rows() >= settings.batch_rows || batch.payload_size >= settings.batch_bytes;
        if (full || queue.is_empty()) && !files_in_batch.is_empty() {
            let committed = commit_batch(&mut table, spec, &mut batch, &files_in_batch, settings, &batch_id).await;
            match committed {
                Ok(outcome) => {
                    report.files_ingested += files_in_batch.len() as u64 - files_in_batch.iter().filter(|(_, r)| *r == 0).count() as u64;
                    report.rows += outcome.rows;
                    report.rows_without_event_time += batch.fallback_rows;
                    info!(table = BRONZE, version = outcome.version, rows = outcome.rows, files = files_in_batch.len(), "Committed ingest batch.");
                    report.commits.push(outcome);
                    files_in_batch.clear();
                    batch = BronzeBatch::new(&batch_id);
                }
                Err(e) if is_concurrent_ingest(&e) && attempts < 5 => {
                    // Another ingest recorded some of these files first: re-read what is
                    // recorded and put back only the files still missing.
                    attempts += 1;
                    warn!(attempt = attempts, "Another ingest committed some of these files; re-planning.");
                    table.update_state().await.map_err(|e| crate::error::from_delta(e, "cannot reload bronze"))?;
                    let recorded = lake::txn::app_transactions(&table).await?;
                    for (object, _) in files_in_batch.drain(..).rev() {
                        if recorded.get(&app_id(&object)) != Some(&file_version(&object)) {
                            let (format, gzip) = FileFormat::from_name(&object.relative).expect("planned files have a format");
                            queue.push_front((object, format, gzip));
                        } else {
                            report.files_already_ingested += 1;
                        }
                    }
                    report.files_empty.retain(|f| queue.iter().any(|(o, _, _)| &o.uri == f));
                    batch = BronzeBatch::new(&batch_id);
                }
                Err(e) => return Err(e),
            }
        }
    }
    progress.finish();
    report.bronze_version = table.version().map(|v| v as i64);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn is_concurrent_ingest(err: &Error) -> bool {
    err.causes().iter().any(|c| c.contains("oncurrent") && c.to_lowercase().contains("transaction"))
}

async fn commit_batch(
    table: &mut deltalake::DeltaTable,
    spec: &TableSpec,
    batch: &mut BronzeBatch,
    files: &[(LandingObject, u64)],
    settings: &IngestSettings,
    batch_id: &str,
) -> Result<WriteOutcome> {
    let mut info = CommitInfo::new("ingest")
        .with_args(settings.args.iter().cloned())
        .with_count("files", files.len() as u64)
        .with_count("rows", batch.rows() as u64)
        .with_count("rows_without_event_time", batch.fallback_rows)
        .with_detail("batch_id", serde_json::json!(batch_id))
        .with_detail(
            "files",
            serde_json::Value::Array(
                files
                    .iter()
                    .map(|(o, rows)| serde_json::json!({"uri": o.uri, "size": o.size, "fingerprint": o.fingerprint, "rows": rows}))
                    .collect(),
            ),
        );
    for (object, _) in files {
        info = info.with_transaction(app_id(object), file_version(object));
    }
    let batches = vec![batch.finish(spec)?];
    let (new_table, outcome) = lake::append(table.clone(), spec, batches, info).await?;
    *table = new_table;
    Ok(outcome)
}

/// Column builders for bronze rows; one Arrow record batch per commit.
struct BronzeBatch {
    payload: StringBuilder,
    payload_bytes: BinaryBuilder,
    payload_format: StringBuilder,
    payload_error: StringBuilder,
    event_id: StringBuilder,
    event_date_fallback: BooleanBuilder,
    source_file: StringBuilder,
    source_line: Int64Builder,
    batch_id: String,
    ingested_at: i64,
    event_date: Date32Builder,
    fallback_rows: u64,
    /// Payload bytes buffered, for the batch bound.
    payload_size: usize,
    rows: usize,
    ingest_date: NaiveDate,
}

impl BronzeBatch {
    fn new(batch_id: &str) -> Self {
        let now = Utc::now();
        Self {
            payload: StringBuilder::new(),
            payload_bytes: BinaryBuilder::new(),
            payload_format: StringBuilder::new(),
            payload_error: StringBuilder::new(),
            event_id: StringBuilder::new(),
            event_date_fallback: BooleanBuilder::new(),
            source_file: StringBuilder::new(),
            source_line: Int64Builder::new(),
            batch_id: batch_id.to_string(),
            ingested_at: now.timestamp_micros(),
            event_date: Date32Builder::new(),
            fallback_rows: 0,
            payload_size: 0,
            rows: 0,
            ingest_date: now.date_naive(),
        }
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn push_file(&mut self, uri: &str, format: FileFormat, records: Vec<Record>) {
        for record in records {
            self.payload_size += record.payload.len();
            self.payload.append_value(&record.payload);
            self.payload_bytes.append_option(record.payload_bytes.as_deref());
            self.payload_format.append_value(format.name());
            self.event_id.append_option(record.event_id.as_deref());
            self.source_file.append_value(uri);
            self.source_line.append_value(record.line);
            let date = match record.event_date {
                Ok(date) => {
                    self.payload_error.append_null();
                    self.event_date_fallback.append_value(false);
                    date
                }
                Err(reason) => {
                    self.payload_error.append_value(reason);
                    self.event_date_fallback.append_value(true);
                    self.fallback_rows += 1;
                    self.ingest_date
                }
            };
            self.event_date.append_value(days_since_epoch(date));
            self.rows += 1;
        }
    }

    fn finish(&mut self, spec: &TableSpec) -> Result<RecordBatch> {
        let n = self.rows;
        let nulls_str = || {
            let mut b = StringBuilder::new();
            b.append_nulls(n);
            Arc::new(b.finish()) as ArrayRef
        };
        let mut kafka_partition = Int32Builder::new();
        kafka_partition.append_nulls(n);
        let mut kafka_offset = Int64Builder::new();
        kafka_offset.append_nulls(n);
        let mut kafka_ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        kafka_ts.append_nulls(n);
        let mut source_kind = StringBuilder::new();
        let mut batch_id = StringBuilder::new();
        let mut ingested_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        for _ in 0..n {
            source_kind.append_value("file");
            batch_id.append_value(&self.batch_id);
            ingested_at.append_value(self.ingested_at);
        }
        let columns: HashMap<&str, ArrayRef> = HashMap::from([
            ("payload", Arc::new(self.payload.finish()) as ArrayRef),
            ("payload_bytes", Arc::new(self.payload_bytes.finish()) as ArrayRef),
            ("payload_format", Arc::new(self.payload_format.finish()) as ArrayRef),
            ("payload_error", Arc::new(self.payload_error.finish()) as ArrayRef),
            ("event_id", Arc::new(self.event_id.finish()) as ArrayRef),
            ("event_date_fallback", Arc::new(self.event_date_fallback.finish()) as ArrayRef),
            ("source_kind", Arc::new(source_kind.finish()) as ArrayRef),
            ("source_file", Arc::new(self.source_file.finish()) as ArrayRef),
            ("source_line", Arc::new(self.source_line.finish()) as ArrayRef),
            ("kafka_topic", nulls_str()),
            ("kafka_partition", Arc::new(kafka_partition.finish()) as ArrayRef),
            ("kafka_offset", Arc::new(kafka_offset.finish()) as ArrayRef),
            ("kafka_timestamp", Arc::new(kafka_ts.finish()) as ArrayRef),
            ("kafka_key", nulls_str()),
            ("batch_id", Arc::new(batch_id.finish()) as ArrayRef),
            ("ingested_at", Arc::new(ingested_at.finish()) as ArrayRef),
            ("event_date", Arc::new(self.event_date.finish()) as ArrayRef),
        ]);
        let schema = lake::arrow_schema(spec);
        let mut ordered = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let column = columns.get(field.name().as_str()).ok_or_else(|| {
                Error::data(format!("{BRONZE} spec has column `{}` that ingest does not write", field.name()))
            })?;
            ordered.push(column.clone());
        }
        RecordBatch::try_new(schema, ordered)
            .map_err(|e| Error::data(format!("bronze rows do not match {}", spec.path.display())).with_source(e))
    }
}

pub fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}
