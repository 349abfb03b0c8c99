//! The table catalog: the declarative specs under `tables/` and `jobs/`.
//!
//! A table's id is its file's path: `tables/silver/video_events.toml` is `silver.video_events`.
//! Loading reads every file, collects every problem of every file (unknown keys, bad types,
//! partition columns that are not columns, expectations on unknown columns, relationships to
//! unknown tables), and fails with all of them at once, each with its path, before anything
//! runs: a spec mistake must never surface halfway through a run that has already committed.

mod spec;

pub use spec::{
    ColumnSpec, ColumnType, Expectation, JobSpec, RuleKind, Severity, TableSpec,
};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The medallion layers, in the order data flows through them.
pub const LAYERS: [&str; 3] = ["bronze", "silver", "gold"];

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
        if !root.join("tables").is_dir() {
            return Err(Error::data(format!("no table specs: {} has no tables/ folder", root.display()))
                .with_hint("run vbda from the project folder, or pass --project DIR (or set VBDA_PROJECT)"));
        }
        let mut problems = Vec::new();
        let tables = load_tables(&root.join("tables"), &mut problems);
        let jobs = load_jobs(&root.join("jobs"), &mut problems);
        let catalog = Catalog { tables, jobs };
        catalog.validate_references(&mut problems);
        if problems.is_empty() {
            return Ok(catalog);
        }
        problems.sort();
        let count = problems.len();
        Err(Error::data(format!(
            "{count} problem{} in the table and job specs:\n  {}",
            if count == 1 { "" } else { "s" },
            problems.join("\n  ")
        ))
        .with_hint("fix the specs listed above; nothing was run"))
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

    fn validate_references(&self, problems: &mut Vec<String>) {
        for spec in self.tables.values() {
            for exp in &spec.expectations {
                if exp.rule != RuleKind::Relationships {
                    continue;
                }
                let (Some(to), Some(to_column)) = (&exp.to, &exp.to_column) else { continue };
                match TableId::parse(to).and_then(|id| self.tables.get(&id)) {
                    None => problems.push(format!(
                        "{}: expectation `{}` refers to unknown table `{to}`",
                        spec.path.display(),
                        exp.display_name()
                    )),
                    Some(target) if target.column(to_column).is_none() => problems.push(format!(
                        "{}: expectation `{}` refers to unknown column `{to_column}` of `{to}`",
                        spec.path.display(),
                        exp.display_name()
                    )),
                    Some(_) => {}
                }
            }
        }
        for job in self.jobs.values() {
            for table in job.reads.iter().chain(&job.writes) {
                if TableId::parse(table).is_none_or(|id| !self.tables.contains_key(&id)) {
                    problems.push(format!(
                        "{}: job refers to unknown table `{table}`",
                        job.path.display()
                    ));
                }
            }
        }
    }
}

/// Every `*.toml` under `dir`, sorted, with the folder path relative to `dir`.
fn spec_files(dir: &Path, ext: &str, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{}: cannot read folder: {e}", folder.display()));
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

fn load_tables(dir: &Path, problems: &mut Vec<String>) -> BTreeMap<TableId, TableSpec> {
    let mut tables = BTreeMap::new();
    for path in spec_files(dir, "toml", problems) {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let [layer, file] = parts.as_slice() else {
            problems.push(format!(
                "{}: table specs live at tables/<layer>/<name>.toml",
                path.display()
            ));
            continue;
        };
        if !LAYERS.contains(layer) {
            problems.push(format!(
                "{}: unknown layer `{layer}` (expected one of {})",
                path.display(),
                LAYERS.join(", ")
            ));
            continue;
        }
        let name = file.trim_end_matches(".toml");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            problems.push(format!("{}: table name `{name}` must be snake_case (a-z, 0-9, _)", path.display()));
            continue;
        }
        let id = TableId::new(*layer, name);
        match spec::parse_table(&path, id.clone()) {
            Ok(spec) => {
                tables.insert(id, spec);
            }
            Err(mut errs) => problems.append(&mut errs),
        }
    }
    tables
}

fn load_jobs(dir: &Path, problems: &mut Vec<String>) -> BTreeMap<String, JobSpec> {
    let mut jobs = BTreeMap::new();
    if !dir.exists() {
        return jobs;
    }
    for path in spec_files(dir, "toml", problems) {
        match spec::parse_job(&path) {
            Ok(job) => {
                if let Some(other) = jobs.get(&job.name) {
                    problems.push(format!(
                        "{}: job `{}` is already defined in {}",
                        path.display(),
                        job.name,
                        other.path.display()
                    ));
                    continue;
                }
                jobs.insert(job.name.clone(), job);
            }
            Err(mut errs) => problems.append(&mut errs),
        }
    }
    jobs
}

#[cfg(test)]
mod tests;
