//! `vbda ddl`: `--engine` (and `--table`, `--trino-catalog`, `--keep-s3-scheme`) into
//! [`DdlSettings`]; the statements as SQL text (or `statements` in JSON).
//!
//! What can go wrong: an unknown table (exit 1); `--engine athena` on a lakehouse that is not
//! on S3 (exit 1); storage that does not answer (exit 3). Nothing is sent to any engine.

use clap::Args;

use super::{Context, Rendered, render};
use crate::error::Result;
use crate::ops::ddl::{self, DdlReport, DdlSettings, Engine};

#[derive(Debug, Args)]
#[command(after_help = "Prints the statements; run them in the engine (spark-sql -f, trino -f, the Athena console).
Each table is registered at its location in the lakehouse; the engine reads schema, partitions
and the current version from the Delta log, so nothing is copied and nothing needs refreshing
after vbda writes. Tables not created yet are skipped (listed in a comment).

Examples:
  vbda ddl --engine spark > register.sql && spark-sql -f register.sql   # with delta-spark
  vbda ddl --engine trino --trino-catalog delta | trino --file /dev/stdin
  vbda --lakehouse s3://lake/prod ddl --engine athena --table gold.daily_kpis")]
pub(super) struct DdlArgs {
    /// The engine to register the tables with
    #[arg(long, value_enum)]
    engine: Engine,
    /// Only this table (layer.name); default every table that exists
    #[arg(long)]
    table: Option<String>,
    /// Trino: the name of the Delta Lake connector's catalog
    #[arg(long, value_name = "NAME", default_value = "delta")]
    trino_catalog: String,
    /// Spark: keep s3:// locations (Databricks, EMR) instead of writing s3a://
    #[arg(long)]
    keep_s3_scheme: bool,
}

pub(super) fn settings(args: DdlArgs, _ctx: &Context) -> Result<DdlSettings> {
    let DdlArgs { engine, table, trino_catalog, keep_s3_scheme } = args;
    Ok(DdlSettings { engine, table, trino_catalog, keep_s3_scheme })
}

pub(super) async fn run(settings: DdlSettings, ctx: &Context<'_>) -> Result<Rendered> {
    let report = ddl::ddl(&ctx.lakehouse()?, &ctx.catalog()?, &settings).await?;
    let text = text(&report);
    Ok(render("ddl", &report, text))
}

fn text(r: &DdlReport) -> String {
    let mut out = String::new();
    for note in &r.notes {
        out.push_str(&format!("-- {note}\n"));
    }
    if !r.not_created.is_empty() {
        out.push_str(&format!("-- not created yet (run the pipeline first): {}\n", r.not_created.join(", ")));
    }
    for s in &r.statements {
        out.push_str(s);
        out.push_str(";\n");
    }
    out.trim_end().to_string()
}
