//! The pure part of bronze-to-silver: bronze rows in, silver rows, quarantine rows and
//! reconciled counts out. No I/O, so every rule is testable on hand-made rows.
//!
//! Order of decisions for each bronze row:
//! 1. its payload is read into a typed event, or rejected with a parse/type rule;
//! 2. among readable events, the first arrival of each `event_id` wins (ordered by
//!    `ingested_at`, then source file and line, then Kafka partition and offset); later
//!    arrivals are counted as duplicates, whatever they contain;
//! 3. the silver spec's expectations run on the winners: `drop` rules send rows to
//!    quarantine, `warn` rules are counted, `fail` rules stop the run before any commit.
//!
//! A day can hold more bronze rows than fit in memory, so the work is split. First
//! [`duplicated_ids`] reads only the `event_id` column bronze recorded at ingestion to find
//! the ids that occur more than once (few). Then the bronze rows go through
//! [`transform_slice`] a slice at a time, each payload read once, except the rows of those
//! ids, which [`hold_back`] keeps aside; at the end they are ordered by arrival
//! ([`later_arrivals`]) and transformed together, one date at a time ([`split_by_date`]). Every bronze row of date D ends in silver
//! D, quarantine D or the duplicate count of D; the caller checks that the counts add up
//! before it commits.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use super::event::{Rejection, TypedEvent, parse_event};
use crate::catalog::TableSpec;
use crate::error::{Error, Result};
use crate::lake::convert::polars_err;
use crate::quality::{self, Audit, REASON_COLUMN, References, RULE_COLUMN};

const ROW: &str = "_bronze_row";

/// Rows handled at once by [`transform_slice`]: small enough to bound memory, large enough
/// for Polars to work in bulk.
pub const SLICE_ROWS: usize = 250_000;

/// Per event date: where its bronze rows went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DateCounts {
    pub bronze_rows: u64,
    pub silver_rows: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    /// The quarantined rows by the rule that sent them (the first one each failed): the
    /// parse rules (`parse_json`, `parse_utf8`, `parse_event_ts`, `type_*`, ...) and the
    /// spec's `drop` rules. Sums to `quarantined`.
    pub quarantined_by_rule: BTreeMap<String, u64>,
}

impl DateCounts {
    pub fn add(&mut self, other: &DateCounts) {
        self.bronze_rows += other.bronze_rows;
        self.silver_rows += other.silver_rows;
        self.quarantined += other.quarantined;
        self.duplicates += other.duplicates;
        for (rule, n) in &other.quarantined_by_rule {
            *self.quarantined_by_rule.entry(rule.clone()).or_default() += n;
        }
    }
}

/// The event_ids that bronze recorded more than once on one event date among `sources` (lazy
/// scans of bronze rows). Only the `event_id` and `event_date` columns are read; the id is
/// what ingestion read from each payload.
pub fn duplicated_ids(sources: &[LazyFrame]) -> Result<Series> {
    if sources.is_empty() {
        return Ok(Series::new_empty("event_id".into(), &DataType::String));
    }
    let ids = concat(sources.iter().map(|s| s.clone().select([col("event_id"), col("event_date")])).collect::<Vec<_>>(), UnionArgs::default())
        .map_err(polars_err)?
        .filter(col("event_id").is_not_null().and(col("event_id").neq(lit(""))))
        .group_by([col("event_date"), col("event_id")])
        .agg([len().alias("n")])
        .filter(col("n").gt(lit(1)))
        .select([col("event_id")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect_with_engine(Engine::Streaming)
        .map_err(polars_err)?
        .unwrap_single();
    Ok(ids.column("event_id").map_err(polars_err)?.as_materialized_series().clone())
}

/// Split a slice of bronze rows into the rows whose event_id is among `ids` (held back until
/// every arrival has been seen; copied out of the slice's buffers) and the others.
pub fn hold_back(bronze: DataFrame, ids: &Series) -> Result<(DataFrame, DataFrame)> {
    if ids.is_empty() {
        return Ok((bronze.clear(), bronze));
    }
    let mask = bronze
        .clone()
        .lazy()
        .select([col("event_id").is_in(lit(ids.clone()).implode(false), false).fill_null(lit(false)).alias("held")])
        .collect()
        .map_err(polars_err)?;
    let mask = mask.column("held").map_err(polars_err)?.bool().map_err(polars_err)?.clone();
    let held = compact(&bronze.filter(&mask).map_err(polars_err)?)?;
    let rest = bronze.filter(&!&mask).map_err(polars_err)?;
    Ok((held, rest))
}

/// A copy of `df` whose text and binary columns own their bytes: a filtered string column
/// keeps pointing into the buffers of the rows it came from, which would keep a whole
/// file's payloads alive for a few held rows.
fn compact(df: &DataFrame) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        let copied = match c.dtype() {
            DataType::String => c.str().map_err(polars_err)?.iter().collect::<StringChunked>().with_name(c.name().clone()).into_column(),
            DataType::Binary => c.binary().map_err(polars_err)?.iter().collect::<BinaryChunked>().with_name(c.name().clone()).into_column(),
            _ => c.clone(),
        };
        columns.push(copied);
    }
    DataFrame::new_infer_height(columns).map_err(polars_err)
}

