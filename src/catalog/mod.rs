//! The table catalog: the declarative specs under `tables/` and `jobs/`.
//!
//! A table's id is its file's path: `tables/silver/video_events.toml` is `silver.video_events`.
//! Loading reads every file, collects every problem of every file (unknown keys, bad types,
//! partition columns that are not columns, expectations on unknown columns, relationships to
//! unknown tables), and fails with all of them at once, each with its path, before anything
//! runs: a spec mistake must never surface halfway through a run that has already committed.

mod spec;

pub(crate) use spec::closest;

pub use spec::{
    ColumnSpec, ColumnType, Expectation, JobSpec, RuleKind, Severity, TableSpec,
};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The medallion layers, in the order data flows through them.
pub const LAYERS: [&str; 4] = ["bronze", "silver", "gold", "ops"];

/// A table's name: its layer and its name within the layer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub layer: String,
    pub name: String,
}

impl TableId {
    pub fn new(layer: impl Into<String>, name: impl Into<String>) -> Self {
        Self { layer: layer.into(), name: name.into() }
    }

    /// Parse `layer.name`.
    pub fn parse(text: &str) -> Option<Self> {
        let (layer, name) = text.split_once('.')?;
        if layer.is_empty() || name.is_empty() || name.contains('.') {
            return None;
        }
        Some(Self::new(layer, name))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

/// Every table and job spec of a project, validated.
#[derive(Debug, Clone)]
pub struct Catalog {
    tables: BTreeMap<TableId, TableSpec>,
    jobs: BTreeMap<String, JobSpec>,
}

impl Catalog {
    /// Load and validate `<root>/tables` and `<root>/jobs`.
    pub fn load(root: &Path) -> Result<Self> {
        let (catalog, problems) = Self::load_all(root)?;
        if problems.is_empty() {
            return Ok(catalog);
        }
        Err(problems_error(&problems))
    }

    /// Every spec that loads, and every problem found, in file order (tables, then jobs, then
    /// references between them). A reference to a table whose own spec failed to load is not
    /// reported again: the spec's problem is the one to fix.
    pub fn load_all(root: &Path) -> Result<(Self, Vec<Problem>)> {
        if !root.join("tables").is_dir() {
            return Err(Error::data(format!("no table specs: {} has no tables/ folder", root.display()))
                .with_hint("run vbda from the project folder, or pass --project DIR (or set VBDA_PROJECT), or start one with `vbda init DIR`"));
        }
        let mut problems = Vec::new();
        let mut broken = BTreeSet::new();
        let tables = load_tables(&root.join("tables"), &mut problems, &mut broken);
        let jobs = load_jobs(&root.join("jobs"), &mut problems);
        let catalog = Catalog { tables, jobs };
        catalog.validate_references(&mut problems, &broken);
        Ok((catalog, problems))
    }

    /// All tables, ordered by layer then name.
    pub fn tables(&self) -> impl Iterator<Item = &TableSpec> {
        let order = |layer: &str| LAYERS.iter().position(|l| *l == layer).unwrap_or(LAYERS.len());
        let mut specs: Vec<&TableSpec> = self.tables.values().collect();
        specs.sort_by(|a, b| (order(&a.id.layer), &a.id.name).cmp(&(order(&b.id.layer), &b.id.name)));
        specs.into_iter()
    }

    pub fn jobs(&self) -> impl Iterator<Item = &JobSpec> {
        self.jobs.values()
    }

    /// A table by `layer.name`, or a clear error listing the known tables.
    pub fn table(&self, name: &str) -> Result<&TableSpec> {
        TableId::parse(name)
            .and_then(|id| self.tables.get(&id))
            .ok_or_else(|| {
                let known: Vec<String> = self.tables().map(|t| t.id.to_string()).collect();
                Error::data(format!("no such table: `{name}`"))
                    .with_hint(format!("known tables: {}", known.join(", ")))
            })
    }

    fn validate_references(&self, problems: &mut Vec<Problem>, broken: &BTreeSet<TableId>) {
        let known: Vec<String> = self.tables.keys().map(|t| t.to_string()).collect();
        let unknown_table = |table: &str| -> Option<String> {
            let id = TableId::parse(table);
            if id.as_ref().is_some_and(|id| self.tables.contains_key(id) || broken.contains(id)) {
                return None;
            }
            Some(match spec::closest(table, known.iter().map(String::as_str)) {
                Some(s) => format!("unknown table `{table}`; did you mean `{s}`?"),
                None => format!("unknown table `{table}` (known: {})", known.join(", ")),
            })
        };
        for spec in self.tables.values() {
            for exp in &spec.expectations {
                if exp.rule != RuleKind::Relationships {
                    continue;
                }
                let (Some(to), Some(to_column)) = (&exp.to, &exp.to_column) else { continue };
                match TableId::parse(to).and_then(|id| self.tables.get(&id)) {
                    None => {
                        if let Some(why) = unknown_table(to) {
                            problems.push(Problem::in_file(&spec.path, format!("expectation `{}` refers to {why}", exp.display_name())));
                        }
                    }
                    Some(target) if target.column(to_column).is_none() => {
                        let hint = spec::closest(to_column, target.columns.iter().map(|c| c.name.as_str()))
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        problems.push(Problem::in_file(
                            &spec.path,
                            format!("expectation `{}` refers to unknown column `{to_column}` of `{to}`{hint}", exp.display_name()),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        for job in self.jobs.values() {
            for table in job.reads.iter().chain(&job.writes) {
                if let Some(why) = unknown_table(table) {
                    problems.push(Problem::in_file(&job.path, format!("job refers to {why}")));
                }
            }
        }
    }
}

/// Every `*.toml` under `dir`, sorted, with the folder path relative to `dir`.
fn spec_files(dir: &Path, ext: &str, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(Problem::in_file(&folder, format!("cannot read folder: {e}")));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn load_tables(dir: &Path, problems: &mut Vec<Problem>, broken: &mut BTreeSet<TableId>) -> BTreeMap<TableId, TableSpec> {
    let mut tables = BTreeMap::new();
    for path in spec_files(dir, "toml", problems) {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let [layer, file] = parts.as_slice() else {
            problems.push(Problem::in_file(&path, "table specs live at tables/<layer>/<name>.toml"));
            continue;
        };
        if !LAYERS.contains(layer) {
            problems.push(Problem::in_file(&path, format!("unknown layer `{layer}` (expected one of {})", LAYERS.join(", "))));
            continue;
        }
        let name = file.trim_end_matches(".toml");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            problems.push(Problem::in_file(&path, format!("table name `{name}` must be snake_case (a-z, 0-9, _)")));
            continue;
        }
        let id = TableId::new(*layer, name);
        match spec::parse_table(&path, id.clone()) {
            Ok(spec) => {
                tables.insert(id, spec);
            }
            Err(errs) => {
                broken.insert(id);
                problems.extend(errs.iter().map(|e| Problem::parse(&path, e)));
            }
        }
    }
    tables
}

fn load_jobs(dir: &Path, problems: &mut Vec<Problem>) -> BTreeMap<String, JobSpec> {
    let mut jobs = BTreeMap::new();
    if !dir.exists() {
        return jobs;
    }
    for path in spec_files(dir, "toml", problems) {
        match spec::parse_job(&path) {
            Ok(job) => {
                if let Some(other) = jobs.get(&job.name) {
                    problems.push(Problem::in_file(&path, format!("job `{}` is already defined in {}", job.name, other.path.display())));
                    continue;
                }
                jobs.insert(job.name.clone(), job);
            }
            Err(errs) => problems.extend(errs.iter().map(|e| Problem::parse(&path, e))),
        }
    }
    jobs
}

/// One thing wrong in a spec or model: where (file, and line when known), what, and the likely
/// fix (`did you mean ...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Problem {
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        let (message, suggestion) = split_suggestion(message.into());
        Self { file: file.to_path_buf(), line: None, message, suggestion }
    }

    pub fn at_line(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self { line, ..Self::in_file(file, message) }
    }

    /// From the spec parser's `path[:line:column]: message[; did you mean `x`?]` text.
    fn parse(file: &Path, text: &str) -> Self {
        let prefix = file.display().to_string();
        let rest = text.strip_prefix(&prefix).unwrap_or(text);
        let (position, message) = match rest.strip_prefix(':').and_then(|r| r.split_once(": ")) {
            Some((pos, msg)) if !pos.is_empty() && pos.chars().all(|c| c.is_ascii_digit() || c == ':') => (Some(pos), msg),
            _ => (None, rest.strip_prefix(": ").unwrap_or(rest)),
        };
        let line = position.and_then(|p| p.split(':').next()).and_then(|l| l.parse().ok());
        Self::at_line(file, line, message)
    }
}

/// Problems found in the specs or models as one error (exit 1), one per line.
pub fn problems_error(problems: &[Problem]) -> Error {
    let count = problems.len();
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    Error::data(format!("{count} problem{} in the specs and models:\n  {}", if count == 1 { "" } else { "s" }, lines.join("\n  ")))
        .with_hint("fix the files listed above (`vbda validate` rechecks the specs and SQL models in a second); nothing was run")
}

fn split_suggestion(message: String) -> (String, Option<String>) {
    match message.split_once("; did you mean `") {
        Some((msg, rest)) => (msg.to_string(), Some(rest.trim_end_matches("`?").to_string())),
        None => (message, None),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
