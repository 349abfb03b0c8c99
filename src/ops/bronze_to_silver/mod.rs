//! `vbda bronze-to-silver --date D | --from D1 --to D2`: rebuilds those `event_date`
//! partitions of `silver.video_events` and `silver.video_events_quarantine` from bronze.
//!
//! Each run reads the bronze partitions of the dates at one bronze version, types and
//! validates every row ([`event`]), keeps the first arrival of each `event_id`, applies the
//! silver spec's expectations ([`transform`]), and then replaces exactly those partitions:
//! one commit on silver, one on quarantine, each naming the bronze version it read and the
//! per-date counts. A `fail` rule stops the run before either commit. A rerun reads the same
//! bronze and writes the same rows, so it is idempotent; a crash between the two commits
//! leaves silver new and quarantine old until the rerun replaces both.
//!
//! Without dates it runs incrementally: the bronze version each incremental run processed is
//! recorded as a Delta application transaction (`vbda.bronze-to-silver`) in both the silver
//! and the quarantine commit; the next run takes the bronze commits after the older of the
//! two and rebuilds every date they added files to (late events included). A crash between
//! the two commits leaves the quarantine's record behind, so the rerun redoes those dates.

pub mod event;
pub mod transform;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use polars::prelude::DataFrame;
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::rewrite::PartitionRewrite;
use crate::lake::{self, CommitInfo, Lakehouse, Table, WriteOutcome};
use crate::ops::quality_log::{QualityRow, QualityRun};
use crate::quality::{Audit, RuleOutcome};
use crate::telemetry::Progress;

