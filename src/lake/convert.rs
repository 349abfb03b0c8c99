//! Polars <-> Arrow through the Arrow C Data Interface.
//!
//! Polars keeps its own Arrow implementation (`polars-arrow`), delta-rs uses arrow-rs. Both
//! implement the C Data Interface, whose structs have one C layout, so a column crosses
//! without copying its buffers: export on one side, import on the other. Types are then cast
//! to the table's schema (Polars produces string views and large lists; the table has plain
//! strings). Timestamps cross as naive UTC: Polars is built without time-zone support, and
//! every timestamp in the lakehouse is UTC.

use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, new_null_array};
use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi, to_ffi};
use deltalake::arrow::record_batch::RecordBatch;
use polars::prelude::*;

use crate::error::{Error, Result};

/// Convert a DataFrame to record batches with exactly `schema`'s columns, in its order and types.
///
/// A nullable column missing from the frame becomes all nulls; a missing non-nullable column,
/// or a value that cannot be cast, is an error naming the column.
pub fn df_to_batches(df: &DataFrame, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    for field in schema.fields() {
        if !field.is_nullable() && !names.iter().any(|n| n == field.name()) {
            return Err(Error::data(format!("column `{}` is required but missing", field.name())));
        }
    }
    let mut out = Vec::new();
    for (start, len) in pieces(df)? {
        convert_piece(&df.slice(start as i64, len), schema, &names, &mut out)?;
    }
    Ok(out)
}

/// Text bytes one converted record batch may hold: the table's plain string columns have
/// 32-bit offsets (2 GiB per column and batch), which a slice of large payloads can pass.
/// (Unit tests use 1 KiB, so that every conversion in them is split.)
const MAX_PIECE_BYTES: usize = if cfg!(test) { 1 << 10 } else { 512 << 20 };

/// `(start, rows)` pieces of `df` whose text and binary columns hold at most
/// [`MAX_PIECE_BYTES`] together (or a single row).
fn pieces(df: &DataFrame) -> Result<Vec<(usize, usize)>> {
    let height = df.height();
    let text: Vec<&Column> = df.columns().iter().filter(|c| matches!(c.dtype(), polars::prelude::DataType::String | polars::prelude::DataType::Binary)).collect();
    if height == 0 || df.estimated_size() <= MAX_PIECE_BYTES || text.is_empty() {
        return Ok(vec![(0, height)]);
    }
    let mut row_bytes = vec![0usize; height];
    for c in text {
        match c.dtype() {
            polars::prelude::DataType::String => {
                for (i, v) in c.str().map_err(polars_err)?.iter().enumerate() {
                    row_bytes[i] += v.map_or(0, str::len);
                }
            }
            _ => {
                for (i, v) in c.binary().map_err(polars_err)?.iter().enumerate() {
                    row_bytes[i] += v.map_or(0, <[u8]>::len);
                }
            }
        }
    }
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, b) in row_bytes.into_iter().enumerate() {
        if i > start && bytes + b > MAX_PIECE_BYTES {
            out.push((start, i - start));
            (start, bytes) = (i, 0);
        }
        bytes += b;
    }
    out.push((start, height - start));
    Ok(out)
}

fn convert_piece(df: &DataFrame, schema: &SchemaRef, names: &[String], out: &mut Vec<RecordBatch>) -> Result<()> {
    for chunk in df.iter_chunks(CompatLevel::newest(), false) {
        let rows = chunk.len();
        let arrays = chunk.into_arrays();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let column = match names.iter().position(|n| n == field.name()) {
                Some(i) => cast_to(polars_to_arrow(arrays[i].clone(), field.name())?, field)?,
                None => new_null_array(field.data_type(), rows),
            };
            columns.push(column);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::data("cannot build a record batch for the table").with_source(e))?;
        out.push(batch);
    }
    Ok(())
}

