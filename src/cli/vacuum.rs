//! `vbda vacuum`: flags into [`VacuumSettings`], the run, and the per-table summary (with the
//! files a dry run would remove).
//!
//! What can go wrong: a retention below a table's minimum without `--force`, or a negative one
//! (exit 1, before anything is deleted; see `ops::maintain::vacuum`).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, VacuumReport, VacuumSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda vacuum --dry-run                  # what vacuum would delete, per table, with bytes
  vbda vacuum                            # delete unreferenced files past each table's retention
  vbda vacuum --table bronze.video_events --retention-hours 24 --force")]
pub(super) struct VacuumArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    /// Keep files removed less than this many hours ago [default: the table spec's retention]
    #[arg(long, value_name = "HOURS", allow_negative_numbers = true)]
    retention_hours: Option<i64>,
    /// List what would be removed; remove nothing
    #[arg(long)]
    dry_run: bool,
    /// Also remove files no commit ever referenced
    #[arg(long)]
    full: bool,
    /// Allow a retention below the table's minimum
    #[arg(long)]
    force: bool,
}

pub(super) fn settings(args: VacuumArgs, ctx: &Context) -> Result<VacuumSettings> {
    let VacuumArgs { table, retention_hours, dry_run, full, force } = args;
    Ok(VacuumSettings { table, retention_hours, dry_run, full, force, args: ctx.args.clone() })
}

pub(super) async fn run(settings: VacuumSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = maintain::vacuum(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("vacuum", &report, text))
}

fn text(r: &VacuumReport) -> String {
    let mut out = String::from("vacuum:");
    for t in &r.tables {
        let verb = if t.dry_run { "would remove" } else { "removed" };
        out.push_str(&format!(
            "\n  {:<36} {verb} {}, {} (retention {} h, {})",
            t.table, super::human::count(t.files_removed as u64, "file"), super::human::bytes(t.bytes_removed as u64), t.retention_hours, t.mode
        ));
        if t.dry_run {
            for f in &t.files {
                out.push_str(&format!("\n    {f}"));
            }
        }
    }
    for m in &r.tables_missing {
        out.push_str(&format!("\n  {m:<36} not created yet"));
    }
    out
}
