//! `vbda bronze-to-silver`: dates (or none: incremental) into [`BronzeToSilverSettings`], the
//! run, and the summary with each date's row balance.
//!
//! What can go wrong: `--from` after `--to` (exit 1); a `fail` rule that fails stops the run
//! before anything is written (exit 1, from `ops::bronze_to_silver`).

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
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
    Ok(render("bronze-to-silver", &report, text))
}

fn text(r: &BronzeToSilverReport) -> String {
    let (Some(silver), Some(quarantine)) = (&r.silver, &r.quarantine) else {
        return format!("bronze-to-silver: bronze.video_events v{} has nothing new since the last incremental run", r.bronze_version);
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
    for rule in r.rules.iter().filter(|o| o.failing_rows.unwrap_or(0) > 0) {
        out.push_str(&format!("\n  rule {} ({}): {} rows", rule.name, rule.severity, rule.failing_rows.unwrap_or(0)));
    }
    out
}
