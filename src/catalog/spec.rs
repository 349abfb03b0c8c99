//! The shapes of `tables/<layer>/<name>.toml` and `jobs/**/<name>.toml`, and their checks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::TableId;

/// Default vacuum retention: Delta Lake's 7 days.
pub const DEFAULT_RETENTION_HOURS: u64 = 168;

/// A column's logical type. The names are Delta's primitive type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Binary,
    Boolean,
    Integer,
    Long,
    Double,
    Date,
    /// Microseconds since the epoch, UTC.
    Timestamp,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Binary => "binary",
            ColumnType::Boolean => "boolean",
            ColumnType::Integer => "integer",
            ColumnType::Long => "long",
            ColumnType::Double => "double",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Long | ColumnType::Double)
    }

    fn is_temporal(self) -> bool {
        matches!(self, ColumnType::Date | ColumnType::Timestamp)
    }
}

/// A `range` rule's `min` or `max`: a number for numeric columns, an RFC 3339 time or a
/// `YYYY-MM-DD` date (as a string) for timestamp and date columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Number(f64),
    /// Microseconds since the epoch (UTC), and the bound as written.
    Time(i64, String),
}

impl Bound {
    /// The bound in a column's physical unit: the number itself, microseconds for a
    /// timestamp, days since the epoch for a date.
    pub fn physical(&self, column: Option<ColumnType>) -> f64 {
        match (self, column) {
            (Bound::Number(n), _) => *n,
            (Bound::Time(us, _), Some(ColumnType::Date)) => us.div_euclid(86_400_000_000) as f64,
            (Bound::Time(us, _), _) => *us as f64,
        }
    }

    fn is_time(&self) -> bool {
        matches!(self, Bound::Time(..))
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Number(n) => write!(f, "{n}"),
            Bound::Time(_, text) => f.write_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Bound::Number(n)),
            Raw::Text(text) => {
                let us = chrono::DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.timestamp_micros())
                    .ok()
                    .or_else(|| {
                        let day = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()?;
                        Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
                    })
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "`{text}` is neither a number nor a time (RFC 3339 such as 2000-01-01T00:00:00Z, or YYYY-MM-DD)"
                        ))
                    })?;
                Ok(Bound::Time(us, text))
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: ColumnType,
    #[serde(default = "yes")]
    pub nullable: bool,
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

/// What a failing expectation does (like dbt's `severity` plus Delta Live Tables' actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Count and report the failing rows; keep them.
    Warn,
    /// Send the failing rows to quarantine with the rule's name and reason.
    Drop,
    /// Stop the run before anything is committed.
    Fail,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Drop => "drop",
            Severity::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    NotNull,
    Unique,
    AcceptedValues,
    Range,
    Relationships,
}

impl RuleKind {
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::NotNull => "not_null",
            RuleKind::Unique => "unique",
            RuleKind::AcceptedValues => "accepted_values",
            RuleKind::Range => "range",
            RuleKind::Relationships => "relationships",
        }
    }
}

/// One data-quality rule on a table. Which fields apply depends on `rule`:
/// `not_null`: `column`; `unique`: `column` or `columns`; `accepted_values`: `column`, `values`;
/// `range`: `column`, `min` and/or `max` (numbers, or times as strings for a date or timestamp column); `relationships`: `column`, `to`, `to_column`.
/// `when` limits a rule to the rows where another column has one of the given values
/// (`when = { column = "event_type", in = ["play"] }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Defaults to `<rule>_<column>`.
    pub name: Option<String>,
    pub rule: RuleKind,
    pub severity: Severity,
    pub column: Option<String>,
    pub columns: Option<Vec<String>>,
    pub values: Option<Vec<String>>,
    pub min: Option<Bound>,
    pub max: Option<Bound>,
    pub to: Option<String>,
    pub to_column: Option<String>,
    pub when: Option<Condition>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub column: String,
    #[serde(rename = "in")]
    pub values: Vec<String>,
}

impl Expectation {
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let target = match (&self.column, &self.columns) {
            (Some(c), _) => c.clone(),
            (None, Some(cs)) => cs.join("_"),
            (None, None) => String::new(),
        };
        format!("{}_{}", self.rule.name(), target)
    }

    /// The columns the rule reads on its own table.
    pub fn target_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.column.iter().map(String::as_str).collect();
        if let Some(cs) = &self.columns {
            out.extend(cs.iter().map(String::as_str));
        }
        out
    }
}

/// A table spec as written in its file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    description: String,
    columns: Vec<ColumnSpec>,
    #[serde(default)]
    partition_by: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    expectations: Vec<Expectation>,
    #[serde(default)]
    retention: Retention,
}

