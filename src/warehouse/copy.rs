//! One date of one gold table replaced in one PostgreSQL transaction: the old rows deleted, the
//! new ones sent by binary COPY, and the bookkeeping row (gold table, date, Delta version)
//! written, all committed together, so a crash or a rerun leaves the date wholly old or wholly
//! new. An advisory lock per (table, date) serialises two publishers of the same date; the one
//! holding an older Delta version than the one already there leaves the date alone.

use std::collections::BTreeMap;

use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::{DataFrame, DataType as PlDataType};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::Target;
use super::ddl::{published_name, quote_ident, table_name};
use crate::catalog::{ColumnType, TableSpec};
use crate::error::{Error, Result};

/// What happened to one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum DateOutcome {
    /// The date's rows replaced by this many.
    Replaced { rows: u64 },
    /// Gold has no rows of the date any more: its rows and bookkeeping removed.
    Deleted { rows: u64 },
    /// Another publisher already put a newer Delta version of the date there: left alone.
    NewerThere { version: i64 },
}

/// What the bookkeeping says of one date of one gold table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The gold version the date's rows (or its removal) came from.
    pub version: i64,
    /// The Delta table's id (`metaData.id`) at that version: versions of a re-created gold
    /// table start again from 0 and are not comparable with the old ones.
    pub table_id: Option<String>,
    /// Gold had no rows of the date at that version: the rows were removed (a tombstone, so
    /// an older publisher cannot put them back).
    pub deleted: bool,
}

/// The dates of one gold table in the bookkeeping (removed ones included, as tombstones).
pub async fn published(client: &Client, target: &Target, spec: &TableSpec) -> Result<BTreeMap<NaiveDate, Published>> {
    let rows = client
        .query(
            &format!("SELECT date, delta_version, delta_table_id, deleted FROM {} WHERE gold_table = $1", published_name(target)),
            &[&spec.id.to_string()],
        )
        .await
        .map_err(|e| target.error(e, "cannot read the publish bookkeeping"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, NaiveDate>(0), Published { version: r.get(1), table_id: r.get(2), deleted: r.get(3) }))
        .collect())
}

/// Record that `dates`, unchanged in gold between the versions they were published from and
/// `version`, are current as of `version`, so later incremental runs read the log from there.
pub async fn mark_current(client: &Client, target: &Target, spec: &TableSpec, dates: &[NaiveDate], version: i64, table_id: &str) -> Result<()> {
    if dates.is_empty() {
        return Ok(());
    }
    client
        .execute(
            &format!(
                "UPDATE {} SET delta_version = $3 WHERE gold_table = $1 AND date = ANY($2) AND delta_version < $3 AND delta_table_id = $4",
                published_name(target)
            ),
            &[&spec.id.to_string(), &dates, &version, &table_id],
        )
        .await
        .map_err(|e| target.error(e, "cannot update the publish bookkeeping"))?;
    Ok(())
}

