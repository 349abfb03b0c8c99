//! Delta and Polars plumbing that every operation uses.
//!
//! Owns: where a table lives (`<lakehouse>/<layer>/<name>`, local path or `s3://`), creating a
//! table from its spec, appends, partition overwrites (replaceWhere) in one commit, reading
//! chosen partitions as a Polars LazyFrame (`read`), the commit info every vbda commit carries, and
//! application transactions for exactly-once bookkeeping. Operations never call deltalake
//! directly for these, so each guarantee is implemented once.
//!
//! What can go wrong: storage errors (exit 3, retried by the caller or the scheduler), a table
//! on disk whose schema no longer matches its spec (exit 1: the spec changed; migrate first),
//! and concurrent commits, which delta-rs retries when they do not conflict.

pub mod bronze;
pub mod convert;
mod error;
mod log_check;
pub mod rewrite;
mod read;
pub mod s3;
mod table;
pub mod txn;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use deltalake::arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{DataType, PrimitiveType, StructField, Transaction};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use serde::Serialize;
use url::Url;

use crate::catalog::{ColumnType, TableId, TableSpec};
use crate::error::{Context, Error, Result};

pub use bronze::days_since_epoch;
pub use convert::{batches_to_df, df_to_batches};
pub use error::{from_delta, is_concurrent_commit};
pub use read::{PartitionFilter, TableStats, partition_scans, partition_values, read_partitions, scan_partitions, table_stats};
pub use table::Table;

/// Where the lakehouse lives and how to reach its storage.
#[derive(Debug, Clone)]
pub struct Lakehouse {
    root: Url,
    storage_options: HashMap<String, String>,
    s3: std::sync::Arc<s3::S3Access>,
}

