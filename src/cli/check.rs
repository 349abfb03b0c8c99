//! `vbda check`: `--table` and `--date` into [`CheckSettings`], the run, the rule table, and
//! the failure that makes the run exit 1 when a `fail` rule has failing rows.
//!
//! What can go wrong: an unknown table (exit 1); tables not created yet are listed, not failed.

use chrono::NaiveDate;
use clap::Args;

use super::{Context, Rendered, render};
use crate::catalog::Severity;
use crate::error::{Error, Result};
use crate::ops::check::{self, CheckReport, CheckSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda check                                                # every table's rules
  vbda check --table silver.video_events --date 2025-01-01  # one table's rules on one date")]
pub(super) struct CheckArgs {
    /// Only this table (layer.name)
    #[arg(long)]
    table: Option<String>,
    /// Only this date's partition
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
}

pub(super) fn settings(args: CheckArgs, _ctx: &Context) -> Result<CheckSettings> {
    let CheckArgs { table, date } = args;
    Ok(CheckSettings { table, date })
}

pub(super) async fn run(settings: CheckSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = check::check(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report);
    let mut rendered = render("check", &report, text);
    rendered.failure = failure(&report);
    Ok(rendered)
}

fn text(r: &CheckReport) -> String {
    let mut out = format!("{:<44} {:<34} {:>12} {:<8}\n", "RULE", "TABLE", "FAILING ROWS", "SEVERITY");
    for rule in &r.rules {
        let failing = rule.failing_rows.map(|n| n.to_string()).unwrap_or_else(|| "not run".into());
        out.push_str(&format!("{:<44} {:<34} {:>12} {:<8}\n", rule.name, rule.table, failing, rule.severity));
    }
    out.push_str(&format!(
        "{} tables checked, {} rules, {} failed `fail` rules",
        r.tables_checked.len(),
        r.rules.len(),
        r.failed
    ));
    if !r.tables_missing.is_empty() {
        out.push_str(&format!("; not created yet: {}", r.tables_missing.join(", ")));
    }
    out
}

/// The error that makes the run exit 1 when a `fail` rule has failing rows.
fn failure(r: &CheckReport) -> Option<Error> {
    (r.failed > 0).then(|| {
        let names: Vec<String> = r
            .rules
            .iter()
            .filter(|x| x.severity == Severity::Fail && x.failing_rows.unwrap_or(0) > 0)
            .map(|x| format!("{} on {}", x.name, x.table))
            .collect();
        Error::data(format!("{} `fail` rule(s) failed: {}", r.failed, names.join(", ")))
            .with_hint("rebuild the affected dates, or fix the data upstream and rerun the steps")
    })
}
