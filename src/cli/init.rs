//! `vbda init DIR`: a working project from the built-in defaults.
//!
//! What can go wrong: DIR already holds project files (exit 1; `--force` adds only the
//! missing ones); DIR not writable (exit 3).

use std::path::PathBuf;

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::init::{self, InitReport, InitSettings};

#[derive(Debug, Args)]
#[command(after_help = "The project holds vbda.toml (settings), tables/ (the table specs: columns, keys,
expectations, retention), jobs/ (the gold SQL models) and airflow/ (the DAGs). Run vbda from
that folder, or point at it with --project DIR or VBDA_PROJECT.

Examples:
  vbda init my-lake && cd my-lake && vbda generate --events 100000 && vbda ingest
  vbda init . --force        # add the missing files to the current folder, keeping the others")]
pub(super) struct InitArgs {
    /// The folder to create (or an empty one)
    dir: PathBuf,
    /// Write the missing files into a folder that has some already (nothing is overwritten)
    #[arg(long)]
    force: bool,
}

pub(super) fn settings(args: InitArgs, _ctx: &Context) -> Result<InitSettings> {
    let InitArgs { dir, force } = args;
    Ok(InitSettings { dir, force })
}

pub(super) async fn run(settings: InitSettings, _ctx: &Context<'_>) -> Result<Rendered> {
    let report = init::init(&settings)?;
    let text = text(&report);
    Ok(render("init", &report, text))
}

fn text(r: &InitReport) -> String {
    let dir = r.dir.display();
    let mut out = format!("vbda project in {dir}: {} written", super::human::count(r.written.len() as u64, "file"));
    if !r.kept.is_empty() {
        out.push_str(&format!(", {} already there kept as they were", r.kept.len()));
    }
    out.push_str(&format!(
        "\nnext:\n  cd {dir}\n  vbda validate                                   # the specs and SQL models\n  vbda generate --events 100000                   # synthetic events into ./landing\n  vbda ingest && vbda ingest --content content.csv\n  vbda bronze-to-silver && vbda silver-to-gold\n  vbda check && vbda show gold.daily_kpis --date 2025-01-01"
    ));
    out
}
