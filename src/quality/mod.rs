//! Data quality: a table spec's expectations evaluated on data.
//!
//! Used before a commit (write-audit-publish: `fail` rules stop the run with nothing
//! committed, `drop` rules send rows to quarantine in the same run, `warn` rules are counted)
//! and after it (`vbda check`, like `dbt test`). Row-level rules (`not_null`,
//! `accepted_values`, `range`, each optionally limited by `when`) mark the rows that fail;
//! set-level rules (`unique`, `relationships`) compare rows with each other or with another
//! table. Nulls pass `accepted_values`, `range`, `relationships` and single-column `unique`
//! (as in dbt): absence is what `not_null` is for. A multi-column `unique` treats a null as one
//! value, like GROUP BY (gold keys with an "unknown" group).

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::catalog::{Expectation, RuleKind, Severity, TableSpec};
use crate::error::{Error, Result};
use crate::lake::convert::polars_err;

/// Column holding the name of the first `drop` rule a row failed (null: none).
pub const RULE_COLUMN: &str = "_dq_rule";
/// Column holding that failure in words.
pub const REASON_COLUMN: &str = "_dq_reason";

/// Allowed values of referenced columns, for `relationships` rules: (`layer.name`, column).
pub type References = HashMap<(String, String), Series>;

/// The referenced columns of a table's `relationships` rules, for the tables that exist.
pub async fn references(lake: &crate::lake::Lakehouse, catalog: &crate::catalog::Catalog, spec: &TableSpec) -> Result<References> {
    let mut refs = References::new();
    for exp in spec.expectations.iter().filter(|e| e.rule == RuleKind::Relationships) {
        let (Some(to), Some(to_column)) = (&exp.to, &exp.to_column) else { continue };
        let target = catalog.table(to)?;
        let Some(t) = lake.open(target).await? else { continue };
        let values = crate::lake::read_partitions(&t, target, &crate::lake::PartitionFilter::all()).await?;
        let values = tokio::task::block_in_place(|| values.select([col(to_column.as_str())]).unique(None, UniqueKeepStrategy::Any).collect())
            .map_err(polars_err)?;
        let series = values.column(to_column).map_err(polars_err)?.as_materialized_series().clone();
        refs.insert((to.clone(), to_column.clone()), series);
    }
    Ok(refs)
}

/// One expectation's result.
#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    pub table: String,
    pub name: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub columns: Vec<String>,
    /// Rows that fail the rule; None when it could not be evaluated (a referenced table
    /// that does not exist yet).
    pub failing_rows: Option<u64>,
    /// Rows the rule was evaluated on.
    #[serde(skip)]
    pub rows_checked: u64,
    /// For a table partitioned by date: per date, rows checked and rows failing (what the
    /// quality log records).
    #[serde(skip)]
    pub per_date: std::collections::BTreeMap<chrono::NaiveDate, (u64, u64)>,
}

/// The outcome of every expectation of a table on some data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    pub outcomes: Vec<RuleOutcome>,
}

impl Audit {
    /// `fail` rules that some row broke: the run must stop before it commits.
    pub fn failures(&self) -> Vec<&RuleOutcome> {
        self.outcomes.iter().filter(|o| o.severity == Severity::Fail && o.failing_rows.unwrap_or(0) > 0).collect()
    }

    /// The error to stop a run with, if any `fail` rule broke.
    pub fn fail_error(&self) -> Option<Error> {
        let failures = self.failures();
        if failures.is_empty() {
            return None;
        }
        let list: Vec<String> = failures
            .iter()
            .map(|o| format!("{} on {}: {} failing rows", o.name, o.table, o.failing_rows.unwrap_or(0)))
            .collect();
        let error = Error::data(format!("expectation failed, nothing committed: {}", list.join("; ")))
            .with_hint("fix the input or the rule's severity in the table spec; `vbda check` shows the rules");
        Some(failures.iter().fold(error, |e, o| e.with_failed_rule(&o.table, &o.name, o.failing_rows.unwrap_or(0))))
    }
}

