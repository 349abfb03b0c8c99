//! The PostgreSQL tables the gold specs become: one table per gold spec in the target schema
//! (columns and types from the spec, the spec's keys as the primary key, the descriptions as
//! comments), and `vbda_published`, the bookkeeping of which Delta version of which gold date is
//! there. Created under an advisory lock, so publishers starting together do not race.

use tokio_postgres::Client;

use super::Target;
use crate::catalog::{ColumnType, TableSpec};
use crate::error::{Error, Result};

/// The bookkeeping table, in the target schema.
pub const PUBLISHED: &str = "vbda_published";

/// Serialises vbda's DDL across publishers (`pg_advisory_xact_lock` key).
const DDL_LOCK: i64 = 0x7662_6461_6464_6c00; // "vbdaddl\0"

/// A spec type as PostgreSQL's type (the name `information_schema.columns` reports).
pub fn pg_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "text",
        ColumnType::Binary => "bytea",
        ColumnType::Boolean => "boolean",
        ColumnType::Integer => "integer",
        ColumnType::Long => "bigint",
        ColumnType::Double => "double precision",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamp with time zone",
    }
}

/// `"name"`, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"schema"."table"` of a gold spec.
pub(super) fn table_name(target: &Target, spec: &TableSpec) -> String {
    format!("{}.{}", quote_ident(target.schema()), quote_ident(&spec.id.name))
}

pub(super) fn published_name(target: &Target) -> String {
    format!("{}.{}", quote_ident(target.schema()), quote_ident(PUBLISHED))
}

/// Create the schema, the bookkeeping table and each gold table that is missing; add columns a
/// spec gained (nullable); refuse a table whose columns differ otherwise. Returns, per spec,
/// whether its table was created now.
pub async fn ensure_tables(client: &mut Client, target: &Target, specs: &[&TableSpec]) -> Result<Vec<bool>> {
    let tx = client.transaction().await.map_err(|e| target.error(e, "cannot start a transaction"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK]).await.map_err(|e| target.error(e, "cannot take the DDL lock"))?;
    let schema = quote_ident(target.schema());
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {published} (
           gold_table text NOT NULL,
           date date NOT NULL,
           delta_version bigint NOT NULL,
           rows bigint NOT NULL,
           published_at timestamp with time zone NOT NULL DEFAULT now(),
           PRIMARY KEY (gold_table, date));
         ALTER TABLE {published} ADD COLUMN IF NOT EXISTS delta_table_id text;
         ALTER TABLE {published} ADD COLUMN IF NOT EXISTS deleted boolean NOT NULL DEFAULT false;
         COMMENT ON TABLE {published} IS 'vbda publish: which Delta version (of which Delta table id) of each gold table''s date is in this schema, written in the same transaction as the date''s rows; deleted: gold had no rows of the date at that version.';",
        published = published_name(target)
    ))
    .await
    .map_err(|e| target.error(e, &format!("cannot create schema {} and its bookkeeping table", target.schema())))?;

    let mut created = Vec::with_capacity(specs.len());
    for spec in specs {
        let existing = tx
            .query(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&target.schema(), &spec.id.name],
            )
            .await
            .map_err(|e| target.error(e, "cannot read the catalog"))?;
        let name = table_name(target, spec);
        if existing.is_empty() {
            tx.batch_execute(&create_statement(target, spec))
                .await
                .map_err(|e| target.error(e, &format!("cannot create {name}")))?;
            // A table dropped by hand leaves its bookkeeping behind: forget it, so every date is
            // published again into the new table.
            tx.execute(&format!("DELETE FROM {} WHERE gold_table = $1", published_name(target)), &[&spec.id.to_string()])
                .await
                .map_err(|e| target.error(e, "cannot reset the publish bookkeeping"))?;
            created.push(true);
            continue;
        }
        let mut problems = Vec::new();
        for col in &spec.columns {
            let found = existing.iter().find(|r| r.get::<_, &str>(0) == col.name);
            match found {
                None => {
                    tx.batch_execute(&format!(
                        "ALTER TABLE {name} ADD COLUMN {} {}; COMMENT ON COLUMN {name}.{} IS {};",
                        quote_ident(&col.name),
                        pg_type(col.data_type),
                        quote_ident(&col.name),
                        quote_literal(&col.description)
                    ))
                    .await
                    .map_err(|e| target.error(e, &format!("cannot add column {} to {name}", col.name)))?;
                }
                Some(row) if row.get::<_, &str>(1) != pg_type(col.data_type) => problems.push(format!(
                    "column {} is {} there, the spec says {} ({})",
                    col.name,
                    row.get::<_, &str>(1),
                    col.data_type.name(),
                    pg_type(col.data_type)
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(Error::data(format!("{name} does not match {}: {}", spec.id, problems.join("; "))).with_hint(format!(
                "drop it (DROP TABLE {name}; DELETE FROM {} WHERE gold_table = '{}') and publish again: every date is republished",
                published_name(target),
                spec.id
            )));
        }
        created.push(false);
    }
    tx.commit().await.map_err(|e| target.error(e, "cannot commit the table definitions"))?;
    Ok(created)
}

/// `CREATE TABLE` with the spec's columns, primary key and comments.
fn create_statement(target: &Target, spec: &TableSpec) -> String {
    let name = table_name(target, spec);
    let mut columns: Vec<String> = spec
        .columns
        .iter()
        .map(|c| format!("{} {}{}", quote_ident(&c.name), pg_type(c.data_type), if c.nullable { "" } else { " NOT NULL" }))
        .collect();
    // A primary key needs NOT NULL columns: a spec whose keys may be null gets an index instead.
    let keys_not_null = !spec.keys.is_empty() && spec.keys.iter().all(|k| spec.column(k).is_some_and(|c| !c.nullable));
    let keys: Vec<String> = spec.keys.iter().map(|k| quote_ident(k)).collect();
    if keys_not_null {
        columns.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    }
    let mut sql = format!("CREATE TABLE {name} (\n  {}\n);\n", columns.join(",\n  "));
    if !keys_not_null {
        let index_on: Vec<String> = match spec.date_partition() {
            Some(d) if keys.is_empty() => vec![quote_ident(d)],
            _ => keys,
        };
        if !index_on.is_empty() {
            sql.push_str(&format!("CREATE INDEX ON {name} ({});\n", index_on.join(", ")));
        }
    }
    sql.push_str(&format!("COMMENT ON TABLE {name} IS {};\n", quote_literal(&format!("{} (vbda: {})", spec.description, spec.id))));
    for c in &spec.columns {
        sql.push_str(&format!("COMMENT ON COLUMN {name}.{} IS {};\n", quote_ident(&c.name), quote_literal(&c.description)));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("users' days"), "'users'' days'");
    }
}
