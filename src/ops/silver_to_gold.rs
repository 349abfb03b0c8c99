//! `vbda silver-to-gold --date D | --from D1 --to D2 | (incremental) [--model NAME]`: builds
//! the gold tables from silver with the SQL models in `jobs/`.
//!
//! A gold model is a job spec with a `sql` file that writes one `gold.*` table. For the dates
//! being built, the runner registers three inputs for Polars SQL: `silver_video_events` (the
//! silver rows of those dates, plus the `lookback_days` before each for models with a rolling
//! window), `silver_content` (the catalog, empty when never loaded) and `run_dates(date)`. The
//! result must have the gold spec's columns; it is cast to the spec's types, its dates must be
//! among the dates being built, and the spec's expectations run on it. Only when every model
//! has passed does anything get written: each gold table's `date` partitions of those dates
//! are replaced in one commit (write-audit-publish), so a rerun gives the same rows and a
//! crash between two tables' commits is repaired by the rerun.
//!
//! Without dates it runs incrementally, per model: the silver version the model last
//! processed is recorded in its gold table's commit as an application transaction
//! (`vbda.silver-to-gold`); the next run rebuilds the dates that the silver commits since
//! then added or removed files in (late events included) and, for a model with a lookback,
//! the later dates whose window contains them (among the dates that have silver events or
//! were built before). A reloaded content catalog does not by itself trigger a rebuild:
//! `--model content_daily --from D1 --to D2` refreshes titles and genres.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use serde::Serialize;
use tracing::{debug, info};

use crate::catalog::{Catalog, JobSpec, Problem, TableSpec};
use crate::error::{Context, Error, Result};
use crate::lake::convert::{polars_err, polars_message, polars_type};
use crate::ops::quality_log::QualityRun;
use crate::lake::{self, CommitInfo, Lakehouse, PartitionFilter, Table, WriteOutcome};
use crate::quality::{self, RuleOutcome};
use crate::telemetry::Progress;

/// The application id under which incremental runs record the silver version they processed.
pub const INCREMENTAL_APP: &str = "vbda.silver-to-gold";

