//! The landing zone: where raw files wait to be ingested.
//!
//! This is the one seam between `vbda ingest` and storage: listing objects with a stable
//! identity (location, size, change fingerprint) and reading one object's bytes: a local folder
//! or an `s3://bucket/prefix` (listed page by page with aws-sdk-s3, each object read only if its
//! ETag is still the one listed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use aws_sdk_s3::error::ProvideErrorMetadata;

use crate::lake::s3::{self, S3Access};

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
    /// Where a local file is read from (exact, even when its name is not UTF-8).
    pub path: Option<PathBuf>,
    /// Modification time, Unix seconds (0 when unknown).
    pub modified_secs: u64,
}

/// Why one landing object could not be read.
#[derive(Debug)]
pub enum ReadProblem {
    /// It disappeared between listing and reading (moved or archived): not an error.
    Vanished,
    /// Its size or change marker moved while it was read: a producer is still writing it.
    InFlight,
    /// It cannot be read (permissions, I/O): reported, tried again next run.
    Failed(String),
    /// The store failed to serve it (unreachable, throttled, server error, read broke off):
    /// not the object's fault; tried again next run, and the run exits 3.
    Unavailable(String),
}

/// A landing zone.
#[derive(Debug, Clone)]
pub enum Landing {
    Local(PathBuf),
    S3 { access: Arc<S3Access>, bucket: String, prefix: String },
}

/// File names that are never data: hidden files, our generator's and other tools' temp files.
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || name.ends_with(".tmp") || name.ends_with(".crc")
}

impl Landing {
    pub fn parse(location: &str, access: Arc<S3Access>) -> Result<Self> {
        if location.starts_with("s3://") || location.starts_with("s3a://") {
            let (bucket, prefix) = s3::split_url(location)
                .ok_or_else(|| Error::data(format!("landing location `{location}` names no bucket")).with_hint("use s3://bucket/prefix"))?;
            return Ok(Landing::S3 { access, bucket, prefix });
        }
        if location.contains("://") && !location.starts_with("file://") {
            return Err(Error::data(format!("landing location `{location}` is not a folder or s3:// prefix")));
        }
        let path = PathBuf::from(location.trim_start_matches("file://"));
        if !path.is_dir() {
            return Err(Error::data(format!("landing folder {} does not exist", path.display()))
                .with_hint("pass --landing DIR, set VBDA_LANDING, or `landing` under [ingest] in vbda.toml"));
        }
        // Files are recorded by absolute URI: resolve symlinks and `..` so the same folder
        // reached another way does not look like new files.
        let path = std::fs::canonicalize(&path).env_err(|| format!("cannot resolve {}", path.display()))?;
        Ok(Landing::Local(path))
    }

    pub fn display(&self) -> String {
        match self {
            Landing::Local(p) => p.display().to_string(),
            Landing::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Every data file under the landing zone, sorted by location; and, for a local folder,
    /// the symlinks found there that point outside it (never read: whoever can write into the
    /// landing folder must not be able to copy any file vbda can read into bronze).
    pub async fn list(&self) -> Result<(Vec<LandingObject>, Vec<String>)> {
        match self {
            Landing::Local(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || list_local(&root))
                    .await
                    .map_err(|e| Error::environment("listing the landing folder failed").with_source(e))?
            }
            Landing::S3 { access, bucket, prefix } => Ok((list_s3(access, bucket, prefix).await?, Vec::new())),
        }
    }

    /// The bytes of one object, as stored (still compressed if it is), checked to be the
    /// object that was listed: same size and change marker after the read as before.
    pub async fn read(&self, object: &LandingObject) -> std::result::Result<Vec<u8>, ReadProblem> {
        match self {
            Landing::Local(_) => {
                let Some(path) = object.path.clone() else {
                    return Err(ReadProblem::Failed("no local path".into()));
                };
                let bytes = match tokio::fs::read(&path).await {
                    Ok(bytes) => bytes,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadProblem::Vanished),
                    Err(e) => return Err(ReadProblem::Failed(format!("cannot read: {e}"))),
                };
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.len() == object.size && meta.len() == bytes.len() as u64 && fingerprint(&meta) == object.fingerprint => Ok(bytes),
                    Ok(_) => Err(ReadProblem::InFlight),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ReadProblem::Vanished),
                    Err(e) => Err(ReadProblem::Failed(format!("cannot stat: {e}"))),
                }
            }
            Landing::S3 { access, bucket, prefix } => {
                let key = &format!("{prefix}{}", object.relative);
                let etag = object.fingerprint.strip_prefix("etag:").unwrap_or_default();
                // If-Match: the bytes are those of the object listed, or nothing.
                let got = access.client().await.get_object().bucket(bucket).key(key).if_match(etag).send().await;
                let out = match got {
                    Ok(out) => out,
                    Err(e) => {
                        return Err(match e.code() {
                            Some("NoSuchKey") => ReadProblem::Vanished,
                            Some("PreconditionFailed") => ReadProblem::InFlight,
                            _ => {
                                let e = s3::error(e, &format!("read {key}"), bucket);
                                let text = format!("{}{}", e.message(), e.hint().map(|h| format!(" (hint: {h})")).unwrap_or_default());
                                match e.kind() {
                                    crate::error::ErrorKind::Environment => ReadProblem::Unavailable(text),
                                    _ => ReadProblem::Failed(text),
                                }
                            }
                        });
                    }
                };
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| ReadProblem::Unavailable(format!("reading s3://{bucket}/{key} broke off: {e}")))?
                    .into_bytes();
                if bytes.len() as u64 != object.size {
                    return Err(ReadProblem::InFlight);
                }
                Ok(bytes.to_vec())
            }
        }
    }
}