impl Lakehouse {
    /// `root` is a local path (relative paths resolve against the current folder) or a URL
    /// such as `s3://bucket/prefix`. `storage_options` go to delta-rs's object store.
    pub fn new(root: &str, storage_options: HashMap<String, String>) -> Result<Self> {
        let root = parse_root(root)?;
        if matches!(root.scheme(), "s3" | "s3a") {
            static HANDLERS: std::sync::Once = std::sync::Once::new();
            HANDLERS.call_once(|| deltalake::aws::register_handlers(None));
        }
        let s3 = std::sync::Arc::new(s3::S3Access::from_options(&storage_options));
        Ok(Self { root, storage_options, s3 })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// S3 access (landing zones, state files) configured like the tables' object store.
    pub fn s3(&self) -> std::sync::Arc<s3::S3Access> {
        self.s3.clone()
    }

    /// An object store rooted at the lakehouse (local folder or S3 prefix), for vbda's own
    /// files under `_vbda/`.
    pub fn store(&self) -> Result<deltalake::logstore::ObjectStoreRef> {
        if self.root.scheme() == "file" {
            let dir = self.root.to_file_path().map_err(|_| Error::data(format!("lakehouse {} is not a local path", self.root)))?;
            std::fs::create_dir_all(&dir).env_err(|| format!("cannot create the lakehouse folder {}", dir.display()))?;
        }
        deltalake::logstore::store_for(&self.root, self.storage_options.clone())
            .map_err(|e| from_delta(e, format!("cannot reach the lakehouse at {}", self.root)))
    }

    /// The location of a table: `<root>/<layer>/<name>/`.
    pub fn table_url(&self, id: &TableId) -> Url {
        let mut url = self.root.clone();
        let path = format!("{}/{}/{}/", url.path().trim_end_matches('/'), id.layer, id.name);
        url.set_path(&path);
        url
    }

    /// Open a table, or None when it has not been created yet.
    pub async fn open(&self, spec: &TableSpec) -> Result<Option<DeltaTable>> {
        let url = self.table_url(&spec.id);
        if let Some(dir) = (url.scheme() == "file").then(|| url.to_file_path().ok()).flatten() {
            if !dir.join("_delta_log").is_dir() {
                return Ok(None);
            }
        }
        let table = match DeltaTable::try_from_url_with_storage_options(url.clone(), self.storage_options.clone()).await {
            Ok(table) => table,
            Err(e) => {
                // A damaged commit file gets named, with what to do (exit 1: retrying never helps).
                if let Some(explained) = log_check::explain(&spec.id, &url, &self.storage_options).await {
                    return Err(explained.with_source(e));
                }
                return Err(from_delta(e, format!("cannot open table {} at {url}", spec.id)));
            }
        };
        if table.version().is_none() {
            return Ok(None);
        }
        check_schema(spec, &table)?;
        Ok(Some(table))
    }

    /// Open a table, creating it from its spec first when it does not exist.
    ///
    /// Two processes may race to create the same table: the loser's commit of version 0 fails
    /// and it opens the winner's table instead.
    pub async fn open_or_create(&self, spec: &TableSpec) -> Result<DeltaTable> {
        if let Some(table) = self.open(spec).await? {
            return Ok(table);
        }
        let url = self.table_url(&spec.id);
        if let Some(dir) = (url.scheme() == "file").then(|| url.to_file_path().ok()).flatten() {
            std::fs::create_dir_all(&dir)
                .env_err(|| format!("cannot create folder {} for table {}", dir.display(), spec.id))?;
        }
        let table = DeltaTable::try_from_url_with_storage_options(url.clone(), self.storage_options.clone())
            .await
            .map_err(|e| from_delta(e, format!("cannot open table {} at {url}", spec.id)))?;
        let created = table
            .create()
            .with_table_name(spec.id.to_string())
            .with_comment(spec.description.trim())
            .with_columns(delta_columns(spec))
            .with_partition_columns(spec.partition_by.clone())
            .with_configuration(table_properties(spec))
            .with_save_mode(SaveMode::Ignore)
            .with_commit_properties(CommitInfo::new("create").with_arg(spec.id.to_string()).properties())
            .await;
        match created {
            Ok(table) => Ok(table),
            Err(DeltaTableError::VersionAlreadyExists(_)) | Err(DeltaTableError::Transaction { .. }) => self
                .open(spec)
                .await?
                .ok_or_else(|| Error::environment(format!("table {} vanished while being created", spec.id))),
            Err(e) => Err(from_delta(e, format!("cannot create table {} at {url}", spec.id))),
        }
    }
}

fn parse_root(root: &str) -> Result<Url> {
    if root.contains("://") {
        let mut url = Url::parse(root).data_err(|| format!("lakehouse `{root}` is not a valid URL"))?;
        match url.scheme() {
            "s3" | "s3a" | "file" | "memory" => {}
            other => {
                return Err(Error::data(format!("lakehouse scheme `{other}` is not supported"))
                    .with_hint("use a local path or s3://bucket/prefix"));
            }
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        return Ok(url);
    }
    let path = Path::new(root);
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().env_err(|| "cannot read the current folder".into())?.join(path)
    };
    Url::from_directory_path(&abs)
        .map_err(|_| Error::data(format!("lakehouse path `{}` is not a valid folder path", abs.display())))
}

/// The Arrow schema of a table spec (what writers must produce).
pub fn arrow_schema(spec: &TableSpec) -> SchemaRef {
    let fields: Vec<Field> = spec
        .columns
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.data_type), c.nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

fn arrow_type(t: ColumnType) -> ArrowType {
    match t {
        ColumnType::String => ArrowType::Utf8,
        ColumnType::Binary => ArrowType::Binary,
        ColumnType::Boolean => ArrowType::Boolean,
        ColumnType::Integer => ArrowType::Int32,
        ColumnType::Long => ArrowType::Int64,
        ColumnType::Double => ArrowType::Float64,
        ColumnType::Date => ArrowType::Date32,
        ColumnType::Timestamp => convert::utc_timestamp(),
    }
}

fn delta_type(t: ColumnType) -> DataType {
    DataType::Primitive(match t {
        ColumnType::String => PrimitiveType::String,
        ColumnType::Binary => PrimitiveType::Binary,
        ColumnType::Boolean => PrimitiveType::Boolean,
        ColumnType::Integer => PrimitiveType::Integer,
        ColumnType::Long => PrimitiveType::Long,
        ColumnType::Double => PrimitiveType::Double,
        ColumnType::Date => PrimitiveType::Date,
        ColumnType::Timestamp => PrimitiveType::Timestamp,
    })
}

fn delta_columns(spec: &TableSpec) -> Vec<StructField> {
    spec.columns
        .iter()
        .map(|c| {
            let field = StructField::new(c.name.clone(), delta_type(c.data_type), c.nullable);
            if c.description.is_empty() {
                field
            } else {
                field.with_metadata([("comment", c.description.trim().to_string())])
            }
        })
        .collect()
}

/// Delta table properties that carry the spec's retention into the table itself.
fn table_properties(spec: &TableSpec) -> HashMap<String, Option<String>> {
    let r = &spec.retention;
    HashMap::from([
        ("delta.checkpointInterval".to_string(), Some(r.checkpoint_interval.to_string())),
        ("delta.logRetentionDuration".to_string(), Some(format!("interval {} days", r.log_days))),
        ("delta.deletedFileRetentionDuration".to_string(), Some(format!("interval {} hours", r.hours))),
    ])
}

/// A table on storage must have the spec's columns with the spec's types.
fn check_schema(spec: &TableSpec, table: &DeltaTable) -> Result<()> {
    let snapshot = table.snapshot().map_err(|e| from_delta(e, format!("cannot read table {}", spec.id)))?;
    let actual = snapshot.schema();
    let expected = arrow_schema(spec);
    let mut problems = Vec::new();
    for field in expected.fields() {
        match actual.field(field.name()) {
            None => problems.push(format!("column `{}` is in the spec but not in the table", field.name())),
            Some(f) => {
                let spec_type = delta_type(spec.column(field.name()).expect("field comes from the spec").data_type);
                if f.data_type() != &spec_type {
                    problems.push(format!(
                        "column `{}` is {} in the table, {} in the spec",
                        field.name(),
                        f.data_type(),
                        field.data_type()
                    ));
                }
            }
        }
    }
    for f in actual.fields() {
        if expected.field_with_name(f.name()).is_err() {
            problems.push(format!("column `{}` is in the table but not in the spec", f.name()));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::data(format!(
        "table {} at {} does not match its spec {}: {}",
        spec.id,
        table.table_url(),
        spec.path.display(),
        problems.join("; ")
    ))
    .with_hint("the spec changed after the table was created; migrate the table or restore the spec"))
}

/// The commit info every vbda commit carries under the key `vbda`: which command, its
/// arguments, the versions of the source tables it read, and its row counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommitInfo {
    pub command: String,
    pub args: Vec<String>,
    pub source_versions: BTreeMap<String, i64>,
    pub counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    pub transactions: Vec<Transaction>,
}

impl CommitInfo {
    pub fn new(command: &str) -> Self {
        Self { command: command.to_string(), ..Default::default() }
    }

