//! `vbda report`: the dates and `--out` into [`ReportSettings`], the run, and the summary line.
//!
//! What can go wrong: no dates (exit 2, clap), a range with no gold (exit 1), a folder for
//! `--out` that does not exist (exit 1, before anything is read).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::args::date_range;
use super::{Context, Rendered, render};
use crate::error::{Error, Result};
use crate::files::check_output_path;
use crate::ops::report::{self, ReportSettings, ReportSummary};

#[derive(Debug, Args)]
#[command(after_help = "One HTML file with no external resource (charts are inline SVG): open it offline, mail it, print it.
Sections: KPIs and their trend, top content, quality of experience by device and country, the ad
funnel, churn risk, and data quality (quarantine by rule, reconciliation per date, freshness).

Examples:
  vbda report --date 2025-01-01                          # writes vbda-report-2025-01-01.html
  vbda report --from 2025-01-01 --to 2025-01-31 --out january.html
  vbda --output json report --date 2025-01-01 --out /srv/reports/daily.html
  vbda report --date 2025-01-01 --png day.png             # and a screenshot (headless Chromium)")]
pub(super) struct ReportArgs {
    /// One date
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    date: Option<NaiveDate>,
    /// First date of a range (with --to)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    from: Option<NaiveDate>,
    /// Last date of a range, inclusive (with --from)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<NaiveDate>,
    /// The HTML file to write [default: vbda-report-<dates>.html]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write a PNG screenshot of the page (needs Chromium: chromium on PATH or VBDA_CHROMIUM)
    #[arg(long, value_name = "FILE.png")]
    png: Option<PathBuf>,
}

pub(super) fn settings(args: ReportArgs, _ctx: &Context) -> Result<ReportSettings> {
    let ReportArgs { date, from, to, out, png } = args;
    let dates = match (date, from, to) {
        (Some(d), _, _) => vec![d],
        (None, Some(f), Some(t)) => date_range(f, t)?,
        _ => return Err(Error::data("no dates given").with_hint("--date D, or --from D1 --to D2")),
    };
    if dates.len() > 3660 {
        return Err(Error::data(format!("{} dates is more than a report can show (at most ten years)", dates.len())));
    }
    let default_name = match (dates.first(), dates.last()) {
        (Some(a), Some(b)) if a == b => format!("vbda-report-{a}.html"),
        (Some(a), Some(b)) => format!("vbda-report-{a}_{b}.html"),
        _ => "vbda-report.html".into(),
    };
    let out = out.unwrap_or_else(|| PathBuf::from(default_name));
    check_output_path("--out", &out)?;
    if let Some(p) = &png {
        check_output_path("--png", p)?;
    }
    Ok(ReportSettings { dates, out, png })
}

pub(super) async fn run(settings: ReportSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let summary = report::report(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&summary);
    Ok(render("report", &summary, text))
}

fn text(r: &ReportSummary) -> String {
    let range = if r.from == r.to { r.from.to_string() } else { format!("{}..{}", r.from, r.to) };
    format!(
        "report {range}: {} ({}, {} of {} dates with gold) in {:.1}s",
        r.out,
        super::human::bytes(r.bytes),
        r.dates_with_gold,
        (r.to - r.from).num_days() + 1,
        r.seconds
    ) + &r.png.as_ref().map(|p| format!("; screenshot {p}")).unwrap_or_default()
}
