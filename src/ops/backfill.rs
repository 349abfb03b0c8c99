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
use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::catalog::Catalog;
use crate::error::{Context, Error, Result};
use crate::lake::Lakehouse;
use crate::ops::bronze_to_silver::{self, BronzeToSilverSettings};
use crate::ops::silver_to_gold::{self, SilverToGoldSettings};
use crate::telemetry::Progress;

#[derive(Debug, Clone, Default)]
pub struct BackfillSettings {
    pub dates: Vec<NaiveDate>,
    /// Forget the dates an earlier run of this range completed.
    pub restart: bool,
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

fn state_path(lake: &Lakehouse, from: NaiveDate, to: NaiveDate) -> Result<PathBuf> {
    let root = lake.root();
    if root.scheme() != "file" {
        return Err(Error::not_implemented("backfill on an s3:// lakehouse", "issue 7"));
    }
    let dir = root.to_file_path().map_err(|_| Error::data(format!("lakehouse {root} is not a local path")))?;
    Ok(dir.join("_vbda").join("backfills").join(format!("{from}_{to}.json")))
}

fn save(path: &PathBuf, state: &State) -> Result<()> {
    let dir = path.parent().expect("the state file is in a folder");
    std::fs::create_dir_all(dir).env_err(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(state).expect("the state serializes");
    std::fs::write(&tmp, text).env_err(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).env_err(|| format!("cannot replace {}", path.display()))
}

pub async fn backfill(lake: &Lakehouse, catalog: &Catalog, s: &BackfillSettings) -> Result<BackfillReport> {
    let started = Instant::now();
    let (Some(&from), Some(&to)) = (s.dates.first(), s.dates.last()) else {
        return Err(Error::data("backfill needs --from D1 --to D2 (or --date D)"));
    };
    let path = state_path(lake, from, to)?;
    let mut state = match std::fs::read_to_string(&path) {
        Ok(text) if !s.restart => serde_json::from_str(&text)
            .data_err(|| format!("backfill state {} is not readable", path.display()))
            .map_err(|e| e.with_hint("delete it, or pass --restart to start the range over"))?,
        _ => State { from, to, done: BTreeSet::new() },
    };
    let mut report = BackfillReport {
        from,
        to,
        state_file: path.display().to_string(),
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
        save(&path, &state)?;
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

pub fn summary(r: &BackfillReport) -> String {
    let mut out = format!(
        "backfill {}..{}: {} dates done, {} skipped (done by an earlier run) ({:.1}s); state in {}",
        r.from, r.to, r.done, r.skipped, r.seconds, r.state_file
    );
    for d in &r.dates {
        match d.status {
            "done" => out.push_str(&format!(
                "\n  {}: {} bronze rows -> {} silver rows -> {} gold rows ({:.1}s)",
                d.date, d.bronze_rows, d.silver_rows, d.gold_rows, d.seconds
            )),
            _ => out.push_str(&format!("\n  {}: skipped, done earlier", d.date)),
        }
    }
    out
}
