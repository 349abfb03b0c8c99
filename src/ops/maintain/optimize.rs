//! `vbda optimize`: delta-rs's bin-packing OPTIMIZE, per table or limited to date partitions.
//!
//! What can go wrong: with `--date`, tables not partitioned by a date are skipped (there is no
//! partition to limit to); a run with nothing to compact makes no commit (`version: None`).
//! Optimize rewrites files but not rows, so readers of older versions are unaffected until a
//! vacuum removes the replaced files.

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use super::specs;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::from_delta;
use crate::lake::{CommitInfo, Lakehouse};
use crate::telemetry::Progress;

#[derive(Debug, Clone, Default, Serialize)]
pub struct OptimizeSettings {
    /// Only this table; None for all.
    pub table: Option<String>,
    /// Only these date partitions; empty for the whole table.
    pub dates: Vec<NaiveDate>,
    /// None for delta-rs's default (100 MiB).
    pub target_file_size: Option<u64>,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptimizeTable {
    pub table: String,
    pub files_removed: u64,
    pub files_added: u64,
    pub bytes_removed: u64,
    pub bytes_added: u64,
    pub partitions_optimized: u64,
    pub files_before: u64,
    pub files_after: u64,
    /// None when there was nothing to compact (no commit).
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptimizeReport {
    pub tables: Vec<OptimizeTable>,
    pub tables_missing: Vec<String>,
    pub seconds: f64,
}

pub async fn optimize(lake: &Lakehouse, catalog: &Catalog, s: &OptimizeSettings) -> Result<OptimizeReport> {
    use deltalake::{FilterOp, FilterValue};
    let started = Instant::now();
    if s.target_file_size == Some(0) {
        return Err(Error::data("--target-file-size must be more than 0 bytes"));
    }
    let specs = specs(catalog, s.table.as_deref())?;
    let mut report = OptimizeReport { tables: Vec::new(), tables_missing: Vec::new(), seconds: 0.0 };
    let progress = Progress::new("optimize", specs.len() as u64, false);
    let date_strings: Vec<String> = s.dates.iter().map(NaiveDate::to_string).collect();
    for spec in specs {
        let Some(table) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            progress.inc(1);
            continue;
        };
        // Dates limit the partitions of tables partitioned by a date; others are skipped.
        let date_column = spec.date_partition().map(str::to_string);
        if !s.dates.is_empty() && date_column.is_none() {
            progress.inc(1);
            continue;
        }
        let files_before = crate::lake::table_stats(&table).await?.files;
        let filters = match &date_column {
            Some(column) if !s.dates.is_empty() => {
                vec![(column.as_str(), FilterOp::In, FilterValue::Set(date_strings.iter().map(String::as_str).collect()))]
            }
            _ => Vec::new(),
        };
        let info = CommitInfo::new("optimize").with_args(s.args.iter().cloned());
        let mut builder = table.clone().optimize().with_filters(&filters).with_commit_properties(info.properties());
        if let Some(size) = s.target_file_size.and_then(std::num::NonZeroU64::new) {
            builder = builder.with_target_size(size);
        }
        let (after, metrics) = builder.await.map_err(|e| from_delta(e, format!("cannot optimize {}", spec.id)))?;
        let files_after = crate::lake::table_stats(&after).await?.files;
        let committed = metrics.num_files_added > 0 || metrics.num_files_removed > 0;
        report.tables.push(OptimizeTable {
            table: spec.id.to_string(),
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            bytes_removed: metrics.files_removed.total_size as u64,
            bytes_added: metrics.files_added.total_size as u64,
            partitions_optimized: metrics.partitions_optimized,
            files_before,
            files_after,
            version: if committed { after.version().map(|v| v as i64) } else { None },
        });
        progress.inc(1);
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