/// Convert record batches to one DataFrame (columns in the batches' order).
pub fn batches_to_df(batches: &[RecordBatch], schema: &SchemaRef) -> Result<DataFrame> {
    let mut columns: Vec<Vec<Series>> = vec![Vec::new(); schema.fields().len()];
    for batch in batches {
        for (i, field) in schema.fields().iter().enumerate() {
            let array = batch.column_by_name(field.name()).ok_or_else(|| {
                Error::data(format!("batch has no column `{}`", field.name()))
            })?;
            columns[i].push(arrow_to_series(array, field.name())?);
        }
    }
    let mut out = Vec::with_capacity(columns.len());
    for (i, field) in schema.fields().iter().enumerate() {
        let mut parts = std::mem::take(&mut columns[i]).into_iter();
        let series = match parts.next() {
            None => {
                let empty = new_null_array(&naive(field.data_type()), 0);
                arrow_to_series(&empty, field.name())?
            }
            Some(mut first) => {
                for next in parts {
                    first.append(&next).map_err(polars_err)?;
                }
                first
            }
        };
        out.push(series.into_column());
    }
    DataFrame::new_infer_height(out).map_err(polars_err)
}

fn polars_to_arrow(array: Box<dyn polars_arrow::array::Array>, name: &str) -> Result<ArrayRef> {
    let field = polars_arrow::datatypes::Field::new(name.into(), array.dtype().clone(), true);
    let c_schema = polars_arrow::ffi::export_field_to_c(&field);
    let c_array = polars_arrow::ffi::export_array_to_c(array);
    // SAFETY: both crates define these as the `#[repr(C)]` structs of the Arrow C Data
    // Interface (same fields, same order); ownership (the release callback) moves with them.
    let (c_array, c_schema): (FFI_ArrowArray, FFI_ArrowSchema) =
        unsafe { (std::mem::transmute(c_array), std::mem::transmute(c_schema)) };
    // SAFETY: the pair was just exported by polars-arrow and is valid.
    let data = unsafe { from_ffi(c_array, &c_schema) }
        .map_err(|e| Error::data(format!("column `{name}`: cannot import from Polars")).with_source(e))?;
    Ok(deltalake::arrow::array::make_array(data))
}

fn arrow_to_series(array: &ArrayRef, name: &str) -> Result<Series> {
    let naive_type = naive(array.data_type());
    let array = if &naive_type != array.data_type() {
        cast_with_options(array, &naive_type, &CastOptions::default())
            .map_err(|e| Error::data(format!("column `{name}`: cannot cast for Polars")).with_source(e))?
    } else {
        array.clone()
    };
    let (c_array, c_schema) = to_ffi(&array.to_data())
        .map_err(|e| Error::data(format!("column `{name}`: cannot export to Polars")).with_source(e))?;
    // SAFETY: as in `polars_to_arrow`, the C Data Interface structs share one layout.
    let (c_array, c_schema): (polars_arrow::ffi::ArrowArray, polars_arrow::ffi::ArrowSchema) =
        unsafe { (std::mem::transmute(c_array), std::mem::transmute(c_schema)) };
    // SAFETY: the pair was just exported by arrow-rs and is valid.
    let field = unsafe { polars_arrow::ffi::import_field_from_c(&c_schema) }.map_err(polars_err)?;
    let imported =
        unsafe { polars_arrow::ffi::import_array_from_c(c_array, field.dtype().clone()) }.map_err(polars_err)?;
    Series::from_arrow(name.into(), imported).map_err(polars_err)
}

/// Cast an array to a table field's type; timestamps come from Polars without a time zone.
fn cast_to(array: ArrayRef, field: &Field) -> Result<ArrayRef> {
    if array.data_type() == field.data_type() {
        return Ok(array);
    }
    let options = CastOptions { safe: false, ..Default::default() };
    cast_with_options(&array, field.data_type(), &options).map_err(|e| {
        Error::data(format!(
            "column `{}`: cannot convert {} to {}",
            field.name(),
            array.data_type(),
            field.data_type()
        ))
        .with_source(e)
    })
}

/// The type Polars sees: timestamps without a time zone (they are UTC), everything else as is.
fn naive(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
        other => other.clone(),
    }
}

/// The Arrow schema Polars sees for a table schema.
pub fn naive_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(naive(f.data_type())))
        .collect();
    Arc::new(Schema::new(fields))
}

