//! `vbda init DIR`: a working project in a new (or empty) folder: `vbda.toml`, `tables/`,
//! `jobs/` and `airflow/` from the built-in defaults ([`super::template`]). Existing files are
//! never overwritten: a folder that already holds any of them is refused unless `--force`
//! is given, and even then only the missing files are written.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Context, Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct InitSettings {
    pub dir: PathBuf,
    /// Write the missing files into a folder that already has some of them.
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub dir: PathBuf,
    pub written: Vec<String>,
    /// Files that were there already and were left as they are (`--force`).
    pub kept: Vec<String>,
}

pub fn init(s: &InitSettings) -> Result<InitReport> {
    let existing: Vec<&str> = super::template::FILES.iter().map(|(p, _)| *p).filter(|p| s.dir.join(p).exists()).collect();
    if !existing.is_empty() && !s.force {
        return Err(Error::data(format!(
            "{} already holds a vbda project ({} of its files, e.g. {})",
            s.dir.display(),
            existing.len(),
            existing[0]
        ))
        .with_hint("choose a new folder, or pass --force to add only the missing files (nothing is overwritten)"));
    }
    let mut report = InitReport { dir: s.dir.clone(), written: Vec::new(), kept: Vec::new() };
    for (rel, text) in super::template::FILES {
        let path = s.dir.join(rel);
        if path.exists() {
            report.kept.push(rel.to_string());
            continue;
        }
        write(&path, text)?;
        report.written.push(rel.to_string());
    }
    Ok(report)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).env_err(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).env_err(|| format!("cannot write {}", path.display()))
}
