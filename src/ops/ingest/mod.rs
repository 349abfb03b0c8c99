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

use std::time::Instant;

use deltalake::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use serde::Serialize;
use tracing::{info, warn};

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result};
use crate::lake::bronze::{BronzeRows, Origin};
use crate::lake::{self, CommitInfo, Lakehouse, WriteOutcome};
use crate::telemetry::Progress;

pub use landing::{Landing, LandingObject, ReadProblem};
use parse::{FileFormat, Record};

pub use crate::lake::bronze::TABLE as BRONZE;

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
    /// The most bytes one landing file may hold once decompressed (it is read whole).
    pub max_file_bytes: u64,
    /// The command line, recorded in commit info (secrets already redacted).
    pub args: Vec<String>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            landing: "landing".into(),
            reingest_changed: false,
            batch_rows: 1_000_000,
            batch_bytes: 256 * 1024 * 1024,
            max_file_bytes: parse::DEFAULT_MAX_FILE_BYTES,
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
    /// Objects the store failed to serve this time (S3 errors, broken-off reads): retried next run.
    pub files_unavailable: Vec<SkippedFile>,
    /// Files ignored because their extension is not a data format.
    pub files_ignored: Vec<String>,
    /// Symlinks in the landing folder whose target lies outside it: never read.
    pub files_outside_landing: Vec<String>,
    /// Files still being written (changed while read, or empty and recent) or gone before
    /// they were read: left for the next run, not an error.
    pub files_in_flight: Vec<String>,
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
    lake::bronze::ingest_app_id(&object.uri)
}

