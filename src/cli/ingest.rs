//! `vbda ingest`: new landing files into bronze, or with `--content FILE` the content catalog
//! into `silver.content`; the flags resolved into the one or the other's settings, the run,
//! and the summary.
//!
//! What can go wrong: the landing folder missing or unreadable (exit 1 or 3, from
//! `ops::ingest`); files that cannot be read or changed since they were ingested do not stop
//! the run, but make it exit 1 after the summary ([`problems`]); landing objects the store
//! did not hand out make it exit 3, so that a scheduler retries.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::{Error, Result};
use crate::ops::content::{self, ContentReport, ContentSettings};
use crate::ops::ingest::{self, IngestReport, IngestSettings};
use crate::settings::resolve;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda ingest --landing landing          # appends new files to bronze.video_events
  vbda ingest --content content.csv      # replaces silver.content with the catalog
  vbda --output json ingest              # one JSON object on stdout, for schedulers")]
pub(super) struct IngestArgs {
    /// Landing folder or s3://bucket/prefix [env: VBDA_LANDING] [vbda.toml: ingest.landing] [default: ./landing]
    #[arg(long, value_name = "DIR|URL")]
    pub(super) landing: Option<String>,
    /// Also ingest files that changed since they were ingested (as new data)
    #[arg(long)]
    reingest_changed: bool,
    /// Load a content catalog (CSV with header, or NDJSON) into silver.content, replacing it (no landing files are read)
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Commit after this many rows [env: VBDA_INGEST_BATCH_ROWS] [vbda.toml: ingest.batch_rows] [default: 1000000]
    #[arg(long)]
    batch_rows: Option<usize>,
    /// Refuse (report as unreadable) a landing file holding more than this many bytes once decompressed; files are read whole, so this bounds ingest's memory [env: VBDA_INGEST_MAX_FILE_BYTES] [vbda.toml: ingest.max_file_bytes] [default: 1073741824]
    #[arg(long, value_name = "BYTES")]
    max_file_bytes: Option<u64>,
}

/// What `vbda ingest` runs.
pub(super) enum IngestPlan {
    /// Landing files into bronze.
    Landing(IngestSettings),
    /// `--content FILE`: the catalog into silver.content (no landing files are read).
    Content(ContentSettings),
}

impl IngestPlan {
    /// The name in the JSON summary and `--show-settings`.
    pub(super) fn command(&self) -> &'static str {
        match self {
            Self::Landing(_) => "ingest",
            Self::Content(_) => "ingest --content",
        }
    }
}

impl Serialize for IngestPlan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match self {
            Self::Content(c) => c.serialize(s),
            // `ops::ingest` does not derive Serialize; every field is named so that a new one
            // is not silently left out of `--show-settings`.
            Self::Landing(settings) => {
                let IngestSettings { landing, reingest_changed, batch_rows, batch_bytes, max_file_bytes, args: _ } = settings;
                let mut st = s.serialize_struct("IngestSettings", 5)?;
                st.serialize_field("landing", landing)?;
                st.serialize_field("reingest_changed", reingest_changed)?;
                st.serialize_field("batch_rows", batch_rows)?;
                st.serialize_field("batch_bytes", batch_bytes)?;
                st.serialize_field("max_file_bytes", max_file_bytes)?;
                st.end()
            }
        }
    }
}

pub(super) fn settings(args: IngestArgs, ctx: &Context) -> Result<IngestPlan> {
    let IngestArgs {
        // Resolved with the global settings (flag > VBDA_LANDING > vbda.toml), shown there too.
        landing: _,
        reingest_changed,
        content,
        batch_rows,
        max_file_bytes,
    } = args;
    if let Some(file) = content {
        return Ok(IngestPlan::Content(ContentSettings { file, args: ctx.args.clone() }));
    }
    let file = &ctx.project.config.ingest;
    let batch_rows = resolve(batch_rows, "VBDA_INGEST_BATCH_ROWS", file.batch_rows, Some(1_000_000))?;
    let default_max = ingest::parse::DEFAULT_MAX_FILE_BYTES;
    let max_file_bytes = resolve(max_file_bytes, "VBDA_INGEST_MAX_FILE_BYTES", file.max_file_bytes, Some(default_max))?;
    Ok(IngestPlan::Landing(IngestSettings {
        landing: ctx.globals.landing.value.clone().unwrap_or_else(|| "landing".into()),
        reingest_changed,
        batch_rows: batch_rows.value.unwrap_or(1_000_000).max(1),
        max_file_bytes: max_file_bytes.value.unwrap_or(default_max).max(1),
        args: ctx.args.clone(),
        ..Default::default()
    }))
}

