//! `vbda history TABLE`: the table and `--limit` into [`HistorySettings`], the run, and the
//! commit table.
//!
//! What can go wrong: an unknown or not yet created table (exit 1).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, HistoryReport, HistorySettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda history silver.video_events       # commits: operation, command, rows and files
  vbda history gold.daily_kpis --limit 5")]
pub(super) struct HistoryArgs {
    /// The table, as layer.name (see `vbda tables`)
    table: String,
    /// At most this many commits, newest first
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
}

pub(super) fn settings(args: HistoryArgs, _ctx: &Context) -> Result<HistorySettings> {
    let HistoryArgs { table, limit } = args;
    Ok(HistorySettings { table, limit })
}

pub(super) async fn run(settings: HistorySettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = maintain::history(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("history", &report, text))
}

fn text(r: &HistoryReport) -> String {
    let mut out = format!("{}: {} commits shown\n{:>7}  {:<20}  {:<18}  {:>8}  {:>6}  {:>6}  COMMAND", r.table, r.entries.len(), "VERSION", "TIME (UTC)", "OPERATION", "ROWS+", "FILES+", "FILES-");
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    for e in &r.entries {
        let time = e.timestamp.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
        let command = match &e.command {
            Some(c) => format!("vbda {c} {}", e.args.join(" ")).trim_end().to_string(),
            None => String::new(),
        };
        out.push_str(&format!(
            "\n{:>7}  {:<20}  {:<18}  {:>8}  {:>6}  {:>6}  {command}",
            e.version, time, e.operation, num(e.rows_added), num(e.files_added), num(e.files_removed)
        ));
    }
    out
}
