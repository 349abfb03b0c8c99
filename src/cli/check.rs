//! `vbda check`: `--table` and `--date` into [`CheckSettings`], the run, the rule table, and
//! the failure that makes the run exit 1 when a `fail` rule has failing rows.
//!
//! What can go wrong: an unknown table (exit 1); tables not created yet are listed, not failed.

use chrono::NaiveDate;
use clap::Args;

use super::{Context, Rendered, render};
use crate::error::{Error, Result};
use crate::ops::check::{self, CheckReport, CheckSettings, Status};

#[derive(Debug, Args)]
#[command(after_help = "Like `dbt test`: the warnings and failures, grouped by table with the keys of a few failing
rows, then one line of counts. A `warn` rule (or a `drop` rule on a table bronze-to-silver should
have cleaned) that finds rows is a warning; a `fail` rule that finds rows fails the run (exit 1).

Examples:
  vbda check                                                # every table's rules
  vbda check --table silver.video_events --date 2025-01-01  # one table's rules on one date
  vbda check --all                                          # every rule, passing ones too")]
pub(super) struct CheckArgs {
    /// Only this table (layer.name)
    #[arg(long)]
    table: Option<String>,
    /// Only this date's partition
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// List every rule with its result, not only warnings and failures
    #[arg(long)]
    all: bool,
    /// Keys of this many failing rows per rule
    #[arg(long, default_value_t = 5, value_name = "N")]
    samples: usize,
}

/// The operation's settings and how the text lists the rules.
#[derive(Debug, serde::Serialize)]
pub(super) struct CheckPlan {
    #[serde(flatten)]
    settings: CheckSettings,
    all: bool,
}

pub(super) fn settings(args: CheckArgs, _ctx: &Context) -> Result<CheckPlan> {
    let CheckArgs { table, date, all, samples } = args;
    Ok(CheckPlan { settings: CheckSettings { table, date, samples: samples.min(100) }, all })
}

pub(super) async fn run(plan: CheckPlan, ctx: &Context<'_>) -> Result<Rendered> {
    let CheckPlan { settings, all } = plan;
    let report = check::check(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report, all);
    // The summary says `ok: false` with the error next to the work done.
    Ok(render("check", &report, text).failing(failure(&report)))
}

fn text(r: &CheckReport, all: bool) -> String {
    let mut out = String::new();
    let mut table = "";
    for rule in r.rules.iter().filter(|x| all || matches!(x.status, Status::Warn | Status::Fail)) {
        let o = &rule.outcome;
        if o.table != table {
            table = &o.table;
            out.push_str(&format!("{table}\n"));
        }
        let (label, detail) = match (rule.status, o.failing_rows) {
            (Status::Pass, _) => ("PASS", String::new()),
            (Status::NotRun, _) => ("SKIP", ": not run, the table it refers to does not exist yet".to_string()),
            (Status::Warn, n) => ("WARN", format!(": {}", super::human::count(n.unwrap_or(0), "row"))),
            (Status::Fail, n) => ("FAIL", format!(": {}", super::human::count(n.unwrap_or(0), "row"))),
        };
        let on = if o.columns.is_empty() { String::new() } else { format!(" on {}", o.columns.join(", ")) };
        out.push_str(&format!("  {label}  {} ({} {}{on}){detail}\n", o.name, o.severity, o.rule));
        if !rule.sample_keys.is_empty() {
            out.push_str(&format!("        e.g. {}\n", rule.sample_keys.join("; ")));
        }
    }
    if out.is_empty() {
        out.push_str("every rule passed\n");
    }
    out.push_str(&format!(
        "Done. PASS={} WARN={} FAIL={} SKIP={} ({}, {:.1}s)",
        r.passed,
        r.warned,
        r.failed,
        r.not_run,
        super::human::count(r.tables_checked.len() as u64, "table"),
        r.seconds
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
            .filter(|x| x.status == Status::Fail)
            .map(|x| format!("{} on {}", x.outcome.name, x.outcome.table))
            .collect();
        Error::data(format!("{} `fail` rule(s) failed: {}", r.failed, names.join(", ")))
            .with_hint("rebuild the affected dates, or fix the data upstream and rerun the steps")
    })
}