/// Models with a lookback build their as-of dates this many at a time, so a long backfill
/// reads a bounded window of silver per query.
const LOOKBACK_CHUNK: usize = 7;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SilverToGoldSettings {
    /// The dates to build; empty for incremental.
    pub dates: Vec<NaiveDate>,
    /// Only this model (job name, or the gold table it writes).
    pub model: Option<String>,
    /// The command line, recorded in commit info.
    #[serde(skip)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub table: String,
    /// The dates rebuilt (their partitions were replaced, possibly by no rows).
    pub dates: Vec<NaiveDate>,
    pub rows: u64,
    pub rows_per_date: BTreeMap<NaiveDate, u64>,
    /// None when the model had nothing to do.
    pub write: Option<WriteOutcome>,
    pub rules: Vec<RuleOutcome>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SilverToGoldReport {
    pub silver_version: i64,
    pub content_version: Option<i64>,
    pub incremental: bool,
    /// Dates asked for that silver has no events of (nor, for a model with a lookback, of its
    /// window) and that gold holds nothing of: nothing built or written (a mistyped date?).
    pub dates_without_silver: Vec<NaiveDate>,
    pub models: Vec<ModelReport>,
    pub seconds: f64,
}

/// A model's result, computed and audited but not yet written.
struct Built {
    job: JobSpec,
    spec: TableSpec,
    dates: Vec<NaiveDate>,
    rows: DataFrame,
    report: ModelReport,
}

pub async fn silver_to_gold(lake: &Lakehouse, catalog: &Catalog, settings: &SilverToGoldSettings) -> Result<SilverToGoldReport> {
    let started = Instant::now();
    let run_at = chrono::Utc::now();
    let models = gold_models(catalog, settings.model.as_deref())?;
    let silver_spec = catalog.table("silver.video_events")?;
    let content_spec = catalog.table("silver.content")?;
    let no_silver = || Error::data("silver.video_events does not exist yet").with_hint("run `vbda bronze-to-silver` first");
    Table::open(lake, silver_spec).await?.ok_or_else(no_silver)?;
    // The gold tables are opened before silver is read: a run that commits to them in the
    // meantime then conflicts with this one instead of being silently overwritten.
    let mut targets = std::collections::HashMap::new();
    for job in &models {
        let spec = catalog.table(&job.writes[0])?;
        targets.insert(job.name.clone(), Table::open_or_create(lake, spec).await?);
    }
    let silver = Table::open(lake, silver_spec).await?.ok_or_else(no_silver)?;
    let silver_version = silver.version().unwrap_or(0);
    let (content, content_version) = match lake.open(content_spec).await? {
        Some(t) => (lake::read_partitions(&t, content_spec, &PartitionFilter::all()).await?, t.version().map(|v| v as i64)),
        None => (lake::batches_to_df(&[], &lake::arrow_schema(content_spec))?.lazy(), None),
    };
    let incremental = settings.dates.is_empty();
    let all_silver_dates = partition_dates(&silver, "event_date")?;
    let silver_dates = if incremental { Some(all_silver_dates.clone()) } else { None };
    let dates_without_silver: Vec<NaiveDate> = settings.dates.iter().filter(|d| !all_silver_dates.contains(d)).copied().collect();
    if !incremental && !dates_without_silver.is_empty() {
        let shown: Vec<String> = dates_without_silver.iter().map(NaiveDate::to_string).collect();
        tracing::warn!(dates = %shown.join(", "), "Silver has no events of these dates; models are built for them only where gold has rows to replace or a lookback window has events. A mistyped date?");
    }

    let mut built = Vec::new();
    let progress = Progress::new("silver-to-gold", models.len() as u64, false);
    for job in models {
        let model_started = Instant::now();
        let spec = catalog.table(&job.writes[0])?.clone();
        let dates = match &silver_dates {
            None => worth_building(&settings.dates, &all_silver_dates, &targets[&job.name], job.lookback_days)?,
            Some(all) => incremental_dates(&targets[&job.name], &silver, silver_version, &job, all).await?,
        };
        let mut report = ModelReport {
            model: job.name.clone(),
            table: spec.id.to_string(),
            dates: dates.clone(),
            rows: 0,
            rows_per_date: BTreeMap::new(),
            write: None,
            rules: Vec::new(),
            seconds: 0.0,
        };
        if dates.is_empty() {
            info!(model = %job.name, "Nothing new in silver for this model.");
            built.push(Built { job: job.clone(), spec, dates, rows: DataFrame::empty(), report });
            progress.inc(1);
            continue;
        }
        let chunks: Vec<Vec<NaiveDate>> = if job.lookback_days > 0 {
            dates.chunks(LOOKBACK_CHUNK).map(<[NaiveDate]>::to_vec).collect()
        } else {
            vec![dates.clone()]
        };
        let mut parts = Vec::new();
        for chunk in chunks {
            let read: BTreeSet<String> = chunk
                .iter()
                .flat_map(|d| (0..=job.lookback_days as i64).filter_map(move |back| d.checked_sub_signed(Duration::days(back))))
                .map(|d| d.to_string())
                .collect();
            let read: Vec<String> = read.into_iter().collect();
            let events = lake::scan_partitions(silver.delta(), silver_spec, "event_date", &read).await?;
            let out = tokio::task::block_in_place(|| run_sql(&job, events, content.clone(), &chunk))?;
            parts.push(out);
        }
        let rows = conform(&job, &spec, parts, &dates)?;
        let refs = crate::quality::references(lake, catalog, &spec).await?;
        let (rows, audit) = tokio::task::block_in_place(|| quality::audit(rows, &spec, &refs))?;
        if let Some(err) = audit.fail_error() {
            // `context` keeps the failed rules (for the run's metrics).
            return Err(err
                .context(format!("gold model {}", job.name))
                .with_hint(format!("the SQL is {}; the rules are in tables/gold/{}.toml", sql_path(&job), spec.id.name)));
        }
        let rows = rows.drop_many([quality::RULE_COLUMN, quality::REASON_COLUMN]);
        report.rows = rows.height() as u64;
        report.rows_per_date = rows_per_date(&rows)?;
        report.rules = audit.outcomes;
        report.seconds = model_started.elapsed().as_secs_f64();
        debug!(model = %job.name, rows = report.rows, "Model computed.");
        built.push(Built { job: job.clone(), spec, dates, rows, report });
        progress.inc(1);
    }
    progress.finish();

    // Publish: every model passed its audit.
    let mut reports = Vec::new();
    for b in built {
        let Built { job, spec, dates, rows, mut report } = b;
        if dates.is_empty() {
            reports.push(report);
            continue;
        }
        let publish_started = Instant::now();
        let date_strings: Vec<String> = dates.iter().map(NaiveDate::to_string).collect();
        let mut info = CommitInfo::new("silver-to-gold")
            .with_args(settings.args.iter().cloned())
            .with_source(&silver_spec.id, silver_version)
            .with_count("rows", report.rows)
            .with_detail("model", serde_json::json!(job.name))
            .with_detail("dates", serde_json::json!(date_strings))
            .with_detail("rows_per_date", serde_json::to_value(&report.rows_per_date).unwrap_or_default());
        if let (true, Some(v)) = (job.reads.iter().any(|r| r == "silver.content"), content_version) {
            info = info.with_source(&content_spec.id, v);
        }
        if incremental {
            info = info.with_transaction(INCREMENTAL_APP, silver_version);
        }
        let batches = lake::df_to_batches(&rows, &lake::arrow_schema(&spec))?;
        let mut table = targets.remove(&job.name).expect("every model's table was opened");
        crate::failpoint::hit("silver_to_gold.before_commit");
        let outcome = table.overwrite_partitions("date", &date_strings, batches, info).await?;
        crate::failpoint::hit("silver_to_gold.after_commit");
        info!(model = %job.name, version = outcome.version, rows = report.rows, "Rebuilt gold dates.");
        report.write = Some(outcome);
        report.seconds += publish_started.elapsed().as_secs_f64();
        reports.push(report);
    }
    // The quality log: every written model's rules, per date, in one append.
    let mut log = QualityRun::new("silver-to-gold", run_at).source(&silver_spec.id, silver_version);
    if let Some(v) = content_version {
        log = log.source(&content_spec.id, v);
    }
    for r in &reports {
        if let Some(w) = &r.write {
            log.outcomes(&r.rules, Some(w.version), &r.dates);
        }
    }
    if let Err(e) = log.record(lake, catalog).await {
        tracing::warn!("gold is committed, but the quality log ops.quality_runs could not be appended: {e}");
    }
    Ok(SilverToGoldReport {
        silver_version,
        content_version,
        incremental,
        dates_without_silver,
        models: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The dates given that a model has anything to do for: silver has events in the date's
/// window (the date itself, and the `lookback` days before it), or gold holds rows of it to
/// replace. Building any other date would commit an empty version on every rerun.
fn worth_building(dates: &[NaiveDate], silver: &BTreeSet<NaiveDate>, gold: &Table, lookback: u32) -> Result<Vec<NaiveDate>> {
    let in_gold = if gold.version().is_some() { partition_dates(gold, "date")? } else { BTreeSet::new() };
    Ok(dates
        .iter()
        .filter(|d| {
            let from = d.checked_sub_signed(Duration::days(lookback as i64)).unwrap_or(NaiveDate::MIN);
            in_gold.contains(d) || silver.range(from..=**d).next().is_some()
        })
        .copied()
        .collect())
}

/// The gold models to run: jobs with SQL that write a `gold.*` table, in dependency-free
/// name order, or the one named by `--model` (job name or table name).
fn gold_models<'a>(catalog: &'a Catalog, only: Option<&str>) -> Result<Vec<&'a JobSpec>> {
    let all: Vec<&JobSpec> = catalog
        .jobs()
        .filter(|j| j.sql.is_some() && j.writes.first().is_some_and(|w| w.starts_with("gold.")))
        .collect();
    let Some(name) = only else { return Ok(all) };
    let wanted = name.strip_prefix("gold.").unwrap_or(name);
    match all.iter().find(|j| j.name == wanted || j.writes[0] == format!("gold.{wanted}")) {
        Some(j) => Ok(vec![*j]),
        None => {
            let known: Vec<&str> = all.iter().map(|j| j.name.as_str()).collect();
            Err(Error::data(format!("no such gold model: `{name}`")).with_hint(format!("known models: {}", known.join(", "))))
        }
    }
}

/// Run a model's SQL over the silver events of one set of dates.
fn run_sql(job: &JobSpec, events: LazyFrame, content: LazyFrame, dates: &[NaiveDate]) -> Result<DataFrame> {
    let sql = job.sql.as_deref().unwrap_or_default();
    let days: Vec<i32> = dates.iter().map(|d| crate::lake::days_since_epoch(*d)).collect();
    let run_dates = DataFrame::new_infer_height(vec![Column::new("date".into(), days)])
        .and_then(|df| df.lazy().with_column(col("date").cast(DataType::Date)).collect())
        .map_err(polars_err)?;
    let plan = sql_context(events, content, run_dates.lazy()).execute(sql).map_err(|e| {
        Error::data(format!("gold model {}: the SQL in {} does not plan: {}", job.name, sql_path(job), polars_message(&e)))
            .with_hint("`vbda validate` lists every model's problems with their lines")
    })?;
    let out = plan.collect_with_engine(Engine::Streaming).map_err(|e| {
        Error::data(format!("gold model {}: the SQL in {} failed: {}", job.name, sql_path(job), polars_message(&e)))
            .with_hint("`vbda validate` lists every model's problems with their lines")
    })?;
    Ok(out.unwrap_single())
}

/// The tables a gold model's SQL reads, by the names it uses.
fn sql_context(events: LazyFrame, content: LazyFrame, run_dates: LazyFrame) -> polars::sql::SQLContext {
    let ctx = polars::sql::SQLContext::new();
    ctx.register("silver_video_events", events);
    ctx.register("silver_content", content);
    ctx.register("run_dates", run_dates);
    ctx
}

/// Plan and run every gold model's SQL on empty frames of the silver schemas, and compare
/// its result columns with its gold spec: a syntax error, an unknown column or table, or a
/// SELECT list that does not match the spec is found in milliseconds, before any data is
/// read. Every model is tried; each problem names the SQL file, the line when the error names
/// something found in the SQL, and a suggestion. Returns how many models were planned too.
pub fn plan_models(catalog: &Catalog) -> Result<(usize, Vec<Problem>)> {
    let models = gold_models(catalog, None)?;
    if models.is_empty() {
        return Ok((0, Vec::new()));
    }
    let planned = models.len();
    let silver = catalog.table("silver.video_events")?;
    let content = catalog.table("silver.content")?;
    let empty = |spec: &TableSpec| lake::batches_to_df(&[], &lake::arrow_schema(spec)).map(DataFrame::lazy);
    let (events, content_frame) = (empty(silver)?, empty(content)?);
    let run_dates = DataFrame::new_infer_height(vec![Column::new("date".into(), Vec::<i32>::new())])
        .and_then(|df| df.lazy().with_column(col("date").cast(DataType::Date)).collect())
        .map_err(polars_err)?
        .lazy();
    let columns: Vec<&str> = silver.columns.iter().chain(&content.columns).map(|c| c.name.as_str()).collect();
    let mut problems = Vec::new();
    for job in models {
        let sql = job.sql.as_deref().unwrap_or_default();
        let file = std::path::PathBuf::from(sql_path(job));
        let result = sql_context(events.clone(), content_frame.clone(), run_dates.clone())
            .execute(sql)
            .and_then(|plan| plan.collect());
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                problems.push(sql_problem(&file, sql, &polars_message(&e), &columns));
                continue;
            }
        };
        let Ok(spec) = catalog.table(&job.writes[0]) else { continue };
        let names: Vec<String> = out.get_column_names().iter().map(|n| n.to_string()).collect();
        for name in names.iter().filter(|n| spec.column(n).is_none()) {
            let mut p = Problem::at_line(&file, line_of(sql, name), format!("returns column `{name}`, which {} does not have", spec.id));
            p.suggestion = crate::catalog::closest(name, spec.columns.iter().map(|c| c.name.as_str()));
            problems.push(p);
        }
        let missing: Vec<&str> = spec.columns.iter().filter(|c| !names.contains(&c.name)).map(|c| c.name.as_str()).collect();
        if !missing.is_empty() {
            problems.push(Problem::in_file(
                &file,
                format!("does not return {}'s column(s) {} (add them to the SELECT list)", spec.id, missing.join(", ")),
            ));
        }
    }
    Ok((planned, problems))
}

