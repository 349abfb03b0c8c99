//! Reading a table: chosen partitions as a Polars LazyFrame (through delta-rs, or straight
//! from the snapshot's Parquet files on a local lakehouse), partition values and size figures.

use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use polars::prelude::{DataFrame, IntoLazy, LazyFrame};
use serde::Serialize;

use super::{arrow_schema, batches_to_df, from_delta, partition_predicate};
use crate::catalog::TableSpec;
use crate::error::{Context, Result};

/// Which rows of a table to read.
#[derive(Debug, Clone, Default)]
pub struct PartitionFilter {
    /// `column IN values`; empty means the whole table.
    pub column: Option<String>,
    pub values: Vec<String>,
}

impl PartitionFilter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn values_of(column: &str, values: &[String]) -> Self {
        Self { column: Some(column.to_string()), values: values.to_vec() }
    }
}

/// Read the chosen partitions of a table as a Polars LazyFrame.
///
/// delta-rs (DataFusion) decides which files to read, including partition pruning and
/// everything else the Delta protocol says about the snapshot; the rows then cross into Polars
/// without copying.
pub async fn read_partitions(table: &DeltaTable, spec: &TableSpec, filter: &PartitionFilter) -> Result<LazyFrame> {
    let schema = arrow_schema(spec);
    let Some(_) = table.version() else {
        return Ok(batches_to_df(&[], &schema)?.lazy());
    };
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| from_delta(e, format!("cannot read table {}", spec.id)))?;
    let provider = table
        .table_provider()
        .await
        .env_err(|| format!("cannot read table {}", spec.id))?;
    ctx.register_table("t", provider).env_err(|| format!("cannot read table {}", spec.id))?;
    let columns: Vec<String> = schema.fields().iter().map(|f| format!("\"{}\"", f.name())).collect();
    let mut sql = format!("SELECT {} FROM t", columns.join(", "));
    if let Some(column) = &filter.column {
        if filter.values.is_empty() {
            return Ok(batches_to_df(&[], &schema)?.lazy());
        }
        sql.push_str(" WHERE ");
        sql.push_str(&partition_predicate(spec, column, &filter.values)?);
    }
    let frame = ctx.sql(&sql).await.env_err(|| format!("cannot plan a read of table {}", spec.id))?;
    let batches = frame.collect().await.env_err(|| format!("cannot read table {}", spec.id))?;
    let df: DataFrame = batches_to_df(&batches, &schema)?;
    Ok(df.lazy())
}

/// Scan the chosen partitions of a table lazily, for queries that aggregate far more rows
/// than fit comfortably in memory (the gold models over a day of silver). See
/// [`partition_scans`]; this is their union.
pub async fn scan_partitions(table: &DeltaTable, spec: &TableSpec, column: &str, values: &[String]) -> Result<LazyFrame> {
    use polars::prelude::{UnionArgs, concat};
    let frames = partition_scans(table, spec, column, values).await?;
    if frames.is_empty() {
        return Ok(batches_to_df(&[], &arrow_schema(spec))?.lazy());
    }
    concat(frames, UnionArgs::default()).env_err(|| format!("cannot scan table {}", spec.id))
}

/// The chosen partitions of a table as lazy scans, one per data file, each with the spec's
/// columns: a caller can take them one at a time and hold only one file's rows in memory.
///
/// On a local lakehouse the snapshot's data files are handed to Polars' Parquet scan, so
/// projections and filters reach the files; the partition column, which Delta keeps out of
/// the files, is added from each file's partition value. Elsewhere (S3), or when the snapshot
/// holds something this shortcut does not model (deletion vectors, a partition column that is
/// not a date), the result is one frame read through delta-rs ([`read_partitions`]).
pub async fn partition_scans(table: &DeltaTable, spec: &TableSpec, column: &str, values: &[String]) -> Result<Vec<LazyFrame>> {
    use polars::prelude::{DataType as PlType, PlRefPath, ScanArgsParquet, col, lit};
    let filter = PartitionFilter::values_of(column, values);
    let fallback = || async { Ok(vec![read_partitions(table, spec, &filter).await?]) };
    let is_date = spec.date_partition() == Some(column);
    let Some(root) = (table.table_url().scheme() == "file").then(|| table.table_url().to_file_path().ok()).flatten() else {
        return fallback().await;
    };
    if !is_date || table.version().is_none() {
        return fallback().await;
    }
    let snapshot = table.snapshot().map_err(|e| from_delta(e, format!("cannot read table {}", spec.id)))?;
    let wanted: std::collections::HashSet<&str> = values.iter().map(String::as_str).collect();
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for file in snapshot.log_data().iter() {
        if file.deletion_vector_descriptor().is_some() {
            return fallback().await;
        }
        let Some(Some(value)) = file.partition_values_map().get(column).cloned() else { continue };
        if wanted.contains(value.as_str()) {
            files.push((value, root.join(file.path().as_ref())));
        }
    }
    files.sort();
    let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let mut frames = Vec::with_capacity(files.len());
    for (value, path) in files {
        let date = chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d")
            .data_err(|| format!("table {}: partition value {column}={value} is not a date", spec.id))?;
        let days = crate::lake::days_since_epoch(date);
        let source = PlRefPath::from(path.to_string_lossy().as_ref());
        let scan = LazyFrame::scan_parquet_files(std::iter::once(source).collect(), ScanArgsParquet::default())
            .env_err(|| format!("cannot scan {}", path.display()))?;
        let with_partition = scan.with_column(lit(days).cast(PlType::Date).alias(column));
        // Timestamps are cast to the spec's UTC microseconds: other writers store them in other
        // units (Spark's default is INT96, which Parquet readers see as naive nanoseconds, UTC).
        let columns = spec.columns.iter().zip(&names).map(|(c, n)| match c.data_type {
            crate::catalog::ColumnType::Timestamp => {
                col(n.as_str()).cast(PlType::Datetime(polars::prelude::TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)))
            }
            _ => col(n.as_str()),
        });
        frames.push(with_partition.select(columns.collect::<Vec<_>>()));
    }
    Ok(frames)
}

/// The values of one partition column over the files of the table's current version.
pub fn partition_values(table: &DeltaTable, column: &str) -> Result<std::collections::BTreeSet<String>> {
    let snapshot = table.snapshot().map_err(|e| from_delta(e, "cannot read the table's snapshot"))?;
    Ok(snapshot.log_data().iter().filter_map(|file| file.partition_values_map().get(column).cloned().flatten()).collect())
}

/// Size figures of a table's current version, for `vbda tables` and `describe`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableStats {
    pub version: Option<i64>,
    pub files: u64,
    pub bytes: u64,
    pub rows: Option<u64>,
    pub partitions: u64,
}

pub async fn table_stats(table: &DeltaTable) -> Result<TableStats> {
    let Some(version) = table.version().map(|v| v as i64) else { return Ok(TableStats::default()) };
    let snapshot = table.snapshot().map_err(|e| from_delta(e, "cannot read table snapshot"))?;
    let mut stats = TableStats { version: Some(version), rows: Some(0), ..Default::default() };
    let mut partitions = std::collections::HashSet::new();
    for file in snapshot.log_data().iter() {
        stats.files += 1;
        stats.bytes += file.size().max(0) as u64;
        stats.rows = match (stats.rows, file.num_records()) {
            (Some(total), Some(n)) => Some(total + n as u64),
            _ => None,
        };
        let mut pv: Vec<(String, Option<String>)> = file.partition_values_map().into_iter().collect();
        pv.sort();
        partitions.insert(pv);
    }
    stats.partitions = partitions.len() as u64;
    Ok(stats)
}