pub(super) async fn run(plan: IngestPlan, ctx: &Context<'_>) -> Result<Rendered> {
    match plan {
        IngestPlan::Content(settings) => {
            let report = content::load_content(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
            let text = content_text(&report);
            let mut samples = RunSamples { rows_read: Some(report.rows_read), ..Default::default() };
            samples.committed(&report.table.table, report.table.version, report.table.rows);
            samples.expectations(&report.rules);
            Ok(render("ingest --content", &report, text).with_samples(samples))
        }
        IngestPlan::Landing(settings) => {
            let catalog = ctx.catalog()?;
            let report = ingest::ingest(&ctx.lakehouse()?, &catalog, &settings).await?;
            let text = text(&report);
            // The summary says `ok: false` with the error next to the work done.
            let mut samples = RunSamples { rows_read: Some(report.rows), ..Default::default() };
            for c in &report.commits {
                samples.committed(&c.table, c.version, c.rows);
            }
            Ok(render("ingest", &report, text).with_samples(samples).failing(problems(&report, settings.reingest_changed)))
        }
    }
}

/// The human summary of an ingest run.
fn text(r: &IngestReport) -> String {
    let mut out = format!(
        "ingest {}: {} seen, {} ingested, {} already ingested; {} appended ({} without a readable event time) in {}; bronze.video_events at version {} ({:.1}s)",
        r.landing,
        super::human::count(r.files_seen as u64, "file"),
        super::human::int(r.files_ingested as u64),
        super::human::int(r.files_already_ingested as u64),
        super::human::count(r.rows as u64, "row"),
        super::human::int(r.rows_without_event_time as u64),
        super::human::count(r.commits.len() as u64, "commit"),
        r.bronze_version.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        r.seconds,
    );
    for f in &r.files_changed {
        out.push_str(&format!("\nchanged since ingested: {f} (use --reingest-changed to ingest it again)"));
    }
    for f in &r.files_empty {
        out.push_str(&format!("\nempty file, recorded with no rows: {f}"));
    }
    for f in &r.files_unreadable {
        out.push_str(&format!("\nunreadable, not ingested: {}: {}", f.file, f.reason));
    }
    for f in &r.files_in_flight {
        out.push_str(&format!("\nstill being written or gone, left for the next run: {f}"));
    }
    for f in &r.files_outside_landing {
        out.push_str(&format!("\nskipped, a symlink to a file outside the landing folder: {f}"));
    }
    for f in &r.files_ignored {
        out.push_str(&format!("\nignored (not .ndjson/.jsonl/.json/.csv/.parquet, optionally .gz): {f}"));
    }
    out
}

/// Ingest commits what it can, then fails the run (exit 1) when input needs a person:
/// unreadable files, or changed files left alone. Schedulers see it; nothing is lost.
fn problems(r: &IngestReport, reingest_changed: bool) -> Option<Error> {
    let changed = if reingest_changed { 0 } else { r.files_changed.len() };
    let unreadable = r.files_unreadable.len();
    if !r.files_unavailable.is_empty() {
        // The storage failed, not the files: exit 3, so that schedulers retry.
        let first = &r.files_unavailable[0];
        return Some(
            Error::environment(format!(
                "{} landing object(s) could not be fetched (first: {}: {}); everything else was committed",
                r.files_unavailable.len(),
                first.file,
                first.reason
            ))
            .with_hint("rerun when the store answers again: the objects not fetched are read then, none twice"),
        );
    }
    if changed == 0 && unreadable == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if unreadable > 0 {
        parts.push(format!("{unreadable} landing file(s) could not be read"));
    }
    if changed > 0 {
        parts.push(format!("{changed} file(s) changed since they were ingested and were skipped"));
    }
    let hint = if changed > 0 && unreadable == 0 {
        "inspect the changed files; `vbda ingest --reingest-changed` appends their current content"
    } else {
        "fix or remove the files listed above; the readable files were committed, and the next run retries the rest"
    };
    Some(Error::data(format!("{}; everything else was committed", parts.join(" and "))).with_hint(hint))
}

fn content_text(r: &ContentReport) -> String {
    format!(
        "content catalog {}: {} rows read, {} loaded, {} dropped by rules; silver.content v{} ({:.1}s)",
        r.file, r.rows_read, r.rows_loaded, r.rows_dropped, r.table.version, r.seconds
    )
}
