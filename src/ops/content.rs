//! `vbda ingest --content FILE`: the content catalog (CSV with a header, or NDJSON) replaces
//! `silver.content` in one commit.
//!
//! A catalog is small and read whole. Values must have the spec's types (a `duration_s` that
//! is not a number stops the load: a dimension is replaced whole or not at all); the spec's
//! `fail` rules (a missing or repeated `content_id`) stop it too, and rows broken by `drop`
//! rules are left out and counted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use serde::Serialize;

use crate::catalog::{Catalog, ColumnType};
use crate::error::{Error, Result};
use crate::lake::convert::polars_err;
use crate::lake::{self, CommitInfo, Lakehouse, WriteOutcome};
use crate::quality::{self, References, RuleOutcome};

#[derive(Debug, Clone, Serialize)]
pub struct ContentReport {
    pub file: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_dropped: u64,
    pub table: WriteOutcome,
    pub rules: Vec<RuleOutcome>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentSettings {
    /// The catalog: CSV with a header, or NDJSON.
    pub file: PathBuf,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

pub async fn load_content(lake: &Lakehouse, catalog: &Catalog, s: &ContentSettings) -> Result<ContentReport> {
    let ContentSettings { file, args } = s;
    let file: &Path = file;
    let started = Instant::now();
    let spec = catalog.table("silver.content")?;
    if !file.is_file() {
        return Err(Error::data(format!("content catalog {} does not exist", file.display()))
            .with_hint("`vbda generate` writes one to ./content.csv; pass its path to --content"));
    }
    let name = file.to_string_lossy().to_ascii_lowercase();
    let owned = file.to_path_buf();
    let df = tokio::task::block_in_place(|| -> Result<DataFrame> {
        let read = if name.ends_with(".csv") {
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0)) // all text; typed below, strictly
                .try_into_reader_with_file_path(Some(owned.clone()))
                .and_then(|r| r.finish())
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            std::fs::File::open(&owned)
                .map_err(PolarsError::from)
                .and_then(|f| JsonReader::new(f).with_json_format(JsonFormat::JsonLines).finish())
        } else {
            return Err(Error::data(format!("content catalog {}: expected .csv, .ndjson, .jsonl or .json", owned.display())));
        };
        read.map_err(|e| Error::data(format!("cannot read content catalog {}", owned.display())).with_source(e))
    })?;
    let rows_read = df.height() as u64;

    // The spec's columns with the spec's types; a value that does not convert is an error.
    let mut columns = Vec::new();
    for c in &spec.columns {
        if c.name == "loaded_at" {
            continue;
        }
        let target = match c.data_type {
            ColumnType::String => DataType::String,
            ColumnType::Double => DataType::Float64,
            ColumnType::Integer => DataType::Int32,
            ColumnType::Long => DataType::Int64,
            ColumnType::Boolean => DataType::Boolean,
            other => return Err(Error::data(format!("silver.content column {} of type {} is not loadable", c.name, other.name()))),
        };
        match df.column(&c.name) {
            Ok(col) => {
                let cast = col.strict_cast(&target).map_err(|e| {
                    Error::data(format!("content catalog {}: column `{}` must hold {} values", file.display(), c.name, c.data_type.name()))
                        .with_source(e)
                })?;
                columns.push(cast);
            }
            Err(_) if c.nullable => columns.push(Column::full_null(c.name.as_str().into(), df.height(), &target)),
            Err(_) => {
                return Err(Error::data(format!("content catalog {} has no `{}` column", file.display(), c.name)));
            }
        }
    }
    let run_at = chrono::Utc::now();
    let now = run_at.timestamp_micros();
    let typed = DataFrame::new_infer_height(columns)
        .map_err(polars_err)?
        .lazy()
        .with_column(lit(now).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("loaded_at"))
        .collect()
        .map_err(polars_err)?;
    let (audited, audit) = tokio::task::block_in_place(|| quality::audit(typed, spec, &References::new()))?;
    if let Some(err) = audit.fail_error() {
        return Err(err);
    }
    let (kept, dropped) = quality::split(audited)?;
    let batches = lake::df_to_batches(&kept, &lake::arrow_schema(spec))?;
    let info = CommitInfo::new("ingest --content")
        .with_args(args.iter().cloned())
        .with_count("rows_read", rows_read)
        .with_count("rows_loaded", kept.height() as u64)
        .with_count("rows_dropped", dropped.height() as u64)
        .with_detail("file", serde_json::json!(file.display().to_string()));
    let table = lake.open_or_create(spec).await?;
    crate::failpoint::hit("content.before_commit");
    let (_, outcome) = lake::overwrite_table(table, spec, batches, info).await?;
    crate::failpoint::hit("content.after_commit");
    let mut log = crate::ops::quality_log::QualityRun::new("ingest --content", run_at);
    log.outcomes(&audit.outcomes, Some(outcome.version), &[]);
    if let Err(e) = log.record(lake, catalog).await {
        tracing::warn!("silver.content is committed, but the quality log ops.quality_runs could not be appended: {e}");
    }
    Ok(ContentReport {
        file: file.display().to_string(),
        rows_read,
        rows_loaded: kept.height() as u64,
        rows_dropped: dropped.height() as u64,
        table: outcome,
        rules: audit.outcomes,
        seconds: started.elapsed().as_secs_f64(),
    })
}