/// Every data object under an S3 prefix, a page (1,000 keys) at a time.
async fn list_s3(access: &S3Access, bucket: &str, prefix: &str) -> Result<Vec<LandingObject>> {
    let mut out = Vec::new();
    let mut seen_logs = std::collections::BTreeSet::new();
    let mut pages = access.client().await.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3::error(e, "list the landing zone", bucket))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let relative = key.strip_prefix(prefix).unwrap_or(key);
            if let Some(at) = relative.find("_delta_log/") {
                if at == 0 || relative[..at].ends_with('/') {
                    seen_logs.insert(relative[..at].to_string());
                }
            }
            // The same names are skipped as in a local folder, in any part of the key (a
            // "folder" named _delta_log or .staging holds no input).
            if relative.is_empty() || relative.ends_with('/') || relative.split('/').any(is_ignored) {
                continue;
            }
            out.push(LandingObject {
                uri: format!("s3://{bucket}/{key}"),
                relative: relative.to_string(),
                size: object.size().unwrap_or(0).max(0) as u64,
                fingerprint: format!("etag:{}", object.e_tag().unwrap_or_default()),
                path: None,
                modified_secs: object.last_modified().map(|t| t.secs().max(0) as u64).unwrap_or(0),
            });
        }
    }
    // A Delta table under the prefix (a lakehouse placed there) is never input, as locally:
    // drop every key under a folder that holds a `_delta_log/`.
    let tables: Vec<String> = seen_logs.into_iter().collect();
    out.retain(|o| !tables.iter().any(|t| o.relative.starts_with(t.as_str())));
    out.sort_by(|a, b| a.uri.cmp(&b.uri));
    Ok(out)
}

fn fingerprint(meta: &std::fs::Metadata) -> String {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
    format!("mtime:{mtime}")
}

fn list_local(root: &Path) -> Result<(Vec<LandingObject>, Vec<String>)> {
    let mut out = Vec::new();
    let mut outside = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        // A Delta table inside the landing folder (a lakehouse placed there) is never input.
        if dir.join("_delta_log").is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(&dir).env_err(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.env_err(|| format!("cannot list {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if is_ignored(&name) {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            // Symlinked files are followed when their target lies under the landing root (the
            // root is canonical); symlinked folders are not followed (no cycles).
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            if kind.is_symlink() && !std::fs::canonicalize(&path).is_ok_and(|target| target.starts_with(root)) {
                outside.push(path.display().to_string());
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().to_string();
            let uri = url::Url::from_file_path(&path)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| format!("file://{}", path.display()));
            let modified_secs = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()).unwrap_or(0);
            out.push(LandingObject {
                uri,
                relative,
                size: meta.len(),
                fingerprint: fingerprint(&meta),
                path: Some(path),
                modified_secs,
            });
        }
    }
    out.sort_by(|a, b| a.uri.cmp(&b.uri));
    outside.sort();
    Ok((out, outside))
}