/// Bronze rows split by `event_date`, dates in order (rows without a date last), each part in
/// the rows' order.
pub fn split_by_date(rows: &DataFrame) -> Result<Vec<DataFrame>> {
    if rows.height() == 0 {
        return Ok(Vec::new());
    }
    let days = rows.column("event_date").map_err(polars_err)?.cast(&DataType::Int32).map_err(polars_err)?;
    let days = days.i32().map_err(polars_err)?;
    let distinct: std::collections::BTreeSet<Option<i32>> = days.iter().collect();
    let mut parts = Vec::with_capacity(distinct.len());
    for day in distinct.iter().filter(|d| d.is_some()).chain(distinct.iter().filter(|d| d.is_none())) {
        let mask: BooleanChunked = days.iter().map(|d| Some(d == *day)).collect();
        parts.push(rows.filter(&mask).map_err(polars_err)?);
    }
    Ok(parts)
}

/// Among held-back bronze rows (all arrivals of some event_ids), the rows that lose to an
/// earlier readable arrival of the same event_id on the same event date, as row numbers of
/// `held`. Arrivals are
/// ordered by `ingested_at`, then source file and line, then Kafka partition and offset,
/// then their order in `held`; one whose payload cannot be read never wins.
pub fn later_arrivals(held: &DataFrame) -> Result<HashSet<u32>> {
    if held.height() == 0 {
        return Ok(HashSet::new());
    }
    let parsed_ids: StringChunked = in_parallel(held, |payloads, range| {
        range.map(|i| payloads.event(i).ok().and_then(|e| e.event_id.map(|id| id.into_owned()))).collect::<Vec<_>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let mut keyed = held
        .select(["event_date", "ingested_at", "source_file", "source_line", "kafka_partition", "kafka_offset"])
        .map_err(polars_err)?
        .with_row_index(ROW.into(), None)
        .map_err(polars_err)?;
    keyed.with_column(parsed_ids.with_name("_event_id".into()).into_column()).map_err(polars_err)?;
    let order = ["ingested_at", "source_file", "source_line", "kafka_partition", "kafka_offset", ROW];
    let later = keyed
        .lazy()
        .filter(col("_event_id").is_not_null())
        .sort(order, SortMultipleOptions::default().with_nulls_last(true))
        .filter(as_struct(vec![col("_event_id"), col("event_date")]).is_first_distinct().not())
        .select([col(ROW).cast(DataType::UInt32)])
        .collect()
        .map_err(polars_err)?;
    let rows = later.column(ROW).map_err(polars_err)?.u32().map_err(polars_err)?.clone();
    Ok(rows.iter().flatten().collect())
}

/// One slice's silver rows, quarantine rows, counts and rule outcomes.
pub struct Transformed {
    pub silver: DataFrame,
    pub quarantine: DataFrame,
    pub counts: BTreeMap<NaiveDate, DateCounts>,
    pub audit: Audit,
}

/// Transform one slice of bronze rows (all bronze columns). `losers` holds the row numbers
/// of the slice's later arrivals ([`later_arrivals`]); without it, the slice must hold no two
/// arrivals of one event_id ([`hold_back`] sees to that). `now_us`: the processing time
/// (microseconds, UTC).
pub fn transform_slice(
    bronze: DataFrame,
    losers: Option<&HashSet<u32>>,
    silver_spec: &TableSpec,
    refs: &References,
    bronze_version: i64,
    now_us: i64,
) -> Result<Transformed> {
    let t0 = std::time::Instant::now();
    let bronze_dates = date_days(&bronze, "event_date")?;
    let bronze_ids = bronze.column("event_id").map_err(polars_err)?.str().map_err(polars_err)?.rechunk().into_owned();
    let fallback: Vec<bool> =
        bronze.column("event_date_fallback").map_err(polars_err)?.bool().map_err(polars_err)?.iter().map(|v| v.unwrap_or(false)).collect();
    let bronze_errors = bronze.column("payload_error").map_err(polars_err)?.str().map_err(polars_err)?.rechunk().into_owned();
    tracing::trace!(seconds = t0.elapsed().as_secs_f64(), "slice dates");

    // Each core reads its share of the payloads and builds its share of the typed frame.
    let parts = in_parallel(&bronze, |payloads, range| -> Result<Part> {
        let mut part = Part::default();
        let mut events = Vec::new();
        for i in range {
            match payloads.event(i) {
                // Bronze could not read this payload (say, a repeated key), so it sits under
                // its ingestion date with no id; it must not become an event there.
                Ok(e) if fallback[i] && e.event_ts.is_some() => {
                    part.rejected_rows.push(i as IdxSize);
                    part.rules.push("parse_json".to_string());
                    part.reasons.push(format!("bronze could not read this payload: {}", bronze_errors.get(i).unwrap_or("unknown reason")));
                }
                // Deduplication relies on the id bronze recorded: both readings must agree.
                Ok(e) if e.event_id.as_deref() != bronze_ids.get(i).filter(|id| !id.is_empty()) => {
                    part.rejected_rows.push(i as IdxSize);
                    part.rules.push("event_id_mismatch".to_string());
                    part.reasons.push("event_id reads differently than bronze recorded it".to_string());
                }
                // An event read differently from bronze would move between dates; never let it.
                Ok(e) if e.event_date.is_some_and(|d| Some(days(d)) != bronze_dates[i]) => {
                    part.rejected_rows.push(i as IdxSize);
                    part.rules.push("event_date_mismatch".to_string());
                    part.reasons.push("event_ts gives another date than bronze recorded".to_string());
                }
                Ok(_) if losers.is_some_and(|l| l.contains(&(i as u32))) => part.duplicate_rows.push(i),
                Ok(e) => {
                    part.ok_rows.push(i as IdxSize);
                    events.push(e);
                }
                Err(r) => {
                    part.rejected_rows.push(i as IdxSize);
                    part.rules.push(r.rule);
                    part.reasons.push(r.reason);
                }
            }
        }
        let parsed = t0.elapsed().as_secs_f64();
        part.frame = events_frame(&events)?;
        tracing::trace!(parsed, framed = t0.elapsed().as_secs_f64(), "slice part");
        Ok(part)
    })?;
    let (mut ok_rows, mut rejected_rows, mut rules, mut reasons, mut duplicate_rows) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut frames = Vec::new();
    for part in parts {
        let part = part?;
        ok_rows.extend(part.ok_rows);
        rejected_rows.extend(part.rejected_rows);
        rules.extend(part.rules);
        reasons.extend(part.reasons);
        duplicate_rows.extend(part.duplicate_rows);
        frames.push(part.frame);
    }
    tracing::trace!(seconds = t0.elapsed().as_secs_f64(), "slice parsed");

    // Typed events with their lineage.
    let lineage = bronze
        .select(["source_file", "source_line", "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at"])
        .map_err(polars_err)?
        .take(&IdxCa::from_vec(ROW.into(), ok_rows.clone()))
        .map_err(polars_err)?;
    let mut frames = frames.into_iter();
    let mut winners = match frames.next() {
        Some(f) => f,
        None => events_frame(&[])?,
    };
    for f in frames {
        winners.vstack_mut(&f).map_err(polars_err)?;
    }
    for c in lineage.columns() {
        winners.with_column(c.clone()).map_err(polars_err)?;
    }
    winners.with_column(Column::new(ROW.into(), ok_rows)).map_err(polars_err)?;
    let winners = winners
        .lazy()
        .with_columns([
            lit(bronze_version).alias("bronze_version"),
            lit(now_us).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("processed_at"),
        ])
        .collect()
        .map_err(polars_err)?;

    tracing::trace!(seconds = t0.elapsed().as_secs_f64(), "slice framed");
    let (audited, audit) = quality::audit(winners, silver_spec, refs)?;
    tracing::trace!(seconds = t0.elapsed().as_secs_f64(), "slice audited");
    let (silver, dropped) = quality::split(audited)?;
    let silver = silver.drop(ROW).map_err(polars_err)?;

    // Quarantine: parse rejections and rows a drop rule sent away, from their bronze rows.
    let dropped_rows = row_ids(&dropped)?;
    let mut q_rows = rejected_rows;
    q_rows.extend(&dropped_rows);
    rules.extend(strings(&dropped, RULE_COLUMN)?);
    reasons.extend(strings(&dropped, REASON_COLUMN)?);
    let by_rule: Vec<(Option<i32>, String)> = q_rows.iter().zip(&rules).map(|(r, rule)| (bronze_dates[*r as usize], rule.clone())).collect();
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

    tracing::trace!(seconds = t0.elapsed().as_secs_f64(), "slice quarantined");
    let mut counts: BTreeMap<i32, DateCounts> = BTreeMap::new();
    for d in bronze_dates.iter().flatten() {
        counts.entry(*d).or_default().bronze_rows += 1;
    }
    for (d, rule) in by_rule {
        if let Some(d) = d {
            let c = counts.entry(d).or_default();
            c.quarantined += 1;
            *c.quarantined_by_rule.entry(rule).or_default() += 1;
        }
    }
    for r in &duplicate_rows {
        if let Some(d) = bronze_dates[*r] {
            counts.entry(d).or_default().duplicates += 1;
        }
    }
    for d in date_days(&silver, "event_date")?.into_iter().flatten() {
        counts.entry(d).or_default().silver_rows += 1;
    }
    let counts = counts.into_iter().map(|(d, c)| (date(d), c)).collect();
    Ok(Transformed { silver, quarantine, counts, audit })
}

/// Check that every date's bronze rows are accounted for.
pub fn reconcile(counts: &BTreeMap<NaiveDate, DateCounts>) -> Result<()> {
    for (d, c) in counts {
        if c.bronze_rows != c.silver_rows + c.quarantined + c.duplicates {
            return Err(Error::data(format!(
                "counts do not reconcile for {d}: bronze {} != silver {} + quarantined {} + duplicates {}; nothing committed",
                c.bronze_rows, c.silver_rows, c.quarantined, c.duplicates
            )));
        }
    }
    Ok(())
}

/// Merge the rule outcomes of one slice into the run's.
pub fn merge_audit(total: &mut Audit, slice: Audit) {
    for o in slice.outcomes {
        match total.outcomes.iter_mut().find(|t| t.name == o.name && t.table == o.table) {
            Some(t) => {
                t.failing_rows = match (t.failing_rows, o.failing_rows) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                t.rows_checked += o.rows_checked;
                for (d, (rows, failing)) in o.per_date {
                    let e = t.per_date.entry(d).or_default();
                    e.0 += rows;
                    e.1 += failing;
                }
            }
            None => total.outcomes.push(o),
        }
    }
}

/// What one core made of its share of a slice.
#[derive(Default)]
struct Part {
    frame: DataFrame,
    ok_rows: Vec<IdxSize>,
    rejected_rows: Vec<IdxSize>,
    rules: Vec<String>,
    reasons: Vec<String>,
    duplicate_rows: Vec<usize>,
}

/// The payload columns of a frame (`payload`, `payload_bytes` or `_not_utf8`, `payload_format`).
struct Payloads {
    payload: StringChunked,
    not_utf8: Vec<bool>,
    format: StringChunked,
}

impl Payloads {
    fn of(df: &DataFrame) -> Result<Self> {
        let payload = df.column("payload").map_err(polars_err)?.str().map_err(polars_err)?.rechunk().into_owned();
        let not_utf8: Vec<bool> = match df.column("payload_bytes") {
            Ok(c) => c.as_materialized_series().is_not_null().iter().map(|v| v.unwrap_or(false)).collect(),
            Err(_) => df.column("_not_utf8").map_err(polars_err)?.bool().map_err(polars_err)?.iter().map(|v| v.unwrap_or(false)).collect(),
        };
        let format = df.column("payload_format").map_err(polars_err)?.str().map_err(polars_err)?.rechunk().into_owned();
        Ok(Self { payload, not_utf8, format })
    }

    fn event(&self, i: usize) -> std::result::Result<TypedEvent<'_>, Rejection> {
        parse_event(self.payload.get(i).unwrap_or_default(), self.not_utf8[i], self.format.get(i) == Some("csv"))
    }
}

/// Run `work` over the frame's rows split in one contiguous range per core, in order.
fn in_parallel<T: Send>(df: &DataFrame, work: impl Fn(&Payloads, std::ops::Range<usize>) -> T + Sync) -> Result<Vec<T>> {
    let payloads = Payloads::of(df)?;
    let n = df.height();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let per = n.div_ceil(threads).max(1);
    let (payloads, work) = (&payloads, &work);
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n).step_by(per).map(|start| scope.spawn(move || work(payloads, start..(start + per).min(n)))).collect();
        handles.into_iter().map(|h| h.join().expect("payload parsing does not panic")).collect()
    }))
}

