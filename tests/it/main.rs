//! Integration tests: the real `vbda` binary against real Delta tables in temporary folders.
//! One test binary for every area (see BUILD.md); each area is a module.

mod common;

mod airflow;
mod backfill;
mod catalog;
mod cli;
mod crash;
mod gold;
mod interop;
mod ingest;
mod kafka_broker;
mod kafka_e2e;
mod maintain;
mod monitoring;
mod postgres;
mod produce;
mod publish;
mod report;
mod property;
mod s3;
mod settings;
mod silver;
mod stream;
