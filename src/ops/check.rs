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
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub tables_checked: Vec<String>,
    pub tables_missing: Vec<String>,
    pub rules: Vec<RuleOutcome>,
    pub failed: u64,
    pub seconds: f64,
}

pub async fn check(lake: &Lakehouse, catalog: &Catalog, s: &CheckSettings) -> Result<CheckReport> {
    let started = Instant::now();
    let CheckSettings { table, date } = s;
    let date = *date;
    let specs: Vec<&TableSpec> = match table.as_deref() {
        Some(name) => vec![catalog.table(name)?],
        None => catalog.tables().collect(),
    };
    let mut report = CheckReport { tables_checked: vec![], tables_missing: vec![], rules: vec![], failed: 0, seconds: 0.0 };
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
        let (_, audit) = tokio::task::block_in_place(|| -> Result<_> {
            let df = frame.collect().map_err(polars_err)?;
            quality::audit(df, spec, &refs)
        })?;
        report.tables_checked.push(spec.id.to_string());
        report.rules.extend(audit.outcomes);
    }
    report.failed = report.rules.iter().filter(|r| r.severity == Severity::Fail && r.failing_rows.unwrap_or(0) > 0).count() as u64;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