fn days(d: NaiveDate) -> i32 {
    crate::lake::days_since_epoch(d)
}

fn date(days: i32) -> NaiveDate {
    // Saturating at the ends of chrono's calendar: no panic on an absurd date.
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let saturated = if days < 0 { NaiveDate::MIN } else { NaiveDate::MAX };
    epoch.checked_add_signed(chrono::Duration::days(days as i64)).unwrap_or(saturated)
}

fn date_days(df: &DataFrame, column: &str) -> Result<Vec<Option<i32>>> {
    let c = df.column(column).map_err(polars_err)?.cast(&DataType::Int32).map_err(polars_err)?;
    let ca = c.i32().map_err(polars_err)?.clone();
    Ok(ca.iter().collect())
}

fn row_ids(df: &DataFrame) -> Result<Vec<IdxSize>> {
    let c = df.column(ROW).map_err(polars_err)?.cast(&IDX_DTYPE).map_err(polars_err)?;
    let ca = c.idx().map_err(polars_err)?.clone();
    Ok(ca.iter().flatten().collect())
}

fn strings(df: &DataFrame, column: &str) -> Result<Vec<String>> {
    let ca = df.column(column).map_err(polars_err)?.str().map_err(polars_err)?.clone();
    Ok(ca.iter().map(|v| v.unwrap_or_default().to_string()).collect())
}