/// A Polars SQL error as a problem: the line of the name it complains about, and the known
/// column closest to it.
fn sql_problem(file: &std::path::Path, sql: &str, message: &str, columns: &[&str]) -> Problem {
    let first = message.lines().next().unwrap_or(message);
    // The suggestion replaces Polars' list of every valid column.
    let first = first.split("; valid columns:").next().unwrap_or(first).to_string();
    // Polars quotes the offending name: `unable to find column "x"`, `relation 'x' was not found`.
    let named = ['"', '\'', '`'].iter().find_map(|q| {
        let start = first.find(*q)? + 1;
        let len = first[start..].find(*q)?;
        Some(first[start..start + len].to_string())
    });
    // The SQL parser gives the position itself: `... at Line: 17, Column: 5`.
    let parsed_line = first.split_once("Line: ").and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
    let line = parsed_line.or_else(|| named.as_deref().and_then(|n| line_of(sql, n)));
    let mut p = Problem::at_line(file, line, first);
    p.suggestion = named.as_deref().and_then(|n| crate::catalog::closest(n, columns.iter().copied()));
    p
}

/// The first line (1-based) where `name` appears in `sql` as a whole word, outside `--` comments.
fn line_of(sql: &str, name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    sql.lines().position(|line| {
        let line = line.split("--").next().unwrap_or(line);
        line.match_indices(name).any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + name.len()..].chars().next();
            !before.is_some_and(word) && !after.is_some_and(word)
        })
    })
    .map(|i| i + 1)
}

