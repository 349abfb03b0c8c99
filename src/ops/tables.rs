//! `vbda tables` and `vbda describe`: what the catalog declares and what storage holds.

use serde::Serialize;

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Result, TableProblem};
use crate::lake::{self, Lakehouse, TableStats};

#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub table: String,
    pub location: String,
    pub created: bool,
    #[serde(flatten)]
    pub stats: TableStats,
    pub description: String,
    /// Why the table could not be read (a damaged log, storage refusing): the others are
    /// still listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<TableProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TablesReport {
    pub lakehouse: String,
    pub tables: Vec<TableRow>,
}

async fn row(lake: &Lakehouse, spec: &TableSpec) -> Result<TableRow> {
    let table = lake.open(spec).await?;
    let stats = match &table {
        Some(t) => lake::table_stats(t).await?,
        None => TableStats::default(),
    };
    Ok(TableRow {
        table: spec.id.to_string(),
        location: lake.table_url(&spec.id).to_string(),
        created: table.is_some(),
        stats,
        description: spec.description.lines().next().unwrap_or_default().trim().to_string(),
        problem: None,
    })
}

pub async fn list(lake: &Lakehouse, catalog: &Catalog) -> Result<TablesReport> {
    let mut tables = Vec::new();
    for spec in catalog.tables() {
        tables.push(match row(lake, spec).await {
            Ok(row) => row,
            Err(e) => TableRow {
                table: spec.id.to_string(),
                location: lake.table_url(&spec.id).to_string(),
                created: true,
                stats: TableStats::default(),
                description: spec.description.lines().next().unwrap_or_default().trim().to_string(),
                problem: Some(TableProblem::of(&e)),
            },
        });
    }
    Ok(TablesReport { lakehouse: lake.root().to_string(), tables })
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnRow {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectationRow {
    pub name: String,
    pub rule: String,
    pub severity: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribeReport {
    #[serde(flatten)]
    pub table: TableRow,
    pub spec: String,
    pub full_description: String,
    pub partition_by: Vec<String>,
    pub keys: Vec<String>,
    pub retention_hours: u64,
    pub min_retention_hours: u64,
    pub columns: Vec<ColumnRow>,
    pub expectations: Vec<ExpectationRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribeSettings {
    /// The table, as layer.name.
    pub table: String,
}

pub async fn describe(lake: &Lakehouse, catalog: &Catalog, s: &DescribeSettings) -> Result<DescribeReport> {
    let spec = catalog.table(&s.table)?;
    Ok(DescribeReport {
        table: row(lake, spec).await?,
        spec: spec.path.display().to_string(),
        full_description: spec.description.trim().to_string(),
        partition_by: spec.partition_by.clone(),
        keys: spec.keys.clone(),
        retention_hours: spec.retention.hours,
        min_retention_hours: spec.retention.min_hours,
        columns: spec
            .columns
            .iter()
            .map(|c| ColumnRow {
                name: c.name.clone(),
                data_type: c.data_type.name().to_string(),
                nullable: c.nullable,
                description: c.description.trim().to_string(),
            })
            .collect(),
        expectations: spec
            .expectations
            .iter()
            .map(|e| ExpectationRow {
                name: e.display_name(),
                rule: e.rule.name().to_string(),
                severity: e.severity.name().to_string(),
                columns: e.target_columns().iter().map(|c| c.to_string()).collect(),
            })
            .collect(),
    })
}

/// `vbda show TABLE [--date D] [--limit N]`: the rows of a table (one date's partition), for a
/// quick look from the shell or a script; `--output json` gives them as JSON objects.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub table: String,
    pub version: Option<i64>,
    pub date: Option<chrono::NaiveDate>,
    /// Rows in the table (or the date's partition) before the limit.
    pub total_rows: u64,
    pub columns: Vec<String>,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShowSettings {
    /// The table, as layer.name.
    pub table: String,
    /// Only this date's partition (the table must be partitioned by a date).
    pub date: Option<chrono::NaiveDate>,
    /// Read this earlier version (time travel); None for the current one.
    pub at_version: Option<i64>,
    /// At most this many rows.
    pub limit: usize,
}

pub async fn show(lake: &Lakehouse, catalog: &Catalog, s: &ShowSettings) -> Result<ShowReport> {
    use polars::prelude::*;
    let ShowSettings { table, date, at_version: version, limit } = s;
    let (date, version, limit) = (*date, *version, *limit);
    let spec = catalog.table(table)?;
    let columns: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let Some(mut t) = lake.open(spec).await? else {
        return Err(crate::Error::data(format!("table {} does not exist yet", spec.id))
            .with_hint("`vbda tables` shows which tables have been created"));
    };
    if let Some(v) = version {
        let current = t.version().map(|v| v as i64).unwrap_or(0);
        if v < 0 || v > current {
            return Err(crate::Error::data(format!("{} has no version {v}: its versions are 0 to {current}", spec.id)));
        }
        t.load_version(v as u64).await.map_err(|e| {
            crate::lake::from_delta(e, format!("cannot read version {v} of {}", spec.id))
        })?;
    }
    let filter = match (date, spec.date_partition()) {
        (Some(d), Some(column)) => {
            lake::PartitionFilter::values_of(column, &[d.to_string()])
        }
        (Some(_), _) => {
            return Err(crate::Error::data(format!("table {} is not partitioned by a date; drop --date", spec.id)));
        }
        _ => lake::PartitionFilter::all(),
    };
    let frame = lake::read_partitions(&t, spec, &filter).await?;
    let keys: Vec<PlSmallStr> = spec.keys.iter().map(|k| k.as_str().into()).collect();
    let (total, df) = tokio::task::block_in_place(|| -> PolarsResult<_> {
        let df = frame.collect()?;
        let total = df.height() as u64;
        let sorted = if keys.is_empty() {
            df
        } else {
            df.sort(keys, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))?
        };
        Ok((total, sorted.head(Some(limit))))
    })
    .map_err(lake::convert::polars_err)?;
    let rows = json_rows(&df)?;
    Ok(ShowReport { table: spec.id.to_string(), version: t.version().map(|v| v as i64), date, total_rows: total, columns, rows })
}

/// A frame's rows as JSON objects (dates as `YYYY-MM-DD`, timestamps as RFC 3339 UTC).
pub(crate) fn json_rows(df: &polars::prelude::DataFrame) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut row = serde_json::Map::new();
        for c in df.columns() {
            let value = c.get(i).map_err(lake::convert::polars_err)?;
            row.insert(c.name().to_string(), any_to_json(value));
        }
        rows.push(row);
    }
    Ok(rows)
}

pub(crate) fn any_to_json(v: polars::prelude::AnyValue) -> serde_json::Value {
    use polars::prelude::AnyValue as A;
    use serde_json::json;
    match v {
        A::Null => serde_json::Value::Null,
        A::Boolean(b) => json!(b),
        A::Int8(x) => json!(x),
        A::Int16(x) => json!(x),
        A::Int32(x) => json!(x),
        A::Int64(x) => json!(x),
        A::UInt8(x) => json!(x),
        A::UInt16(x) => json!(x),
        A::UInt32(x) => json!(x),
        A::UInt64(x) => json!(x),
        // NaN and infinity have no JSON form; gold never holds them, but be total.
        A::Float32(x) => serde_json::Number::from_f64(x as f64).map(serde_json::Value::Number).unwrap_or(json!(x.to_string())),
        A::Float64(x) => serde_json::Number::from_f64(x).map(serde_json::Value::Number).unwrap_or(json!(x.to_string())),
        A::String(s) => json!(s),
        A::StringOwned(s) => json!(s.as_str()),
        A::Date(days) => json!((chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid") + chrono::Duration::days(days as i64)).to_string()),
        A::Datetime(v, unit, _) | A::DatetimeOwned(v, unit, _) => {
            let us = match unit {
                polars::prelude::TimeUnit::Nanoseconds => v / 1000,
                polars::prelude::TimeUnit::Microseconds => v,
                polars::prelude::TimeUnit::Milliseconds => v * 1000,
            };
            // Timestamps are UTC (naive in Polars): RFC 3339 with Z.
            json!(chrono::DateTime::from_timestamp_micros(us).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)).unwrap_or_default())
        }
        A::Binary(b) => json!(String::from_utf8_lossy(b)),
        other => json!(other.to_string()),
    }
}