    pub fn with_arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn with_args(mut self, args: impl IntoIterator<Item = String>) -> Self {
        self.args.extend(args);
        self
    }

    pub fn with_source(mut self, table: &TableId, version: i64) -> Self {
        self.source_versions.insert(table.to_string(), version);
        self
    }

    pub fn with_count(mut self, name: &str, n: u64) -> Self {
        self.counts.insert(name.to_string(), n);
        self
    }

    pub fn with_detail(mut self, name: &str, value: serde_json::Value) -> Self {
        self.details.insert(name.to_string(), value);
        self
    }

    /// Record an application transaction in the same commit as the data.
    pub fn with_transaction(mut self, app_id: impl Into<String>, version: i64) -> Self {
        let now = chrono::Utc::now().timestamp_millis();
        self.transactions.push(Transaction::new_with_last_update(app_id.into(), version, Some(now)));
        self
    }

    pub(crate) fn properties(&self) -> CommitProperties {
        let value = serde_json::to_value(self).unwrap_or_default();
        CommitProperties::default()
            .with_metadata([("vbda".to_string(), value)])
            .with_application_transactions(self.transactions.clone())
            .with_max_retries(COMMIT_RETRIES)
    }
}

/// Concurrent commits that do not conflict are retried this many times by delta-rs.
pub(crate) const COMMIT_RETRIES: usize = 15;

/// What one write committed.
#[derive(Debug, Clone, Serialize)]
pub struct WriteOutcome {
    pub table: String,
    pub version: i64,
    pub rows: u64,
    pub files_added: u64,
    pub files_removed: u64,
}

/// Append record batches to a table in one commit.
pub async fn append(table: DeltaTable, spec: &TableSpec, batches: Vec<RecordBatch>, info: CommitInfo) -> Result<(DeltaTable, WriteOutcome)> {
    write(table, spec, batches, SaveMode::Append, None, info, "append to").await
}

/// Replace exactly the given values of partition column `column` with `batches`, in one
/// commit (Delta's replaceWhere). Partitions not listed are untouched; a listed partition with
/// no rows in `batches` ends up empty. Every row must fall in a listed partition.
pub async fn overwrite_partitions(
    table: DeltaTable,
    spec: &TableSpec,
    column: &str,
    values: &[String],
    batches: Vec<RecordBatch>,
    info: CommitInfo,
) -> Result<(DeltaTable, WriteOutcome)> {
    if !spec.partition_by.iter().any(|c| c == column) {
        return Err(Error::data(format!("{} is not partitioned by `{column}`", spec.id)));
    }
    if values.is_empty() {
        return Err(Error::data("no partitions given to overwrite"));
    }
    let predicate = partition_predicate(spec, column, values)?;
    write(table, spec, batches, SaveMode::Overwrite, Some(predicate), info, "overwrite partitions of").await
}

/// Replace the whole content of a table in one commit.
pub async fn overwrite_table(table: DeltaTable, spec: &TableSpec, batches: Vec<RecordBatch>, info: CommitInfo) -> Result<(DeltaTable, WriteOutcome)> {
    write(table, spec, batches, SaveMode::Overwrite, None, info, "overwrite").await
}

/// One write commit. Without batches an empty one keeps the schema (an overwrite to nothing).
async fn write(
    table: DeltaTable,
    spec: &TableSpec,
    batches: Vec<RecordBatch>,
    mode: SaveMode,
    replace_where: Option<String>,
    info: CommitInfo,
    what: &str,
) -> Result<(DeltaTable, WriteOutcome)> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let batches = if batches.is_empty() { vec![RecordBatch::new_empty(arrow_schema(spec))] } else { batches };
    let mut builder = table
        .write(batches)
        .with_save_mode(mode)
        .with_partition_columns(spec.partition_by.clone())
        .with_commit_properties(info.properties());
    if let Some(predicate) = replace_where {
        builder = builder.with_replace_where(predicate);
    }
    let table = builder.await.map_err(|e| from_delta(e, format!("cannot {what} table {}", spec.id)))?;
    let outcome = outcome(&table, spec, rows as u64).await;
    Ok((table, outcome))
}

