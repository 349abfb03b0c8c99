//! `vbda validate`: the project's specs and gold SQL models checked without touching the
//! lakehouse, every problem listed with its file and line.
//!
//! What can go wrong: any problem found (exit 1, after the list); no `tables/` folder (exit 1).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::validate::{self, ValidateReport};

#[derive(Debug, Args)]
#[command(after_help = "Every table spec under tables/ and job under jobs/ is loaded, and every gold SQL model is
planned against empty frames of the silver schemas (syntax, table and column names, the SELECT
list against the gold spec). Nothing is read from or written to the lakehouse: run it in CI.

Examples:
  vbda validate                       # the project in the current folder
  vbda validate --project ../my-lake --output json")]
pub(super) struct ValidateArgs {}

#[derive(Debug, serde::Serialize)]
pub(super) struct ValidateSettings {}

pub(super) fn settings(args: ValidateArgs, _ctx: &Context) -> Result<ValidateSettings> {
    let ValidateArgs {} = args;
    Ok(ValidateSettings {})
}

pub(super) async fn run(_settings: ValidateSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = validate::validate(&ctx.project.dir)?;
    let text = text(&report);
    let failure = (!report.problems.is_empty()).then(|| {
        crate::error::Error::data(format!("{} in the specs and models", super::human::count(report.problems.len() as u64, "problem")))
            .with_hint("fix the files listed above, then rerun `vbda validate`")
    });
    Ok(render("validate", &report, text).failing(failure))
}

fn text(r: &ValidateReport) -> String {
    let mut out = String::new();
    for p in &r.problems {
        out.push_str(&format!("{p}\n"));
    }
    out.push_str(&format!(
        "{} table specs, {} jobs, {} SQL models planned: {}",
        r.tables,
        r.jobs,
        r.models_planned,
        if r.problems.is_empty() { "no problems".to_string() } else { super::human::count(r.problems.len() as u64, "problem") }
    ));
    out
}
