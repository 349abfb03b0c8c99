//! Local files vbda writes beside its tables (a report, a metrics file): the path checked
//! before any work, and the bytes written under a temporary name and renamed, so a reader (a
//! browser, the node exporter's textfile collector) never sees half a file.

use std::path::Path;

use crate::error::{Context as _, Error, Result};

/// `flag PATH` must name a file in an existing folder (checked before the command runs).
pub fn check_output_path(flag: &str, path: &Path) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::data(format!("{flag} {}: the folder {} does not exist", path.display(), dir.display()))
            .with_hint("create the folder, or name a file in an existing one"));
    }
    if path.file_name().is_none() || path.is_dir() {
        return Err(Error::data(format!("{flag} {}: not a file name", path.display())));
    }
    Ok(())
}

/// Write `bytes` to `.NAME.PID.tmp` next to `path`, then rename it to `path`.
pub fn write_atomically(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.env_err(|| format!("cannot write {what} {}", path.display()))
}