/// Check a model's output against its gold spec and cast it to the spec's types.
fn conform(job: &JobSpec, spec: &TableSpec, parts: Vec<DataFrame>, dates: &[NaiveDate]) -> Result<DataFrame> {
    let mut out: Option<DataFrame> = None;
    for part in parts {
        let names: Vec<String> = part.get_column_names().iter().map(|n| n.to_string()).collect();
        let unknown: Vec<&String> = names.iter().filter(|n| spec.column(n).is_none()).collect();
        let missing: Vec<&str> = spec.columns.iter().filter(|c| !names.contains(&c.name)).map(|c| c.name.as_str()).collect();
        if !unknown.is_empty() || !missing.is_empty() {
            return Err(Error::data(format!(
                "gold model {}: the SQL in {} returns columns that do not match {} (missing: [{}]; not in the spec: [{}])",
                job.name,
                sql_path(job),
                spec.id,
                missing.join(", "),
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .with_hint(format!("make the SELECT list match the columns of tables/gold/{}.toml", spec.id.name)));
        }
        let typed = part
            .lazy()
            .select(spec.columns.iter().map(|c| col(c.name.as_str()).strict_cast(polars_type(c.data_type))).collect::<Vec<_>>())
            .collect()
            .map_err(|e| {
                Error::data(format!("gold model {}: a column of its result does not convert to the spec's type", job.name)).with_source(e)
            })?;
        out = Some(match out {
            None => typed,
            Some(mut acc) => {
                acc.vstack_mut(&typed).map_err(polars_err)?;
                acc
            }
        });
    }
    let out = out.unwrap_or_default();
    let wanted: BTreeSet<NaiveDate> = dates.iter().copied().collect();
    for (d, _) in rows_per_date(&out)? {
        if !wanted.contains(&d) {
            return Err(Error::data(format!(
                "gold model {}: the SQL in {} returned rows for {d}, which is not a date being built",
                job.name,
                sql_path(job)
            ))
            .with_hint("group by event_date (or run_dates.date) and name it `date`"));
        }
    }
    Ok(out)
}

fn rows_per_date(df: &DataFrame) -> Result<BTreeMap<NaiveDate, u64>> {
    let mut out = BTreeMap::new();
    if df.height() == 0 {
        return Ok(out);
    }
    let days = df.column("date").map_err(polars_err)?.cast(&DataType::Int32).map_err(polars_err)?;
    let days = days.i32().map_err(polars_err)?;
    for d in days.iter() {
        let d = d.ok_or_else(|| Error::data("a gold row has no date"))?;
        *out.entry(from_days(d)).or_insert(0u64) += 1;
    }
    Ok(out)
}

fn from_days(days: i32) -> NaiveDate {
    // Saturating at the ends of chrono's calendar: no panic on an absurd date.
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let saturated = if days < 0 { NaiveDate::MIN } else { NaiveDate::MAX };
    epoch.checked_add_signed(Duration::days(days as i64)).unwrap_or(saturated)
}

fn sql_path(job: &JobSpec) -> String {
    let dir = job.path.parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{dir}/{}.sql", job.name)
}

/// The dates of a date partition column in the table's loaded version.
fn partition_dates(table: &Table, column: &str) -> Result<BTreeSet<NaiveDate>> {
    table
        .partition_values(column)?
        .iter()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").data_err(|| format!("partition {column}={d} is not a date")))
        .collect()
}

/// The dates an incremental run of one model rebuilds: those the silver commits since its
/// last run changed and, for a model with a lookback, the later dates whose window holds
/// them among the dates with silver events or already in the gold table.
async fn incremental_dates(
    gold: &Table,
    silver: &Table,
    silver_version: i64,
    job: &JobSpec,
    silver_dates: &BTreeSet<NaiveDate>,
) -> Result<Vec<NaiveDate>> {
    let processed = gold.recorded_version(INCREMENTAL_APP);
    if processed == Some(silver_version) {
        return Ok(Vec::new());
    }
    let changed: BTreeSet<NaiveDate> = match lake::txn::partitions_added(silver.delta(), processed, silver_version, "event_date").await? {
        Some(values) => values
            .iter()
            .map(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").data_err(|| format!("partition event_date={v} is not a date")))
            .collect::<Result<_>>()?,
        None => silver_dates.clone(),
    };
    if job.lookback_days == 0 {
        return Ok(changed.into_iter().collect());
    }
    // A changed date X also changes the windows of X+1 ..= X+lookback: rebuild those of them
    // that are built incrementally (dates with silver events) or were built before.
    let mut built = silver_dates.clone();
    if gold.version().is_some() {
        built.extend(partition_dates(gold, "date")?);
    }
    let mut out = BTreeSet::new();
    for d in changed {
        out.insert(d);
        // Saturating: a date near the end of the calendar (an absurd event_ts) must not overflow.
        let last = d.checked_add_signed(Duration::days(job.lookback_days as i64)).unwrap_or(NaiveDate::MAX);
        out.extend(built.range(d..=last).copied());
    }
    Ok(out.into_iter().collect())
}
