//! `vbda tables` and `vbda describe`: what the catalog declares and what storage holds.

use serde::Serialize;

use crate::catalog::{Catalog, TableSpec};
use crate::error::Result;
use crate::lake::{self, Lakehouse, TableStats};

#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub table: String,
    pub location: String,
    pub created: bool,
    #[serde(flatten)]
    pub stats: TableStats,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TablesReport {
    pub lakehouse: String,
    pub tables: Vec<TableRow>,
}

async fn row(lake: &Lakehouse, spec: &TableSpec) -> Result<TableRow> {
    let table = lake.open(spec).await?;
    let stats = match &table {
        Some(t) => lake::table_stats(t).await?,
        None => TableStats::default(),
    };
    Ok(TableRow {
        table: spec.id.to_string(),
        location: lake.table_url(&spec.id).to_string(),
        created: table.is_some(),
        stats,
        description: spec.description.lines().next().unwrap_or_default().trim().to_string(),
    })
}

pub async fn list(lake: &Lakehouse, catalog: &Catalog) -> Result<TablesReport> {
    let mut tables = Vec::new();
    for spec in catalog.tables() {
        tables.push(row(lake, spec).await?);
    }
    Ok(TablesReport { lakehouse: lake.root().to_string(), tables })
}

pub fn list_text(r: &TablesReport) -> String {
    let mut out = format!("lakehouse: {}\n", r.lakehouse);
    out.push_str(&format!(
        "{:<36} {:>8} {:>7} {:>12} {:>12}  {}\n",
        "TABLE", "VERSION", "FILES", "BYTES", "ROWS", "LOCATION"
    ));
    for t in &r.tables {
        let version = t.stats.version.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let rows = match (t.created, t.stats.rows) {
            (false, _) => "-".to_string(),
            (true, Some(v)) => v.to_string(),
            (true, None) => "?".to_string(),
        };
        out.push_str(&format!(
            "{:<36} {:>8} {:>7} {:>12} {:>12}  {}\n",
            t.table, version, t.stats.files, t.stats.bytes, rows, t.location
        ));
    }
    out.trim_end().to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnRow {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectationRow {
    pub name: String,
    pub rule: String,
    pub severity: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribeReport {
    #[serde(flatten)]
    pub table: TableRow,
    pub spec: String,
    pub full_description: String,
    pub partition_by: Vec<String>,
    pub keys: Vec<String>,
    pub retention_hours: u64,
    pub min_retention_hours: u64,
    pub columns: Vec<ColumnRow>,
    pub expectations: Vec<ExpectationRow>,
}

pub async fn describe(lake: &Lakehouse, catalog: &Catalog, name: &str) -> Result<DescribeReport> {
    let spec = catalog.table(name)?;
    Ok(DescribeReport {
        table: row(lake, spec).await?,
        spec: spec.path.display().to_string(),
        full_description: spec.description.trim().to_string(),
        partition_by: spec.partition_by.clone(),
        keys: spec.keys.clone(),
        retention_hours: spec.retention.hours,
        min_retention_hours: spec.retention.min_hours,
        columns: spec
            .columns
            .iter()
            .map(|c| ColumnRow {
                name: c.name.clone(),
                data_type: c.data_type.name().to_string(),
                nullable: c.nullable,
                description: c.description.trim().to_string(),
            })
            .collect(),
        expectations: spec
            .expectations
            .iter()
            .map(|e| ExpectationRow {
                name: e.display_name(),
                rule: e.rule.name().to_string(),
                severity: e.severity.name().to_string(),
                columns: e.target_columns().iter().map(|c| c.to_string()).collect(),
            })
            .collect(),
    })
}

pub fn describe_text(r: &DescribeReport) -> String {
    let t = &r.table;
    let mut out = format!(
        "{}\n  {}\nspec:      {}\nlocation:  {}\nversion:   {}\nfiles:     {}\nbytes:     {}\nrows:      {}\npartitions: {} by [{}]\nkeys:      [{}]\nretention: {} h (minimum {} h)\n\ncolumns:\n",
        t.table,
        r.full_description.replace('\n', "\n  "),
        r.spec,
        t.location,
        t.stats.version.map(|v| v.to_string()).unwrap_or_else(|| "not created yet".into()),
        t.stats.files,
        t.stats.bytes,
        t.stats.rows.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        t.stats.partitions,
        r.partition_by.join(", "),
        r.keys.join(", "),
        r.retention_hours,
        r.min_retention_hours,
    );
    for c in &r.columns {
        out.push_str(&format!(
            "  {:<24} {:<10} {:<9} {}\n",
            c.name,
            c.data_type,
            if c.nullable { "null" } else { "not null" },
            c.description.lines().next().unwrap_or_default()
        ));
    }
    out.push_str("\nexpectations:\n");
    for e in &r.expectations {
        out.push_str(&format!("  {:<40} {:<16} {:<5} [{}]\n", e.name, e.rule, e.severity, e.columns.join(", ")));
    }
    out.trim_end().to_string()
}
