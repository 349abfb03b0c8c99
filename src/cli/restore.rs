//! `vbda restore TABLE`: the table and `--version` or `--timestamp` into [`RestoreSettings`],
//! the run, and the summary.
//!
//! What can go wrong: neither `--version` nor `--timestamp`, a version that does not exist, a
//! timestamp that is not RFC 3339, or data files already vacuumed (exit 1, from
//! `ops::maintain::restore`).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::maintain::{self, RestoreReport, RestoreSettings};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["version", "timestamp"])))]
#[command(after_help = "The restore also takes vbda's bookkeeping in the table back to that version: files \
ingested after it are ingested again by the next `vbda ingest`, `vbda stream` resumes at the \
restored offsets, and incremental bronze-to-silver / silver-to-gold redo the work after it. Stop \
`vbda stream` on bronze while restoring bronze (Kafka must still hold the messages to re-read).

Examples:
  vbda restore silver.video_events --version 3   # a new commit with version 3's content
  vbda restore gold.daily_kpis --timestamp 2025-01-02T06:00:00Z")]
pub(super) struct RestoreArgs {
    /// The table, as layer.name
    table: String,
    /// Version to restore (see `vbda history TABLE`)
    #[arg(long, conflicts_with = "timestamp", value_name = "N", allow_negative_numbers = true)]
    version: Option<i64>,
    /// Timestamp (RFC 3339) to restore
    #[arg(long)]
    timestamp: Option<String>,
}

pub(super) fn settings(args: RestoreArgs, ctx: &Context) -> Result<RestoreSettings> {
    let RestoreArgs { table, version, timestamp } = args;
    Ok(RestoreSettings { table, version, timestamp, args: ctx.args.clone() })
}

pub(super) async fn run(settings: RestoreSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = maintain::restore(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("restore", &report, text))
}

fn text(r: &RestoreReport) -> String {
    format!(
        "restore {}: back to version {} as new version {} ({} files restored, {} removed, {} recorded transactions taken back)",
        r.table, r.restored_to, r.version, r.files_restored, r.files_removed, r.transactions_restored
    )
}