/// A UTC timestamp type as the lakehouse stores it.
pub fn utc_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The Polars type a spec column type is held in (timestamps as naive UTC microseconds).
pub fn polars_type(t: crate::catalog::ColumnType) -> polars::prelude::DataType {
    use crate::catalog::ColumnType;
    use polars::prelude::{DataType as P, TimeUnit as U};
    match t {
        ColumnType::String => P::String,
        ColumnType::Binary => P::Binary,
        ColumnType::Boolean => P::Boolean,
        ColumnType::Integer => P::Int32,
        ColumnType::Long => P::Int64,
        ColumnType::Double => P::Float64,
        ColumnType::Date => P::Date,
        ColumnType::Timestamp => P::Datetime(U::Microseconds, None),
    }
}

pub fn polars_err(e: PolarsError) -> Error {
    Error::data("Polars failed").with_source(e)
}

/// A Polars error without the query plan it appends ("Resolved plan until failure: ..."),
/// which is ~20 lines of internals where the user needs the first one.
pub fn polars_message(e: &PolarsError) -> String {
    let text = e.to_string();
    let head = text.split("\n\nResolved plan until failure").next().unwrap_or(&text);
    let head = head.split("\n\nThis error occurred with the following context stack").next().unwrap_or(head);
    crate::error::without_backtrace(head.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Date32Array, Int64Array, StringArray, TimestampMicrosecondArray};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new("day", DataType::Date32, false),
            Field::new("at", utc_timestamp(), true),
            Field::new("extra", DataType::Utf8, true),
        ]))
    }

    #[test]
    fn round_trip_keeps_values_types_and_nulls() {
        let schema = schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
                Arc::new(Date32Array::from(vec![20089, 20089, 20090])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_735_689_600_000_000), None, Some(5)]).with_timezone("UTC")),
                Arc::new(StringArray::from(vec![None, Some("x"), None])),
            ],
        )
        .unwrap();
        let df = batches_to_df(std::slice::from_ref(&batch), &schema).unwrap();
        assert_eq!(df.height(), 3);
        assert_eq!(df.column("n").unwrap().null_count(), 1);
        assert_eq!(df.column("day").unwrap().dtype(), &polars::prelude::DataType::Date);
        let back = df_to_batches(&df, &schema).unwrap();
        let rows: usize = back.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
        let joined = deltalake::arrow::compute::concat_batches(&schema, &back).unwrap();
        assert_eq!(joined, batch, "a DataFrame round trip must give the same batch back");
    }

    #[test]
    fn missing_nullable_column_becomes_null_and_missing_required_is_an_error() {
        let schema = schema();
        let df = df!("id" => ["a"], "day" => [chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()]).unwrap();
        let batches = df_to_batches(&df, &schema).unwrap();
        assert_eq!(batches[0].column_by_name("n").unwrap().null_count(), 1);
        assert_eq!(batches[0].column_by_name("at").unwrap().data_type(), &utc_timestamp());
        let df = df!("n" => [1i64]).unwrap();
        let err = df_to_batches(&df, &schema).unwrap_err();
        assert!(err.to_string().contains("`id` is required"), "{err}");
    }

    #[test]
    fn large_text_is_split_into_batches_that_stay_inside_the_offset_limit() {
        // 100 rows of 100 bytes: unit tests cut pieces at 1 KiB, so 10 rows a batch at most.
        let ids: Vec<String> = (0..100).map(|i| format!("{i:0>100}")).collect();
        let df = df!["id" => ids.clone(), "day" => vec![20089i32; 100]].unwrap();
        let df = df.lazy().with_column(col("day").cast(polars::prelude::DataType::Date)).collect().unwrap();
        let batches = df_to_batches(&df, &schema()).unwrap();
        assert!(batches.len() >= 10, "{} batches", batches.len());
        for b in &batches {
            let text: usize = b.column(0).as_any().downcast_ref::<StringArray>().unwrap().value_data().len();
            assert!(text <= 1 << 10, "{text} bytes in one batch");
        }
        let back = batches_to_df(&batches, &schema()).unwrap();
        let got: Vec<String> = back.column("id").unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(got, ids, "every row, in order");
    }

    #[test]
    fn empty_batches_give_an_empty_frame_with_the_schema() {
        let df = batches_to_df(&[], &schema()).unwrap();
        assert_eq!(df.height(), 0);
        assert_eq!(df.width(), 5);
    }
}
