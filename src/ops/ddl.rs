//! `vbda ddl`: the statements that register every table's location with another engine, so
//! analysts query `gold.daily_kpis` by name there. The tables stay where vbda writes them;
//! each engine reads the Delta log itself (schema, partitions, the current version).
//!
//! - Spark (and Databricks): `CREATE TABLE IF NOT EXISTS layer.name USING DELTA LOCATION '...'`;
//!   an `s3://` lakehouse is written `s3a://` (Hadoop's S3 connector; Databricks and EMR also
//!   read `s3://`: pass `--keep-s3-scheme`).
//! - Trino (Delta Lake connector): `CALL <catalog>.system.register_table(...)`, which needs
//!   `delta.register-table-procedure.enabled=true` in the catalog's properties.
//! - Athena (Glue catalog): `CREATE EXTERNAL TABLE ... LOCATION 's3://...' TBLPROPERTIES
//!   ('table_type' = 'DELTA')`; Athena reads only `s3://` locations.
//!
//! Only tables that exist are registered (an engine cannot read an empty location); the others
//! are listed in a comment.

use serde::Serialize;

use crate::catalog::{Catalog, TableSpec};
use crate::error::{Error, Result};
use crate::lake::Lakehouse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Spark,
    Trino,
    Athena,
}

#[derive(Debug, Clone, Serialize)]
pub struct DdlSettings {
    pub engine: Engine,
    /// Only this table (layer.name).
    pub table: Option<String>,
    /// Trino's catalog name for the Delta Lake connector.
    pub trino_catalog: String,
    /// Keep `s3://` for Spark (Databricks, EMR) instead of `s3a://`.
    pub keep_s3_scheme: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DdlReport {
    pub engine: Engine,
    pub statements: Vec<String>,
    /// Tables whose location holds no Delta table yet: not registered.
    pub not_created: Vec<String>,
    /// Notes for the engine (settings it needs), as SQL comments in the text.
    pub notes: Vec<String>,
}

pub async fn ddl(lake: &Lakehouse, catalog: &Catalog, settings: &DdlSettings) -> Result<DdlReport> {
    let specs: Vec<&TableSpec> = match &settings.table {
        Some(name) => vec![catalog.table(name)?],
        None => catalog.tables().collect(),
    };
    let mut statements = Vec::new();
    let mut not_created = Vec::new();
    let mut notes = Vec::new();
    let mut schemas: Vec<&str> = Vec::new();
    let mut present = Vec::new();
    for spec in specs {
        if lake.open(spec).await?.is_none() {
            not_created.push(spec.id.to_string());
            continue;
        }
        if !schemas.contains(&spec.id.layer.as_str()) {
            schemas.push(&spec.id.layer);
        }
        present.push(spec);
    }
    let location = |spec: &TableSpec| -> String {
        let url = lake.table_url(&spec.id).to_string();
        let url = url.trim_end_matches('/').to_string();
        match settings.engine {
            Engine::Spark if !settings.keep_s3_scheme => match url.strip_prefix("s3://") {
                Some(rest) => format!("s3a://{rest}"),
                None => url,
            },
            _ => url,
        }
    };
    match settings.engine {
        Engine::Spark => {
            for s in &schemas {
                statements.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(s, '`')));
            }
            for spec in &present {
                statements.push(format!(
                    "CREATE TABLE IF NOT EXISTS {}.{} USING DELTA LOCATION {}",
                    ident(&spec.id.layer, '`'),
                    ident(&spec.id.name, '`'),
                    literal(&location(spec))
                ));
            }
            notes.push("Spark needs delta-spark on its classpath and spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension, spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog".into());
        }
        Engine::Trino => {
            let catalog = &settings.trino_catalog;
            for s in &schemas {
                statements.push(format!("CREATE SCHEMA IF NOT EXISTS {}.{}", ident(catalog, '"'), ident(s, '"')));
            }
            for spec in &present {
                statements.push(format!(
                    "CALL {}.system.register_table(schema_name => {}, table_name => {}, table_location => {})",
                    ident(catalog, '"'),
                    literal(&spec.id.layer),
                    literal(&spec.id.name),
                    literal(&location(spec))
                ));
            }
            notes.push(format!("the Delta Lake catalog `{catalog}` needs delta.register-table-procedure.enabled=true; register_table fails for a table already registered (rerunning: CALL {catalog}.system.unregister_table(schema_name => ..., table_name => ...) first)"));
        }
        Engine::Athena => {
            if lake.root().scheme() != "s3" {
                return Err(Error::data(format!("Athena reads tables on S3 only; this lakehouse is {}", lake.root()))
                    .with_hint("point --lakehouse (or VBDA_LAKEHOUSE) at the s3:// lakehouse, or use --engine spark or trino"));
            }
            for s in &schemas {
                statements.push(format!("CREATE DATABASE IF NOT EXISTS {}", ident(s, '`')));
            }
            for spec in &present {
                statements.push(format!(
                    "CREATE EXTERNAL TABLE IF NOT EXISTS {}.{} LOCATION {} TBLPROPERTIES ('table_type' = 'DELTA')",
                    ident(&spec.id.layer, '`'),
                    ident(&spec.id.name, '`'),
                    literal(&location(spec))
                ));
            }
            notes.push("Athena (engine version 3) reads the schema from the Delta log; run each statement separately (Athena takes one per query)".into());
        }
    }
    Ok(DdlReport { engine: settings.engine, statements, not_created, notes })
}

fn ident(name: &str, quote: char) -> String {
    let doubled = format!("{quote}{quote}");
    format!("{quote}{}{quote}", name.replace(quote, &doubled))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