/// Replace `date` of `spec`'s table with `rows` (None: gold has none: delete), recording
/// `version` as the Delta version it came from, in one transaction.
pub async fn replace_date(
    client: &mut Client,
    target: &Target,
    spec: &TableSpec,
    date: NaiveDate,
    rows: Option<&DataFrame>,
    version: i64,
    table_id: &str,
) -> Result<DateOutcome> {
    let Some(date_column) = spec.date_partition() else {
        return Err(Error::data(format!("{} has no date partition; publish replaces dates", spec.id)));
    };
    let name = table_name(target, spec);
    let gold_table = spec.id.to_string();
    let what = format!("cannot publish {gold_table} {date}");
    let err = |e| target.error(e, &what);
    let tx = client.transaction().await.map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&gold_table, date)]).await.map_err(err)?;
    let published = published_name(target);
    let recorded: Option<(i64, Option<String>)> = tx
        .query_opt(&format!("SELECT delta_version, delta_table_id FROM {published} WHERE gold_table = $1 AND date = $2"), &[
            &gold_table,
            &date,
        ])
        .await
        .map_err(err)?
        .map(|r| (r.get(0), r.get(1)));
    // Versions compare only within one Delta table (a re-created one starts again from 0).
    if let Some((there, id)) = recorded {
        if there > version && id.as_deref() == Some(table_id) {
            return Ok(DateOutcome::NewerThere { version: there });
        }
    }
    let deleted = tx
        .execute(&format!("DELETE FROM {name} WHERE {} = $1", quote_ident(date_column)), &[&date])
        .await
        .map_err(err)?;
    let outcome = match rows {
        Some(df) if df.height() > 0 => {
            let copied = copy_rows(&tx, &name, spec, df).await.map_err(|e| match e {
                CopyError::Pg(e) => err(e),
                CopyError::Vbda(e) => e.context(&what),
            })?;
            tx.execute(
                &format!(
                    "INSERT INTO {published} (gold_table, date, delta_version, rows, published_at, delta_table_id, deleted) VALUES ($1, $2, $3, $4, now(), $5, false)
                     ON CONFLICT (gold_table, date) DO UPDATE SET delta_version = EXCLUDED.delta_version, rows = EXCLUDED.rows,
                       published_at = now(), delta_table_id = EXCLUDED.delta_table_id, deleted = false"
                ),
                &[&gold_table, &date, &version, &(copied as i64), &table_id],
            )
            .await
            .map_err(err)?;
            DateOutcome::Replaced { rows: copied }
        }
        _ => {
            // A tombstone, not a delete: a publisher holding an older version must not put the
            // rows back.
            tx.execute(
                &format!(
                    "INSERT INTO {published} (gold_table, date, delta_version, rows, published_at, delta_table_id, deleted) VALUES ($1, $2, $3, 0, now(), $4, true)
                     ON CONFLICT (gold_table, date) DO UPDATE SET delta_version = EXCLUDED.delta_version, rows = 0,
                       published_at = now(), delta_table_id = EXCLUDED.delta_table_id, deleted = true"
                ),
                &[&gold_table, &date, &version, &table_id],
            )
            .await
            .map_err(err)?;
            DateOutcome::Deleted { rows: deleted }
        }
    };
    crate::failpoint::hit("publish.before_commit");
    tx.commit().await.map_err(err)?;
    Ok(outcome)
}

