//! `vbda generate`: realistic, deterministic synthetic player events (DESIGN §2) and a content
//! catalog, written to a landing folder for `vbda ingest`.
//!
//! Layout: `<out_dir>/date=YYYY-MM-DD/part-NNNNN.ndjson[.gz]` (or `.csv[.gz]`) and the
//! catalog at `content_path` (default `./content.csv`, outside the landing folder, so that
//! `vbda ingest` never mistakes it for events). Every file is written as `<name>.tmp` and renamed when
//! complete, so a reader that skips `*.tmp` never sees half a file. Existing files of the same
//! names are replaced; other files in the folder are left alone (a rerun with fewer
//! `files_per_day` leaves the old higher-numbered parts in place).
//!
//! Determinism: the output depends only on the settings (not on the machine, the thread count
//! or the Rust version): each file has its own generator seeded from (seed, date, file number),
//! users, content and ads are derived from (seed, id), and no platform math is used (see
//! `rng`). Gzip output decompresses to exactly the plain output; the compressed bytes depend
//! on the flate2 backend.
//!
//! Counting: `events_per_day` is the number of line slots per day. The four shares are shares
//! of those slots (so they must add up to at most 1): malformed lines, duplicates (a byte-
//! identical copy of an earlier line; a quarter of them land in the next file), late events
//! (event time 1-3 days before the file's date) and events with a bad value. A file's `lines`
//! never counts the CSV header; the day's lines add up to `events_per_day` over its files.
//! A few events of the last hour's sessions fall on the next UTC date (the event's date is
//! its UTC date; DESIGN §3 counts them there).

mod catalog;
mod file;
mod model;
mod rng;
#[cfg(test)]
mod tests;
mod write;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use chrono::{Datelike, NaiveDate};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::error::{Context, Error, Result};

use file::{FileGen, FileStats, Params};
use model::Shared;
use rng::mix;

/// The format of the event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerateFormat {
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 CSV with a header; nested fields as dotted column names.
    Csv,
}

/// What to generate.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateSettings {
    /// Events go to `<out_dir>/date=YYYY-MM-DD/part-NNNNN.<ext>`.
    pub out_dir: PathBuf,
    /// The content catalog (CSV).
    pub content_path: PathBuf,
    /// One or more days (sorted and de-duplicated before use).
    pub dates: Vec<NaiveDate>,
    /// Lines per day, over all of the day's files.
    pub events_per_day: u64,
    pub seed: u64,
    pub format: GenerateFormat,
    pub gzip: bool,
    /// Split each day into this many files (>= 1).
    pub files_per_day: u32,
    pub users: u32,
    pub content_items: u32,
    /// Share of lines that are not valid JSON (or, for CSV, not a valid row).
    pub malformed_share: f64,
    /// Share of lines that repeat an earlier event byte for byte (maybe in a later file).
    pub duplicate_share: f64,
    /// Share of events whose `event_ts` is 1-3 days before the file's date.
    pub late_share: f64,
    /// Share of events with a bad value (negative or text `position_s`, unknown `event_type`,
    /// no `event_id`, no `content_id` on a playback event, bad `device.type`, bad `event_ts`).
    pub bad_value_share: f64,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("landing"),
            content_path: PathBuf::from("content.csv"),
            dates: vec![NaiveDate::from_ymd_opt(2025, 1, 1).expect("2025-01-01 is a valid date")],
            events_per_day: 100_000,
            seed: 42,
            format: GenerateFormat::Ndjson,
            gzip: false,
            files_per_day: 1,
            users: 10_000,
            content_items: 2_000,
            malformed_share: 0.0,
            duplicate_share: 0.0,
            late_share: 0.0,
            bad_value_share: 0.0,
        }
    }
}

/// One event file written.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub date: NaiveDate,
    /// Lines in the file (events and malformed lines; never the CSV header).
    pub lines: u64,
    /// Size on disk (compressed size for gzip).
    pub bytes: u64,
}

/// What a run wrote. `lines` = sum of the files' lines = `events` + `malformed`; `events`
/// counts every valid line, bad-value lines and duplicates included.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerateReport {
    pub files: Vec<GeneratedFile>,
    pub lines: u64,
    pub events: u64,
    pub malformed: u64,
    pub duplicates: u64,
    pub late: u64,
    pub bad_values: u64,
    pub content_path: Option<PathBuf>,
    pub content_items: u64,
}

