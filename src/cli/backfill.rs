//! `vbda backfill`: the date range and `--restart` into [`BackfillSettings`], the run, and the
//! per-date summary.
//!
//! What can go wrong: no dates (exit 1: a backfill is always of a range); a date whose
//! transforms fail stops the run there (its error's exit code), and a rerun resumes with it.

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::{Error, Result};
use crate::ops::backfill::{self, BackfillReport, BackfillSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda backfill --from 2025-01-01 --to 2025-01-31   # both transforms per date; a rerun resumes
  vbda backfill --restart --from 2025-01-01 --to 2025-01-31   # do every date again
  vbda backfill --date 2025-01-15")]
pub(super) struct BackfillArgs {
    #[command(flatten)]
    dates: DateArgs,
    /// Forget which dates an earlier run of this range completed, and do them all again
    #[arg(long)]
    restart: bool,
}

pub(super) fn settings(args: BackfillArgs, ctx: &Context) -> Result<BackfillSettings> {
    let BackfillArgs { dates, restart } = args;
    let dates = dates_of(dates)?;
    if dates.is_empty() {
        return Err(Error::data("backfill needs --from D1 --to D2 (or --date D)"));
    }
    Ok(BackfillSettings { dates, restart, args: ctx.args.clone() })
}

pub(super) async fn run(settings: BackfillSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = backfill::backfill(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report);
    let mut samples = RunSamples { rows_read: Some(report.dates.iter().map(|d| d.bronze_rows).sum()), ..Default::default() };
    samples.rows_written.insert("silver.video_events".into(), report.dates.iter().map(|d| d.silver_rows).sum());
    Ok(render("backfill", &report, text).with_samples(samples))
}

fn text(r: &BackfillReport) -> String {
    let mut out = format!(
        "backfill {}..{}: {} dates done, {} skipped (done by an earlier run) ({:.1}s); state in {}",
        r.from, r.to, r.done, r.skipped, r.seconds, r.state_file
    );
    for d in &r.dates {
        match d.status {
            "done" => out.push_str(&format!(
                "\n  {}: {} bronze rows -> {} silver rows -> {} gold rows ({:.1}s)",
                d.date, d.bronze_rows, d.silver_rows, d.gold_rows, d.seconds
            )),
            _ => out.push_str(&format!("\n  {}: skipped, done earlier", d.date)),
        }
    }
    out
}
