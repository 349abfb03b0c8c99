//! Table maintenance: `vacuum`, `optimize`, `checkpoint`, `history`, `status`, `restore`, one
//! file each.
//!
//! Each is delta-rs's own operation (VACUUM LITE/FULL, bin-packing OPTIMIZE, checkpoints and
//! expired-log cleanup, RESTORE, the commit history) with vbda's rules around it: retention
//! defaults and minimums from the table specs, commit info naming the command, partitions
//! chosen by date, and clear errors for the usual mistakes. This module holds what they share:
//! choosing the tables (`--table` or all) and opening one that must exist.
//!
//! What can go wrong in all of them: an unknown `--table` (exit 1, from the catalog) and a
//! table not created yet (skipped and reported as missing where all tables are chosen, an
//! error where one table is named by `history` and `restore`).

mod checkpoint;
mod history;
mod optimize;
mod restore;
mod status;
mod vacuum;

pub use checkpoint::*;
pub use history::*;
pub use optimize::*;
pub use restore::*;
pub use status::*;
pub use vacuum::*;

use deltalake::DeltaTable;

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result};
use crate::lake::Lakehouse;

/// The tables an operation works on: the one named, or every table of the catalog.
fn specs<'a>(catalog: &'a Catalog, table: Option<&str>) -> Result<Vec<&'a TableSpec>> {
    match table {
        Some(name) => Ok(vec![catalog.table(name)?]),
        None => Ok(catalog.tables().collect()),
    }
}

/// A table that must exist (the operation is about its history).
async fn open_existing(lake: &Lakehouse, spec: &TableSpec) -> Result<DeltaTable> {
    lake.open(spec).await?.ok_or_else(|| {
        Error::data(format!("table {} does not exist yet", spec.id)).with_hint("`vbda tables` shows which tables have been created")
    })
}