/// How long unreferenced data files and log entries are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Vacuum keeps files removed less than this many hours ago.
    #[serde(default = "default_retention")]
    pub hours: u64,
    /// Vacuum refuses a shorter retention without `--force`.
    #[serde(default = "default_retention")]
    pub min_hours: u64,
    /// Delta log entries older than this are cleaned up at checkpoints.
    #[serde(default = "default_log_retention_days")]
    pub log_days: u64,
    /// Write a checkpoint every this many commits.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: u64,
}

fn default_retention() -> u64 {
    DEFAULT_RETENTION_HOURS
}
fn default_log_retention_days() -> u64 {
    30
}
fn default_checkpoint_interval() -> u64 {
    10
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            hours: DEFAULT_RETENTION_HOURS,
            min_hours: DEFAULT_RETENTION_HOURS,
            log_days: default_log_retention_days(),
            checkpoint_interval: default_checkpoint_interval(),
        }
    }
}

/// A validated table spec.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub id: TableId,
    pub path: PathBuf,
    pub description: String,
    pub columns: Vec<ColumnSpec>,
    pub partition_by: Vec<String>,
    pub keys: Vec<String>,
    pub expectations: Vec<Expectation>,
    pub retention: Retention,
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The table's date partition column: its first partition column, when that is a date
    /// (`event_date`, `date`). `--date` and `--from/--to` select partitions of it.
    pub fn date_partition(&self) -> Option<&str> {
        self.partition_by
            .first()
            .filter(|c| self.column(c).is_some_and(|col| col.data_type == ColumnType::Date))
            .map(String::as_str)
    }
}

pub(super) fn parse_table(path: &Path, id: TableId) -> Result<TableSpec, Vec<String>> {
    let at = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{at}: cannot read: {e}")])?;
    let file: TableFile = toml::from_str(&text).map_err(|e| vec![toml_problem(path, &text, &e)])?;
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for col in &file.columns {
        if !is_snake_case(&col.name) {
            problems.push(format!("{at}: column `{}` is not snake_case", col.name));
        }
        if !seen.insert(col.name.as_str()) {
            problems.push(format!("{at}: column `{}` is declared twice", col.name));
        }
    }
    if file.columns.is_empty() {
        problems.push(format!("{at}: a table needs at least one column"));
    }
    let column = |name: &str| file.columns.iter().find(|c| c.name == name);
    for p in &file.partition_by {
        match column(p) {
            None => problems.push(format!("{at}: partition column `{p}` is not a column")),
            Some(c) if c.nullable => {
                problems.push(format!("{at}: partition column `{p}` must be `nullable = false`"))
            }
            Some(_) => {}
        }
    }
    for k in &file.keys {
        if column(k).is_none() {
            problems.push(format!("{at}: key column `{k}` is not a column"));
        }
    }
    if file.retention.checkpoint_interval == 0 || file.retention.log_days == 0 {
        problems.push(format!("{at}: retention.checkpoint_interval and retention.log_days must be at least 1"));
    }
    if file.retention.hours < file.retention.min_hours {
        problems.push(format!(
            "{at}: retention.hours ({}) is below retention.min_hours ({})",
            file.retention.hours, file.retention.min_hours
        ));
    }
    for exp in &file.expectations {
        check_expectation(&at.to_string(), exp, &|name| column(name).map(|c| c.data_type), &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(TableSpec {
        id,
        path: path.to_path_buf(),
        description: file.description,
        columns: file.columns,
        partition_by: file.partition_by,
        keys: file.keys,
        expectations: file.expectations,
        retention: file.retention,
    })
}

fn check_expectation(
    at: &str,
    exp: &Expectation,
    column_type: &dyn Fn(&str) -> Option<ColumnType>,
    problems: &mut Vec<String>,
) {
    let name = exp.display_name();
    let mut problem = |text: String| problems.push(format!("{at}: expectation `{name}`: {text}"));
    for col in exp.target_columns() {
        if column_type(col).is_none() {
            problem(format!("column `{col}` is not a column of this table"));
        }
    }
    if let Some(cond) = &exp.when {
        if column_type(&cond.column).is_none() {
            problem(format!("`when` column `{}` is not a column of this table", cond.column));
        }
    }
    let has = |b: bool, field: &str, problem: &mut dyn FnMut(String)| {
        if !b {
            problem(format!("rule `{}` needs `{field}`", exp.rule.name()));
        }
    };
    let not = |b: bool, field: &str, problem: &mut dyn FnMut(String)| {
        if b {
            problem(format!("rule `{}` does not take `{field}`", exp.rule.name()));
        }
    };
    let single = exp.column.is_some();
    match exp.rule {
        RuleKind::NotNull => {
            has(single, "column", &mut problem);
            not(exp.values.is_some(), "values", &mut problem);
            not(exp.min.is_some() || exp.max.is_some(), "min/max", &mut problem);
            not(exp.to.is_some(), "to", &mut problem);
        }
        RuleKind::Unique => {
            has(single || exp.columns.is_some(), "column or columns", &mut problem);
            not(exp.values.is_some(), "values", &mut problem);
            not(exp.to.is_some(), "to", &mut problem);
        }
        RuleKind::AcceptedValues => {
            has(single, "column", &mut problem);
            has(exp.values.as_ref().is_some_and(|v| !v.is_empty()), "values", &mut problem);
        }
        RuleKind::Range => {
            has(single, "column", &mut problem);
            has(exp.min.is_some() || exp.max.is_some(), "min or max", &mut problem);
            let t = exp.column.as_deref().and_then(column_type);
            if let (Some(min), Some(max)) = (&exp.min, &exp.max) {
                if min.physical(t) > max.physical(t) {
                    problem(format!("min ({min}) is greater than max ({max})"));
                }
            }
            if let Some(t) = t {
                let times = [&exp.min, &exp.max].into_iter().flatten().any(Bound::is_time);
                let numbers = [&exp.min, &exp.max].into_iter().flatten().any(|b| !b.is_time());
                if !t.is_numeric() && !t.is_temporal() {
                    problem(format!("range needs a numeric, date or timestamp column, not {}", t.name()));
                } else if t.is_numeric() && times {
                    problem(format!("range on a {} column needs numbers as min and max", t.name()));
                } else if t.is_temporal() && numbers {
                    problem(format!("range on a {} column needs times as min and max (\"2000-01-01T00:00:00Z\" or \"2000-01-01\")", t.name()));
                }
            }
        }
        RuleKind::Relationships => {
            has(single, "column", &mut problem);
            has(exp.to.is_some(), "to", &mut problem);
            has(exp.to_column.is_some(), "to_column", &mut problem);
            if let Some(to) = &exp.to {
                if TableId::parse(to).is_none() {
                    problem(format!("`to` must be `layer.name`, got `{to}`"));
                }
            }
        }
    }
}

/// A job spec: which tables a step reads and writes, and for gold models the SQL that computes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    description: String,
    reads: Vec<String>,
    writes: Vec<String>,
    /// A SQL file next to the spec (gold models).
    sql: Option<String>,
    /// Gold models: how many days before each built date the SQL reads (user_activity: 27).
    #[serde(default)]
    lookback_days: u32,
}

#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub path: PathBuf,
    pub description: String,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    /// The SQL text, read and checked to exist at load time.
    pub sql: Option<String>,
    /// Days before each built date that a gold model reads (0: the date itself only).
    pub lookback_days: u32,
}

