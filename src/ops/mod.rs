//! One module per operation. Operations take plain settings structs and return reports; they
//! never see clap, and the CLI never calls deltalake directly.

pub mod backfill;
pub mod bronze_to_silver;
pub mod check;
pub mod content;
pub mod generate;
pub mod ingest;
pub mod maintain;
pub mod produce;
pub mod silver_to_gold;
pub mod stream;
pub mod stream_metrics;
pub mod tables;

/// The human summary of an ingest run.
pub fn ingest_summary(r: &ingest::IngestReport) -> String {
    let mut out = format!(
        "ingest {}: {} files seen, {} ingested, {} already ingested; {} rows appended ({} without a readable event time) in {} commit{}; bronze.video_events at version {} ({:.1}s)",
        r.landing,
        r.files_seen,
        r.files_ingested,
        r.files_already_ingested,
        r.rows,
        r.rows_without_event_time,
        r.commits.len(),
        if r.commits.len() == 1 { "" } else { "s" },
        r.bronze_version.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        r.seconds,
    );
    for f in &r.files_changed {
        out.push_str(&format!("\nchanged since ingested: {f} (use --reingest-changed to ingest it again)"));
    }
    for f in &r.files_empty {
        out.push_str(&format!("\nempty file, recorded with no rows: {f}"));
    }
    for f in &r.files_unreadable {
        out.push_str(&format!("\nunreadable, not ingested: {}: {}", f.file, f.reason));
    }
    for f in &r.files_in_flight {
        out.push_str(&format!("\nstill being written or gone, left for the next run: {f}"));
    }
    for f in &r.files_ignored {
        out.push_str(&format!("\nignored (not .ndjson/.jsonl/.json/.csv/.parquet, optionally .gz): {f}"));
    }
    out
}

/// Ingest commits what it can, then fails the run (exit 1) when input needs a person:
/// unreadable files, or changed files left alone. Schedulers see it; nothing is lost.
pub fn ingest_problems(r: &ingest::IngestReport, reingest_changed: bool) -> Option<crate::Error> {
    let changed = if reingest_changed { 0 } else { r.files_changed.len() };
    let unreadable = r.files_unreadable.len();
    if !r.files_unavailable.is_empty() {
        // The storage failed, not the files: exit 3, so that schedulers retry.
        let first = &r.files_unavailable[0];
        return Some(
            crate::Error::environment(format!(
                "{} landing object(s) could not be fetched (first: {}: {}); everything else was committed",
                r.files_unavailable.len(),
                first.file,
                first.reason
            ))
            .with_hint("rerun when the store answers again: the objects not fetched are read then, none twice"),
        );
    }
    if changed == 0 && unreadable == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if unreadable > 0 {
        parts.push(format!("{unreadable} landing file(s) could not be read"));
    }
    if changed > 0 {
        parts.push(format!("{changed} file(s) changed since they were ingested and were skipped"));
    }
    let hint = if changed > 0 && unreadable == 0 {
        "inspect the changed files; `vbda ingest --reingest-changed` appends their current content"
    } else {
        "fix or remove the files listed above; the readable files were committed, and the next run retries the rest"
    };
    Some(crate::Error::data(format!("{}; everything else was committed", parts.join(" and "))).with_hint(hint))
}