/// A stable advisory-lock key for one (table, date): FNV-1a over both.
fn lock_key(table: &str, date: NaiveDate) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in table.bytes().chain([b'/']).chain(date.to_string().bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

enum CopyError {
    Pg(tokio_postgres::Error),
    Vbda(Error),
}

impl From<tokio_postgres::Error> for CopyError {
    fn from(e: tokio_postgres::Error) -> Self {
        CopyError::Pg(e)
    }
}

impl From<Error> for CopyError {
    fn from(e: Error) -> Self {
        CopyError::Vbda(e)
    }
}

/// Send the frame's rows (columns in spec order) by binary COPY; returns the rows written.
async fn copy_rows(tx: &tokio_postgres::Transaction<'_>, name: &str, spec: &TableSpec, df: &DataFrame) -> Result<u64, CopyError> {
    let columns: Vec<String> = spec.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let types: Vec<Type> = spec.columns.iter().map(|c| pg_wire_type(c.data_type)).collect();
    let cells: Vec<Vec<Cell<'_>>> = spec.columns.iter().map(|c| column_cells(df, &c.name, c.data_type)).collect::<Result<_>>()?;
    let sink = tx.copy_in(&format!("COPY {name} ({}) FROM STDIN (FORMAT binary)", columns.join(", "))).await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(writer);
    let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(cells.len());
    for r in 0..df.height() {
        row.clear();
        row.extend(cells.iter().map(|col| &col[r] as &(dyn ToSql + Sync)));
        writer.as_mut().write(&row).await?;
    }
    Ok(writer.finish().await?)
}

fn pg_wire_type(t: ColumnType) -> Type {
    match t {
        ColumnType::String => Type::TEXT,
        ColumnType::Binary => Type::BYTEA,
        ColumnType::Boolean => Type::BOOL,
        ColumnType::Integer => Type::INT4,
        ColumnType::Long => Type::INT8,
        ColumnType::Double => Type::FLOAT8,
        ColumnType::Date => Type::DATE,
        ColumnType::Timestamp => Type::TIMESTAMPTZ,
    }
}

/// One value on its way to PostgreSQL, borrowing strings and bytes from the frame.
#[derive(Debug)]
enum Cell<'a> {
    Null,
    Text(&'a str),
    Bytes(&'a [u8]),
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Text(v) => v.to_sql(ty, out),
            Cell::Bytes(v) => v.to_sql(ty, out),
            Cell::Bool(v) => v.to_sql(ty, out),
            Cell::Int(v) => v.to_sql(ty, out),
            Cell::Long(v) => v.to_sql(ty, out),
            Cell::Double(v) => v.to_sql(ty, out),
            Cell::Date(v) => v.to_sql(ty, out),
            Cell::Timestamp(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A frame's column as cells of the spec's type.
fn column_cells<'a>(df: &'a DataFrame, name: &str, t: ColumnType) -> Result<Vec<Cell<'a>>> {
    let col = df
        .column(name)
        .map_err(|_| Error::data(format!("gold rows have no column `{name}`")))?
        .as_materialized_series();
    let wrong = |e: polars::prelude::PolarsError| Error::data(format!("column `{name}` is not {}: {e}", t.name()));
    // Strict casts: a value that does not fit fails the date rather than becoming NULL.
    macro_rules! strict {
        ($pl:ident, $get:ident, $cell:ident) => {
            col.strict_cast(&PlDataType::$pl).map_err(wrong)?.$get().map_err(wrong)?.iter().map(|v| v.map_or(Cell::Null, Cell::$cell)).collect()
        };
    }
    let cells = match t {
        ColumnType::String => {
            let strings = col.str().map_err(wrong)?;
            // PostgreSQL's text cannot hold U+0000: say so rather than fail inside COPY.
            if let Some(row) = strings.iter().position(|v| v.is_some_and(|s| s.contains('\0'))) {
                return Err(Error::data(format!("column `{name}` holds a NUL character (row {row}), which PostgreSQL text cannot store"))
                    .with_hint("find the producer's value in silver with `vbda sql` and fix or quarantine it upstream"));
            }
            strings.iter().map(|v| v.map_or(Cell::Null, Cell::Text)).collect()
        }
        ColumnType::Binary => col.binary().map_err(wrong)?.iter().map(|v| v.map_or(Cell::Null, Cell::Bytes)).collect(),
        ColumnType::Boolean => col.bool().map_err(wrong)?.iter().map(|v| v.map_or(Cell::Null, Cell::Bool)).collect(),
        ColumnType::Integer => strict!(Int32, i32, Int),
        ColumnType::Long => strict!(Int64, i64, Long),
        ColumnType::Double => strict!(Float64, f64, Double),
        ColumnType::Date => {
            if col.dtype() != &PlDataType::Date {
                return Err(Error::data(format!("column `{name}` is {}, not a date", col.dtype())));
            }
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            let days = col.to_physical_repr();
            let days = days.i32().map_err(wrong)?;
            days.iter()
                .map(|v| match v {
                    None => Ok(Cell::Null),
                    Some(d) => epoch
                        .checked_add_signed(chrono::Duration::days(d as i64))
                        .map(Cell::Date)
                        .ok_or_else(|| Error::data(format!("column `{name}` holds a date out of range ({d} days from 1970-01-01)"))),
                })
                .collect::<Result<_>>()?
        }
        ColumnType::Timestamp => {
            let PlDataType::Datetime(unit, _) = col.dtype() else {
                return Err(Error::data(format!("column `{name}` is {}, not a timestamp", col.dtype())));
            };
            let unit = *unit;
            let physical = col.to_physical_repr();
            let values = physical.i64().map_err(wrong)?;
            values
                .iter()
                .map(|v| {
                    let Some(v) = v else { return Ok(Cell::Null) };
                    let micros = match unit {
                        polars::prelude::TimeUnit::Nanoseconds => Some(v.div_euclid(1_000)),
                        polars::prelude::TimeUnit::Microseconds => Some(v),
                        polars::prelude::TimeUnit::Milliseconds => v.checked_mul(1_000),
                    };
                    micros
                        .and_then(DateTime::<Utc>::from_timestamp_micros)
                        .map(Cell::Timestamp)
                        .ok_or_else(|| Error::data(format!("column `{name}` holds a timestamp out of range ({v} {unit})")))
                })
                .collect::<Result<_>>()?
        }
    };
    Ok(cells)
}