/// Typed events as a frame with silver's column names.
fn events_frame(events: &[TypedEvent<'_>]) -> Result<DataFrame> {
    fn text<'e>(name: &str, events: &'e [TypedEvent<'_>], f: impl Fn(&'e TypedEvent<'_>) -> Option<&'e str>) -> Column {
        events.iter().map(f).collect::<StringChunked>().with_name(name.into()).into_column()
    }
    fn float(name: &str, events: &[TypedEvent<'_>], f: impl Fn(&TypedEvent<'_>) -> Option<f64>) -> Column {
        events.iter().map(f).collect::<Float64Chunked>().with_name(name.into()).into_column()
    }
    fn long(name: &str, events: &[TypedEvent<'_>], f: impl Fn(&TypedEvent<'_>) -> Option<i64>) -> Column {
        events.iter().map(f).collect::<Int64Chunked>().with_name(name.into()).into_column()
    }
    let event_ts = long("event_ts", events, |e| e.event_ts)
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .map_err(polars_err)?;
    let event_date = events
        .iter()
        .map(|e| e.event_date.map(days))
        .collect::<Int32Chunked>()
        .with_name("event_date".into())
        .into_column()
        .cast(&DataType::Date)
        .map_err(polars_err)?;
    DataFrame::new_infer_height(vec![
        text("event_id", events, |e| e.event_id.as_deref()),
        text("event_type", events, |e| e.event_type.as_deref()),
        event_ts,
        event_date,
        text("user_id", events, |e| e.user_id.as_deref()),
        text("session_id", events, |e| e.session_id.as_deref()),
        text("content_id", events, |e| e.content_id.as_deref()),
        text("device_type", events, |e| e.device_type.as_deref()),
        text("device_os", events, |e| e.device_os.as_deref()),
        text("device_app_version", events, |e| e.device_app_version.as_deref()),
        text("geo_country", events, |e| e.geo_country.as_deref()),
        text("geo_region", events, |e| e.geo_region.as_deref()),
        text("geo_city", events, |e| e.geo_city.as_deref()),
        float("position_s", events, |e| e.position_s),
        float("duration_s", events, |e| e.duration_s),
        float("watched_s", events, |e| e.watched_s),
        long("bitrate_kbps", events, |e| e.bitrate_kbps),
        text("resolution", events, |e| e.resolution.as_deref()),
        long("buffer_ms", events, |e| e.buffer_ms),
        float("seek_from_s", events, |e| e.seek_from_s),
        text("quality_from", events, |e| e.quality_from.as_deref()),
        text("quality_to", events, |e| e.quality_to.as_deref()),
        text("ad_id", events, |e| e.ad_id.as_deref()),
        text("campaign_id", events, |e| e.campaign_id.as_deref()),
        text("ad_position", events, |e| e.ad_position.as_deref()),
        float("ad_duration_s", events, |e| e.ad_duration_s),
        text("error_code", events, |e| e.error_code.as_deref()),
        text("error_message", events, |e| e.error_message.as_deref()),
    ])
    .map_err(polars_err)
}
