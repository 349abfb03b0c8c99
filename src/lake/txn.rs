//! Application transactions (`txn` actions): the Delta protocol's exactly-once bookkeeping.
//!
//! A writer that must not apply the same input twice (a landing file, a range of Kafka
//! offsets) commits a `txn { appId, version }` action in the same commit as the data; after a
//! crash it reads the action back and knows exactly what is in the table. delta-rs looks up one
//! `appId` at a time, and each lookup replays the log. `vbda ingest` needs the whole set (one
//! `appId` per landing file, thousands of them), so this module replays the log once: the
//! newest checkpoint at or below the snapshot version, then the JSON commits after it, newest
//! value winning. Only classic checkpoints (single or multi-part) exist in tables vbda
//! creates; anything else is reported rather than misread.

use std::collections::HashMap;

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Int64Type};
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::{ObjectStore, Path};
use futures::TryStreamExt;

use crate::error::{Context, Error, Result};

/// Every `appId` -> `version` visible in the table's loaded snapshot.
pub async fn app_transactions(table: &DeltaTable) -> Result<HashMap<String, i64>> {
    let Some(version) = table.version().map(|v| v as i64) else { return Ok(HashMap::new()) };
    let store = table.log_store().object_store(None);
    let log = Path::from("_delta_log");
    let listing: Vec<_> = store
        .list(Some(&log))
        .try_collect()
        .await
        .env_err(|| format!("cannot list the Delta log of {}", table.table_url()))?;

    // The newest complete checkpoint at or below `version`.
    let mut checkpoints: HashMap<i64, Vec<(u32, Path)>> = HashMap::new();
    let mut expected_parts: HashMap<i64, u32> = HashMap::new();
    for meta in &listing {
        let Some(name) = meta.location.filename() else { continue };
        let Some((v, rest)) = name.split_once(".checkpoint") else { continue };
        let Ok(v) = v.parse::<i64>() else { continue };
        if v > version {
            continue;
        }
        match rest.split('.').collect::<Vec<_>>().as_slice() {
            ["", "parquet"] => {
                checkpoints.entry(v).or_default().push((1, meta.location.clone()));
                expected_parts.insert(v, 1);
            }
            ["", part, parts, "parquet"] => {
                let (Ok(part), Ok(parts)) = (part.parse::<u32>(), parts.parse::<u32>()) else { continue };
                checkpoints.entry(v).or_default().push((part, meta.location.clone()));
                expected_parts.insert(v, parts);
            }
            _ => {
                return Err(Error::data(format!(
                    "{}: checkpoint `{name}` has a format vbda does not read (v2 checkpoint?)",
                    table.table_url()
                )));
            }
        }
    }
    let checkpoint = checkpoints
        .iter()
        .filter(|(v, parts)| expected_parts.get(v).is_some_and(|n| *n as usize == parts.len()))
        .map(|(v, _)| *v)
        .max();

    let mut txns = HashMap::new();
    let first_commit = match checkpoint {
        Some(cp) => {
            let mut parts = checkpoints.remove(&cp).unwrap_or_default();
            parts.sort();
            for (_, path) in parts {
                read_checkpoint_txns(store.as_ref(), &path, &mut txns).await?;
            }
            cp + 1
        }
        None => 0,
    };
    for v in first_commit..=version {
        read_commit_txns(store.as_ref(), v, &mut txns).await?;
    }
    Ok(txns)
}

/// The application transactions of a table as of a version, kept up to date cheaply: after
/// the table moves on, only the new commits are read.
#[derive(Debug, Clone, Default)]
pub struct RecordedTransactions {
    pub versions: HashMap<String, i64>,
    /// The table version these transactions are complete for (None: empty table).
    pub as_of: Option<i64>,
}

impl RecordedTransactions {
    pub async fn load(table: &DeltaTable) -> Result<Self> {
        Ok(Self { versions: app_transactions(table).await?, as_of: table.version().map(|v| v as i64) })
    }

    /// Bring the set up to the table's loaded version.
    pub async fn refresh(&mut self, table: &DeltaTable) -> Result<()> {
        let Some(target) = table.version().map(|v| v as i64) else { return Ok(()) };
        let Some(from) = self.as_of else {
            *self = Self::load(table).await?;
            return Ok(());
        };
        let store = table.log_store().object_store(None);
        for v in from + 1..=target {
            if read_commit_txns(store.as_ref(), v, &mut self.versions).await.is_err() {
                // The commit's JSON may have been cleaned up after a checkpoint: replay anew.
                *self = Self::load(table).await?;
                return Ok(());
            }
        }
        self.as_of = Some(target);
        Ok(())
    }
}

async fn read_commit_txns(store: &dyn ObjectStore, version: i64, txns: &mut HashMap<String, i64>) -> Result<()> {
    let path = Path::from("_delta_log").join(format!("{version:020}.json"));
    let bytes = store
        .get(&path)
        .await
        .env_err(|| format!("cannot read Delta commit {path}"))?
        .bytes()
        .await
        .env_err(|| format!("cannot read Delta commit {path}"))?;
    for line in bytes.split(|b| *b == b'\n') {
        // Cheap filter: most lines are add/remove/commitInfo actions.
        if !contains(line, b"\"txn\"") {
            continue;
        }
        let action: serde_json::Value = serde_json::from_slice(line)
            .data_err(|| format!("Delta commit {path} holds a line that is not JSON"))?;
        if let Some(txn) = action.get("txn") {
            let app = txn.get("appId").and_then(|v| v.as_str());
            let ver = txn.get("version").and_then(|v| v.as_i64());
            if let (Some(app), Some(ver)) = (app, ver) {
                record(txns, app, ver);
            }
        }
    }
    Ok(())
}