pub(super) fn parse_job(path: &Path) -> Result<JobSpec, Vec<String>> {
    let at = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{at}: cannot read: {e}")])?;
    let file: JobFile = toml::from_str(&text).map_err(|e| vec![toml_problem(path, &text, &e)])?;
    let mut problems = Vec::new();
    if file.writes.is_empty() {
        problems.push(format!("{at}: a job must write at least one table"));
    }
    if file.sql.is_some() && file.writes.len() != 1 {
        problems.push(format!("{at}: a SQL model writes exactly one table (`writes` has {})", file.writes.len()));
    }
    if file.lookback_days > 366 {
        problems.push(format!("{at}: lookback_days = {} is more than a year", file.lookback_days));
    }
    let sql = match &file.sql {
        None => None,
        Some(rel) => {
            let sql_path = path.parent().unwrap_or(Path::new(".")).join(rel);
            match std::fs::read_to_string(&sql_path) {
                Ok(text) => Some(text),
                Err(e) => {
                    problems.push(format!("{at}: sql file `{}`: {e}", sql_path.display()));
                    None
                }
            }
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    Ok(JobSpec {
        name,
        path: path.to_path_buf(),
        description: file.description,
        reads: file.reads,
        writes: file.writes,
        sql,
        lookback_days: file.lookback_days,
    })
}

fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A toml error as `path:line:column: message; did you mean `x`?` (toml's own rendering spans
/// several lines with a source excerpt). The suggestion comes from the names toml lists as
/// expected, for a mistyped key (`nulable`) or value (`strng`).
fn toml_problem(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    let at = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
            format!("{}:{line}:{column}", path.display())
        }
        None => path.display().to_string(),
    };
    match suggest_from_expected(&message) {
        Some(s) => format!("{at}: {message}; did you mean `{s}`?"),
        None => format!("{at}: {message}"),
    }
}

/// For toml/serde's "unknown field `x`, expected one of `a`, `b`" (and "unknown variant"):
/// the expected name closest to `x`, if it is close enough to be a typo.
fn suggest_from_expected(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (typed, expected) = rest.split_once('`')?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(typed, names.iter().copied())
}

/// The candidate closest to `typed` (by Jaro-Winkler similarity, at least 0.8), if any.
pub(crate) fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(typed, c), c))
        .filter(|(score, c)| *score >= 0.8 && *c != typed)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}