pub use transform::DateCounts;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BronzeToSilverSettings {
    /// The event dates to rebuild; empty for incremental.
    pub dates: Vec<NaiveDate>,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BronzeToSilverReport {
    pub bronze_version: i64,
    pub dates: BTreeMap<NaiveDate, DateCounts>,
    pub bronze_rows: u64,
    pub silver_rows: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    /// Dates asked for that bronze has no rows of and silver and quarantine have none of
    /// either: nothing to rebuild, nothing written (probably a mistyped date).
    pub dates_without_bronze: Vec<String>,
    /// Other bronze dates with rows not yet processed into silver (a run for some dates leaves
    /// them for `vbda bronze-to-silver` without dates).
    pub other_dates_pending: Vec<String>,
    /// Every quarantined row by the rule that sent it (sums to `quarantined`).
    pub quarantined_by_rule: BTreeMap<String, u64>,
    /// None when there was nothing to do.
    pub silver: Option<WriteOutcome>,
    pub quarantine: Option<WriteOutcome>,
    pub rules: Vec<RuleOutcome>,
    pub seconds: f64,
}

pub async fn bronze_to_silver(lake: &Lakehouse, catalog: &Catalog, settings: &BronzeToSilverSettings) -> Result<BronzeToSilverReport> {
    let started = Instant::now();
    let run_at = Utc::now();
    let bronze_spec = catalog.table("bronze.video_events")?;
    let silver_spec = catalog.table("silver.video_events")?;
    let quarantine_spec = catalog.table("silver.video_events_quarantine")?;
    let no_bronze = || Error::data("bronze.video_events does not exist yet").with_hint("run `vbda ingest` (or `vbda stream`) first");
    Table::open(lake, bronze_spec).await?.ok_or_else(no_bronze)?;
    // The tables written are opened before bronze is read: a run that commits to them in the
    // meantime then conflicts with this one instead of being silently overwritten by older data.
    let silver = Table::open_or_create(lake, silver_spec).await?;
    let quarantine = Table::open_or_create(lake, quarantine_spec).await?;
    let bronze = Table::open(lake, bronze_spec).await?.ok_or_else(no_bronze)?;
    let bronze_version = bronze.version().unwrap_or(0);
    let incremental = settings.dates.is_empty();
    // The bronze version incremental runs have processed: both tables must have seen it.
    let processed = match (silver.recorded_version(INCREMENTAL_APP), quarantine.recorded_version(INCREMENTAL_APP)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    let dates: Vec<String> = if incremental {
        if processed == Some(bronze_version) {
            return Ok(BronzeToSilverReport::nothing(bronze_version, started));
        }
        match lake::txn::partitions_added(bronze.delta(), processed, bronze_version, "event_date").await? {
            Some(dates) => dates.into_iter().collect(),
            None => bronze.partition_values("event_date")?.into_iter().collect(),
        }
    } else {
        settings.dates.iter().map(|d| d.to_string()).collect()
    };
    // A date given that has no bronze rows is rebuilt only when silver or quarantine hold
    // rows of it (a rebuild empties them); otherwise there is nothing to do, and a rerun
    // must not add an empty version each time.
    let (mut dates_without_bronze, mut other_dates_pending) = (Vec::new(), Vec::new());
    let dates = if incremental {
        dates
    } else {
        let in_bronze = bronze.partition_values("event_date")?;
        let written: std::collections::BTreeSet<String> =
            silver.partition_values("event_date")?.into_iter().chain(quarantine.partition_values("event_date")?).collect();
        let (keep, empty): (Vec<String>, Vec<String>) = dates.into_iter().partition(|d| in_bronze.contains(d) || written.contains(d));
        if !empty.is_empty() {
            warn!(dates = %empty.join(", "), "No bronze rows of these dates (and nothing in silver to replace): nothing to rebuild. A mistyped date?");
        }
        dates_without_bronze = empty;
        // What an incremental run would still pick up, besides the dates of this run.
        let pending = match processed {
            Some(v) if v >= bronze_version => Default::default(),
            Some(v) => lake::txn::partitions_added(bronze.delta(), Some(v), bronze_version, "event_date").await?.unwrap_or_default(),
            None => in_bronze.iter().filter(|d| !written.contains(*d)).cloned().collect(),
        };
        other_dates_pending = pending.into_iter().filter(|d| !keep.contains(d)).collect();
        keep
    };
    if dates.is_empty() {
        let mut report = BronzeToSilverReport::nothing(bronze_version, started);
        (report.dates_without_bronze, report.other_dates_pending) = (dates_without_bronze, other_dates_pending);
        return Ok(report);
    }
    // Allowed values for the relationships rules (content ids), when those tables exist.
    let refs = crate::quality::references(lake, catalog, silver_spec).await?;
    let sources = lake::partition_scans(bronze.delta(), bronze_spec, "event_date", &dates).await?;
    let phase = Instant::now();
    let duplicated = tokio::task::block_in_place(|| transform::duplicated_ids(&sources))?;
    debug!(seconds = phase.elapsed().as_secs_f64(), ids = duplicated.len(), "Found the event_ids that arrived more than once.");

    // Silver and quarantine rows are written as they are made, a slice of bronze at a time;
    // nothing is visible until the two commits at the end.
    let silver_schema = lake::arrow_schema(silver_spec);
    let quarantine_schema = lake::arrow_schema(quarantine_spec);
    let mut silver_out = PartitionRewrite::new(silver.delta(), silver_spec, "event_date", &dates)?;
    let mut quarantine_out = PartitionRewrite::new(quarantine.delta(), quarantine_spec, "event_date", &dates)?;
    let mut counts: BTreeMap<NaiveDate, DateCounts> = BTreeMap::new();
    let mut audit = Audit::default();
    let now = Utc::now().timestamp_micros();
    let mut held: Vec<DataFrame> = Vec::new();
    let progress = Progress::new("bronze-to-silver", sources.len() as u64 + 1, false);
    let mut transform = async |rows: DataFrame, losers: Option<std::collections::HashSet<u32>>| -> Result<()> {
        let out = tokio::task::block_in_place(|| {
            transform::transform_slice(rows, losers.as_ref(), silver_spec, &refs, bronze_version, now)
        })?;
        for (d, c) in &out.counts {
            counts.entry(*d).or_default().add(c);
        }
        transform::merge_audit(&mut audit, out.audit);
        let written = Instant::now();
        silver_out.write(lake::df_to_batches(&out.silver, &silver_schema)?).await?;
        quarantine_out.write(lake::df_to_batches(&out.quarantine, &quarantine_schema)?).await?;
        tracing::trace!(seconds = written.elapsed().as_secs_f64(), "slice written");
        Ok(())
    };
    for source in &sources {
        let read = Instant::now();
        let rows = tokio::task::block_in_place(|| source.clone().collect()).map_err(lake::convert::polars_err)?;
        tracing::trace!(rows = rows.height(), seconds = read.elapsed().as_secs_f64(), "bronze file read");
        for start in (0..rows.height()).step_by(transform::SLICE_ROWS) {
            let slice = rows.slice(start as i64, transform::SLICE_ROWS);
            let (hold, rest) = tokio::task::block_in_place(|| transform::hold_back(slice, &duplicated))?;
            held.push(hold);
            transform(rest, None).await?;
        }
        progress.inc(1);
    }
    // Every arrival of the ids seen more than once, ordered: the first readable one wins.
    let mut held_rows = match held.first() {
        Some(first) => first.clear(),
        None => DataFrame::empty(),
    };
    for h in &held {
        held_rows.vstack_mut(h).map_err(lake::convert::polars_err)?;
    }
    drop(held);
    // One date at a time: an id re-stamped onto another date is that date's own event, and
    // a date's rows must come out the same whichever dates are rebuilt with it (the set-level
    // rules, `unique_event_id` among them, see one date's rows).
    let held_by_date = tokio::task::block_in_place(|| transform::split_by_date(&held_rows))?;
    drop(held_rows);
    for rows in held_by_date {
        let losers = tokio::task::block_in_place(|| transform::later_arrivals(&rows))?;
        debug!(rows = rows.height(), later_arrivals = losers.len(), "Ordered the arrivals of repeated event_ids.");
        transform(rows, Some(losers)).await?;
    }
    progress.inc(1);
    progress.finish();
    debug!(seconds = phase.elapsed().as_secs_f64(), "Transformed and wrote the data files.");
    if let Some(err) = audit.fail_error() {
        return Err(err);
    }
    transform::reconcile(&counts)?;

    let total = |f: fn(&DateCounts) -> u64| counts.values().map(f).sum::<u64>();
    let mut quarantined_by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for c in counts.values() {
        for (rule, n) in &c.quarantined_by_rule {
            *quarantined_by_rule.entry(rule.clone()).or_default() += n;
        }
    }
    let counts_json = serde_json::to_value(&counts).unwrap_or_default();
    let info = |table: &str| {
        let info = CommitInfo::new("bronze-to-silver");
        let info = if incremental { info.with_transaction(INCREMENTAL_APP, bronze_version) } else { info };
        info
            .with_args(settings.args.iter().cloned())
            .with_source(&bronze_spec.id, bronze_version)
            .with_count("bronze_rows", total(|c| c.bronze_rows))
            .with_count("silver_rows", total(|c| c.silver_rows))
            .with_count("quarantined", total(|c| c.quarantined))
            .with_count("duplicates", total(|c| c.duplicates))
            .with_detail("dates", counts_json.clone())
            .with_detail("quarantined_by_rule", serde_json::to_value(&quarantined_by_rule).unwrap_or_default())
            .with_detail("table", serde_json::json!(table))
    };
    crate::failpoint::hit("bronze_to_silver.before_commits");
    let silver_out = silver_out.commit(silver.delta(), info("silver")).await?;
    crate::failpoint::hit("bronze_to_silver.between_commits");
    let quarantine_out = quarantine_out.commit(quarantine.delta(), info("quarantine")).await?;
    crate::failpoint::hit("bronze_to_silver.after_commits");
    // The quality log: the spec's rules per date, and the parse rules that quarantined rows.
    let mut log = QualityRun::new("bronze-to-silver", run_at).source(&bronze_spec.id, bronze_version);
    let rebuilt: Vec<NaiveDate> = dates.iter().filter_map(|d| d.parse().ok()).collect();
    log.outcomes(&audit.outcomes, Some(silver_out.version), &rebuilt);
    for (date, c) in &counts {
        for (rule, n) in c.quarantined_by_rule.iter().filter(|(r, _)| !audit.outcomes.iter().any(|o| &o.name == *r)) {
            log.rows.push(QualityRow {
                table: silver_spec.id.to_string(),
                rule: rule.clone(),
                severity: "drop".into(),
                date: Some(*date),
                rows_checked: Some(c.bronze_rows),
                rows_failing: Some(*n),
                table_version: Some(silver_out.version),
            });
        }
    }
    if let Err(e) = log.record(lake, catalog).await {
        warn!("silver is committed, but the quality log ops.quality_runs could not be appended: {e}");
    }
    info!(bronze_version, silver_version = silver_out.version, quarantine_version = quarantine_out.version, "Rebuilt silver dates.");
    Ok(BronzeToSilverReport {
        bronze_version,
        bronze_rows: total(|c| c.bronze_rows),
        silver_rows: total(|c| c.silver_rows),
        quarantined: total(|c| c.quarantined),
        duplicates: total(|c| c.duplicates),
        quarantined_by_rule,
        dates_without_bronze,
        other_dates_pending,
        dates: counts,
        silver: Some(silver_out),
        quarantine: Some(quarantine_out),
        rules: audit.outcomes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The application id under which incremental runs record the bronze version they processed.
pub const INCREMENTAL_APP: &str = "vbda.bronze-to-silver";

impl BronzeToSilverReport {
    fn nothing(bronze_version: i64, started: Instant) -> Self {
        Self {
            bronze_version,
            dates: BTreeMap::new(),
            bronze_rows: 0,
            silver_rows: 0,
            quarantined: 0,
            duplicates: 0,
            quarantined_by_rule: BTreeMap::new(),
            dates_without_bronze: Vec::new(),
            other_dates_pending: Vec::new(),
            silver: None,
            quarantine: None,
            rules: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}