/// Part numbers have five digits; more files than this per day is surely a typo.
const MAX_FILES_PER_DAY: u32 = 100_000;

/// Generate the events and the catalog. `progress` is called now and then (from several
/// threads) with the number of lines written so far, and once at the end with the total.
pub fn generate(settings: &GenerateSettings, progress: &(dyn Fn(u64) + Sync)) -> Result<GenerateReport> {
    let dates = validate(settings)?;
    let first_day = epoch_day(dates[0]);
    let last_day = epoch_day(dates[dates.len() - 1]);
    let shared = Shared::new(settings.seed, settings.users, settings.content_items, first_day, last_day);
    let params = Params {
        format: settings.format,
        malformed: settings.malformed_share,
        duplicate: settings.duplicate_share,
        late: settings.late_share,
        bad: settings.bad_value_share,
    };

    if let Some(content_dir) = settings.content_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(content_dir)?;
    }
    let content_path = settings.content_path.clone();
    catalog::write_catalog(&content_path, settings.seed, settings.content_items)?;

    let ext = match (settings.format, settings.gzip) {
        (GenerateFormat::Ndjson, false) => "ndjson",
        (GenerateFormat::Ndjson, true) => "ndjson.gz",
        (GenerateFormat::Csv, false) => "csv",
        (GenerateFormat::Csv, true) => "csv.gz",
    };
    let files = u64::from(settings.files_per_day);
    let mut jobs = Vec::with_capacity(dates.len() * settings.files_per_day as usize);
    for &date in &dates {
        let dir = settings.out_dir.join(format!("date={date}"));
        create_dir(&dir)?;
        let day = epoch_day(date);
        for part in 0..settings.files_per_day {
            let budget = settings.events_per_day / files + u64::from(u64::from(part) < settings.events_per_day % files);
            let index = jobs.len();
            jobs.push(FileJob {
                index,
                date,
                day,
                budget,
                seed: mix(&[settings.seed, day as u64, u64::from(part)]),
                path: dir.join(format!("part-{part:05}.{ext}")),
                last: false,
            });
        }
    }
    if let Some(job) = jobs.last_mut() {
        job.last = true;
    }

    let outcomes = run_jobs(&jobs, &shared, params, settings.gzip, progress)?;

    let mut report = GenerateReport {
        content_path: Some(content_path),
        content_items: u64::from(settings.content_items),
        ..GenerateReport::default()
    };
    for (job, (stats, bytes)) in jobs.iter().zip(outcomes) {
        report.files.push(GeneratedFile { path: job.path.clone(), date: job.date, lines: stats.lines, bytes });
        report.lines += stats.lines;
        report.events += stats.events;
        report.malformed += stats.malformed;
        report.duplicates += stats.duplicates;
        report.late += stats.late;
        report.bad_values += stats.bad_values;
    }
    progress(report.lines);
    Ok(report)
}

/// Check the settings; return the dates sorted and without repeats.
fn validate(settings: &GenerateSettings) -> Result<Vec<NaiveDate>> {
    if settings.dates.is_empty() {
        return Err(Error::data("no dates to generate events for")
            .with_hint("give at least one day, e.g. `--date 2025-01-01`"));
    }
    let mut dates = settings.dates.clone();
    dates.sort();
    dates.dedup();
    for date in &dates {
        if !(1971..=9998).contains(&date.year()) {
            return Err(Error::data(format!(
                "cannot generate events for {date}: dates must lie between 1971 and 9998"
            )));
        }
    }
    if settings.files_per_day == 0 {
        return Err(Error::data("files per day must be at least 1, got 0"));
    }
    if settings.files_per_day > MAX_FILES_PER_DAY {
        return Err(Error::data(format!(
            "files per day must be at most {MAX_FILES_PER_DAY}, got {}",
            settings.files_per_day
        )));
    }
    if settings.users == 0 {
        return Err(Error::data("the number of users must be at least 1, got 0"));
    }
    if settings.content_items == 0 {
        return Err(Error::data("the number of content items must be at least 1, got 0"));
    }
    let shares = [
        ("malformed share", settings.malformed_share),
        ("duplicate share", settings.duplicate_share),
        ("late share", settings.late_share),
        ("bad-value share", settings.bad_value_share),
    ];
    for (name, value) in shares {
        if !(0.0..=1.0).contains(&value) {
            return Err(Error::data(format!("the {name} must be between 0 and 1, got {value}"))
                .with_hint("shares are fractions of the lines: 0.02 means 2%"));
        }
    }
    let sum: f64 = shares.iter().map(|(_, v)| v).sum();
    if sum > 1.0 + 1e-9 {
        return Err(Error::data(format!(
            "the malformed, duplicate, late and bad-value shares add up to {sum}, more than 1"
        ))
        .with_hint("each line is at most one of these, so the shares must add up to at most 1"));
    }
    Ok(dates)
}

