//! Shared test helpers: a fresh project + lakehouse + landing folder per test, and a way to
//! run the real binary and read bronze back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use vbda::catalog::Catalog;
use vbda::lake::{self, Lakehouse, PartitionFilter};

pub struct TestContext {
    pub dir: tempfile::TempDir,
}

impl TestContext {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("landing")).unwrap();
        Self { dir }
    }

    pub fn landing(&self) -> PathBuf {
        self.dir.path().join("landing")
    }

    pub fn lakehouse(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    /// The real binary with this context's project, lakehouse and landing folder.
    pub fn vbda(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbda"));
        cmd.current_dir(self.dir.path())
            .env_remove("VBDA_LAKEHOUSE")
            .env_remove("VBDA_LANDING")
            .env_remove("VBDA_OUTPUT")
            .env("VBDA_PROJECT", project_dir())
            .env("VBDA_LAKEHOUSE", self.lakehouse())
            .env("VBDA_LANDING", self.landing());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.vbda().args(args).output().expect("run vbda");
        Run::from(output)
    }

    /// Run and expect success; return the `--output json` summary.
    pub fn run_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let run = self.run(&all);
        assert_eq!(run.code, 0, "vbda {args:?} failed:\n{}", run.stderr);
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
    }

    /// Run with `--output json`, expect `code`; return the summary on stdout.
    pub fn run_json_code(&self, args: &[&str], code: i32) -> (serde_json::Value, String) {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let run = self.run(&all);
        assert_eq!(run.code, code, "vbda {args:?}:\n{}", run.stderr);
        let first = run.stdout.lines().next().unwrap_or_default();
        (serde_json::from_str(first).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout)), run.stderr)
    }

    /// A whole table as a DataFrame (it must exist).
    pub fn table(&self, table: &str) -> DataFrame {
        let catalog = Catalog::load(&project_dir()).unwrap();
        let spec = catalog.table(table).unwrap().clone();
        let lake = Lakehouse::new(self.lakehouse().to_str().unwrap(), Default::default()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let t = lake.open(&spec).await.unwrap().expect("table exists");
            let lf = lake::read_partitions(&t, &spec, &PartitionFilter::all()).await.unwrap();
            tokio::task::block_in_place(|| lf.collect().unwrap())
        })
    }

    /// All of bronze as a DataFrame.
    pub fn bronze(&self) -> DataFrame {
        let catalog = Catalog::load(&project_dir()).unwrap();
        let spec = catalog.table("bronze.video_events").unwrap().clone();
        let lake = Lakehouse::new(self.lakehouse().to_str().unwrap(), Default::default()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let table = lake.open(&spec).await.unwrap().expect("bronze exists");
            let lf = lake::read_partitions(&table, &spec, &PartitionFilter::all()).await.unwrap();
            tokio::task::block_in_place(|| lf.collect().unwrap())
        })
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lines in a (possibly gzip) NDJSON file, not counting a final newline or blank lines.
pub fn nonblank_lines(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out).unwrap();
        out
    } else {
        bytes
    };
    text.split(|b| *b == b'\n').filter(|l| !l.iter().all(|b| b.is_ascii_whitespace())).count() as u64
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

/// Row counts of bronze grouped by source file (uri -> rows).
pub fn rows_per_file(df: &DataFrame) -> std::collections::BTreeMap<String, u64> {
    let files = df.column("source_file").unwrap().str().unwrap().clone();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..files.len() {
        *out.entry(files.get(i).unwrap_or("<null>").to_string()).or_insert(0) += 1;
    }
    out
}

/// Set a file's modification time to `hours` ago.
pub fn age(path: &Path, hours: u32) {
    let status = Command::new("touch").arg("-d").arg(format!("{hours} hours ago")).arg(path).status().unwrap();
    assert!(status.success());
}

/// A copy of the project's tables/ and jobs/ under the test's folder, to break on purpose.
pub fn project_copy(ctx: &TestContext) -> std::path::PathBuf {
    let project = ctx.dir.path().join("project");
    for sub in ["tables", "jobs"] {
        for file in files_under(&project_dir().join(sub)) {
            let rel = file.strip_prefix(project_dir()).unwrap();
            std::fs::create_dir_all(project.join(rel).parent().unwrap()).unwrap();
            std::fs::copy(&file, project.join(rel)).unwrap();
        }
    }
    project
}

pub fn edit(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

