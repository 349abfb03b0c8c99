//! `vbda history TABLE`: a table's commits, newest first, with the vbda command (and its
//! redacted arguments) that made each and the counts it recorded.
//!
//! What can go wrong: commits made by other writers carry no vbda info (`command: None`), and
//! delta-rs's operation metrics have different names per operation, so counts may be missing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::open_existing;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::lake::Lakehouse;
use crate::lake::from_delta;

#[derive(Debug, Clone, Serialize)]
pub struct HistorySettings {
    pub table: String,
    /// At most this many commits, newest first.
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub timestamp: Option<DateTime<Utc>>,
    pub operation: String,
    /// The vbda command and its arguments, when vbda made the commit.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub rows_added: Option<u64>,
    pub files_added: Option<u64>,
    pub files_removed: Option<u64>,
    pub counts: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub table: String,
    pub entries: Vec<HistoryEntry>,
}

pub async fn history(lake: &Lakehouse, catalog: &Catalog, s: &HistorySettings) -> Result<HistoryReport> {
    use futures::StreamExt;
    let HistorySettings { table, limit } = s;
    let limit = *limit;
    let spec = catalog.table(table)?;
    let t = open_existing(lake, spec).await?;
    let current = t.version().map(|v| v as i64).unwrap_or(0);
    let mut entries = Vec::new();
    let mut stream = t.history(Some(limit));
    let mut version = current;
    while let Some(item) = stream.next().await {
        let c = item.map_err(|e| from_delta(e, format!("cannot read the history of {}", spec.id)))?;
        let vbda = c.info.get("vbda");
        let metrics = c.info.get("operationMetrics");
        let metric = |names: &[&str]| -> Option<u64> {
            names.iter().find_map(|n| metrics.and_then(|m| m.get(*n)).and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))))
        };
        entries.push(HistoryEntry {
            version: c.read_version.map(|v| v as i64 + 1).unwrap_or(version),
            timestamp: c.timestamp.and_then(DateTime::from_timestamp_millis),
            operation: c.operation.clone().unwrap_or_default(),
            command: vbda.and_then(|v| v.get("command")).and_then(|v| v.as_str()).map(str::to_string),
            args: vbda
                .and_then(|v| v.get("args"))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            rows_added: metric(&["num_added_rows", "numOutputRows", "num_output_rows"]),
            files_added: metric(&["num_added_files", "numAddedFiles", "numFilesAdded"]),
            files_removed: metric(&["num_removed_files", "numRemovedFiles", "numFilesRemoved", "numDeletedFiles"]),
            counts: vbda.and_then(|v| v.get("counts")).cloned().unwrap_or(serde_json::Value::Null),
        });
        version -= 1;
    }
    // Commits without a read version (the first) are numbered from the newest down.
    Ok(HistoryReport { table: spec.id.to_string(), entries })
}
