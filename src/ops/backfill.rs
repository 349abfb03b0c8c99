//! `vbda backfill --from D1 --to D2`: the daily transforms (bronze-to-silver, then
//! silver-to-gold) for each date of a range, in date order, resumably.
//!
//! Each date's steps are idempotent partition rebuilds, so redoing a date is always safe; the
//! backfill only saves time on a rerun: after each date completes, it is recorded in a state
//! file under the lakehouse (`_vbda/backfills/<from>_<to>.json`, replaced atomically), and a
//! rerun of the same range skips the recorded dates and redoes the one that failed.
//! `--restart` forgets the record. Landing files are not ingested here: run `vbda ingest`
//! (or `vbda stream --until-caught-up`) first.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::NaiveDate;
use deltalake::logstore::object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::catalog::Catalog;
use crate::error::{Context, Error, Result};
use crate::lake::Lakehouse;
use crate::ops::bronze_to_silver::{self, BronzeToSilverSettings};
use crate::ops::silver_to_gold::{self, SilverToGoldSettings};
use crate::telemetry::Progress;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillSettings {
    /// The dates of the range, in order.
    pub dates: Vec<NaiveDate>,
    /// Forget the dates an earlier run of this range completed.
    pub restart: bool,
    /// The command line, recorded in the transforms' commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillDate {
    pub date: NaiveDate,
    /// `done` (this run), or `skipped` (done by an earlier run of this backfill).
    pub status: &'static str,
    pub bronze_rows: u64,
    pub silver_rows: u64,
    pub gold_rows: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub state_file: String,
    pub dates: Vec<BackfillDate>,
    pub done: u64,
    pub skipped: u64,
    pub seconds: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    from: NaiveDate,
    to: NaiveDate,
    done: BTreeSet<NaiveDate>,
}

/// The state file, relative to the lakehouse root (a local folder or an S3 prefix).
fn state_key(from: NaiveDate, to: NaiveDate) -> String {
    format!("_vbda/backfills/{from}_{to}.json")
}

/// Replace the state file in one put (atomic on local disk and on S3).
async fn save(store: &deltalake::logstore::ObjectStoreRef, key: &str, shown: &str, state: &State) -> Result<()> {
    let text = serde_json::to_vec_pretty(state).expect("the state serializes");
    store
        .put(&deltalake::Path::from(key), text.into())
        .await
        .map(|_| ())
        .map_err(|e| Error::environment(format!("cannot write the backfill state {shown}")).with_source(e))
}

pub async fn backfill(lake: &Lakehouse, catalog: &Catalog, s: &BackfillSettings) -> Result<BackfillReport> {
    let started = Instant::now();
    let (Some(&from), Some(&to)) = (s.dates.first(), s.dates.last()) else {
        return Err(Error::data("backfill needs --from D1 --to D2 (or --date D)"));
    };
    let store = lake.store()?;
    let key = state_key(from, to);
    let shown = format!("{}{key}", lake.root());
    let saved = match store.get(&deltalake::Path::from(key.as_str())).await {
        Ok(found) => Some(found.bytes().await.map_err(|e| Error::environment(format!("cannot read the backfill state {shown}")).with_source(e))?),
        Err(deltalake::ObjectStoreError::NotFound { .. }) => None,
        Err(e) => return Err(Error::environment(format!("cannot read the backfill state {shown}")).with_source(e)),
    };
    let mut state = match saved {
        Some(bytes) if !s.restart => serde_json::from_slice(&bytes)
            .data_err(|| format!("backfill state {shown} is not readable"))
            .map_err(|e| e.with_hint("delete it, or pass --restart to start the range over"))?,
        _ => State { from, to, done: BTreeSet::new() },
    };
    let mut report = BackfillReport {
        from,
        to,
        state_file: shown.clone(),
        dates: Vec::new(),
        done: 0,
        skipped: 0,
        seconds: 0.0,
    };
    let progress = Progress::new("backfill", s.dates.len() as u64, false);
    for &date in &s.dates {
        if state.done.contains(&date) {
            report.dates.push(BackfillDate { date, status: "skipped", bronze_rows: 0, silver_rows: 0, gold_rows: 0, seconds: 0.0 });
            report.skipped += 1;
            progress.inc(1);
            continue;
        }
        let day_started = Instant::now();
        let args = |step: &str| vec!["vbda".to_string(), step.to_string(), "--date".to_string(), date.to_string(), "(backfill)".to_string()];
        let silver = bronze_to_silver::bronze_to_silver(
            lake,
            catalog,
            &BronzeToSilverSettings { dates: vec![date], args: args("bronze-to-silver") },
        )
        .await
        .map_err(|e| e.context(format!("backfill stopped at {date} (bronze-to-silver); rerun it to go on from there")))?;
        let gold = silver_to_gold::silver_to_gold(
            lake,
            catalog,
            &SilverToGoldSettings { dates: vec![date], model: None, args: args("silver-to-gold") },
        )
        .await
        .map_err(|e| e.context(format!("backfill stopped at {date} (silver-to-gold); rerun it to go on from there")))?;
        state.done.insert(date);
        crate::failpoint::hit("backfill.before_state");
        save(&store, &key, &shown, &state).await?;
        crate::failpoint::hit("backfill.after_state");
        let gold_rows = gold.models.iter().map(|m| m.rows).sum();
        info!(%date, silver_rows = silver.silver_rows, gold_rows, "Backfilled a date.");
        report.dates.push(BackfillDate {
            date,
            status: "done",
            bronze_rows: silver.bronze_rows,
            silver_rows: silver.silver_rows,
            gold_rows,
            seconds: day_started.elapsed().as_secs_f64(),
        });
        report.done += 1;
        progress.inc(1);
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
