//! The data-quality log, `ops.quality_runs`: one row per rule per date partition per run of a
//! writing command, appended right after its data commit (see the table's spec for what the
//! columns mean), and read back by `vbda check --history` and `vbda report`.
//!
//! What can go wrong: the project has no `tables/ops/quality_runs.toml` (a project made before
//! the log existed): nothing is logged and a debug line says so. The append fails (storage):
//! the data commit stands, the caller warns, and the next run of the date logs it again.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::catalog::{Catalog, TableId};
use crate::error::Result;
use crate::lake::convert::polars_err;
use crate::lake::{self, CommitInfo, Lakehouse, PartitionFilter, WriteOutcome};
use crate::quality::RuleOutcome;

pub const TABLE: &str = "ops.quality_runs";

/// One row of the log, before the run's own columns are added.
#[derive(Debug, Clone, Serialize)]
pub struct QualityRow {
    pub table: String,
    pub rule: String,
    pub severity: String,
    pub date: Option<NaiveDate>,
    pub rows_checked: Option<u64>,
    pub rows_failing: Option<u64>,
    pub table_version: Option<i64>,
}

/// One run's entries.
#[derive(Debug, Clone)]
pub struct QualityRun {
    pub command: String,
    pub started: DateTime<Utc>,
    pub source_versions: BTreeMap<String, i64>,
    pub rows: Vec<QualityRow>,
}

impl QualityRun {
    pub fn new(command: &str, started: DateTime<Utc>) -> Self {
        Self {
            command: command.to_string(),
            started,
            source_versions: BTreeMap::new(),
            rows: Vec::new(),
        }
    }

    pub fn source(mut self, table: &TableId, version: i64) -> Self {
        self.source_versions.insert(table.to_string(), version);
        self
    }

    /// The expectations' outcomes for the table version the run committed. `dates` are the
    /// date partitions the run rebuilt (empty for a table without them): each gets a row per
    /// rule, with zero rows when the date ended up empty, and with null counts when the rule
    /// could not be evaluated.
    pub fn outcomes(&mut self, outcomes: &[RuleOutcome], table_version: Option<i64>, dates: &[NaiveDate]) {
        for o in outcomes {
            let row = |date: Option<NaiveDate>, checked: Option<u64>, failing: Option<u64>| QualityRow {
                table: o.table.clone(),
                rule: o.name.clone(),
                severity: o.severity.name().to_string(),
                date,
                rows_checked: checked,
                rows_failing: failing,
                table_version,
            };
            if dates.is_empty() {
                self.rows.push(row(None, o.failing_rows.map(|_| o.rows_checked), o.failing_rows));
                continue;
            }
            for date in dates {
                let counts = match (o.failing_rows, o.per_date.get(date)) {
                    (None, _) => (None, None),
                    (Some(_), Some((checked, failing))) => (Some(*checked), Some(*failing)),
                    (Some(_), None) => (Some(0), Some(0)),
                };
                self.rows.push(row(Some(*date), counts.0, counts.1));
            }
        }
    }

