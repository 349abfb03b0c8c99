//! `vbda sql "SELECT ..."`: ad-hoc SQL over the catalog's tables by name, printed as a text
//! table, CSV, JSON lines or written as Parquet.
//!
//! What can go wrong: a query that names no catalog table, does not plan or fails (exit 1,
//! with Polars' message and no plan dump); a table not created yet (exit 1); `--format
//! parquet` without `--out` (exit 1: binary data is not for a terminal).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use polars::prelude::*;
use serde::Serialize;

use super::{Context, Rendered, render};
use crate::error::{Context as _, Error, Result};
use crate::ops::sql::{self, SqlSettings, TableRead};

#[derive(Debug, Args)]
#[command(after_help = "Tables are named layer.name. The query is Polars SQL (close to PostgreSQL's: SELECT,
WHERE, GROUP BY, joins, CTEs, window functions). A WHERE on the date partition column (=, IN,
BETWEEN, <, >) of a single-table query reads only those dates' files.

Examples:
  vbda sql \"SELECT date, active_users, watch_time_s FROM gold.daily_kpis ORDER BY date\"
  vbda sql \"SELECT event_type, COUNT(*) AS n FROM silver.video_events WHERE event_date = '2025-01-01' GROUP BY 1\"
  vbda sql \"SELECT * FROM gold.content_daily\" --format csv --out content.csv
  vbda sql \"SELECT * FROM gold.daily_kpis\" --at-version 3 --format json")]
pub(super) struct SqlArgs {
    /// The query (SELECT ...)
    query: String,
    /// Result format: an aligned table, CSV with a header, JSON lines, or Parquet (needs --out)
    #[arg(long, value_enum, default_value_t = SqlFormat::Text)]
    format: SqlFormat,
    /// Write the result to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Read the table at this version (a query over one table)
    #[arg(long = "at-version", value_name = "N")]
    at_version: Option<i64>,
    /// At most this many rows [default: 100 for text, all otherwise]
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(super) enum SqlFormat {
    Text,
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, Serialize)]
pub(super) struct SqlPlan {
    #[serde(flatten)]
    settings: SqlSettings,
    format: SqlFormat,
    out: Option<PathBuf>,
    limit: Option<usize>,
}

pub(super) fn settings(args: SqlArgs, _ctx: &Context) -> Result<SqlPlan> {
    let SqlArgs { query, format, out, at_version, limit } = args;
    if format == SqlFormat::Parquet && out.is_none() {
        return Err(Error::data("--format parquet writes a file").with_hint("add --out FILE.parquet"));
    }
    Ok(SqlPlan { settings: SqlSettings { query, at_version }, format, out, limit })
}

#[derive(Debug, Serialize)]
struct SqlReport {
    columns: Vec<String>,
    /// Rows in the result before --limit.
    total_rows: u64,
    tables: Vec<TableRead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<PathBuf>,
    /// The rows (up to --limit), when they are not written to --out.
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    seconds: f64,
}

pub(super) async fn run(plan: SqlPlan, ctx: &Context<'_>) -> Result<Rendered> {
    let SqlPlan { settings, format, out, limit } = plan;
    let result = sql::sql(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let total_rows = result.frame.height() as u64;
    let limit = limit.or((format == SqlFormat::Text && out.is_none()).then_some(100));
    let mut frame = match limit {
        Some(n) => result.frame.head(Some(n)),
        None => result.frame,
    };
    let columns: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
    let mut report = SqlReport { columns, total_rows, tables: result.tables, out: out.clone(), rows: None, seconds: result.seconds };
    let text = match &out {
        Some(path) => {
            let file = std::fs::File::create(path).env_err(|| format!("cannot create {}", path.display()))?;
            write(&mut frame, format, file)?;
            format!("{} written to {} ({:.1}s)", super::human::count(frame.height() as u64, "row"), path.display(), report.seconds)
        }
        None => {
            let rows = crate::ops::tables::json_rows(&frame)?;
            let text = match format {
                SqlFormat::Text => {
                    let shown = if (rows.len() as u64) < total_rows { format!(", showing {}", rows.len()) } else { String::new() };
                    format!("{}\n{}{shown}", super::show::grid(&report.columns, &rows), super::human::count(total_rows, "row"))
                }
                SqlFormat::Json => rows.iter().map(|r| serde_json::Value::Object(r.clone()).to_string()).collect::<Vec<_>>().join("\n"),
                SqlFormat::Csv => {
                    let mut buf = Vec::new();
                    write(&mut frame, format, &mut buf)?;
                    String::from_utf8_lossy(&buf).trim_end().to_string()
                }
                SqlFormat::Parquet => unreachable!("refused in settings"),
            };
            report.rows = Some(rows);
            text
        }
    };
    Ok(render("sql", &report, text))
}

fn write(frame: &mut DataFrame, format: SqlFormat, sink: impl std::io::Write) -> Result<()> {
    let failed = |e: PolarsError| Error::environment(format!("cannot write the result: {}", crate::lake::convert::polars_message(&e)));
    match format {
        SqlFormat::Csv => CsvWriter::new(sink).include_header(true).finish(frame).map_err(failed),
        SqlFormat::Json => JsonWriter::new(sink).with_json_format(JsonFormat::JsonLines).finish(frame).map_err(failed),
        SqlFormat::Parquet => ParquetWriter::new(sink).finish(frame).map(|_| ()).map_err(failed),
        SqlFormat::Text => {
            let rows = crate::ops::tables::json_rows(frame)?;
            let columns: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
            let mut sink = sink;
            writeln!(sink, "{}", super::show::grid(&columns, &rows)).env_err(|| "cannot write the result".to_string())
        }
    }
}
