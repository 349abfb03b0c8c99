//! `vbda tables`: every table of the catalog with its location and what storage holds.
//!
//! What can go wrong: a table spec that does not load (exit 1, every problem listed); storage
//! that does not answer (exit 3). Tables not created yet are listed with `-`. A gold SQL model
//! that does not plan is a warning under the list (`model_problems` in JSON), not a failure:
//! the tables are still there to look at; `vbda validate` and the transforms refuse it.

use clap::Args;
use serde::Serialize;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::tables::{self, TablesReport};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda tables                            # version, files, bytes, rows of every table
  vbda --output json tables              # the same as one JSON object")]
pub(super) struct TablesArgs {}

/// `vbda tables` has nothing to resolve beyond the global settings.
#[derive(Debug, Serialize)]
pub(super) struct TablesSettings {}

pub(super) fn settings(args: TablesArgs, _ctx: &Context) -> Result<TablesSettings> {
    let TablesArgs {} = args;
    Ok(TablesSettings {})
}

pub(super) async fn run(_settings: TablesSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let catalog = ctx.catalog()?;
    let report = tables::list(&ctx.lakehouse()?, &catalog).await?;
    let (_, model_problems) = crate::ops::silver_to_gold::plan_models(&catalog)?;
    let mut text = text(&report);
    if !model_problems.is_empty() {
        text.push_str(&format!(
            "\nwarning: {} in the gold SQL models; `vbda validate` lists them, and the transforms refuse to run until they are fixed",
            super::human::count(model_problems.len() as u64, "problem")
        ));
    }
    #[derive(Serialize)]
    struct WithModels<'a> {
        #[serde(flatten)]
        report: &'a TablesReport,
        model_problems: &'a [crate::catalog::Problem],
    }
    let failure = crate::error::TableProblem::run_error(report.tables.iter().filter_map(|t| Some((t.table.as_str(), t.problem.as_ref()?))));
    Ok(render("tables", &WithModels { report: &report, model_problems: &model_problems }, text).failing(failure))
}

fn text(r: &TablesReport) -> String {
    let mut out = format!("lakehouse: {}\n", r.lakehouse);
    out.push_str(&format!(
        "{:<36} {:>8} {:>7} {:>12} {:>12}  {}\n",
        "TABLE", "VERSION", "FILES", "SIZE", "ROWS", "LOCATION"
    ));
    for t in &r.tables {
        if t.problem.is_some() {
            out.push_str(&format!("{:<36} {:>8}  cannot be read (see below)\n", t.table, "!"));
            continue;
        }
        let version = t.stats.version.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let rows = match (t.created, t.stats.rows) {
            (false, _) => "-".to_string(),
            (true, Some(v)) => super::human::int(v),
            (true, None) => "?".to_string(),
        };
        out.push_str(&format!(
            "{:<36} {:>8} {:>7} {:>12} {:>12}  {}\n",
            t.table, version, super::human::int(t.stats.files as u64), super::human::bytes(t.stats.bytes as u64), rows, t.location
        ));
    }
    out.trim_end().to_string()
}
