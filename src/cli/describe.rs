//! `vbda describe TABLE`: one table's spec (columns, expectations, partitioning, retention)
//! and what storage holds.
//!
//! What can go wrong: an unknown table (exit 1, from the catalog).

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::tables::{self, DescribeReport, DescribeSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda describe bronze.video_events      # spec, columns, expectations, size
  vbda describe gold.daily_kpis")]
pub(super) struct DescribeArgs {
    /// The table, as layer.name (see `vbda tables`)
    table: String,
}

pub(super) fn settings(args: DescribeArgs, _ctx: &Context) -> Result<DescribeSettings> {
    let DescribeArgs { table } = args;
    Ok(DescribeSettings { table })
}

pub(super) async fn run(settings: DescribeSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let catalog = ctx.catalog()?;
    let report = tables::describe(&ctx.lakehouse()?, &catalog, &settings).await?;
    let text = text(&report);
    Ok(render("describe", &report, text))
}

fn text(r: &DescribeReport) -> String {
    let t = &r.table;
    let mut out = format!(
        "{}\n  {}\nspec:      {}\nlocation:  {}\nversion:   {}\nfiles:     {}\nbytes:     {}\nrows:      {}\npartitions: {} by [{}]\nkeys:      [{}]\nretention: {} h (minimum {} h)\n\ncolumns:\n",
        t.table,
        r.full_description.replace('\n', "\n  "),
        r.spec,
        t.location,
        t.stats.version.map(|v| v.to_string()).unwrap_or_else(|| "not created yet".into()),
        t.stats.files,
        t.stats.bytes,
        t.stats.rows.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        t.stats.partitions,
        r.partition_by.join(", "),
        r.keys.join(", "),
        r.retention_hours,
        r.min_retention_hours,
    );
    for c in &r.columns {
        out.push_str(&format!(
            "  {:<24} {:<10} {:<9} {}\n",
            c.name,
            c.data_type,
            if c.nullable { "null" } else { "not null" },
            c.description.lines().next().unwrap_or_default()
        ));
    }
    out.push_str("\nexpectations:\n");
    for e in &r.expectations {
        out.push_str(&format!("  {:<40} {:<16} {:<5} [{}]\n", e.name, e.rule, e.severity, e.columns.join(", ")));
    }
    out.trim_end().to_string()
}
