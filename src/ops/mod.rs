//! One module per operation. Operations take plain settings structs and return reports; they
//! never see clap, and the CLI never calls deltalake directly. How a report reads as text is
//! the CLI's (`crate::cli`, next to each command); as JSON, it is the report's `Serialize`.

pub mod backfill;
pub mod bronze_to_silver;
pub mod check;
pub mod content;
pub mod ddl;
pub mod generate;
pub mod ingest;
pub mod init;
pub mod maintain;
pub mod produce;
pub mod publish;
pub mod quality_log;
pub mod report;
pub mod run_metrics;
pub mod sql;
pub mod silver_to_gold;
pub mod stream;
pub mod stream_metrics;
pub mod tables;
pub mod template;
pub mod validate;
