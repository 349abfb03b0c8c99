//! `vbda publish`: gold tables into PostgreSQL, where BI tools (Power BI, Tableau, Superset,
//! Metabase) read them.
//!
//! Each gold spec becomes a table in the target schema (`warehouse::ensure_tables`). Each date
//! is replaced in one transaction together with its bookkeeping row (gold table, date, Delta
//! version), so a crash or a rerun leaves every date wholly old or wholly new. Dates asked for
//! (`--date`, `--from/--to`) are republished whatever is there; without dates the run is
//! incremental: a date is published when it is not there yet or when a gold commit after the
//! version it was published from touched it, and a date PostgreSQL holds that gold no longer
//! has (a restore, a rebuilt range) is removed. A date is read from gold one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Context, Error, Result};
use crate::lake::{self, Lakehouse, PartitionFilter, Table};
use crate::telemetry::Progress;
use crate::warehouse::{self, DateOutcome, Target};

#[derive(Debug, Clone, Serialize)]
pub struct PublishSettings {
    /// `postgres://user@host:port/database`, no password (the target refuses one).
    pub target: String,
    pub schema: String,
    /// Empty: incremental.
    pub dates: Vec<NaiveDate>,
    /// Only this gold table (its name, or `gold.NAME`).
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The target as shown: never a password.
    pub target: String,
    pub schema: String,
    pub incremental: bool,
    pub tables: Vec<TableReport>,
    /// Rows written across every table and date.
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    /// `"schema"."name"` in PostgreSQL.
    pub pg_table: String,
    /// The gold version published from; None when the gold table does not exist yet.
    pub delta_version: Option<i64>,
    /// The PostgreSQL table was created by this run.
    pub created: bool,
    pub dates: Vec<DateReport>,
    /// Dates asked for that neither gold nor PostgreSQL holds.
    pub dates_without_gold: Vec<NaiveDate>,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DateReport {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub outcome: DateOutcome,
}

pub async fn publish(lake: &Lakehouse, catalog: &Catalog, settings: &PublishSettings) -> Result<PublishReport> {
    let started = Instant::now();
    let target = Target::parse(&settings.target, &settings.schema)?;
    let specs = gold_specs(catalog, settings.model.as_deref())?;
    for spec in &specs {
        if spec.date_partition().is_none() {
            return Err(Error::data(format!("{} has no date partition column; publish replaces one date at a time", spec.id))
                .with_hint(format!("partition {} by its date column in {}", spec.id, spec.path.display())));
        }
    }
    let mut tables = Vec::with_capacity(specs.len());
    for spec in &specs {
        tables.push(Table::open(lake, spec).await?);
    }
    let mut client = target.connect().await?;
    let created = warehouse::ensure_tables(&mut client, &target, &specs).await?;

    let mut plans = Vec::with_capacity(specs.len());
    for ((spec, table), created) in specs.iter().zip(&tables).zip(created) {
        let there = warehouse::published(&client, &target, spec).await?;
        plans.push(plan(spec, table.as_ref(), &there, &settings.dates, created, &target).await?);
    }
    let total: u64 = plans.iter().map(|p| p.dates.len() as u64).sum();
    let progress = Progress::new("publish", total, false);
    let mut reports = Vec::with_capacity(plans.len());
    for (plan, table) in plans.into_iter().zip(&tables) {
        let Plan { spec, dates, unchanged, table_id, mut report } = plan;
        let version = report.delta_version.unwrap_or(-1);
        warehouse::mark_current(&client, &target, spec, &unchanged, version, &table_id).await?;
        for date in dates {
            let rows = match table {
                Some(t) if t.version().is_some() => Some(read_date(t, spec, date).await?),
                _ => None,
            };
            let outcome = warehouse::replace_date(&mut client, &target, spec, date, rows.as_ref().filter(|r| r.height() > 0), version, &table_id).await?;
            if let DateOutcome::Replaced { rows } = outcome {
                report.rows += rows;
            }
            report.dates.push(DateReport { date, outcome });
            progress.inc(1);
        }
        reports.push(report);
    }
    progress.finish();
    let rows: u64 = reports.iter().map(|t| t.rows).sum();
    let seconds = started.elapsed().as_secs_f64();
    Ok(PublishReport {
        target: target.shown().to_string(),
        schema: target.schema().to_string(),
        incremental: settings.dates.is_empty(),
        tables: reports,
        rows,
        seconds,
        rows_per_second: if seconds > 0.0 { rows as f64 / seconds } else { 0.0 },
    })
}

/// The gold table specs to publish: every `gold.*` spec, or the one `--model` names.
fn gold_specs<'a>(catalog: &'a Catalog, only: Option<&str>) -> Result<Vec<&'a TableSpec>> {
    let all: Vec<&TableSpec> = catalog.tables().filter(|t| t.id.layer == "gold").collect();
    let Some(name) = only else { return Ok(all) };
    let wanted = name.strip_prefix("gold.").unwrap_or(name);
    match all.iter().find(|t| t.id.name == wanted) {
        Some(t) => Ok(vec![*t]),
        None => {
            let known: Vec<&str> = all.iter().map(|t| t.id.name.as_str()).collect();
            let hint = match crate::catalog::closest(wanted, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? known gold tables: {}", known.join(", ")),
                None => format!("known gold tables: {}", known.join(", ")),
            };
            Err(Error::data(format!("no such gold table: `{name}`")).with_hint(hint))
        }
    }
}

