//! `vbda sql "SELECT ..."`: ad-hoc SQL (Polars SQL) over the catalog's tables by name
//! (`gold.daily_kpis`, `silver.video_events`). Only the tables a query names are opened; each
//! is read at its current version, or at `--at-version N` when the query names one table.
//!
//! Date partitions are pruned when that is provably safe: the query is one SELECT over one
//! catalog table named once (no join, subquery or set operation), and the top level of its
//! WHERE is an AND of conditions on the table's date partition column (`=`, `IN`, `BETWEEN`,
//! `<`, `<=`, `>`, `>=` against `'YYYY-MM-DD'` or `DATE '...'`). Only those partitions' files
//! are read; the filter itself still runs in Polars, so pruning never changes the result.
//! Anything else reads every partition.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use sqlparser::ast::{BinaryOperator, Expr, SetExpr, Statement, TableFactor, Value};

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result};
use crate::lake::convert::polars_message;
use crate::lake::{self, Lakehouse, PartitionFilter};

#[derive(Debug, Clone, Serialize)]
pub struct SqlSettings {
    pub query: String,
    /// Read the one table the query names at this version.
    pub at_version: Option<i64>,
}

/// How one table was read.
#[derive(Debug, Clone, Serialize)]
pub struct TableRead {
    pub table: String,
    pub version: Option<i64>,
    /// The date partitions read when pruned; None when every partition was read.
    pub partitions: Option<Vec<String>>,
}

pub struct SqlResult {
    pub frame: DataFrame,
    pub tables: Vec<TableRead>,
    pub seconds: f64,
}

pub async fn sql(lake: &Lakehouse, catalog: &Catalog, s: &SqlSettings) -> Result<SqlResult> {
    let started = Instant::now();
    let (query, named) = rewrite(&s.query, catalog);
    if named.is_empty() {
        let known: Vec<String> = catalog.tables().map(|t| t.id.to_string()).collect();
        return Err(Error::data("the query names no catalog table").with_hint(format!("name tables as layer.name: {}", known.join(", "))));
    }
    if s.at_version.is_some() && named.len() > 1 {
        return Err(Error::data(format!("--at-version needs a query over one table; this one names {}", named.len()))
            .with_hint("run one query per table, or drop --at-version"));
    }
    let prune = match named.as_slice() {
        [(spec, 1)] => spec.date_partition().and_then(|column| pruned_dates(&query, &alias(spec), column)),
        _ => None,
    };
    let mut ctx = polars::sql::SQLContext::new();
    let mut tables = Vec::new();
    for (spec, _) in &named {
        let Some(mut t) = lake.open(spec).await? else {
            return Err(Error::data(format!("table {} does not exist yet", spec.id)).with_hint("`vbda tables` shows which tables have been created"));
        };
        if let Some(v) = s.at_version {
            let current = t.version().map(|v| v as i64).unwrap_or(0);
            if v < 0 || v > current {
                return Err(Error::data(format!("{} has no version {v}: its versions are 0 to {current}", spec.id)));
            }
            t.load_version(v as u64).await.map_err(|e| lake::from_delta(e, format!("cannot read version {v} of {}", spec.id)))?;
        }
        // Date-partitioned tables are scanned lazily (Polars pushes the query's projection and
        // filters into the files: `COUNT(*)` over silver never loads the payloads).
        let (frame, partitions) = match spec.date_partition() {
            Some(column) => {
                let all = lake::partition_values(&t, column)?;
                let values: Vec<String> = all.into_iter().filter(|d| prune.as_ref().is_none_or(|r| r.admits(d))).collect();
                let frame = lake::scan_partitions(&t, spec, column, &values).await?;
                (frame, prune.is_some().then_some(values))
            }
            None => (lake::read_partitions(&t, spec, &PartitionFilter::all()).await?, None),
        };
        ctx.register(&alias(spec), frame);
        tables.push(TableRead { table: spec.id.to_string(), version: t.version().map(|v| v as i64), partitions });
    }
    let frame = tokio::task::block_in_place(|| ctx.execute(&query).and_then(|plan| plan.collect())).map_err(|e| {
        let message = polars_message(&e).replace("__", ".");
        Error::data(format!("the query failed: {message}")).with_hint("tables are named layer.name; `vbda describe TABLE` lists a table's columns")
    })?;
    Ok(SqlResult { frame, tables, seconds: started.elapsed().as_secs_f64() })
}