/// Evaluate every expectation of `spec` on `df`. Returns `df` with [`RULE_COLUMN`] and
/// [`REASON_COLUMN`] added (the first failing `drop` rule of each row, in spec order; the
/// rows that pass come first) and the count of failing rows for every rule.
pub fn audit(df: DataFrame, spec: &TableSpec, refs: &References) -> Result<(DataFrame, Audit)> {
    let mut audit = Audit::default();
    let mut masks: Vec<(Expr, String)> = Vec::new();
    let mut drop_rules: Vec<(String, Expr, Expr)> = Vec::new();
    for exp in &spec.expectations {
        let name = exp.display_name();
        let Some((fails, reason)) = failure(exp, spec, refs)? else {
            audit.outcomes.push(outcome(spec, exp, None));
            continue;
        };
        masks.push((fails.clone().alias(format!("_dq_fails_{}", masks.len())), name.clone()));
        if exp.severity == Severity::Drop {
            drop_rules.push((name, fails, reason));
        }
    }
    // One pass evaluates every rule into a boolean column; counts are their sums.
    let mask_names: Vec<String> = (0..masks.len()).map(|i| format!("_dq_fails_{i}")).collect();
    let evaluated = if masks.is_empty() {
        df
    } else {
        df.lazy().with_columns(masks.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>()).collect().map_err(polars_err)?
    };
    // Per date partition when the table has one (the quality log keeps a row per rule per
    // date), else one group; the rows checked are each group's length.
    let date_column = spec.date_partition().filter(|c| evaluated.schema().contains(c));
    let mut sums: Vec<Expr> = mask_names.iter().map(|m| col(m.as_str()).cast(DataType::UInt64).sum()).collect();
    sums.push(len().cast(DataType::UInt64).alias("_dq_rows"));
    // One pass of sums with the date's min and max: a frame of one date (the usual slice, bronze
    // being partitioned by date) needs no group-by; only a frame of several dates is grouped.
    let mut whole = sums.clone();
    if let Some(c) = date_column {
        whole.push(col(c).min().cast(DataType::String).alias("_dq_date"));
        whole.push(col(c).max().cast(DataType::String).alias("_dq_date_max"));
    }
    let totals = evaluated.clone().lazy().select(whole).collect().map_err(polars_err)?;
    let one_date = |df: &DataFrame| -> bool {
        let v = |n: &str| df.column(n).ok().and_then(|c| c.get(0).ok()).map(|v| v.to_string());
        v("_dq_date") == v("_dq_date_max")
    };
    let grouped = match date_column {
        Some(c) if !one_date(&totals) => evaluated
            .clone()
            .lazy()
            .group_by([col(c).cast(DataType::String).alias("_dq_date")])
            .agg(sums)
            .collect()
            .map_err(polars_err)?,
        _ => totals,
    };
    let number = |name: &str, row: usize| -> u64 {
        grouped.column(name).ok().and_then(|c| c.get(row).ok()).and_then(|v| v.extract::<u64>()).unwrap_or(0)
    };
    let date_of = |row: usize| -> Option<chrono::NaiveDate> {
        let c = grouped.column("_dq_date").ok()?;
        let v = c.str().ok()?.get(row)?;
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
    };
    let groups: Vec<(Option<chrono::NaiveDate>, u64)> = (0..grouped.height()).map(|r| (date_of(r), number("_dq_rows", r))).collect();
    let mut i = 0;
    for exp in &spec.expectations {
        if audit.outcomes.iter().any(|o| o.name == exp.display_name() && o.failing_rows.is_none()) {
            continue;
        }
        let mut o = outcome(spec, exp, Some(0));
        for (row, (date, rows)) in groups.iter().enumerate() {
            let failing = number(&mask_names[i], row);
            o.failing_rows = o.failing_rows.map(|n| n + failing);
            o.rows_checked += rows;
            if let Some(d) = date {
                let e = o.per_date.entry(*d).or_default();
                e.0 += rows;
                e.1 += failing;
            }
        }
        audit.outcomes.push(o);
        i += 1;
    }
    // The first failing drop rule names the row's quarantine rule; the reason, a string
    // built per row, is only computed for the rows that are dropped.
    let mask_of = |name: &str| -> Expr {
        let i = masks.iter().position(|(_, n)| n == name).expect("every drop rule has a mask");
        col(mask_names[i].as_str())
    };
    let (mut rule, mut reason): (Expr, Expr) = (lit(NULL).cast(DataType::String), lit(NULL).cast(DataType::String));
    for (name, _, why) in drop_rules.into_iter().rev() {
        rule = when(mask_of(&name)).then(lit(name.clone())).otherwise(rule);
        reason = when(mask_of(&name)).then(why).otherwise(reason);
    }
    let ruled = evaluated.lazy().with_column(rule.alias(RULE_COLUMN)).collect().map_err(polars_err)?;
    let any_dropped = ruled.column(RULE_COLUMN).map_err(polars_err)?.null_count() < ruled.height();
    // Kept rows first, then the dropped ones with their reason (row order is not kept).
    let marked = if any_dropped {
        let kept = ruled
            .clone()
            .lazy()
            .filter(col(RULE_COLUMN).is_null())
            .with_column(lit(NULL).cast(DataType::String).alias(REASON_COLUMN))
            .collect()
            .map_err(polars_err)?;
        let dropped = ruled
            .lazy()
            .filter(col(RULE_COLUMN).is_not_null())
            .with_column(reason.alias(REASON_COLUMN))
            .collect()
            .map_err(polars_err)?;
        kept.vstack(&dropped).map_err(polars_err)?
    } else {
        ruled.lazy().with_column(lit(NULL).cast(DataType::String).alias(REASON_COLUMN)).collect().map_err(polars_err)?
    };
    let marked = marked.drop_many(mask_names.iter().map(String::as_str));
    Ok((marked, audit))
}