/// A SQL predicate `column IN (...)` with literals typed like the column.
pub(crate) fn partition_predicate(spec: &TableSpec, column: &str, values: &[String]) -> Result<String> {
    let col = spec.column(column).ok_or_else(|| Error::data(format!("{} has no column `{column}`", spec.id)))?;
    let literal = |v: &String| -> Result<String> {
        match col.data_type {
            ColumnType::Date => {
                chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .data_err(|| format!("`{v}` is not a date (YYYY-MM-DD)"))?;
                Ok(format!("DATE '{v}'"))
            }
            ColumnType::String => Ok(format!("'{}'", v.replace('\'', "''"))),
            ColumnType::Integer | ColumnType::Long => {
                v.parse::<i64>().data_err(|| format!("`{v}` is not an integer"))?;
                Ok(v.clone())
            }
            other => Err(Error::data(format!("cannot partition by a {} column", other.name()))),
        }
    };
    let list: Vec<String> = values.iter().map(literal).collect::<Result<_>>()?;
    Ok(format!("{column} IN ({})", list.join(", ")))
}

async fn outcome(table: &DeltaTable, spec: &TableSpec, rows: u64) -> WriteOutcome {
    let version = table.version().map(|v| v as i64).unwrap_or(-1);
    let (mut added, mut removed) = (0, 0);
    if let Some(Ok(info)) = futures::StreamExt::next(&mut table.history(Some(1))).await {
        if let Some(m) = info.info.get("operationMetrics") {
            added = m.get("num_added_files").and_then(as_u64).unwrap_or(0);
            removed = m.get("num_removed_files").and_then(as_u64).unwrap_or(0);
        }
    }
    WriteOutcome { table: spec.id.to_string(), version, rows, files_added: added, files_removed: removed }
}

fn as_u64(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests;
