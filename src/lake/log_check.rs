//! Naming the broken file when a table's Delta log cannot be read.
//!
//! delta-rs reports a truncated or corrupt commit as a JSON error without saying which file
//! it was reading (and, as a kernel error, as a storage-like failure a scheduler would retry
//! forever). When a table does not open, vbda reads the log's commit files itself, newest
//! first, and names the first one that is not JSON lines, with what to do about it.

use std::collections::HashMap;

use deltalake::DeltaTableBuilder;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::Path;
use futures::TryStreamExt;
use url::Url;

use crate::catalog::TableId;
use crate::error::Error;

/// How many commit files are checked, newest first (a damaged commit is nearly always the
/// newest: a crash or a full disk mid-write).
const CHECKED_COMMITS: usize = 1000;

/// A commit file of the table's log that is not JSON lines: (its version, where it is, what is
/// wrong), and whether it is the newest commit.
struct Corrupt {
    version: i64,
    location: String,
    problem: String,
    newest: bool,
}

/// Why the table at `url` cannot be opened, when its log holds a damaged commit file; None
/// when every commit file reads (the failure lies elsewhere) or the log cannot be listed.
pub async fn explain(table: &TableId, url: &Url, options: &HashMap<String, String>) -> Option<Error> {
    let c = find(url, options).await?;
    let hint = if c.newest {
        format!(
            "a commit cut short (a crash, a full disk) is not part of the table yet: move {} out of _delta_log and {table} is back \
             at version {}; then rerun the command that wrote it (vbda's commands are idempotent). Other tables are not affected",
            c.location,
            c.version - 1
        )
    } else {
        "an older commit is damaged: restore the table's _delta_log folder from a backup or rebuild the table (moving an older \
         commit away would lose what it recorded). Other tables are not affected"
            .to_string()
    };
    Some(
        Error::data(format!("table {table} cannot be read: its Delta log file {} (version {}) is not valid JSON: {}", c.location, c.version, c.problem))
            .with_hint(hint),
    )
}

async fn find(url: &Url, options: &HashMap<String, String>) -> Option<Corrupt> {
    let table = DeltaTableBuilder::from_url(url.clone()).ok()?.with_storage_options(options.clone()).build().ok()?;
    let store = table.log_store().object_store(None);
    let listing: Vec<_> = store.list(Some(&Path::from("_delta_log"))).try_collect().await.ok()?;
    let mut commits: Vec<(i64, Path)> = listing
        .iter()
        .filter_map(|m| {
            let stem = m.location.filename()?.strip_suffix(".json")?;
            let version = stem.parse().ok().filter(|_| stem.len() == 20)?;
            Some((version, m.location.clone()))
        })
        .collect();
    commits.sort();
    let newest = commits.last().map(|(v, _)| *v);
    for (version, path) in commits.iter().rev().take(CHECKED_COMMITS) {
        let Ok(got) = store.get(path).await else { continue };
        let Ok(bytes) = got.bytes().await else { continue };
        if let Some(problem) = problem(&bytes) {
            let location = match url.to_file_path() {
                Ok(dir) if url.scheme() == "file" => dir.join(path.as_ref()).display().to_string(),
                _ => format!("{}/{}", url.as_str().trim_end_matches('/'), path.as_ref()),
            };
            return Some(Corrupt { version: *version, location, problem, newest: Some(*version) == newest });
        }
    }
    None
}

/// What is wrong with a commit file's bytes, if anything: each line must be one JSON object.
fn problem(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Some("the file is empty".to_string());
    }
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Some(format!("line {} is not a JSON object", i + 1)),
            Err(e) => return Some(format!("line {}: {e}", i + 1)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn damaged_commit_files_are_told_apart_from_good_ones() {
        assert_eq!(super::problem(b"{\"commitInfo\":{}}\n{\"add\":{}}\n"), None);
        assert!(super::problem(b"{\"commitInfo\":{}}\n{\"add\":{\"pa").unwrap().starts_with("line 2: EOF"));
        assert_eq!(super::problem(b"").as_deref(), Some("the file is empty"));
        assert_eq!(super::problem(b"[1]\n").as_deref(), Some("line 1 is not a JSON object"));
        assert!(super::problem(b"{\"a\":\"\xff\"}").is_some(), "invalid UTF-8");
    }
}
