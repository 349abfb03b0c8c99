//! `vbda check [--table T] [--date D]`: the table specs' expectations on committed data, like
//! `dbt test`. Every rule of every chosen table that exists is evaluated; the run fails (exit 1)
//! when a `fail` rule has failing rows. `drop` and `warn` rules are reported: on silver a `drop`
//! rule should find nothing, because bronze-to-silver already quarantined those rows.

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::catalog::{Catalog, Severity, TableSpec};
use crate::error::Result;
use crate::lake::convert::polars_err;
use crate::lake::{self, Lakehouse, PartitionFilter};
use crate::quality::{self, RuleOutcome};

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSettings {
    /// Only this table; None for all.
    pub table: Option<String>,
    /// Only this date's partition of date-partitioned tables.
    pub date: Option<NaiveDate>,
    /// How many failing rows' keys to show per rule.
    pub samples: usize,
}

/// A rule's verdict, as dbt gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// A `warn` rule with failing rows, or a `drop` rule that finds rows (bronze-to-silver
    /// should have quarantined them).
    Warn,
    /// A `fail` rule with failing rows: the run exits 1.
    Fail,
    /// Not evaluated: the table it refers to does not exist yet.
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckedRule {
    #[serde(flatten)]
    pub outcome: RuleOutcome,
    pub status: Status,
    /// Keys of up to `samples` failing rows (`event_id=...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub tables_checked: Vec<String>,
    pub tables_missing: Vec<String>,
    pub rules: Vec<CheckedRule>,
    pub passed: u64,
    pub warned: u64,
    pub failed: u64,
    pub not_run: u64,
    pub seconds: f64,
}

fn status(o: &RuleOutcome) -> Status {
    match (o.failing_rows, o.severity) {
        (None, _) => Status::NotRun,
        (Some(0), _) => Status::Pass,
        (Some(_), Severity::Fail) => Status::Fail,
        (Some(_), _) => Status::Warn,
    }
}

pub async fn check(lake: &Lakehouse, catalog: &Catalog, s: &CheckSettings) -> Result<CheckReport> {
    let started = Instant::now();
    let CheckSettings { table, date, samples } = s;
    let (date, samples) = (*date, *samples);
    let specs: Vec<&TableSpec> = match table.as_deref() {
        Some(name) => vec![catalog.table(name)?],
        None => catalog.tables().collect(),
    };
    let mut report = CheckReport {
        tables_checked: vec![],
        tables_missing: vec![],
        rules: vec![],
        passed: 0,
        warned: 0,
        failed: 0,
        not_run: 0,
        seconds: 0.0,
    };
    for spec in specs {
        if spec.expectations.is_empty() {
            continue;
        }
        let Some(t) = lake.open(spec).await? else {
            report.tables_missing.push(spec.id.to_string());
            continue;
        };
        // A date limits partitioned tables to that date's partition (a date column partition).
        let filter = match (date, spec.date_partition()) {
            (Some(d), Some(column)) => {
                PartitionFilter::values_of(column, &[d.to_string()])
            }
            _ => PartitionFilter::all(),
        };
        let frame = lake::read_partitions(&t, spec, &filter).await?;
        let refs = quality::references(lake, catalog, spec).await?;
        let rules = tokio::task::block_in_place(|| -> Result<Vec<CheckedRule>> {
            let df = frame.collect().map_err(polars_err)?;
            let (_, audit) = quality::audit(df.clone(), spec, &refs)?;
            let mut rules = Vec::new();
            for outcome in audit.outcomes {
                let status = status(&outcome);
                let sample_keys = match spec.expectations.iter().find(|e| e.display_name() == outcome.name) {
                    Some(exp) if matches!(status, Status::Warn | Status::Fail) && samples > 0 => {
                        quality::failing_samples(&df, spec, &refs, exp, samples)?
                    }
                    _ => Vec::new(),
                };
                rules.push(CheckedRule { outcome, status, sample_keys });
            }
            Ok(rules)
        })?;
        report.tables_checked.push(spec.id.to_string());
        report.rules.extend(rules);
    }
    let count = |s: Status| report.rules.iter().filter(|r| r.status == s).count() as u64;
    (report.passed, report.warned, report.failed, report.not_run) =
        (count(Status::Pass), count(Status::Warn), count(Status::Fail), count(Status::NotRun));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
