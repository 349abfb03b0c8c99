//! vbda: runs and maintains a Delta Lake lakehouse for video-streaming analytics.
//!
//! Layout: `cli` (clap, settings resolution, rendering), `settings`, `catalog` (the specs in
//! `tables/` and `jobs/`), `lake` (Delta and Polars plumbing), `ops` (one module per
//! operation), `telemetry` (logs, progress). See DESIGN.md in the shared folder and README.md.

pub mod catalog;
pub mod cli;
pub mod error;
pub mod files;
pub mod failpoint;
pub mod kafka;
pub mod lake;
pub mod ops;
pub mod quality;
pub mod settings;
pub mod telemetry;
pub mod warehouse;

#[cfg(test)]
mod fuzz;

pub use error::{Error, Result};
