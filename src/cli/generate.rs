//! `vbda generate`: flags into [`GenerateSettings`], the run with a progress bar, and its
//! summary line.
//!
//! What can go wrong: bad shares or counts are refused by `ops::generate` (exit 1); the folders
//! not being writable is the environment's (exit 3).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};

use super::args::date_range;
use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::generate::{self, GenerateFormat, GenerateReport, GenerateSettings};
use crate::telemetry;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda generate --out landing --date 2025-01-01 --events 1000000 --files-per-day 8 \\
       --malformed-share 0.01 --duplicate-share 0.01 --late-share 0.01 --bad-value-share 0.01
  vbda generate --from 2025-01-01 --to 2025-01-07 --events 10000 --gzip")]
pub(super) struct GenerateArgs {
    /// Landing folder for the event files (OUT/date=D/part-N.ndjson) [default: the landing setting: VBDA_LANDING, vbda.toml's ingest.landing, ./landing]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where to write the content catalog CSV (for `vbda ingest --content`)
    #[arg(long, value_name = "FILE", default_value = "content.csv")]
    content_out: PathBuf,
    /// A day to generate (repeatable) [default: 2025-01-01]
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Vec<NaiveDate>,
    /// First day of a range (with --to)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to", conflicts_with = "date")]
    from: Option<NaiveDate>,
    /// Last day of a range, inclusive (with --from)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<NaiveDate>,
    /// Events per day
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Seed: the same seed writes the same bytes
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// File format
    #[arg(long, value_enum, default_value_t = GenFormat::Ndjson)]
    format: GenFormat,
    /// Compress files with gzip
    #[arg(long)]
    gzip: bool,
    /// Files per day
    #[arg(long, default_value_t = 1)]
    files_per_day: u32,
    /// Distinct users
    #[arg(long, default_value_t = 10_000)]
    users: u32,
    /// Distinct content items in the catalog
    #[arg(long, default_value_t = 2_000)]
    content_items: u32,
    /// Share of lines that are not valid JSON
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    malformed_share: f64,
    /// Share of events sent twice
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    duplicate_share: f64,
    /// Share of events that arrive 1-3 days late
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    late_share: f64,
    /// Share of events with bad values (negative numbers, wrong types, unknown event types, missing ids)
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    bad_value_share: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GenFormat {
    Ndjson,
    Csv,
}

pub(super) fn settings(args: GenerateArgs, ctx: &Context) -> Result<GenerateSettings> {
    let GenerateArgs {
        out,
        content_out,
        date,
        from,
        to,
        events,
        seed,
        format,
        gzip,
        files_per_day,
        users,
        content_items,
        malformed_share,
        duplicate_share,
        late_share,
        bad_value_share,
    } = args;
    let dates = match (from, to) {
        (Some(from), Some(to)) => date_range(from, to)?,
        _ if date.is_empty() => vec![NaiveDate::from_ymd_opt(2025, 1, 1).expect("2025-01-01 is a valid date")],
        _ => date,
    };
    Ok(GenerateSettings {
        out_dir: match out {
            Some(out) => out,
            None => default_out(ctx)?,
        },
        content_path: content_out,
        dates,
        events_per_day: events,
        seed,
        format: match format {
            GenFormat::Ndjson => GenerateFormat::Ndjson,
            GenFormat::Csv => GenerateFormat::Csv,
        },
        gzip,
        files_per_day,
        users,
        content_items,
        malformed_share,
        duplicate_share,
        late_share,
        bad_value_share,
    })
}

/// Where a plain `vbda ingest` will look: the landing setting, so that `generate` then `ingest`
/// work together without flags.
fn default_out(ctx: &Context) -> Result<PathBuf> {
    let landing = ctx.globals.landing.value.clone().unwrap_or_else(|| "landing".into());
    if landing.contains("://") {
        let shown = crate::settings::redact_url_userinfo(&landing);
        return Err(crate::error::Error::data(format!("the landing setting is {shown}; generate writes local files"))
            .with_hint("pass --out DIR, then upload the files or ingest them with --landing DIR"));
    }
    Ok(PathBuf::from(landing))
}

pub(super) async fn run(settings: GenerateSettings, _ctx: &Context<'_>) -> Result<Rendered> {
    let started = std::time::Instant::now();
    let total = settings.events_per_day.saturating_mul(settings.dates.len() as u64);
    let progress = telemetry::Progress::new("generate", total, false);
    let report = tokio::task::block_in_place(|| generate::generate(&settings, &|n| progress.set(n)))?;
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    let text = text(&report, &settings, secs);
    Ok(render("generate", &report, text))
}

fn text(report: &GenerateReport, settings: &GenerateSettings, secs: f64) -> String {
    format!(
        "generated {} ({} events, {} malformed, {} duplicates, {} late, {} bad values) in {} under {} in {:.1}s ({:.0} lines/s){}",
        super::human::count(report.lines as u64, "line"),
        super::human::int(report.events as u64),
        super::human::int(report.malformed as u64),
        super::human::int(report.duplicates as u64),
        super::human::int(report.late as u64),
        super::human::int(report.bad_values as u64),
        super::human::count(report.files.len() as u64, "file"),
        settings.out_dir.display(),
        secs,
        report.lines as f64 / secs.max(1e-9),
        report
            .content_path
            .as_ref()
            .map(|p| format!("\ncontent catalog: {} items in {}", report.content_items, p.display()))
            .unwrap_or_default()
    )
}