/// Split an audited frame into the rows that pass every `drop` rule and the rows to
/// quarantine (which keep the rule and reason columns).
pub fn split(audited: DataFrame) -> Result<(DataFrame, DataFrame)> {
    let kept = audited
        .clone()
        .lazy()
        .filter(col(RULE_COLUMN).is_null())
        .drop(cols([RULE_COLUMN, REASON_COLUMN]))
        .collect()
        .map_err(polars_err)?;
    let dropped = audited.lazy().filter(col(RULE_COLUMN).is_not_null()).collect().map_err(polars_err)?;
    Ok((kept, dropped))
}

/// Up to `n` rows failing `exp`, each as its key columns (the spec's `keys`, else the rule's
/// columns) in `column=value` form, for a report to show what to look at.
pub fn failing_samples(df: &DataFrame, spec: &TableSpec, refs: &References, exp: &Expectation, n: usize) -> Result<Vec<String>> {
    let Some((fails, _)) = failure(exp, spec, refs)? else { return Ok(Vec::new()) };
    let mut keys: Vec<&str> = spec.keys.iter().map(String::as_str).collect();
    if keys.is_empty() {
        keys = exp.target_columns();
    }
    keys.retain(|k| df.column(k).is_ok());
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = df
        .clone()
        .lazy()
        .filter(fails)
        .select(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
        .limit(n as IdxSize)
        .collect()
        .map_err(polars_err)?;
    let mut out = Vec::with_capacity(rows.height());
    for i in 0..rows.height() {
        let parts: Vec<String> = keys
            .iter()
            .map(|k| {
                let value = rows.column(k).ok().and_then(|c| c.get(i).ok());
                let text = match value {
                    Some(AnyValue::Null) | None => "null".to_string(),
                    Some(v) => v.get_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                };
                format!("{k}={text}")
            })
            .collect();
        out.push(parts.join(", "));
    }
    Ok(out)
}

fn outcome(spec: &TableSpec, exp: &Expectation, failing_rows: Option<u64>) -> RuleOutcome {
    RuleOutcome {
        table: spec.id.to_string(),
        name: exp.display_name(),
        rule: exp.rule.name(),
        severity: exp.severity,
        columns: exp.target_columns().iter().map(|c| c.to_string()).collect(),
        failing_rows,
        rows_checked: 0,
        per_date: Default::default(),
    }
}

fn string_list(values: &[String]) -> Expr {
    lit(Series::new("values".into(), values)).implode(false)
}

/// (true where a row fails, the reason in words), or None when it cannot be evaluated.
fn failure(exp: &Expectation, spec: &TableSpec, refs: &References) -> Result<Option<(Expr, Expr)>> {
    let column = exp.column.clone().unwrap_or_default();
    let c = || col(column.as_str());
    let text = |prefix: String, suffix: &str| {
        concat_str([lit(prefix), c().cast(DataType::String), lit(suffix.to_string())], "", true)
    };
    let (fails, reason) = match exp.rule {
        RuleKind::NotNull => (c().is_null(), lit(format!("{column} is missing"))),
        RuleKind::AcceptedValues => {
            let values = exp.values.clone().unwrap_or_default();
            let fails = c().is_not_null().and(c().cast(DataType::String).is_in(string_list(&values), false).not());
            (fails, text(format!("{column} `"), "` is not an accepted value"))
        }
        RuleKind::Range => {
            let mut out_of_range = lit(false);
            let kind = spec.column(&column).map(|c| c.data_type);
            // Dates and timestamps compare in their physical unit (days, microseconds): exact.
            let physical = || match kind {
                Some(crate::catalog::ColumnType::Date | crate::catalog::ColumnType::Timestamp) => c().cast(DataType::Int64).cast(DataType::Float64),
                _ => c().cast(DataType::Float64),
            };
            if let Some(min) = &exp.min {
                out_of_range = out_of_range.or(physical().lt(lit(min.physical(kind))));
            }
            if let Some(max) = &exp.max {
                out_of_range = out_of_range.or(physical().gt(lit(max.physical(kind))));
            }
            let bounds = match (&exp.min, &exp.max) {
                (Some(a), Some(b)) => format!("[{a}, {b}]"),
                (Some(a), None) => format!(">= {a}"),
                (None, Some(b)) => format!("<= {b}"),
                (None, None) => String::new(),
            };
            (c().is_not_null().and(out_of_range), text(format!("{column} "), &format!(" is outside {bounds}")))
        }
        RuleKind::Unique => {
            let columns: Vec<Expr> = exp.target_columns().iter().map(|n| col(*n)).collect();
            let names = exp.target_columns().join(", ");
            // One column: nulls are not values (as in dbt); several: a null is one group value.
            let fails = if columns.len() == 1 {
                columns[0].clone().is_not_null().and(columns[0].clone().is_duplicated())
            } else {
                as_struct(columns).is_duplicated()
            };
            (fails, lit(format!("({names}) is not unique")))
        }
        RuleKind::Relationships => {
            let (Some(to), Some(to_column)) = (&exp.to, &exp.to_column) else {
                return Err(Error::data(format!("{}: relationships rule without `to`", spec.path.display())));
            };
            let Some(allowed) = refs.get(&(to.clone(), to_column.clone())) else { return Ok(None) };
            let allowed = lit(allowed.cast(&DataType::String).map_err(polars_err)?).implode(false);
            let fails = c().is_not_null().and(c().cast(DataType::String).is_in(allowed, false).not());
            (fails, text(format!("{column} `"), &format!("` is not in {to}.{to_column}")))
        }
    };
    let fails = match &exp.when {
        Some(cond) => col(cond.column.as_str()).cast(DataType::String).is_in(string_list(&cond.values), false).and(fails),
        None => fails,
    };
    // A null comparison is not a failure.
    Ok(Some((fails.fill_null(lit(false)), reason)))
}

#[cfg(test)]
mod tests;
