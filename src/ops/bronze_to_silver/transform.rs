//! The pure part of bronze-to-silver: bronze rows of some dates in, silver rows, quarantine
//! rows and reconciled counts out. No I/O, so every rule is testable on hand-made rows.
//!
//! Order of decisions for each bronze row:
//! 1. its payload is read into a typed event, or rejected with a parse/type rule;
//! 2. among readable events, the first arrival of each `event_id` wins (ordered by
//!    `ingested_at`, then source file and line, then Kafka partition and offset); later
//!    arrivals are counted as duplicates, whatever they contain;
//! 3. the silver spec's expectations run on the winners: `drop` rules send rows to
//!    quarantine, `warn` rules are counted, `fail` rules stop the run before any commit.
//!
//! Every bronze row of date D ends in silver D, quarantine D or the duplicate count of D;
//! the counts are checked to add up before anything is returned.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use super::event::{TypedEvent, parse_event};
use crate::catalog::TableSpec;
use crate::error::{Error, Result};
use crate::lake::convert::polars_err;
use crate::quality::{self, Audit, REASON_COLUMN, References, RULE_COLUMN};

const ROW: &str = "_bronze_row";

/// Per event date: where its bronze rows went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DateCounts {
    pub bronze_rows: u64,
    pub silver_rows: u64,
    pub quarantined: u64,
    pub duplicates: u64,
}

/// Silver and quarantine rows for the dates read, and the counts.
pub struct Transformed {
    pub silver: DataFrame,
    pub quarantine: DataFrame,
    pub counts: BTreeMap<NaiveDate, DateCounts>,
    pub audit: Audit,
}

/// `bronze`: bronze rows with the bronze table's columns. `bronze_version`: the version they
/// were read at. `now_us`: the processing time (microseconds, UTC).
pub fn transform(
    bronze: DataFrame,
    silver_spec: &TableSpec,
    refs: &References,
    bronze_version: i64,
    now_us: i64,
) -> Result<Transformed> {
    let n = bronze.height();
    let t0 = std::time::Instant::now();
    let payload = bronze.column("payload").map_err(polars_err)?.str().map_err(polars_err)?.clone();
    let raw = bronze.column("payload_bytes").map_err(polars_err)?.binary().map_err(polars_err)?.clone();
    let format = bronze.column("payload_format").map_err(polars_err)?.str().map_err(polars_err)?.clone();
    let bronze_dates = date_days(&bronze, "event_date")?;

    let (mut ok_rows, mut events) = (Vec::new(), Vec::new());
    let (mut rejected_rows, mut rules, mut reasons) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let text = payload.get(i).unwrap_or_default();
        let parsed = parse_event(text, raw.get(i).is_some(), format.get(i) == Some("csv"));
        match parsed {
            // An event read differently from bronze would move between dates; never let it.
            Ok(e) if e.event_date.is_some_and(|d| Some(days(d)) != bronze_dates[i]) => {
                rejected_rows.push(i as IdxSize);
                rules.push("event_date_mismatch".to_string());
                reasons.push("event_ts gives another date than bronze recorded".to_string());
            }
            Ok(e) => {
                ok_rows.push(i as IdxSize);
                events.push(e);
            }
            Err(r) => {
                rejected_rows.push(i as IdxSize);
                rules.push(r.rule);
                reasons.push(r.reason);
            }
        }
    }

    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "parsed");
    // Typed events with their lineage and the bronze row they came from.
    let lineage = bronze
        .select(["source_file", "source_line", "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at"])
        .map_err(polars_err)?
        .take(&IdxCa::from_vec(ROW.into(), ok_rows.clone()))
        .map_err(polars_err)?;
    let mut candidates = events_frame(&events)?;
    for c in lineage.columns() {
        candidates.with_column(c.clone()).map_err(polars_err)?;
    }
    candidates.with_column(Column::new(ROW.into(), ok_rows)).map_err(polars_err)?;

    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "framed");
    // First arrival wins.
    let order = ["ingested_at", "source_file", "source_line", "kafka_partition", "kafka_offset", ROW];
    let sorted = candidates
        .lazy()
        .sort(order, SortMultipleOptions::default().with_nulls_last(true))
        .with_column(col("event_id").is_null().or(col("event_id").is_first_distinct()).alias("_first"))
        .collect()
        .map_err(polars_err)?;
    let duplicate_rows = row_ids(&sorted.clone().lazy().filter(col("_first").not()).collect().map_err(polars_err)?)?;
    let winners = sorted.lazy().filter(col("_first")).drop(cols(["_first"])).collect().map_err(polars_err)?;
    let winners = winners
        .lazy()
        .with_columns([lit(bronze_version).alias("bronze_version"), lit(now_us).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("processed_at")])
        .collect()
        .map_err(polars_err)?;

    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "deduplicated");
    let (audited, audit) = quality::audit(winners, silver_spec, refs)?;
    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "audited");
    let (silver, dropped) = quality::split(audited)?;

    // Quarantine: parse rejections and rows a drop rule sent away, from their bronze rows.
    let dropped_rows = row_ids(&dropped)?;
    let dropped_rules: Vec<String> = strings(&dropped, RULE_COLUMN)?;
    let dropped_reasons: Vec<String> = strings(&dropped, REASON_COLUMN)?;
    let mut q_rows = rejected_rows;
    q_rows.extend(&dropped_rows);
    rules.extend(dropped_rules);
    reasons.extend(dropped_reasons);
    let mut quarantine = bronze.take(&IdxCa::from_vec(ROW.into(), q_rows.clone())).map_err(polars_err)?;
    quarantine.with_column(Column::new("rule".into(), rules)).map_err(polars_err)?;
    quarantine.with_column(Column::new("reason".into(), reasons)).map_err(polars_err)?;
    let quarantine = quarantine
        .lazy()
        .with_columns([
            lit(bronze_version).alias("bronze_version"),
            lit(now_us).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("quarantined_at"),
        ])
        .collect()
        .map_err(polars_err)?;

    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "quarantined");
    // Reconcile per date.
    let mut counts: BTreeMap<i32, DateCounts> = BTreeMap::new();
    for d in bronze_dates.iter().flatten() {
        counts.entry(*d).or_default().bronze_rows += 1;
    }
    for r in &q_rows {
        if let Some(d) = bronze_dates[*r as usize] {
            counts.entry(d).or_default().quarantined += 1;
        }
    }
    for r in &duplicate_rows {
        if let Some(d) = bronze_dates[*r as usize] {
            counts.entry(d).or_default().duplicates += 1;
        }
    }
    for d in date_days(&silver, "event_date")?.into_iter().flatten() {
        counts.entry(d).or_default().silver_rows += 1;
    }
    for (d, c) in &counts {
        if c.bronze_rows != c.silver_rows + c.quarantined + c.duplicates {
            return Err(Error::data(format!(
                "counts do not reconcile for {}: bronze {} != silver {} + quarantined {} + duplicates {}; nothing committed",
                date(*d), c.bronze_rows, c.silver_rows, c.quarantined, c.duplicates
            )));
        }
    }
    let counts = counts.into_iter().map(|(d, c)| (date(d), c)).collect();
    Ok(Transformed { silver, quarantine, counts, audit })
}

