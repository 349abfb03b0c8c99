//! `vbda restore TABLE --version N | --timestamp T`: delta-rs's RESTORE, a new commit whose
//! content is that of the earlier version (history is kept).
//!
//! What can go wrong: a version whose data files a vacuum already removed cannot be restored
//! (reported as such, exit 1); a version outside 0..=current is refused before anything runs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::open_existing;
use crate::catalog::Catalog;
use crate::error::{Context, Error, Result};
use crate::lake::from_delta;
use crate::lake::{CommitInfo, Lakehouse};

#[derive(Debug, Clone, Serialize)]
pub struct RestoreSettings {
    pub table: String,
    /// The version to restore (wins over `timestamp`; the CLI lets only one be given).
    pub version: Option<i64>,
    /// An RFC 3339 timestamp to restore.
    pub timestamp: Option<String>,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub table: String,
    pub restored_to: i64,
    pub version: i64,
    pub files_removed: u64,
    pub files_restored: u64,
}

pub async fn restore(lake: &Lakehouse, catalog: &Catalog, s: &RestoreSettings) -> Result<RestoreReport> {
    let RestoreSettings { table, version, timestamp, args } = s;
    let (version, timestamp) = (*version, timestamp.as_deref());
    let spec = catalog.table(table)?;
    let t = open_existing(lake, spec).await?;
    let current = t.version().map(|v| v as i64).unwrap_or(0);
    let mut builder = t.clone().restore();
    let target = match (version, timestamp) {
        (Some(v), _) => {
            if v < 0 || v > current {
                return Err(Error::data(format!("{} has no version {v}: its versions are 0 to {current}", spec.id))
                    .with_hint(format!("`vbda history {}` lists them", spec.id)));
            }
            builder = builder.with_version_to_restore(v as u64);
            format!("version {v}")
        }
        (None, Some(ts)) => {
            let when = DateTime::parse_from_rfc3339(ts)
                .data_err(|| format!("--timestamp `{ts}` is not RFC 3339 (e.g. 2025-01-01T12:00:00Z)"))?
                .with_timezone(&Utc);
            builder = builder.with_datetime_to_restore(when);
            format!("timestamp {ts}")
        }
        (None, None) => return Err(Error::data("restore needs --version N or --timestamp T")),
    };
    let info = CommitInfo::new("restore").with_args(args.iter().cloned());
    let (after, metrics) = builder.with_commit_properties(info.properties()).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("missing") || text.contains("not found") || text.contains("NotFound") {
            Error::data(format!("cannot restore {} to {target}: some of its data files were removed by vacuum", spec.id))
                .with_hint("a version can be restored only while its files are inside the retention window")
                .with_source(e)
        } else {
            from_delta(e, format!("cannot restore {} to {target}", spec.id))
        }
    })?;
    let restored_to = match version {
        Some(v) => v,
        None => after.snapshot().ok().map(|_| -1).unwrap_or(-1),
    };
    Ok(RestoreReport {
        table: spec.id.to_string(),
        restored_to,
        version: after.version().map(|v| v as i64).unwrap_or(current),
        files_removed: metrics.num_removed_file as u64,
        files_restored: metrics.num_restored_file as u64,
    })
}
