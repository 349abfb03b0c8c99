//! `vbda check`: `--table` and `--date` into [`CheckSettings`], the run, the rule table, and
//! the failure that makes the run exit 1 when a `fail` rule has failing rows.
//!
//! What can go wrong: an unknown table (exit 1); tables not created yet are listed, not failed.

use chrono::NaiveDate;
use clap::Args;

use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::{Error, Result};
use crate::ops::check::{self, CheckReport, CheckSettings, Status};

#[derive(Debug, Args)]
#[command(after_help = "Like `dbt test`: the warnings and failures, grouped by table with the keys of a few failing
rows, then one line of counts. A `warn` rule (or a `drop` rule on a table bronze-to-silver should
have cleaned) that finds rows is a warning; a `fail` rule that finds rows fails the run (exit 1).

Examples:
  vbda check                                                # every table's rules
  vbda check --table silver.video_events --date 2025-01-01  # one table's rules on one date
  vbda check --all                                          # every rule, passing ones too
  vbda check --history                                      # failing rules of the last 10 runs
  vbda check --history --table gold.daily_kpis --all --last 3   # every rule, 3 runs")]
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
    /// Print the quality log (ops.quality_runs: what every writing run's rules found) instead of
    /// checking now; with --table, --date (the data's date) and --all (passing rules too)
    #[arg(long)]
    history: bool,
    /// With --history: this many newest runs
    #[arg(long, default_value_t = 10, value_name = "N", requires = "history")]
    last: usize,
}

/// The operation's settings and how the text lists the rules.
#[derive(Debug, serde::Serialize)]
pub(super) struct CheckPlan {
    #[serde(flatten)]
    settings: CheckSettings,
    all: bool,
    /// `--history`: the newest runs to show.
    history: Option<usize>,
}

pub(super) fn settings(args: CheckArgs, _ctx: &Context) -> Result<CheckPlan> {
    let CheckArgs { table, date, all, samples, history, last } = args;
    Ok(CheckPlan { settings: CheckSettings { table, date, samples: samples.min(100) }, all, history: history.then_some(last.max(1)) })
}

pub(super) async fn run(plan: CheckPlan, ctx: &Context<'_>) -> Result<Rendered> {
    let CheckPlan { settings, all, history } = plan;
    if let Some(last) = history {
        return run_history(&settings, all, last, ctx).await;
    }
    let report = check::check(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report, all);
    // The summary says `ok: false` with the error next to the work done.
    let mut samples = RunSamples::default();
    samples.expectations(&report.rules.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>());
    Ok(render("check", &report, text).with_samples(samples).failing(failure(&report)))
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

/// One row of the quality log, as shown.
#[derive(Debug, serde::Serialize)]
struct LogRow {
    run_id: String,
    run_at: String,
    command: String,
    table: String,
    rule: String,
    severity: String,
    date: Option<String>,
    rows_checked: Option<i64>,
    rows_failing: Option<i64>,
    table_version: Option<i64>,
    source_versions: serde_json::Value,
}

#[derive(Debug, serde::Serialize)]
struct HistoryReport {
    /// False when no writing command has logged anything yet.
    log_exists: bool,
    runs: usize,
    rows: Vec<LogRow>,
}

async fn run_history(
    settings: &CheckSettings,
    all: bool,
    last: usize,
    ctx: &Context<'_>,
) -> Result<Rendered> {
    use crate::ops::quality_log::{self, HistoryFilter};
    let catalog = ctx.catalog()?;
    if let Some(t) = &settings.table {
        catalog.table(t)?;
    }
    let filter = HistoryFilter {
        run_dates: None,
        table: settings.table.clone(),
        failing_only: false,
    };
    let df = quality_log::history(&ctx.lakehouse()?, &catalog, &filter).await?;
    let mut rows = match &df {
        Some(df) => log_rows(df)?,
        None => Vec::new(),
    };
    if let Some(d) = settings.date {
        let d = d.to_string();
        rows.retain(|r| r.date.as_deref() == Some(d.as_str()));
    }
    // The newest `last` runs (of the table and date asked for; rows come newest run first),
    // then, without --all, only their rules that found rows.
    let mut runs: Vec<String> = Vec::new();
    rows.retain(|r| {
        if !runs.contains(&r.run_id) {
            if runs.len() == last {
                return false;
            }
            runs.push(r.run_id.clone());
        }
        true
    });
    if !all {
        rows.retain(|r| r.rows_failing.is_some_and(|n| n > 0));
    }
    let report = HistoryReport {
        log_exists: df.is_some(),
        runs: runs.len(),
        rows,
    };
    let text = history_text(&report, all);
    Ok(render("check --history", &report, text))
}

fn log_rows(df: &polars::prelude::DataFrame) -> Result<Vec<LogRow>> {
    use polars::prelude::*;
    let err = crate::lake::convert::polars_err;
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df
            .column(name)
            .map_err(err)?
            .cast(&DataType::String)
            .map_err(err)?;
        Ok(c.str()
            .map_err(err)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let long = |name: &str| -> Result<Vec<Option<i64>>> {
        let c = df
            .column(name)
            .map_err(err)?
            .cast(&DataType::Int64)
            .map_err(err)?;
        Ok(c.i64().map_err(err)?.iter().collect())
    };
    let (run_id, run_at, command, table, rule, severity, date, sources) = (
        text("run_id")?,
        text("run_at")?,
        text("command")?,
        text("table_name")?,
        text("rule")?,
        text("severity")?,
        text("date")?,
        text("source_versions")?,
    );
    let (checked, failing, version) = (
        long("rows_checked")?,
        long("rows_failing")?,
        long("table_version")?,
    );
    Ok((0..df.height())
        .map(|i| LogRow {
            run_id: run_id[i].clone().unwrap_or_default(),
            run_at: run_at[i].clone().unwrap_or_default(),
            command: command[i].clone().unwrap_or_default(),
            table: table[i].clone().unwrap_or_default(),
            rule: rule[i].clone().unwrap_or_default(),
            severity: severity[i].clone().unwrap_or_default(),
            date: date[i].clone(),
            rows_checked: checked[i],
            rows_failing: failing[i],
            table_version: version[i],
            source_versions: sources[i]
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        })
        .collect())
}

fn history_text(r: &HistoryReport, all: bool) -> String {
    if !r.log_exists {
        return "the quality log ops.quality_runs is empty: bronze-to-silver, silver-to-gold and ingest --content write it".into();
    }
    if r.rows.is_empty() {
        let what = if all {
            "no rows"
        } else {
            "no failing rules (--all shows the passing ones)"
        };
        return format!("quality log: {what}");
    }
    let mut out = format!(
        "{:<26} {:<16} {:<28} {:<32} {:<5} {:<10} {:>10} {:>9}",
        "RUN AT (UTC)", "COMMAND", "TABLE", "RULE", "SEV", "DATE", "CHECKED", "FAILING"
    );
    for row in &r.rows {
        let n = |v: Option<i64>| {
            v.map(|v| super::human::int(v.max(0) as u64))
                .unwrap_or_else(|| "-".into())
        };
        out.push_str(&format!(
            "\n{:<26} {:<16} {:<28} {:<32} {:<5} {:<10} {:>10} {:>9}",
            row.run_at.chars().take(26).collect::<String>(),
            row.command,
            row.table,
            row.rule,
            row.severity,
            row.date.as_deref().unwrap_or("-"),
            n(row.rows_checked),
            n(row.rows_failing),
        ));
    }
    out.push_str(&format!(
        "\n{} rows from the newest {} run(s)",
        r.rows.len(),
        r.runs
    ));
    out
}