struct Plan<'a> {
    spec: &'a TableSpec,
    dates: Vec<NaiveDate>,
    /// Dates published before whose gold did not change since: recorded as current.
    unchanged: Vec<NaiveDate>,
    /// The gold Delta table's id (`metaData.id`).
    table_id: String,
    report: TableReport,
}

/// Which dates of one table to replace (or remove) in PostgreSQL.
async fn plan<'a>(
    spec: &'a TableSpec,
    table: Option<&Table>,
    there: &BTreeMap<NaiveDate, warehouse::Published>,
    asked: &[NaiveDate],
    created: bool,
    target: &Target,
) -> Result<Plan<'a>> {
    let version = table.and_then(Table::version);
    let column = spec.date_partition().unwrap_or("date");
    let mut report = TableReport {
        table: spec.id.to_string(),
        pg_table: format!("{}.{}", warehouse::quote_ident(target.schema()), warehouse::quote_ident(&spec.id.name)),
        delta_version: version,
        created,
        dates: Vec::new(),
        dates_without_gold: Vec::new(),
        rows: 0,
    };
    // A gold table that does not exist (not built yet, or a mistyped lakehouse) publishes
    // nothing and removes nothing: PostgreSQL keeps what it has.
    let (Some(version), Some(table)) = (version, table) else {
        report.dates_without_gold = asked.to_vec();
        return Ok(Plan { spec, dates: Vec::new(), unchanged: Vec::new(), table_id: String::new(), report });
    };
    let table_id = table_id(table)?;
    let gold: BTreeSet<NaiveDate> = table
        .partition_values(column)?
        .iter()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").data_err(|| format!("{}: partition {column}={d} is not a date", spec.id)))
        .collect::<Result<_>>()?;
    // Rows PostgreSQL holds (tombstones of removed dates hold none).
    let live = |d: &NaiveDate| there.get(d).is_some_and(|p| !p.deleted);
    if !asked.is_empty() {
        let mut dates = Vec::new();
        for d in asked {
            if gold.contains(d) || live(d) {
                dates.push(*d);
            } else {
                report.dates_without_gold.push(*d);
            }
        }
        return Ok(Plan { spec, dates, unchanged: Vec::new(), table_id, report });
    }
    // Incremental. Versions recorded for another Delta table (gold was re-created) say nothing.
    let comparable: BTreeMap<NaiveDate, i64> =
        there.iter().filter(|(_, p)| p.table_id.as_deref() == Some(table_id.as_str())).map(|(d, p)| (*d, p.version)).collect();
    let changed = match comparable.values().copied().min() {
        Some(low) if (0..=version).contains(&low) => lake::txn::partitions_changed(table.delta(), Some(low), version, column).await?,
        _ => None,
    };
    let mut out: BTreeSet<NaiveDate> = there.keys().filter(|d| live(d) && !gold.contains(d)).copied().collect();
    let mut unchanged = Vec::new();
    for d in &gold {
        let stale = match (comparable.get(d), &changed) {
            (None, _) => true,
            (Some(v), Some(changed)) => changed.get(&d.to_string()).is_some_and(|last| last > v),
            // The commits since the oldest publish are cleaned up: republish everything.
            (Some(_), None) => true,
        };
        if stale {
            out.insert(*d);
        } else if comparable.get(d).is_some_and(|v| *v < version) {
            unchanged.push(*d);
        }
    }
    Ok(Plan { spec, dates: out.into_iter().collect(), unchanged, table_id, report })
}

/// The Delta table's id (`metaData.id`), which a re-created table does not share.
fn table_id(table: &Table) -> Result<String> {
    let snapshot = table.delta().snapshot().map_err(|e| Error::data(format!("cannot read the snapshot of {}: {e}", table.spec().id)))?;
    Ok(snapshot.metadata().id().to_string())
}

/// One date of a gold table as rows, columns in spec order.
async fn read_date(table: &Table, spec: &TableSpec, date: NaiveDate) -> Result<polars::prelude::DataFrame> {
    let column = spec.date_partition().unwrap_or("date");
    let frame = lake::read_partitions(table.delta(), spec, &PartitionFilter::values_of(column, &[date.to_string()])).await?;
    frame.collect().map_err(lake::convert::polars_err)
}