fn epoch_day(date: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date");
    date.signed_duration_since(epoch).num_days()
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).env_err(|| format!("cannot create folder {}", dir.display()))
}

/// `<path>.tmp`: where a file is written before it is renamed into place.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// One event file to write. Jobs are numbered in (date, part) order; duplicates a job hands
/// on go to the job with the next number.
struct FileJob {
    index: usize,
    date: NaiveDate,
    day: i64,
    budget: u64,
    seed: u64,
    path: PathBuf,
    last: bool,
}

struct RunCtx<'a> {
    jobs: &'a [FileJob],
    shared: &'a Shared,
    params: Params,
    gzip: bool,
    progress: &'a (dyn Fn(u64) + Sync),
    board: CarryBoard,
    next: AtomicUsize,
    abort: AtomicBool,
    written: AtomicU64,
    results: Vec<Mutex<Option<JobResult>>>,
}

/// A written file's counts and size on disk.
type JobResult = Result<(FileStats, u64)>;

/// Write all files on up to (cores, at most 8) threads; results in job order.
fn run_jobs(
    jobs: &[FileJob],
    shared: &Shared,
    params: Params,
    gzip: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<(FileStats, u64)>> {
    let ctx = RunCtx {
        jobs,
        shared,
        params,
        gzip,
        progress,
        board: CarryBoard::new(jobs.len()),
        next: AtomicUsize::new(0),
        abort: AtomicBool::new(false),
        written: AtomicU64::new(0),
        results: jobs.iter().map(|_| Mutex::new(None)).collect(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8).min(jobs.len());
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| worker(&ctx));
        }
        worker(&ctx);
    });
    let mut outcomes = Vec::with_capacity(jobs.len());
    for (slot, job) in ctx.results.into_iter().zip(jobs) {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(outcome)) => outcomes.push(outcome),
            Some(Err(err)) => return Err(err),
            None => {
                return Err(Error::environment(format!(
                    "{} was not written because an earlier file failed",
                    job.path.display()
                )));
            }
        }
    }
    Ok(outcomes)
}

/// Take jobs in order until none are left or one failed. Because jobs are taken in order, the
/// job a waiting job depends on (the previous one) has always been taken already.
fn worker(ctx: &RunCtx<'_>) {
    loop {
        if ctx.abort.load(Ordering::Relaxed) {
            return;
        }
        let i = ctx.next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = ctx.jobs.get(i) else { return };
        let result = run_job(job, ctx);
        if result.is_err() {
            ctx.abort.store(true, Ordering::Relaxed);
        }
        *lock(&ctx.results[i]) = Some(result);
    }
}

