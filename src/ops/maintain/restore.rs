//! `vbda restore TABLE --version N | --timestamp T`: delta-rs's RESTORE, a new commit whose
//! content is that of the earlier version (history is kept).
//!
//! The restore commit also takes vbda's bookkeeping back to that version: every application
//! transaction (landing files ingested, Kafka offsets streamed, the bronze or silver version
//! an incremental run processed) gets the value it had there, or "nothing recorded"
//! ([`txn::NOT_RECORDED`]) where it had none. Data and recorded progress then agree: the next
//! `ingest` reads the files the restore took out, `stream` goes back to the offsets of the
//! restored data, and incremental `bronze-to-silver` / `silver-to-gold` redo the work after
//! the restored version (they also see the restore commit's files as changed dates
//! downstream). A writer running during the restore (a stream worker) conflicts with it on
//! those transactions and retries from the restored state.
//!
//! What can go wrong: a version whose data files a vacuum already removed cannot be restored
//! (reported as such, exit 1); a version outside 0..=current or a time before the table
//! existed is refused before anything runs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::open_existing;
use crate::catalog::Catalog;
use crate::error::{Context, Error, Result};
use crate::lake::{CommitInfo, Lakehouse, from_delta, txn};

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
    /// Application transactions (ingested files, stream offsets, processed versions) taken
    /// back to their values at `restored_to`.
    pub transactions_restored: u64,
}

pub async fn restore(lake: &Lakehouse, catalog: &Catalog, s: &RestoreSettings) -> Result<RestoreReport> {
    let RestoreSettings { table, version, timestamp, args } = s;
    let (version, timestamp) = (*version, timestamp.as_deref());
    let spec = catalog.table(table)?;
    let t = open_existing(lake, spec).await?;
    let current = t.version().map(|v| v as i64).unwrap_or(0);
    // The table as of the restored version: its transactions are the ones to go back to.
    let mut then = t.clone();
    match (version, timestamp) {
        (Some(v), _) => {
            if v < 0 || v > current {
                return Err(Error::data(format!("{} has no version {v}: its versions are 0 to {current}", spec.id))
                    .with_hint(format!("`vbda history {}` lists them", spec.id)));
            }
            then.load_version(v as u64).await.map_err(|e| from_delta(e, format!("cannot read {} at version {v}", spec.id)))?;
        }
        (None, Some(ts)) => {
            let when = DateTime::parse_from_rfc3339(ts)
                .data_err(|| format!("--timestamp `{ts}` is not RFC 3339 (e.g. 2025-01-01T12:00:00Z)"))?
                .with_timezone(&Utc);
            then.load_with_datetime(when).await.map_err(|e| {
                Error::data(format!("{} has no version at or before {ts}", spec.id))
                    .with_hint(format!("`vbda history {}` lists the versions and their times", spec.id))
                    .with_source(e)
            })?;
        }
        (None, None) => return Err(Error::data("restore needs --version N or --timestamp T")),
    }
    let target = then.version().map(|v| v as i64).unwrap_or(0);
    if let (0, Some(ts)) = (target, timestamp) {
        // delta-rs answers a time before the first commit with version 0; that is no version
        // "at or before" it, and restoring it would empty the table by mistake.
        use futures::StreamExt;
        let mut created = None;
        let mut history = t.history(None);
        while let Some(c) = history.next().await {
            created = c.ok().and_then(|c| c.timestamp).or(created);
        }
        let when = DateTime::parse_from_rfc3339(ts).map(|w| w.timestamp_millis()).unwrap_or(i64::MAX);
        if created.is_some_and(|c| when < c) {
            return Err(Error::data(format!("{} has no version at or before {ts}: it was created later", spec.id))
                .with_hint(format!("`vbda history {}` lists the versions and their times", spec.id)));
        }
    }
    if target == current {
        // delta-rs refuses it as a generic error, which would read as "retry".
        return Err(Error::data(format!("{} is at version {current} already: nothing to restore", spec.id))
            .with_hint(format!("`vbda history {}` lists the earlier versions", spec.id)));
    }
    let transactions = txn::restored_transactions(&t, &then).await?;
    let mut info = CommitInfo::new("restore").with_args(args.iter().cloned()).with_detail("restored_to", serde_json::json!(target));
    for (app, v) in &transactions {
        info = info.with_transaction(app.clone(), *v);
    }
    let builder = t.clone().restore().with_version_to_restore(target as u64);
    crate::failpoint::hit("restore.before_commit");
    let restored = builder.with_commit_properties(info.properties()).await;
    crate::failpoint::hit("restore.after_commit");
    let (after, metrics) = restored.map_err(|e| {
        let text = e.to_string();
        if text.contains("missing") || text.contains("not found") || text.contains("NotFound") {
            Error::data(format!("cannot restore {} to version {target}: some of its data files were removed by vacuum", spec.id))
                .with_hint("a version can be restored only while its files are inside the retention window")
                .with_source(e)
        } else {
            from_delta(e, format!("cannot restore {} to version {target}", spec.id))
        }
    })?;
    Ok(RestoreReport {
        table: spec.id.to_string(),
        restored_to: target,
        version: after.version().map(|v| v as i64).unwrap_or(current),
        files_removed: metrics.num_removed_file as u64,
        files_restored: metrics.num_restored_file as u64,
        transactions_restored: transactions.len() as u64,
    })
}