/// Run one ingest: discover, read, append, record.
pub async fn ingest(lake: &Lakehouse, catalog: &Catalog, settings: &IngestSettings) -> Result<IngestReport> {
    let started = Instant::now();
    let spec = catalog.table(BRONZE)?;
    let landing = Landing::parse(&settings.landing, lake.s3())?;
    let mut report = IngestReport { landing: landing.display(), ..Default::default() };

    let mut table = lake::Table::open_or_create(lake, spec).await?;
    let (objects, outside) = landing.list().await?;
    for link in &outside {
        warn!(file = %link, "Symlink to a file outside the landing folder; skipped.");
    }
    report.files_outside_landing = outside;
    report.files_seen = objects.len() as u64;

    // Plan against what is recorded; each commit re-checks against its own snapshot.
    let mut pending: Vec<(LandingObject, FileFormat, bool)> = Vec::new();
    for object in objects {
        let Some((format, gzip)) = FileFormat::from_name(&object.relative) else {
            report.files_ignored.push(object.uri.clone());
            continue;
        };
        match table.recorded().versions.get(&app_id(&object)) {
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

    // Several ingests may share one landing zone; each starts at its own place in the list so
    // that they mostly take different files instead of colliding on the same ones.
    if !pending.is_empty() {
        let start = (uuid::Uuid::new_v4().as_u128() % pending.len() as u128) as usize;
        pending.rotate_left(start);
    }
    let mut files: Vec<ReadFile> = Vec::new();
    let (mut rows, mut bytes) = (0usize, 0usize);
    let last = pending.len();
    // Files are read and parsed on all cores, a few ahead of the one being handled, in order.
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut loaded = futures::stream::iter(pending.into_iter().map(|(object, format, gzip)| {
        let (landing, batch_id, spec) = (landing.clone(), batch_id.clone(), spec.clone());
        let max_bytes = settings.max_file_bytes;
        async move {
            // Too large to hold: refused before a byte is read.
            let loaded = if object.size > max_bytes {
                Err(ReadProblem::Failed(parse::too_large(max_bytes, "the file holds")))
            } else {
                landing.read(&object).await
            };
            let loaded = match loaded {
                Err(problem) => Loaded::Problem(problem),
                Ok(content) => {
                    let uri = object.uri.clone();
                    tokio::task::spawn_blocking(move || load_file(&uri, &content, format, gzip, max_bytes, &batch_id, &spec))
                        .await
                        .unwrap_or_else(|e| Loaded::Unparseable(format!("reading the file failed: {e}")))
                }
            };
            (object, loaded)
        }
    }))
    .buffered(workers);
    let mut i = 0;
    while let Some((object, loaded)) = loaded.next().await {
        i += 1;
        progress.inc(object.size);
        match loaded {
            Loaded::Problem(ReadProblem::Vanished) => {
                info!(file = %object.uri, "Landing file vanished before it was read; skipped.");
                report.files_in_flight.push(object.uri.clone());
            }
            Loaded::Problem(ReadProblem::InFlight) => {
                info!(file = %object.uri, "Landing file is still being written; left for the next run.");
                report.files_in_flight.push(object.uri.clone());
            }
            Loaded::Problem(ReadProblem::Unavailable(reason)) => {
                warn!(file = %object.uri, %reason, "Cannot fetch landing object; left for the next run.");
                report.files_unavailable.push(SkippedFile { file: object.uri.clone(), reason });
            }
            Loaded::Problem(ReadProblem::Failed(reason)) | Loaded::Unparseable(reason) => {
                warn!(file = %object.uri, %reason, "Cannot read landing file; skipped, nothing of it committed.");
                report.files_unreadable.push(SkippedFile { file: object.uri.clone(), reason });
            }
            Loaded::Empty(file) => {
                // A producer may have just created it: record an empty file only once it has
                // stayed empty for a while, so its rows are not missed when they arrive.
                let age = now_secs().saturating_sub(object.modified_secs);
                if age < EMPTY_FILE_SETTLE_SECS {
                    report.files_in_flight.push(object.uri.clone());
                } else {
                    files.push(ReadFile { object, ..file });
                }
            }
            Loaded::Rows { file, blank_lines, payload_bytes } => {
                report.blank_lines += blank_lines;
                rows += file.rows() as usize;
                bytes += payload_bytes;
                files.push(ReadFile { object, ..file });
            }
        }
        let full = rows >= settings.batch_rows || bytes >= settings.batch_bytes;
        if (full || i == last) && !files.is_empty() {
            progress.phase(format!("committing {} file(s), {rows} rows to bronze", files.len()));
            commit_files(&mut table, std::mem::take(&mut files), settings, &batch_id, &mut report).await?;
            progress.phase("reading");
            (rows, bytes) = (0, 0);
        }
    }
    progress.finish();
    report.bronze_version = table.version();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// An empty file younger than this may still be written to; it is left for a later run.
const EMPTY_FILE_SETTLE_SECS: u64 = 60;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What reading one landing file gave.
enum Loaded {
    Problem(ReadProblem),
    Unparseable(String),
    Empty(ReadFile),
    Rows { file: ReadFile, blank_lines: u64, payload_bytes: usize },
}

/// Parse a file and turn its records into bronze rows (CPU work, run off the async threads).
fn load_file(uri: &str, content: &[u8], format: FileFormat, gzip: bool, max_bytes: u64, batch_id: &str, spec: &TableSpec) -> Loaded {
    let placeholder = LandingObject {
        uri: uri.to_string(),
        relative: String::new(),
        size: 0,
        fingerprint: String::new(),
        path: None,
        modified_secs: 0,
    };
    match parse::parse_file_limited(content, format, gzip, max_bytes) {
        Err(parse::FileProblem::Empty) => match ReadFile::new(placeholder, format, &[], batch_id, spec) {
            Ok(file) => Loaded::Empty(file),
            Err(e) => Loaded::Unparseable(e.to_string()),
        },
        Err(parse::FileProblem::Unreadable(reason)) => Loaded::Unparseable(reason),
        Ok(parsed) => {
            let payload_bytes = parsed.records.iter().map(|r| r.payload.len()).sum();
            // Rows go into Arrow right away; the parsed records are dropped here.
            match ReadFile::new(placeholder, format, &parsed.records, batch_id, spec) {
                Ok(file) => Loaded::Rows { file, blank_lines: parsed.blank_lines, payload_bytes },
                Err(e) => Loaded::Unparseable(e.to_string()),
            }
        }
    }
}

/// A landing file read and parsed, waiting for its commit.
struct ReadFile {
    object: LandingObject,
    /// The file's bronze rows, in record batches of bounded size.
    batches: Vec<RecordBatch>,
    fallback_rows: u64,
}

/// Rows and text bytes per record batch of a file's bronze rows: Arrow's string columns hold
/// at most 2 GiB each (32-bit offsets), and the file's URI is repeated on every row, so a
/// file of any size becomes several batches well inside that limit.
const CHUNK_ROWS: usize = 131_072;
const CHUNK_BYTES: usize = 256 << 20;
/// One record larger than this cannot be stored in a string column next to others.
const MAX_RECORD_BYTES: usize = 1 << 30;

impl ReadFile {
    fn new(object: LandingObject, format: FileFormat, records: &[Record], batch_id: &str, spec: &TableSpec) -> Result<Self> {
        let mut batches = Vec::new();
        let mut fallback_rows = 0;
        let mut rows = BronzeRows::new(batch_id);
        let mut bytes = 0usize;
        for record in records {
            let size = record.payload.len() + record.payload_bytes.as_ref().map_or(0, Vec::len);
            if size > MAX_RECORD_BYTES {
                return Err(Error::data(format!("line {} holds {size} bytes, more than the {MAX_RECORD_BYTES} one record may hold", record.line)));
            }
            if rows.len() >= CHUNK_ROWS || bytes + size > CHUNK_BYTES {
                fallback_rows += rows.fallback_rows();
                let next = rows.continued();
                batches.push(std::mem::replace(&mut rows, next).finish(spec)?);
                bytes = 0;
            }
            bytes += size;
            rows.push(record, Origin::File { uri: &object.uri, format: format.name() });
        }
        fallback_rows += rows.fallback_rows();
        batches.push(rows.finish(spec)?);
        Ok(Self { object, batches, fallback_rows })
    }

    fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// Commit `files` to bronze, each exactly once.
///
/// Delta checks application transactions only against commits made after the snapshot a
/// writer read, so before every attempt the files already recorded in that snapshot (by
/// another ingest) are dropped; a file another ingest records after it is caught by Delta's
/// conflict check, and the attempt is retried from a fresh snapshot.
async fn commit_files(
    table: &mut lake::Table,
    mut files: Vec<ReadFile>,
    settings: &IngestSettings,
    batch_id: &str,
    report: &mut IngestReport,
) -> Result<()> {
    let mut conflicts = 0;
    loop {
        let before = files.len();
        files.retain(|f| table.recorded_version(&app_id(&f.object)) != Some(file_version(&f.object)));
        report.files_already_ingested += (before - files.len()) as u64;
        if files.is_empty() {
            return Ok(());
        }
        let listed: Vec<(LandingObject, u64)> = files.iter().map(|f| (f.object.clone(), f.rows())).collect();
        let fallback_rows: u64 = files.iter().map(|f| f.fallback_rows).sum();
        let batches: Vec<RecordBatch> = files.iter().flat_map(|f| f.batches.iter().cloned()).collect();
        match commit_batch(table, batches, fallback_rows, &listed, settings, batch_id).await {
            Ok(outcome) => {
                for (object, rows) in &listed {
                    if *rows == 0 {
                        report.files_empty.push(object.uri.clone());
                    } else {
                        report.files_ingested += 1;
                    }
                }
                report.rows += outcome.rows;
                report.rows_without_event_time += fallback_rows;
                info!(table = BRONZE, version = outcome.version, rows = outcome.rows, files = listed.len(), "Committed ingest batch.");
                report.commits.push(outcome);
                return Ok(());
            }
            Err(e) if is_concurrent_commit(&e) => {
                conflicts += 1;
                if conflicts > MAX_CONSECUTIVE_CONFLICTS {
                    return Err(Error::environment(format!(
                        "gave up after {MAX_CONSECUTIVE_CONFLICTS} commit conflicts in a row with other ingests"
                    ))
                    .with_source(e)
                    .with_hint("another `vbda ingest` is taking the same files; run again once it is done"));
                }
                warn!(attempt = conflicts, "Another ingest committed some of these files; retrying from a fresh snapshot.");
                tokio::time::sleep(backoff(conflicts)).await;
                table.reload().await?;
            }
            Err(e) => return Err(e),
        }
    }
}

const MAX_CONSECUTIVE_CONFLICTS: u32 = 20;

/// 50 ms doubling to 2 s, with jitter so racing processes fall out of step.
fn backoff(attempt: u32) -> std::time::Duration {
    let base = 50u64.saturating_mul(1 << attempt.min(6)).min(2_000);
    let jitter = (uuid::Uuid::new_v4().as_u128() % (base as u128 / 2 + 1)) as u64;
    std::time::Duration::from_millis(base / 2 + jitter)
}

pub(crate) use crate::lake::is_concurrent_commit;

async fn commit_batch(
    table: &mut lake::Table,
    batches: Vec<RecordBatch>,
    fallback_rows: u64,
    files: &[(LandingObject, u64)],
    settings: &IngestSettings,
    batch_id: &str,
) -> Result<WriteOutcome> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut info = CommitInfo::new("ingest")
        .with_args(settings.args.iter().cloned())
        .with_count("files", files.len() as u64)
        .with_count("rows", rows as u64)
        .with_count("rows_without_event_time", fallback_rows)
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
    crate::failpoint::hit("ingest.before_commit");
    let outcome = table.append(batches, info).await;
    crate::failpoint::hit("ingest.after_commit");
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delta rejects the second of two commits that record the same file from the same
    /// snapshot, and ingest recognises that rejection as a race to retry.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_second_commit_of_the_same_file_is_a_recognised_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let spec = catalog.table(BRONZE).unwrap();
        let lake = Lakehouse::new(dir.path().to_str().unwrap(), Default::default()).unwrap();
        let first = lake.open_or_create(spec).await.unwrap();
        let second = first.clone();
        let commit = |table: deltalake::DeltaTable| async {
            let mut rows = BronzeRows::new("b");
            let record = parse::parse_file(b"{\"event_ts\":1}\n", FileFormat::Ndjson, false).unwrap().records;
            rows.push(&record[0], Origin::File { uri: "file:///x.ndjson", format: "ndjson" });
            let info = CommitInfo::new("test").with_transaction("vbda.ingest:file:///x.ndjson", 1);
            lake::append(table, spec, vec![rows.finish(spec).unwrap()], info).await
        };
        commit(first).await.unwrap();
        let err = commit(second).await.unwrap_err();
        assert!(is_concurrent_commit(&err), "{err:?}");
        assert!(!is_concurrent_commit(&Error::environment("disk full")));
    }

    /// A file's rows become record batches of bounded rows, sharing ingested_at: however large
    /// the file, no string column of one batch reaches Arrow's 2 GiB offset limit.
    #[test]
    fn a_large_file_becomes_several_bounded_batches_with_one_ingestion_time() {
        let catalog = Catalog::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let spec = catalog.table(BRONZE).unwrap();
        let text = "{\"event_id\":\"e\",\"event_ts\":1}\n".repeat(CHUNK_ROWS * 2 + 5);
        let records = parse::parse_file(text.as_bytes(), FileFormat::Ndjson, false).unwrap().records;
        let object = LandingObject { uri: "file:///x.ndjson".into(), relative: "x.ndjson".into(), size: 0, fingerprint: String::new(), path: None, modified_secs: 0 };
        let file = ReadFile::new(object, FileFormat::Ndjson, &records, "b", spec).unwrap();
        assert_eq!(file.batches.len(), 3);
        assert_eq!(file.rows(), (CHUNK_ROWS * 2 + 5) as u64);
        assert!(file.batches.iter().all(|b| b.num_rows() <= CHUNK_ROWS));
        let at = |b: &RecordBatch| format!("{:?}", b.column_by_name("ingested_at").unwrap().slice(0, 1));
        assert_eq!(at(&file.batches[0]), at(&file.batches[2]), "one ingestion time per file");
    }
}
