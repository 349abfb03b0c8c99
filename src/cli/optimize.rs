//! `vbda optimize`: flags into [`OptimizeSettings`], the run, and the per-table summary.
//!
//! What can go wrong: `--target-file-size 0` (exit 1); `--from` after `--to` (exit 1).

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, OptimizeReport, OptimizeSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda optimize --table bronze.video_events --date 2025-01-01   # compact small files
  vbda optimize                                                 # every table, every partition
  vbda optimize --from 2025-01-01 --to 2025-01-31 --target-file-size 268435456")]
pub(super) struct OptimizeArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    dates: DateArgs,
    /// Target file size in bytes [default: delta-rs's, 100 MiB]
    #[arg(long, value_name = "BYTES")]
    target_file_size: Option<u64>,
}

pub(super) fn settings(args: OptimizeArgs, ctx: &Context) -> Result<OptimizeSettings> {
    let OptimizeArgs { table, dates, target_file_size } = args;
    Ok(OptimizeSettings { table, dates: dates_of(dates)?, target_file_size, args: ctx.args.clone() })
}

pub(super) async fn run(settings: OptimizeSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = maintain::optimize(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("optimize", &report, text))
}

fn text(r: &OptimizeReport) -> String {
    let mut out = format!("optimize ({:.1}s):", r.seconds);
    for t in &r.tables {
        match t.version {
            None => out.push_str(&format!("\n  {:<36} nothing to compact ({})", t.table, super::human::count(t.files_before as u64, "file"))),
            Some(v) => out.push_str(&format!(
                "\n  {:<36} {} -> {} ({} removed, {} added, {}), v{v}",
                t.table, super::human::count(t.files_before as u64, "file"), t.files_after, t.files_removed, t.files_added, super::human::count(t.partitions_optimized as u64, "partition")
            )),
        }
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}
