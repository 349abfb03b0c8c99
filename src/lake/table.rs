//! [`Table`]: one catalog table and its Delta table, handled together, so an operation holds
//! one value instead of a spec, a `DeltaTable` and the application transactions read from it.
//!
//! The recorded application transactions (`txn` actions: which landing files, which Kafka
//! offsets are in the table) are kept in step with the loaded version: every reload and every
//! commit through this handle brings them up to date, so a writer never checks its input
//! against a stale set.

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;

use super::txn::RecordedTransactions;
use super::{CommitInfo, Lakehouse, WriteOutcome, from_delta};
use crate::catalog::TableSpec;
use crate::error::Result;

/// A catalog table opened in the lakehouse.
#[derive(Debug, Clone)]
pub struct Table {
    spec: TableSpec,
    delta: DeltaTable,
    recorded: RecordedTransactions,
}

impl Table {
    /// Open the table, creating it from its spec when it does not exist yet.
    pub async fn open_or_create(lake: &Lakehouse, spec: &TableSpec) -> Result<Self> {
        let delta = lake.open_or_create(spec).await?;
        let recorded = RecordedTransactions::load(&delta).await?;
        Ok(Self { spec: spec.clone(), delta, recorded })
    }

    /// Open the table if it exists (None when it was never written).
    pub async fn open(lake: &Lakehouse, spec: &TableSpec) -> Result<Option<Self>> {
        let Some(delta) = lake.open(spec).await? else { return Ok(None) };
        let recorded = RecordedTransactions::load(&delta).await?;
        Ok(Some(Self { spec: spec.clone(), delta, recorded }))
    }

    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    pub fn delta(&self) -> &DeltaTable {
        &self.delta
    }

    /// The loaded version (None before the first commit).
    pub fn version(&self) -> Option<i64> {
        self.delta.version().map(|v| v as i64)
    }

    /// The application transactions as of the loaded version.
    pub fn recorded(&self) -> &RecordedTransactions {
        &self.recorded
    }

    /// The version an application recorded, if any.
    pub fn recorded_version(&self, app_id: &str) -> Option<i64> {
        self.recorded.versions.get(app_id).copied()
    }

    /// Load the latest version (other writers' commits) and its application transactions.
    pub async fn reload(&mut self) -> Result<()> {
        self.delta.update_incremental(None).await.map_err(|e| from_delta(e, format!("cannot read {}", self.spec.id)))?;
        self.recorded.refresh(&self.delta).await
    }

    /// The values of a partition column in the loaded version's files.
    pub fn partition_values(&self, column: &str) -> Result<std::collections::BTreeSet<String>> {
        super::partition_values(&self.delta, column)
    }

    /// Replace the partitions `column` = each of `values` with `batches`, in one commit (see
    /// [`super::overwrite_partitions`]). On success the handle is at the new version; on
    /// error it is unchanged.
    pub async fn overwrite_partitions(
        &mut self,
        column: &str,
        values: &[String],
        batches: Vec<RecordBatch>,
        info: CommitInfo,
    ) -> Result<WriteOutcome> {
        let (delta, outcome) = super::overwrite_partitions(self.delta.clone(), &self.spec, column, values, batches, info).await?;
        self.delta = delta;
        self.recorded.refresh(&self.delta).await?;
        Ok(outcome)
    }

    /// Append `batches` in one commit. On success the handle is at the new version; on error it
    /// is unchanged (a lost race, [`super::is_concurrent_commit`], is retried after [`Table::reload`]).
    pub async fn append(&mut self, batches: Vec<RecordBatch>, info: CommitInfo) -> Result<WriteOutcome> {
        let (delta, outcome) = super::append(self.delta.clone(), &self.spec, batches, info).await?;
        self.delta = delta;
        self.recorded.refresh(&self.delta).await?;
        Ok(outcome)
    }
}
