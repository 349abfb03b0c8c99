//! `vbda vacuum`: delta-rs's VACUUM (LITE, or FULL with `--full`) with each table's retention
//! from its spec.
//!
//! What can go wrong: a retention shorter than the readers need deletes files that versions
//! inside the window still reference (time travel, `restore`, a stream reading an old
//! snapshot then fails). The spec's `min_hours` is therefore enforced for every chosen table
//! before anything is deleted, unless `--force`. The report lists only files that were there
//! (delta-rs also plans tombstones an earlier vacuum already removed) with their sizes.

use std::time::Instant;

use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::operations::vacuum::VacuumMode;
use serde::Serialize;
use tracing::info;

use super::specs;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::from_delta;
use crate::lake::{CommitInfo, Lakehouse};
use crate::telemetry::Progress;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VacuumSettings {
    /// Only this table; None for all.
    pub table: Option<String>,
    /// None for each table's own retention.
    pub retention_hours: Option<i64>,
    pub dry_run: bool,
    /// VACUUM FULL: also files no commit ever referenced.
    pub full: bool,
    /// Allow a retention below the table's minimum.
    pub force: bool,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumTable {
    pub table: String,
    pub retention_hours: u64,
    pub mode: &'static str,
    pub dry_run: bool,
    /// The files removed (or, in a dry run, that would be).
    pub files: Vec<String>,
    pub files_removed: u64,
    pub bytes_removed: u64,
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    pub tables: Vec<VacuumTable>,
    pub tables_missing: Vec<String>,
    pub seconds: f64,
}

/// The longest retention vacuum accepts: 100 years. Beyond it the cut-off time (now minus the
/// retention) leaves what dates can hold, and no table means it.
pub const MAX_RETENTION_HOURS: u64 = 100 * 365 * 24;

pub async fn vacuum(lake: &Lakehouse, catalog: &Catalog, s: &VacuumSettings) -> Result<VacuumReport> {
    let started = Instant::now();
    if let Some(h) = s.retention_hours.filter(|h| *h < 0) {
        return Err(Error::data(format!("--retention-hours must be 0 or more, got {h}")));
    }
    let specs = specs(catalog, s.table.as_deref())?;
    // Refuse before touching anything: every table's retention must be allowed.
    for spec in &specs {
        let hours = s.retention_hours.map(|h| h as u64).unwrap_or(spec.retention.hours);
        if hours > MAX_RETENTION_HOURS {
            let from = if s.retention_hours.is_some() { "--retention-hours".to_string() } else { format!("retention.hours of {}", spec.id) };
            return Err(Error::data(format!("{from} is {hours} hours; vacuum accepts at most {MAX_RETENTION_HOURS} (100 years)"))
                .with_hint("to keep every file, do not vacuum the table"));
        }
        if hours < spec.retention.min_hours && !s.force {
            return Err(Error::data(format!(
                "retention of {hours} hours is below the minimum of {} hours for {}",
                spec.retention.min_hours, spec.id
            ))
            .with_hint("readers of versions inside the table's retention window still need those files; pass --force only if no reader, stream or restore needs them"));
        }
    }
    let mut report = VacuumReport { tables: Vec::new(), tables_missing: Vec::new(), seconds: 0.0 };
    let progress = Progress::new("vacuum", specs.len() as u64, false);
    for spec in specs {
        let Some(table) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            progress.inc(1);
            continue;
        };
        let hours = s.retention_hours.map(|h| h as u64).unwrap_or(spec.retention.hours);
        let mode = if s.full { VacuumMode::Full } else { VacuumMode::Lite };
        // Bounded above, so this cannot overflow.
        let retention = chrono::Duration::try_hours(hours as i64).ok_or_else(|| Error::data(format!("retention of {hours} hours is too long")))?;
        // A dry run first: the files and their sizes, for the report and the commit info.
        let (_, plan) = table
            .clone()
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_mode(mode.clone())
            .with_dry_run(true)
            .await
            .map_err(|e| from_delta(e, format!("cannot plan a vacuum of {}", spec.id)))?;
        // Sizes, and only the files that are there: delta-rs also lists tombstones whose files
        // an earlier vacuum already removed.
        let store = table.log_store().object_store(None);
        // delta-rs names the files relative to the table, or absolute (a local path or the
        // table's URL, e.g. on S3): the store wants them relative.
        let url = table.table_url().to_string();
        let url = url.trim_end_matches('/').to_string() + "/";
        let root = table.table_url().to_file_path().ok().map(|p| p.to_string_lossy().trim_end_matches('/').to_string() + "/");
        let relative = |f: &str| -> String {
            let f = f.strip_prefix(url.as_str()).unwrap_or(f);
            match &root {
                Some(r) => f.strip_prefix(r.as_str()).unwrap_or(f).to_string(),
                None => f.to_string(),
            }
        };
        let mut bytes = 0u64;
        let mut files = Vec::new();
        for f in &plan.files_deleted {
            let rel = relative(f);
            let path = deltalake::Path::parse(&rel).unwrap_or_else(|_| deltalake::Path::from(rel.as_str()));
            if let Ok(meta) = store.head(&path).await {
                bytes += meta.size;
                files.push(rel);
            }
        }
        if !s.dry_run && !files.is_empty() {
            let info = CommitInfo::new("vacuum")
                .with_args(s.args.iter().cloned())
                .with_count("files_removed", files.len() as u64)
                .with_count("bytes_removed", bytes)
                .with_detail("retention_hours", serde_json::json!(hours))
                .with_detail("mode", serde_json::json!(if s.full { "full" } else { "lite" }));
            let (_, done) = table
                .clone()
                .vacuum()
                .with_retention_period(retention)
                .with_enforce_retention_duration(false)
                .with_mode(mode)
                .with_commit_properties(info.properties())
                .await
                .map_err(|e| from_delta(e, format!("cannot vacuum {}", spec.id)))?;
            let deleted: std::collections::HashSet<String> = done.files_deleted.iter().map(|f| relative(f)).collect();
            files.retain(|f| deleted.contains(f));
        }
        let after = lake.open(spec).await?.and_then(|t| t.version()).map(|v| v as i64);
        info!(table = %spec.id, files = files.len(), bytes, dry_run = s.dry_run, "Vacuumed.");
        report.tables.push(VacuumTable {
            table: spec.id.to_string(),
            retention_hours: hours,
            mode: if s.full { "full" } else { "lite" },
            dry_run: s.dry_run,
            files_removed: files.len() as u64,
            bytes_removed: bytes,
            files,
            version: after,
        });
        progress.inc(1);
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