    /// Append the run's rows to the log (nothing when there are none, or no spec for it).
    pub async fn record(
        &self,
        lake: &Lakehouse,
        catalog: &Catalog,
    ) -> Result<Option<WriteOutcome>> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let Ok(spec) = catalog.table(TABLE) else {
            tracing::debug!(
                "no tables/ops/quality_runs.toml in the project: the quality log is not written"
            );
            return Ok(None);
        };
        let df = self.frame().map_err(polars_err)?;
        let batches = lake::df_to_batches(&df, &lake::arrow_schema(spec))?;
        let table = lake.open_or_create(spec).await?;
        let mut info = CommitInfo::new(&format!("{} (quality log)", self.command))
            .with_count("rows", self.rows.len() as u64);
        for (t, v) in &self.source_versions {
            if let Some(id) = TableId::parse(t) {
                info = info.with_source(&id, *v);
            }
        }
        let (_, outcome) = lake::append(table, spec, batches, info).await?;
        Ok(Some(outcome))
    }

    fn frame(&self) -> PolarsResult<DataFrame> {
        let n = self.rows.len();
        let run_id = uuid::Uuid::new_v4().to_string();
        let sources = serde_json::to_string(&self.source_versions).unwrap_or_else(|_| "{}".into());
        let days = |d: NaiveDate| {
            (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
        };
        let r = &self.rows;
        let run_at = Series::new("run_at".into(), vec![self.started.timestamp_micros(); n])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
        let date = Series::new(
            "date".into(),
            r.iter().map(|x| x.date.map(days)).collect::<Vec<_>>(),
        )
        .cast(&DataType::Date)?;
        let run_date = Series::new("run_date".into(), vec![days(self.started.date_naive()); n])
            .cast(&DataType::Date)?;
        let long = |name: &str, f: &dyn Fn(&QualityRow) -> Option<i64>| {
            Series::new(name.into(), r.iter().map(f).collect::<Vec<_>>())
        };
        DataFrame::new_infer_height(vec![
            Series::new("run_id".into(), vec![run_id; n]).into(),
            run_at.into(),
            Series::new("command".into(), vec![self.command.clone(); n]).into(),
            Series::new(
                "table_name".into(),
                r.iter().map(|x| x.table.clone()).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "rule".into(),
                r.iter().map(|x| x.rule.clone()).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "severity".into(),
                r.iter().map(|x| x.severity.clone()).collect::<Vec<_>>(),
            )
            .into(),
            date.into(),
            long("rows_checked", &|x| x.rows_checked.map(|v| v as i64)).into(),
            long("rows_failing", &|x| x.rows_failing.map(|v| v as i64)).into(),
            Series::new(
                "passed".into(),
                r.iter()
                    .map(|x| x.rows_failing.map(|f| f == 0))
                    .collect::<Vec<_>>(),
            )
            .into(),
            long("table_version", &|x| x.table_version).into(),
            Series::new("source_versions".into(), vec![sources; n]).into(),
            run_date.into(),
        ])
    }
}

/// Which part of the log to read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryFilter {
    /// Runs started on these UTC dates (inclusive); None for all.
    pub run_dates: Option<(NaiveDate, NaiveDate)>,
    pub table: Option<String>,
    /// Only rows whose rule failed some rows.
    pub failing_only: bool,
}

/// The log's rows (newest run first, then table, rule, date); None when the log does not
/// exist yet.
pub async fn history(
    lake: &Lakehouse,
    catalog: &Catalog,
    filter: &HistoryFilter,
) -> Result<Option<DataFrame>> {
    // A project made before the log existed has no spec for it: nothing was logged.
    let Ok(spec) = catalog.table(TABLE) else {
        return Ok(None);
    };
    let Some(table) = lake.open(spec).await? else {
        return Ok(None);
    };
    let partitions = match filter.run_dates {
        Some((from, to)) => {
            let days: Vec<String> = from
                .iter_days()
                .take_while(|d| *d <= to)
                .map(|d| d.to_string())
                .collect();
            PartitionFilter::values_of("run_date", &days)
        }
        None => PartitionFilter::all(),
    };
    let mut lf = lake::read_partitions(&table, spec, &partitions).await?;
    if let Some(t) = &filter.table {
        lf = lf.filter(col("table_name").eq(lit(t.clone())));
    }
    if filter.failing_only {
        lf = lf.filter(col("rows_failing").gt(lit(0)));
    }
    let sorted = lf.sort_by_exprs(
        [col("run_at"), col("table_name"), col("rule"), col("date")],
        SortMultipleOptions::default()
            .with_order_descending_multi([true, false, false, false])
            .with_nulls_last(true),
    );
    let df = tokio::task::block_in_place(|| sorted.collect()).map_err(polars_err)?;
    Ok(Some(df))
}
