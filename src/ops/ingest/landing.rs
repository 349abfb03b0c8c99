//! The landing zone: where raw files wait to be ingested.
//!
//! This is the one seam between `vbda ingest` and storage: listing objects with a stable
//! identity (location, size, change fingerprint) and reading one object's bytes. The local
//! folder lives here; `s3://` prefixes slot in as another variant.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{Context, Error, Result};

/// One file in the landing zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandingObject {
    /// Stable, absolute location: `file:///abs/path` or `s3://bucket/key`.
    pub uri: String,
    /// Path relative to the landing root, for display.
    pub relative: String,
    pub size: u64,
    /// Changes when the content may have changed: mtime for files, ETag for objects.
    pub fingerprint: String,
}

/// A landing zone.
#[derive(Debug, Clone)]
pub enum Landing {
    Local(PathBuf),
}

/// File names that are never data: hidden files, our generator's and other tools' temp files.
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || name.ends_with(".tmp") || name.ends_with(".crc")
}

impl Landing {
    pub fn parse(location: &str) -> Result<Self> {
        if location.starts_with("s3://") || location.starts_with("s3a://") {
            return Err(Error::not_implemented("ingest --landing s3://...", "S3 landing zones: issue 7"));
        }
        if location.contains("://") && !location.starts_with("file://") {
            return Err(Error::data(format!("landing location `{location}` is not a folder or s3:// prefix")));
        }
        let path = PathBuf::from(location.trim_start_matches("file://"));
        let path = if path.is_absolute() {
            path
        } else {
            std::env::current_dir().env_err(|| "cannot read the current folder".into())?.join(path)
        };
        if !path.is_dir() {
            return Err(Error::data(format!("landing folder {} does not exist", path.display()))
                .with_hint("pass --landing DIR, set VBDA_LANDING, or `landing` under [ingest] in vbda.toml"));
        }
        Ok(Landing::Local(path))
    }

    pub fn display(&self) -> String {
        match self {
            Landing::Local(p) => p.display().to_string(),
        }
    }

    /// Every data file under the landing zone, sorted by location.
    pub async fn list(&self) -> Result<Vec<LandingObject>> {
        match self {
            Landing::Local(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || list_local(&root))
                    .await
                    .map_err(|e| Error::environment("listing the landing folder failed").with_source(e))?
            }
        }
    }

    /// The bytes of one object, as stored (still compressed if it is).
    pub async fn read(&self, object: &LandingObject) -> Result<Vec<u8>> {
        match self {
            Landing::Local(_) => {
                let path = object.uri.trim_start_matches("file://").to_string();
                tokio::fs::read(&path).await.env_err(|| format!("cannot read {path}"))
            }
        }
    }
}

fn list_local(root: &Path) -> Result<Vec<LandingObject>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).env_err(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.env_err(|| format!("cannot list {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if is_ignored(&name) {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata().env_err(|| format!("cannot stat {}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().to_string();
            out.push(LandingObject {
                uri: format!("file://{}", path.display()),
                relative,
                size: meta.len(),
                fingerprint: format!("mtime:{mtime}"),
            });
        }
    }
    out.sort_by(|a, b| a.uri.cmp(&b.uri));
    Ok(out)
}