/// The name a table is registered under: `gold.daily_kpis` -> `gold__daily_kpis` (Polars SQL
/// would read the dot as a schema).
fn alias(spec: &TableSpec) -> String {
    format!("{}__{}", spec.id.layer, spec.id.name)
}

/// The query with each catalog table name replaced by its alias, and the tables it names with
/// how many times. Names inside string literals are left alone.
fn rewrite<'c>(query: &str, catalog: &'c Catalog) -> (String, Vec<(&'c TableSpec, usize)>) {
    let mut out = query.to_string();
    let mut named = Vec::new();
    for spec in catalog.tables() {
        let name = spec.id.to_string();
        let (text, n) = replace_word(&out, &name, &alias(spec));
        if n > 0 {
            named.push((spec, n));
            out = text;
        }
    }
    (out, named)
}

/// Replace whole-word occurrences of `name` outside single-quoted strings.
fn replace_word(text: &str, name: &str, with: &str) -> (String, usize) {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let (mut n, mut quoted, mut i) = (0, false, 0);
    let bytes = text.as_bytes();
    while i < text.len() {
        let rest = &text[i..];
        if bytes[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && rest.starts_with(name) {
            let before = text[..i].chars().next_back();
            let after = rest[name.len()..].chars().next();
            if !before.is_some_and(word) && !after.is_some_and(word) {
                out.push_str(with);
                i += name.len();
                n += 1;
                continue;
            }
        }
        let c = rest.chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    (out, n)
}

/// The dates a query's top-level WHERE admits for `column`, or None when it cannot be shown.
#[derive(Debug, Default, PartialEq)]
struct DateRange {
    /// Inclusive bounds.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// An explicit set (from `=` and `IN`), intersected.
    only: Option<BTreeSet<NaiveDate>>,
}

impl DateRange {
    fn admits(&self, partition: &str) -> bool {
        let Ok(d) = NaiveDate::parse_from_str(partition, "%Y-%m-%d") else { return true };
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t) && self.only.as_ref().is_none_or(|s| s.contains(&d))
    }

    fn narrow_from(&mut self, d: NaiveDate) {
        self.from = Some(self.from.map_or(d, |f| f.max(d)));
    }

    fn narrow_to(&mut self, d: NaiveDate) {
        self.to = Some(self.to.map_or(d, |t| t.min(d)));
    }

    fn narrow_to_set(&mut self, set: BTreeSet<NaiveDate>) {
        self.only = Some(match self.only.take() {
            None => set,
            Some(s) => s.intersection(&set).copied().collect(),
        });
    }
}

fn pruned_dates(query: &str, table: &str, column: &str) -> Option<DateRange> {
    let dialect = sqlparser::dialect::GenericDialect {};
    let statements = sqlparser::parser::Parser::parse_sql(&dialect, query).ok()?;
    let [Statement::Query(q)] = statements.as_slice() else { return None };
    if q.with.is_some() {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else { return None };
    let [from] = select.from.as_slice() else { return None };
    if !from.joins.is_empty() {
        return None;
    }
    let TableFactor::Table { name, .. } = &from.relation else { return None };
    if name.to_string() != table {
        return None;
    }
    let mut range = DateRange::default();
    let mut conjuncts = vec![select.selection.as_ref()?];
    let mut useful = false;
    while let Some(e) = conjuncts.pop() {
        match e {
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                conjuncts.push(left);
                conjuncts.push(right);
            }
            Expr::Nested(inner) => conjuncts.push(inner),
            Expr::BinaryOp { left, op, right } => {
                // `column op 'date'` or `'date' op column`.
                let (op, d) = match (is_column(left, column), is_column(right, column), date_of(right), date_of(left)) {
                    (true, _, Some(d), _) => (op.clone(), d),
                    (_, true, _, Some(d)) => (flip(op)?, d),
                    _ => continue,
                };
                match op {
                    BinaryOperator::Eq => range.narrow_to_set([d].into()),
                    BinaryOperator::GtEq => range.narrow_from(d),
                    BinaryOperator::Gt => range.narrow_from(d.succ_opt()?),
                    BinaryOperator::LtEq => range.narrow_to(d),
                    BinaryOperator::Lt => range.narrow_to(d.pred_opt()?),
                    _ => continue,
                }
                useful = true;
            }
            Expr::Between { expr, negated: false, low, high } if is_column(expr, column) => {
                if let (Some(a), Some(b)) = (date_of(low), date_of(high)) {
                    range.narrow_from(a);
                    range.narrow_to(b);
                    useful = true;
                }
            }
            Expr::InList { expr, list, negated: false } if is_column(expr, column) => {
                let dates: Option<BTreeSet<NaiveDate>> = list.iter().map(date_of).collect();
                if let Some(dates) = dates {
                    range.narrow_to_set(dates);
                    useful = true;
                }
            }
            _ => {}
        }
    }
    useful.then_some(range)
}

fn flip(op: &BinaryOperator) -> Option<BinaryOperator> {
    Some(match op {
        BinaryOperator::Eq => BinaryOperator::Eq,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        _ => return None,
    })
}

fn is_column(e: &Expr, column: &str) -> bool {
    match e {
        Expr::Identifier(i) => i.value == column,
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|i| i.value == column),
        Expr::Nested(inner) => is_column(inner, column),
        _ => false,
    }
}

fn date_of(e: &Expr) -> Option<NaiveDate> {
    let text = match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            _ => return None,
        },
        Expr::TypedString(t) => match &t.value.value {
            Value::SingleQuotedString(s) => s.clone(),
            _ => return None,
        },
        Expr::Nested(inner) => return date_of(inner),
        _ => return None,
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn only_provably_safe_date_predicates_prune() {
        let r = pruned_dates("SELECT * FROM gold__daily_kpis WHERE date = '2025-01-02'", "gold__daily_kpis", "date").unwrap();
        assert!(r.admits("2025-01-02") && !r.admits("2025-01-01"));
        let r = pruned_dates(
            "SELECT COUNT(*) FROM t WHERE (date BETWEEN '2025-01-01' AND '2025-01-31') AND x > 3 AND DATE '2025-01-10' <= date",
            "t",
            "date",
        )
        .unwrap();
        assert!(r.admits("2025-01-10") && r.admits("2025-01-31") && !r.admits("2025-01-09") && !r.admits("2025-02-01"));
        let r = pruned_dates("SELECT * FROM t WHERE date IN ('2025-01-01', '2025-01-03') AND date > '2025-01-01'", "t", "date").unwrap();
        assert_eq!(r.only, Some([d("2025-01-01"), d("2025-01-03")].into()));
        assert!(!r.admits("2025-01-01") && r.admits("2025-01-03"));
        // Not provable: OR, NOT IN, a join, a subquery, a union, another column, no WHERE.
        for q in [
            "SELECT * FROM t WHERE date = '2025-01-01' OR x = 1",
            "SELECT * FROM t WHERE date NOT IN ('2025-01-01')",
            "SELECT * FROM t JOIN u ON t.a = u.a WHERE date = '2025-01-01'",
            "SELECT * FROM (SELECT * FROM t) WHERE date = '2025-01-01'",
            "SELECT * FROM t WHERE date = '2025-01-01' UNION ALL SELECT * FROM t",
            "SELECT * FROM t WHERE other = '2025-01-01'",
            "SELECT * FROM t",
            "WITH a AS (SELECT * FROM t) SELECT * FROM t WHERE date = '2025-01-01'",
            "not sql at all",
        ] {
            assert_eq!(pruned_dates(q, "t", "date"), None, "{q}");
        }
    }

    #[test]
    fn table_names_are_replaced_as_whole_words_outside_strings() {
        assert_eq!(replace_word("SELECT * FROM gold.daily_kpis", "gold.daily_kpis", "g"), ("SELECT * FROM g".into(), 1));
        assert_eq!(replace_word("SELECT 'gold.daily_kpis' FROM gold.daily_kpis_x", "gold.daily_kpis", "g").1, 0);
        assert_eq!(replace_word("SELECT a.x FROM gold.daily_kpis a, gold.daily_kpis b", "gold.daily_kpis", "g").1, 2);
    }
}