/// A version below zero is vbda's "nothing recorded": Delta has no action that removes a
/// `txn`, so `vbda restore` writes [`NOT_RECORDED`] for an application that the restored
/// version had not seen yet.
fn record(txns: &mut HashMap<String, i64>, app: &str, version: i64) {
    if version < 0 {
        txns.remove(app);
    } else {
        txns.insert(app.to_string(), version);
    }
}

/// The `txn` version that takes an application's record back to "nothing recorded".
pub const NOT_RECORDED: i64 = -1;

/// The application transactions to commit with a restore of `table` to the state `target`
/// (the same table loaded at the restored version): every application whose record differs
/// goes back to its value there, or to [`NOT_RECORDED`] where it had none. Data and
/// bookkeeping then agree again: the next ingest reads the files that the restore took out,
/// a stream worker goes back to the offsets of the restored data, and incremental
/// bronze-to-silver and silver-to-gold redo the work after the restored version.
pub async fn restored_transactions(current: &DeltaTable, target: &DeltaTable) -> Result<Vec<(String, i64)>> {
    let now = app_transactions(current).await?;
    let then = app_transactions(target).await?;
    let mut changes: Vec<(String, i64)> = now
        .iter()
        .filter(|(app, v)| then.get(*app) != Some(*v))
        .map(|(app, _)| (app.clone(), then.get(app).copied().unwrap_or(NOT_RECORDED)))
        .collect();
    // Applications the restored version knew but the current one lost (restores of restores).
    changes.extend(then.iter().filter(|(app, _)| !now.contains_key(*app)).map(|(app, v)| (app.clone(), *v)));
    changes.sort();
    Ok(changes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn read_checkpoint_txns(
    store: &dyn ObjectStore,
    path: &Path,
    txns: &mut HashMap<String, i64>,
) -> Result<()> {
    let bytes = store
        .get(path)
        .await
        .env_err(|| format!("cannot read checkpoint {path}"))?
        .bytes()
        .await
        .env_err(|| format!("cannot read checkpoint {path}"))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .data_err(|| format!("checkpoint {path} is not a readable Parquet file"))?;
    let schema = builder.parquet_schema();
    let Some(root) = (0..schema.root_schema().get_fields().len())
        .find(|i| schema.root_schema().get_fields()[*i].name() == "txn")
    else {
        return Ok(());
    };
    let mask = ProjectionMask::roots(schema, [root]);
    let reader = builder
        .with_projection(mask)
        .build()
        .data_err(|| format!("cannot read checkpoint {path}"))?;
    for batch in reader {
        let batch = batch.data_err(|| format!("cannot read checkpoint {path}"))?;
        let Some(txn) = batch.column_by_name("txn") else { continue };
        let txn = txn.as_struct();
        let (Some(app), Some(ver)) = (txn.column_by_name("appId"), txn.column_by_name("version")) else {
            continue;
        };
        // Writers differ in string and integer widths; normalise before reading.
        let app = cast(app, &DataType::Utf8).data_err(|| format!("checkpoint {path}: bad txn.appId"))?;
        let ver = cast(ver, &DataType::Int64).data_err(|| format!("checkpoint {path}: bad txn.version"))?;
        let app = app.as_string::<i32>();
        let ver = ver.as_primitive::<Int64Type>();
        for i in 0..txn.len() {
            if txn.is_valid(i) && app.is_valid(i) && ver.is_valid(i) {
                record(txns, app.value(i), ver.value(i));
            }
        }
    }
    Ok(())
}

/// The values of partition column `column` that commits `after + 1 ..= upto` added files to
/// or removed files from (read from the commits' `add` and `remove` actions), or None when some of those commits' JSON files are
/// gone (cleaned up after a checkpoint): the caller must then consider every partition.
pub async fn partitions_added(
    table: &DeltaTable,
    after: Option<i64>,
    upto: i64,
    column: &str,
) -> Result<Option<std::collections::BTreeSet<String>>> {
    Ok(partitions_changed(table, after, upto, column).await?.map(|changed| changed.into_keys().collect()))
}

/// Like [`partitions_added`], with the last version of `after + 1 ..= upto` that touched each
/// value (`vbda publish` compares it with the version each date was published from).
pub async fn partitions_changed(
    table: &DeltaTable,
    after: Option<i64>,
    upto: i64,
    column: &str,
) -> Result<Option<std::collections::BTreeMap<String, i64>>> {
    let store = table.log_store().object_store(None);
    let mut out = std::collections::BTreeMap::new();
    let first = after.map(|v| v + 1).unwrap_or(0);
    for version in first..=upto {
        let path = Path::from("_delta_log").join(format!("{version:020}.json"));
        let bytes = match store.as_ref().get(&path).await {
            Ok(found) => found.bytes().await.env_err(|| format!("cannot read Delta commit {path}"))?,
            Err(deltalake::ObjectStoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::environment(format!("cannot read Delta commit {path}")).with_source(e)),
        };
        for line in bytes.split(|b| *b == b'\n') {
            if !contains(line, b"\"add\"") && !contains(line, b"\"remove\"") {
                continue;
            }
            let action: serde_json::Value = serde_json::from_slice(line)
                .data_err(|| format!("Delta commit {path} holds a line that is not JSON"))?;
            let file = action.get("add").or_else(|| action.get("remove"));
            if let Some(value) = file.and_then(|a| a.get("partitionValues")).and_then(|p| p.get(column)).and_then(|v| v.as_str()) {
                out.insert(value.to_string(), version);
            }
        }
    }
    Ok(Some(out))
}
