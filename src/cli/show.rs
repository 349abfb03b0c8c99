//! `vbda show TABLE`: a table's rows (one date's partition with `--date`, an earlier version
//! with `--at-version`), sorted by its keys, as a text table or JSON objects.
//!
//! What can go wrong: an unknown or not yet created table, a version that does not exist, or
//! `--date` on a table not partitioned by a date (exit 1, from `ops::tables`).

use chrono::NaiveDate;
use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::tables::{self, ShowReport, ShowSettings};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  vbda show gold.daily_kpis --date 2025-01-01      # a date's rows, sorted by the keys
  vbda show silver.video_events --at-version 3     # read an earlier version
  vbda --output json show gold.content_daily --limit 100")]
pub(super) struct ShowArgs {
    /// The table, as layer.name (see `vbda tables`), e.g. gold.daily_kpis
    table: String,
    /// Only this date's partition
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// At most this many rows
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Read this earlier version of the table (time travel; see `vbda history TABLE`)
    #[arg(long = "at-version", value_name = "N")]
    at_version: Option<i64>,
}

pub(super) fn settings(args: ShowArgs, _ctx: &Context) -> Result<ShowSettings> {
    let ShowArgs { table, date, limit, at_version } = args;
    Ok(ShowSettings { table, date, at_version, limit })
}

pub(super) async fn run(settings: ShowSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = tables::show(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("show", &report, text))
}

fn text(r: &ShowReport) -> String {
    let scope = r.date.map(|d| format!(" for {d}")).unwrap_or_default();
    let version = r.version.map(|v| format!(" v{v}")).unwrap_or_default();
    let mut out = format!("{}{version}{scope}: {} row{}", r.table, r.total_rows, if r.total_rows == 1 { "" } else { "s" });
    if (r.rows.len() as u64) < r.total_rows {
        out.push_str(&format!(", showing {}", r.rows.len()));
    }
    if r.rows.len() == 1 {
        // One row (a day's KPIs): one line per column reads best.
        let width = r.columns.iter().map(String::len).max().unwrap_or(0);
        for c in &r.columns {
            out.push_str(&format!("\n  {c:<width$}  {}", cell(r.rows[0].get(c))));
        }
        return out;
    }
    out.push('\n');
    out.push_str(&grid(&r.columns, &r.rows));
    out
}

/// A JSON value as a cell: strings bare, doubles to 6 decimals, null as `null`.
fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "null".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{}", (f * 1e6).round() / 1e6),
            _ => n.to_string(),
        },
        Some(v) => v.to_string(),
    }
}

/// Rows as an aligned text table under a header line (cells cut at 40 characters).
pub(super) fn grid(columns: &[String], rows: &[serde_json::Map<String, serde_json::Value>]) -> String {
    let mut out = String::new();
    let cells: Vec<Vec<String>> = rows.iter().map(|row| columns.iter().map(|c| cell(row.get(c))).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| cells.iter().map(|row| row[i].chars().count()).chain([c.len()]).max().unwrap_or(0).min(40))
        .collect();
    let line = |values: Vec<&str>| -> String {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}", w = *w)
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.push_str(&line(columns.iter().map(String::as_str).collect()));
    for row in &cells {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