fn days(d: NaiveDate) -> i32 {
    crate::ops::ingest::days_since_epoch(d)
}

fn date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(days as i64)
}

fn date_days(df: &DataFrame, column: &str) -> Result<Vec<Option<i32>>> {
    let c = df.column(column).map_err(polars_err)?.cast(&DataType::Int32).map_err(polars_err)?;
    let ca = c.i32().map_err(polars_err)?.clone();
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

fn row_ids(df: &DataFrame) -> Result<Vec<IdxSize>> {
    let c = df.column(ROW).map_err(polars_err)?.cast(&IDX_DTYPE).map_err(polars_err)?;
    let ca = c.idx().map_err(polars_err)?.clone();
    Ok((0..ca.len()).filter_map(|i| ca.get(i)).collect())
}

fn strings(df: &DataFrame, column: &str) -> Result<Vec<String>> {
    let ca = df.column(column).map_err(polars_err)?.str().map_err(polars_err)?.clone();
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default().to_string()).collect())
}

/// Typed events as a frame with silver's column names.
fn events_frame(events: &[TypedEvent]) -> Result<DataFrame> {
    macro_rules! column {
        ($name:literal, $field:ident) => {
            Column::new($name.into(), events.iter().map(|e| e.$field.clone()).collect::<Vec<_>>())
        };
    }
    let event_ts = Column::new("event_ts".into(), events.iter().map(|e| e.event_ts).collect::<Vec<_>>())
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .map_err(polars_err)?;
    let event_date = Column::new("event_date".into(), events.iter().map(|e| e.event_date.map(days)).collect::<Vec<_>>())
        .cast(&DataType::Date)
        .map_err(polars_err)?;
    DataFrame::new_infer_height(vec![
        column!("event_id", event_id),
        column!("event_type", event_type),
        event_ts,
        event_date,
        column!("user_id", user_id),
        column!("session_id", session_id),
        column!("content_id", content_id),
        column!("device_type", device_type),
        column!("device_os", device_os),
        column!("device_app_version", device_app_version),
        column!("geo_country", geo_country),
        column!("geo_region", geo_region),
        column!("geo_city", geo_city),
        column!("position_s", position_s),
        column!("duration_s", duration_s),
        column!("watched_s", watched_s),
        column!("bitrate_kbps", bitrate_kbps),
        column!("resolution", resolution),
        column!("buffer_ms", buffer_ms),
        column!("seek_from_s", seek_from_s),
        column!("quality_from", quality_from),
        column!("quality_to", quality_to),
        column!("ad_id", ad_id),
        column!("campaign_id", campaign_id),
        column!("ad_position", ad_position),
        column!("ad_duration_s", ad_duration_s),
        column!("error_code", error_code),
        column!("error_message", error_message),
    ])
    .map_err(polars_err)
}
