//! `vbda silver-to-gold`: dates (or none: incremental) and `--model` into
//! [`SilverToGoldSettings`], the run, and the summary per gold table.
//!
//! What can go wrong: an unknown `--model` (exit 1); a model whose output does not fit its gold
//! spec, or whose `fail` rule fails, stops the run before any table is written (exit 1, from
//! `ops::silver_to_gold`).

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::Result;
use crate::ops::silver_to_gold::{self, ModelReport, SilverToGoldReport, SilverToGoldSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda silver-to-gold --date 2025-01-01     # rebuilds that date of the six gold tables
  vbda silver-to-gold                       # the dates silver changed in since the last run
  vbda silver-to-gold --from 2025-01-01 --to 2025-01-31 --model daily_kpis   # one model, a range")]
pub(super) struct SilverToGoldArgs {
    #[command(flatten)]
    dates: DateArgs,
    /// Only this gold model (its job name in jobs/, e.g. daily_kpis, or gold.daily_kpis)
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
}

pub(super) fn settings(args: SilverToGoldArgs, ctx: &Context) -> Result<SilverToGoldSettings> {
    let SilverToGoldArgs { dates, model } = args;
    Ok(SilverToGoldSettings { dates: dates_of(dates)?, model, args: ctx.args.clone() })
}

pub(super) async fn run(settings: SilverToGoldSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = silver_to_gold::silver_to_gold(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("silver-to-gold", &report, text).with_samples(samples(&report)))
}

fn samples(r: &SilverToGoldReport) -> RunSamples {
    let mut s = RunSamples::default();
    for m in &r.models {
        if let Some(w) = &m.write {
            s.committed(&w.table, w.version, w.rows);
        }
        s.expectations(&m.rules);
    }
    s
}

fn text(r: &SilverToGoldReport) -> String {
    let mut out = format!(
        "silver-to-gold from silver.video_events v{}{}: ",
        r.silver_version,
        if r.incremental { " (incremental)" } else { "" }
    );
    let written: Vec<&ModelReport> = r.models.iter().filter(|m| m.write.is_some()).collect();
    if written.is_empty() {
        out.push_str("nothing to rebuild");
    } else {
        out.push_str(&format!("{} gold table{} rebuilt ({:.1}s)", written.len(), if written.len() == 1 { "" } else { "s" }, r.seconds));
    }
    if !r.dates_without_silver.is_empty() {
        let shown: Vec<String> = r.dates_without_silver.iter().map(|d| d.to_string()).collect();
        out.push_str(&format!(
            "\n  note: silver has no events of {}; a mistyped date? (`vbda status` shows silver's newest events)",
            shown.join(", ")
        ));
    }
    for m in &r.models {
        match &m.write {
            None if r.incremental => out.push_str(&format!("\n  {:<26} nothing new", m.table)),
            None => out.push_str(&format!("\n  {:<26} nothing to build for these dates", m.table)),
            Some(w) => {
                let dates = match (m.dates.first(), m.dates.last()) {
                    (Some(a), Some(b)) if a == b => a.to_string(),
                    (Some(a), Some(b)) => format!("{a}..{b} ({} dates)", m.dates.len()),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "\n  {:<26} {dates}: {} row{}, v{} ({:.1}s)",
                    m.table,
                    m.rows,
                    if m.rows == 1 { "" } else { "s" },
                    w.version,
                    m.seconds
                ));
            }
        }
        for rule in m.rules.iter().filter(|o| o.failing_rows.unwrap_or(0) > 0) {
            out.push_str(&format!("\n    rule {} ({}): {} rows", rule.name, rule.severity, rule.failing_rows.unwrap_or(0)));
        }
    }
    out
}
