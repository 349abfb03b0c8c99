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
            Some(c) => command_line(c, &e.args),
            None => String::new(),
        };
        out.push_str(&format!(
            "\n{:>7}  {:<20}  {:<18}  {:>8}  {:>6}  {:>6}  {command}",
            e.version, time, e.operation, num(e.rows_added), num(e.files_added), num(e.files_removed)
        ));
    }
    out
}

/// `vbda COMMAND ARGS` from a commit's recorded command line, without the program path, the
/// command repeated, and the global flags (where the lakehouse and project are: the same for
/// every row).
fn command_line(command: &str, args: &[String]) -> String {
    const GLOBAL_WITH_VALUE: [&str; 4] = ["--project", "--lakehouse", "--output", "--log-format"];
    let mut kept: Vec<&str> = Vec::new();
    let mut skip_value = false;
    let mut seen_command = false;
    for (i, a) in args.iter().enumerate() {
        if skip_value {
            skip_value = false;
            continue;
        }
        if i == 0 && (a == "vbda" || a.ends_with("/vbda")) {
            continue;
        }
        if GLOBAL_WITH_VALUE.contains(&a.as_str()) {
            skip_value = true;
            continue;
        }
        let flag = a.split('=').next().unwrap_or_default();
        if GLOBAL_WITH_VALUE.contains(&flag) || a == "--quiet" || a == "-q" || a == "--verbose" || (a.starts_with("-v") && a[1..].chars().all(|c| c == 'v')) {
            continue;
        }
        if !seen_command && a == command {
            seen_command = true;
            continue;
        }
        kept.push(a);
    }
    format!("vbda {command} {}", kept.join(" ")).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_column_leaves_out_the_binary_the_repeated_command_and_global_flags() {
        let args: Vec<String> = ["vbda", "--lakehouse", "/tmp/l", "-v", "bronze-to-silver", "--output=json", "--date", "2025-01-01"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(super::command_line("bronze-to-silver", &args), "vbda bronze-to-silver --date 2025-01-01");
        assert_eq!(super::command_line("ingest", &[]), "vbda ingest");
    }
}
