//! `vbda checkpoint`: `--table` into [`CheckpointSettings`], the run, and the summary.
//!
//! What can go wrong: an unknown table (exit 1); storage that refuses the write (exit 3).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, CheckpointReport, CheckpointSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda checkpoint                        # a checkpoint now, and expired log files cleaned up
  vbda checkpoint --table bronze.video_events")]
pub(super) struct CheckpointArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
}

pub(super) fn settings(args: CheckpointArgs, _ctx: &Context) -> Result<CheckpointSettings> {
    let CheckpointArgs { table } = args;
    Ok(CheckpointSettings { table })
}

pub(super) async fn run(settings: CheckpointSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = maintain::checkpoint(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("checkpoint", &report, text))
}

fn text(r: &CheckpointReport) -> String {
    let mut out = String::from("checkpoint:");
    for t in &r.tables {
        out.push_str(&format!("\n  {:<36} checkpoint at v{}, {} expired log files removed", t.table, t.version, t.log_files_removed));
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}
