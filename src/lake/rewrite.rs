//! Partition rewrites written as a stream: data files are written as the rows come, and one
//! commit at the end removes the partitions' old files and adds the new ones (Delta's
//! replaceWhere, with the same operation and predicate as [`super::overwrite_partitions`]).
//!
//! This keeps memory flat for steps that produce more rows than fit in memory at once
//! (bronze-to-silver of a 10-million-event day). Files written by a run that never commits
//! (a crash, a failed expectation) are referenced by no version: readers never see them, and
//! `vacuum --full` removes them.

use std::collections::{HashMap, HashSet};

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use super::{COMMIT_RETRIES, CommitInfo, WriteOutcome, partition_predicate};
use crate::catalog::TableSpec;
use crate::error::{Error, Result};
use crate::lake::from_delta;

/// Buffered Parquet bytes after which the open files are finished and written out.
const FLUSH_BYTES: usize = 96 << 20;

/// Rows per Parquet row group: the writer holds a row group's rows decoded until it is full.
const ROW_GROUP_ROWS: usize = 256 * 1024;

pub struct PartitionRewrite {
    spec: TableSpec,
    column: String,
    values: Vec<String>,
    writer: RecordBatchWriter,
    adds: Vec<Add>,
    rows: u64,
}

impl PartitionRewrite {
    /// Start rewriting partitions `values` of `column`; every row written must fall in one.
    pub fn new(table: &DeltaTable, spec: &TableSpec, column: &str, values: &[String]) -> Result<Self> {
        if !spec.partition_by.iter().any(|c| c == column) {
            return Err(Error::data(format!("{} is not partitioned by `{column}`", spec.id)));
        }
        if values.is_empty() {
            return Err(Error::data("no partitions given to overwrite"));
        }
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = RecordBatchWriter::for_table(table)
            .map_err(|e| from_delta(e, format!("cannot write to table {}", spec.id)))?
            .with_writer_properties(properties);
        Ok(Self { spec: spec.clone(), column: column.to_string(), values: values.to_vec(), writer, adds: Vec::new(), rows: 0 })
    }

    pub async fn write(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        for batch in batches {
            if batch.num_rows() == 0 {
                continue;
            }
            self.rows += batch.num_rows() as u64;
            self.writer.write(batch).await.map_err(|e| from_delta(e, format!("cannot write to table {}", self.spec.id)))?;
        }
        if self.writer.buffer_len() > FLUSH_BYTES {
            let adds = self.writer.flush().await.map_err(|e| from_delta(e, format!("cannot write to table {}", self.spec.id)))?;
            self.adds.extend(adds);
        }
        Ok(())
    }

    /// Commit: the partitions' files in `table`'s current snapshot are removed and the new
    /// files added, with `info`'s commit info and application transactions, in one commit.
    pub async fn commit(mut self, table: &DeltaTable, info: CommitInfo) -> Result<WriteOutcome> {
        let id = self.spec.id.to_string();
        let adds = self.writer.flush().await.map_err(|e| from_delta(e, format!("cannot write to table {id}")))?;
        self.adds.extend(adds);
        let wanted: HashSet<&str> = self.values.iter().map(String::as_str).collect();
        for add in &self.adds {
            match add.partition_values.get(&self.column) {
                Some(Some(v)) if wanted.contains(v.as_str()) => {}
                other => {
                    return Err(Error::data(format!(
                        "a row of {id} falls in partition {}={other:?}, which this run does not rewrite",
                        self.column
                    )));
                }
            }
        }
        let snapshot = table.snapshot().map_err(|e| from_delta(e, format!("cannot read table {id}")))?;
        let removes: Vec<Action> = snapshot
            .log_data()
            .iter()
            .filter(|f| matches!(f.partition_values_map().get(&self.column), Some(Some(v)) if wanted.contains(v.as_str())))
            .map(|f| Action::Remove(f.remove_action(true)))
            .collect();
        let (files_added, files_removed) = (self.adds.len() as u64, removes.len() as u64);
        let mut actions: Vec<Action> = self.adds.into_iter().map(Action::Add).collect();
        actions.extend(removes);

        let predicate = partition_predicate(&self.spec, &self.column, &self.values)?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: Some(self.spec.partition_by.clone()),
            predicate: Some(predicate),
        };
        let properties = info.properties();
        let mut metadata: HashMap<String, serde_json::Value> = HashMap::new();
        metadata.insert("vbda".into(), serde_json::to_value(&info).unwrap_or_default());
        metadata.insert(
            "operationMetrics".into(),
            serde_json::json!({"num_added_files": files_added, "num_removed_files": files_removed, "num_added_rows": self.rows}),
        );
        let finalized = CommitBuilder::from(properties)
            .with_app_metadata(metadata)
            .with_max_retries(COMMIT_RETRIES)
            .with_actions(actions)
            .build(Some(snapshot), table.log_store(), operation)
            .await
            .map_err(|e| from_delta(e.into(), format!("cannot commit to table {id}")))?;
        Ok(WriteOutcome { table: id, version: finalized.version() as i64, rows: self.rows, files_added, files_removed })
    }
}