fn run_job(job: &FileJob, ctx: &RunCtx<'_>) -> JobResult {
    let mut guard = CarryGuard { board: &ctx.board, slot: job.index + 1, done: false };
    let tmp = tmp_path(&job.path);
    let mut reported = 0_u64;
    let mut tick = |lines: u64| {
        if lines > reported {
            let delta = lines - reported;
            reported = lines;
            let total = ctx.written.fetch_add(delta, Ordering::Relaxed) + delta;
            (ctx.progress)(total);
        }
    };
    let written = write_file(job, ctx, &tmp, &mut guard, &mut tick).and_then(|stats| {
        fs::rename(&tmp, &job.path)
            .env_err(|| format!("cannot move {} into place as {}", tmp.display(), job.path.display()))?;
        let bytes = fs::metadata(&job.path).env_err(|| format!("cannot read the size of {}", job.path.display()))?.len();
        Ok((stats, bytes))
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_file(
    job: &FileJob,
    ctx: &RunCtx<'_>,
    tmp: &Path,
    guard: &mut CarryGuard<'_>,
    tick: &mut dyn FnMut(u64),
) -> Result<FileStats> {
    let io_err = || format!("cannot write {}", tmp.display());
    let file = File::create(tmp).env_err(|| format!("cannot create {}", tmp.display()))?;
    let mut sink = Sink::new(file, ctx.gzip);
    let mut lines = FileGen::new(ctx.shared, ctx.params, job.seed, job.day, job.budget);
    lines.write_body(&mut sink, job.budget, !job.last, tick).env_err(io_err)?;
    guard.publish(lines.take_carry_out());
    let carried = ctx.board.take(job.index).ok_or_else(|| {
        Error::environment(format!("stopped writing {} because an earlier file failed", job.path.display()))
    })?;
    lines.append_carried(&carried);
    let stats = lines.finish(&mut sink).env_err(io_err)?;
    sink.finish().env_err(io_err)?;
    tick(stats.lines);
    Ok(stats)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The file being written, plain or gzip (fast level: the generator must keep up with disks).
enum Sink {
    Plain(File),
    Gzip(Box<GzEncoder<BufWriter<File>>>),
}

impl Sink {
    fn new(file: File, gzip: bool) -> Self {
        if gzip {
            Sink::Gzip(Box::new(GzEncoder::new(BufWriter::with_capacity(1 << 18, file), Compression::fast())))
        } else {
            Sink::Plain(file)
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut file) => file.flush(),
            Sink::Gzip(encoder) => encoder.finish()?.flush(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(file) => file.write(buf),
            Sink::Gzip(encoder) => encoder.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(file) => file.write_all(buf),
            Sink::Gzip(encoder) => encoder.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(file) => file.flush(),
            Sink::Gzip(encoder) => encoder.flush(),
        }
    }
}

/// Duplicates handed from each file to the next (slot i holds what job i receives). A job
/// writes its own lines first, hands its carry on, then waits for its predecessor's: so files
/// are written in parallel and the output still does not depend on timing.
struct CarryBoard {
    slots: Mutex<Vec<Carry>>,
    changed: Condvar,
}

enum Carry {
    Pending,
    Ready(Vec<Vec<u8>>),
    Failed,
    Taken,
}

impl CarryBoard {
    fn new(jobs: usize) -> Self {
        let mut slots: Vec<Carry> = (0..=jobs).map(|_| Carry::Pending).collect();
        slots[0] = Carry::Ready(Vec::new());
        Self { slots: Mutex::new(slots), changed: Condvar::new() }
    }

    fn publish(&self, slot: usize, carry: Carry) {
        let mut slots = lock(&self.slots);
        if let Some(s) = slots.get_mut(slot) {
            *s = carry;
        }
        drop(slots);
        self.changed.notify_all();
    }

    /// Wait for slot `slot`; `None` when the job that fills it failed.
    fn take(&self, slot: usize) -> Option<Vec<Vec<u8>>> {
        let mut slots = lock(&self.slots);
        loop {
            match std::mem::replace(&mut slots[slot], Carry::Taken) {
                Carry::Ready(lines) => return Some(lines),
                Carry::Failed => return None,
                Carry::Taken => return Some(Vec::new()),
                Carry::Pending => {
                    slots[slot] = Carry::Pending;
                    slots = self.changed.wait(slots).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

/// Marks a job's outgoing slot as failed unless the job published it, so that a failing (or
/// panicking) job never leaves its successor waiting forever.
struct CarryGuard<'a> {
    board: &'a CarryBoard,
    slot: usize,
    done: bool,
}

impl CarryGuard<'_> {
    fn publish(&mut self, lines: Vec<Vec<u8>>) {
        self.board.publish(self.slot, Carry::Ready(lines));
        self.done = true;
    }
}

impl Drop for CarryGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.board.publish(self.slot, Carry::Failed);
        }
    }
}
