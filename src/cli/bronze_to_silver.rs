//! `vbda bronze-to-silver`: dates (or none: incremental) into [`BronzeToSilverSettings`], the
//! run, and the summary with each date's row balance.
//!
//! What can go wrong: `--from` after `--to` (exit 1); a `fail` rule that fails stops the run
//! before anything is written (exit 1, from `ops::bronze_to_silver`).

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::Result;
use crate::ops::bronze_to_silver::{self, BronzeToSilverReport, BronzeToSilverSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda bronze-to-silver --date 2025-01-01   # rebuilds that date of silver and quarantine
  vbda bronze-to-silver                     # rebuilds the dates new bronze commits touched
  vbda bronze-to-silver --from 2025-01-01 --to 2025-01-31")]
pub(super) struct BronzeToSilverArgs {
    #[command(flatten)]
    dates: DateArgs,
}

pub(super) fn settings(args: BronzeToSilverArgs, ctx: &Context) -> Result<BronzeToSilverSettings> {
    let BronzeToSilverArgs { dates } = args;
    Ok(BronzeToSilverSettings { dates: dates_of(dates)?, args: ctx.args.clone() })
}

pub(super) async fn run(settings: BronzeToSilverSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = bronze_to_silver::bronze_to_silver(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("bronze-to-silver", &report, text).with_samples(samples(&report)))
}

fn samples(r: &BronzeToSilverReport) -> RunSamples {
    let mut s = RunSamples {
        rows_read: Some(r.bronze_rows),
        duplicates: Some(r.duplicates),
        quarantined_by_rule: r.quarantined_by_rule.clone(),
        ..Default::default()
    };
    for w in [&r.silver, &r.quarantine].into_iter().flatten() {
        s.committed(&w.table, w.version, w.rows);
    }
    s.expectations(&r.rules);
    s
}

fn text(r: &BronzeToSilverReport) -> String {
    let notes = notes(r);
    let (Some(silver), Some(quarantine)) = (&r.silver, &r.quarantine) else {
        if !r.dates_without_bronze.is_empty() {
            return format!("bronze-to-silver: nothing written{notes}");
        }
        return format!("bronze-to-silver: bronze.video_events v{} has nothing new since the last incremental run{notes}", r.bronze_version);
    };
    let mut out = format!(
        "bronze-to-silver from bronze.video_events v{}: {} bronze rows -> {} silver, {} quarantined, {} duplicates removed; silver.video_events v{}, quarantine v{} ({:.1}s)",
        r.bronze_version, r.bronze_rows, r.silver_rows, r.quarantined, r.duplicates, silver.version, quarantine.version, r.seconds
    );
    for (d, c) in &r.dates {
        out.push_str(&format!(
            "\n  {d}: bronze {} = silver {} + quarantined {} + duplicates {}",
            c.bronze_rows, c.silver_rows, c.quarantined, c.duplicates
        ));
    }
    if !r.quarantined_by_rule.is_empty() {
        let mut by_rule: Vec<(&String, &u64)> = r.quarantined_by_rule.iter().collect();
        by_rule.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        out.push_str("\n  quarantined by rule:");
        for (rule, n) in by_rule {
            out.push_str(&format!("\n    {rule:<36} {:>10}", super::human::int(*n)));
        }
    }
    out.push_str(&notes);
    out
}

/// Dates asked for that had nothing, and dates left for an incremental run.
fn notes(r: &BronzeToSilverReport) -> String {
    let mut out = String::new();
    if !r.dates_without_bronze.is_empty() {
        out.push_str(&format!(
            "\nnote: bronze has no rows of {} (and silver nothing to replace): nothing rebuilt; a mistyped date? `vbda status` shows bronze's dates",
            r.dates_without_bronze.join(", ")
        ));
    }
    if !r.other_dates_pending.is_empty() {
        let shown: Vec<&str> = r.other_dates_pending.iter().take(10).map(String::as_str).collect();
        let more = r.other_dates_pending.len().saturating_sub(shown.len());
        out.push_str(&format!(
            "\nnote: {} of bronze not yet in silver: {}{}; run `vbda bronze-to-silver` (no dates) to process them",
            super::human::count(r.other_dates_pending.len() as u64, "other date"),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    out
}
