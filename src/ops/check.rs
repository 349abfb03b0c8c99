//! `vbda check [--table T] [--date D]`: the table specs' expectations on committed data, like
//! `dbt test`. Every rule of every chosen table that exists is evaluated; the run fails (exit 1)
//! when a `fail` rule has failing rows. `drop` and `warn` rules are reported: on silver a `drop`
//! rule should find nothing, because bronze-to-silver already quarantined those rows.

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::catalog::{Catalog, Severity, TableSpec};
use crate::error::{Error, Result};
use crate::lake::convert::polars_err;
use crate::lake::{self, Lakehouse, PartitionFilter};
use crate::quality::{self, RuleOutcome};

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub tables_checked: Vec<String>,
    pub tables_missing: Vec<String>,
    pub rules: Vec<RuleOutcome>,
    pub failed: u64,
    pub seconds: f64,
}

pub async fn check(lake: &Lakehouse, catalog: &Catalog, table: Option<&str>, date: Option<NaiveDate>) -> Result<CheckReport> {
    let started = Instant::now();
    let specs: Vec<&TableSpec> = match table {
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

pub fn summary(r: &CheckReport) -> String {
    let mut out = format!("{:<44} {:<34} {:>12} {:<8}\n", "RULE", "TABLE", "FAILING ROWS", "SEVERITY");
    for rule in &r.rules {
        let failing = rule.failing_rows.map(|n| n.to_string()).unwrap_or_else(|| "not run".into());
        out.push_str(&format!("{:<44} {:<34} {:>12} {:<8}\n", rule.name, rule.table, failing, rule.severity));
    }
    out.push_str(&format!(
        "{} tables checked, {} rules, {} failed `fail` rules",
        r.tables_checked.len(),
        r.rules.len(),
        r.failed
    ));
    if !r.tables_missing.is_empty() {
        out.push_str(&format!("; not created yet: {}", r.tables_missing.join(", ")));
    }
    out
}

/// The error that makes the run exit 1 when a `fail` rule has failing rows.
pub fn failure(r: &CheckReport) -> Option<Error> {
    (r.failed > 0).then(|| {
        let names: Vec<String> = r
            .rules
            .iter()
            .filter(|x| x.severity == Severity::Fail && x.failing_rows.unwrap_or(0) > 0)
            .map(|x| format!("{} on {}", x.name, x.table))
            .collect();
        Error::data(format!("{} `fail` rule(s) failed: {}", r.failed, names.join(", ")))
            .with_hint("rebuild the affected dates, or fix the data upstream and rerun the steps")
    })
}
