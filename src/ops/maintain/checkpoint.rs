//! `vbda checkpoint`: a Delta checkpoint of each table's current version, then the log files
//! that expired under the table's log retention removed.
//!
//! What can go wrong: the cleanup removes log entries older than the log retention, after
//! which time travel to those versions is no longer possible (by design; the retention is
//! the table's).

use serde::Serialize;

use super::specs;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::lake::Lakehouse;
use crate::lake::from_delta;

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckpointSettings {
    /// Only this table; None for all.
    pub table: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointTable {
    pub table: String,
    pub version: i64,
    pub log_files_removed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub tables: Vec<CheckpointTable>,
    pub tables_missing: Vec<String>,
}

pub async fn checkpoint(lake: &Lakehouse, catalog: &Catalog, s: &CheckpointSettings) -> Result<CheckpointReport> {
    let mut report = CheckpointReport { tables: Vec::new(), tables_missing: Vec::new() };
    for spec in specs(catalog, s.table.as_deref())? {
        let Some(t) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            continue;
        };
        deltalake::checkpoints::create_checkpoint(&t, None)
            .await
            .map_err(|e| from_delta(e, format!("cannot write a checkpoint of {}", spec.id)))?;
        let removed = deltalake::checkpoints::cleanup_metadata(&t, None)
            .await
            .map_err(|e| from_delta(e, format!("cannot clean up the log of {}", spec.id)))?;
        report.tables.push(CheckpointTable {
            table: spec.id.to_string(),
            version: t.version().map(|v| v as i64).unwrap_or(0),
            log_files_removed: removed as u64,
        });
    }
    Ok(report)
}
