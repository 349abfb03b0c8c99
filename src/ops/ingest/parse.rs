//! Turning one landing file into bronze rows, losslessly.
//!
//! Every record of a readable file becomes one row: NDJSON lines exactly as received (blank
//! lines carry nothing and are only counted), JSON-array elements as their exact source text,
//! CSV rows as a JSON object of header -> cell text (dotted headers nest: `device.type`),
//! Parquet rows as JSON. A record whose event time cannot be read is still a row, flagged,
//! with the reason. A file whose structure cannot be read at all (bad gzip, a JSON array that
//! does not parse or is not UTF-8, a CSV header that is not UTF-8, Parquet that does not open)
//! is reported and contributes nothing, so no half-read file is ever committed. A single CSV
//! row or NDJSON line that is not UTF-8 is a row like any other (lossy text plus its original
//! bytes, flagged).
//!
//! JSON arrays are parsed once by serde_json into borrowed `RawValue`s, which are the
//! elements' exact source text. CSV is tokenized here rather than by the `csv` crate, because
//! that crate is lenient where this module is strict on purpose (checked against csv 1.4): it
//! reads `a 5" screen` as a plain value where this flags "a quote inside an unquoted field", it
//! turns `"x"y` into `xy` where this flags "text after a closing quote", and a quote left open
//! runs to the end of the file without any error where this flags "an unclosed quote". It also
//! drops empty lines, which are counted here. What it would have given (the raw row bytes from
//! `position()`, row field counts, byte records for rows that are not UTF-8) is kept here too.

use std::io::Read;

pub use crate::lake::bronze::{Record, probe, read_event_time};

/// The container format of a landing file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Ndjson,
    Json,
    Csv,
    Parquet,
}

impl FileFormat {
    /// `(format, gzip)` from a file name, or None for files that are not data.
    pub fn from_name(name: &str) -> Option<(Self, bool)> {
        let lower = name.to_ascii_lowercase();
        let (stem, gzip) = match lower.strip_suffix(".gz") {
            Some(stem) => (stem, true),
            None => (lower.as_str(), false),
        };
        let format = match stem.rsplit('.').next()? {
            "ndjson" | "jsonl" => FileFormat::Ndjson,
            "json" => FileFormat::Json,
            "csv" => FileFormat::Csv,
            "parquet" => FileFormat::Parquet,
            _ => return None,
        };
        Some((format, gzip))
    }

    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Ndjson => "ndjson",
            FileFormat::Json => "json",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// What became of a readable file.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub records: Vec<Record>,
    pub blank_lines: u64,
}

/// Why a file as a whole gives no rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Nothing in it (after decompression and a byte-order mark): recorded with no rows once
    /// it has stayed empty for a while.
    Empty,
    /// Its structure cannot be read; the reason, for the user.
    Unreadable(String),
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileProblem::Empty => f.write_str("the file is empty"),
            FileProblem::Unreadable(reason) => f.write_str(reason),
        }
    }
}

/// The default of `ingest.max_file_bytes`: the most bytes one landing file may hold once
/// decompressed. Files are read whole, a few at once, so this bounds ingest's memory.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;

/// Read a whole file, or say why it gives no rows.
pub fn parse_file(bytes: &[u8], format: FileFormat, gzip: bool) -> Result<ParsedFile, FileProblem> {
    parse_file_limited(bytes, format, gzip, DEFAULT_MAX_FILE_BYTES)
}

/// [`parse_file`] for a file that may hold at most `max_bytes` once decompressed: a gzip
/// member that inflates beyond it (a "gzip bomb", or a file too large to hold) is refused
/// while inflating, before it takes the memory.
pub fn parse_file_limited(bytes: &[u8], format: FileFormat, gzip: bool, max_bytes: u64) -> Result<ParsedFile, FileProblem> {
    parse_whole(bytes, format, gzip, max_bytes).map_err(FileProblem::Unreadable)?.ok_or(FileProblem::Empty)
}

/// The reason given for a file over the limit.
pub fn too_large(max_bytes: u64, what: &str) -> String {
    format!("{what} more than {max_bytes} bytes (ingest.max_file_bytes; raise it with --max-file-bytes or VBDA_INGEST_MAX_FILE_BYTES, or split the file)")
}

/// `Ok(None)` for an empty file; `Err` is the reason the file as a whole cannot be read.
fn parse_whole(bytes: &[u8], format: FileFormat, gzip: bool, max_bytes: u64) -> Result<Option<ParsedFile>, String> {
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(max_bytes, "the file holds"));
    }
    let decompressed;
    let bytes = if gzip {
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(max_bytes as usize));
        flate2::read::MultiGzDecoder::new(bytes)
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| format!("not a valid gzip file: {e}"))?;
        if out.len() as u64 > max_bytes {
            return Err(too_large(max_bytes, "the gzip file inflates to"));
        }
        decompressed = out;
        &decompressed[..]
    } else {
        bytes
    };
    // A byte-order mark is an encoding marker, not data (editors and Excel write one).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(None);
    }
    let parsed = match format {
        FileFormat::Ndjson => parse_ndjson(bytes),
        FileFormat::Json => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            if first == Some(&b'[') { parse_json_array(bytes)? } else { parse_ndjson(bytes) }
        }
        FileFormat::Csv => parse_csv(bytes)?,
        FileFormat::Parquet => parse_parquet(bytes, max_bytes)?,
    };
    Ok(Some(parsed))
}

fn parse_ndjson(bytes: &[u8]) -> ParsedFile {
    let mut out = ParsedFile::default();
    // A final '\n' ends the last line; it does not start an empty one.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            out.blank_lines += 1;
            continue;
        }
        out.records.push(record_from_bytes(raw, i as i64 + 1));
    }
    out
}

fn record_from_bytes(raw: &[u8], line: i64) -> Record {
    Record::from_bytes(raw, line)
}

fn record_from_text(payload: String, payload_bytes: Option<Vec<u8>>, line: i64) -> Record {
    Record::from_text(payload, payload_bytes, line, false)
}

/// `text_numbers`: the payload came from a CSV row, whose cells are all text.
fn record_from_payload(payload: String, payload_bytes: Option<Vec<u8>>, line: i64, text_numbers: bool) -> Record {
    Record::from_text(payload, payload_bytes, line, text_numbers)
}

fn parse_json_array(bytes: &[u8]) -> Result<ParsedFile, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("JSON file is not valid UTF-8: {e}"))?;
    // One parse that both validates the array and borrows each element's exact source text
    // (the whitespace around it is not part of it).
    let elements: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(text).map_err(|e| format!("not a valid JSON array: {e}"))?;
    let records = elements
        .into_iter()
        .enumerate()
        .map(|(i, raw)| record_from_text(raw.get().to_string(), None, i as i64 + 1))
        .collect();
    Ok(ParsedFile { records, blank_lines: 0 })
}

/// RFC 4180 CSV: the header names the fields; each row becomes a JSON object of strings.
/// A row that is not valid UTF-8 is kept like an NDJSON line would be: lossy text plus the
/// original bytes, flagged.
fn parse_csv(bytes: &[u8]) -> Result<ParsedFile, String> {
    let mut rows = csv_records(bytes);
    let Some((_, header_raw)) = rows.next() else { return Err("the file is empty".into()) };
    let header_text = std::str::from_utf8(header_raw).map_err(|e| format!("CSV header is not valid UTF-8: {e}"))?;
    let header = split_csv(header_text).map_err(|e| format!("CSV header: {e}"))?;
    if header.iter().any(|h| h.trim().is_empty()) {
        return Err("CSV header has an empty column name".into());
    }
    // Two columns that would land on the same JSON field would lose one of the cells.
    for (i, a) in header.iter().enumerate() {
        for b in &header[i + 1..] {
            let nested = |x: &str, y: &str| y.strip_prefix(x).is_some_and(|rest| rest.starts_with('.'));
            if a == b || nested(a, b) || nested(b, a) {
                return Err(format!("CSV header columns `{a}` and `{b}` collide"));
            }
        }
    }
    let mut out = ParsedFile::default();
    for (line, raw_bytes) in rows {
        if raw_bytes.iter().all(|b| b.is_ascii_whitespace()) {
            out.blank_lines += 1;
            continue;
        }
        let Ok(raw) = std::str::from_utf8(raw_bytes) else {
            out.records.push(record_from_bytes(raw_bytes, line));
            continue;
        };
        let record = match split_csv(raw) {
            Ok(cells) if cells.len() == header.len() => {
                record_from_payload(csv_row_to_json(&header, &cells), None, line, true)
            }
            Ok(cells) => Record {
                payload: raw.to_string(),
                payload_bytes: None,
                line,
                event_id: None,
                event_date: Err(format!("CSV row has {} fields, the header has {}", cells.len(), header.len())),
            },
            Err(e) => Record { payload: raw.to_string(), payload_bytes: None, line, event_id: None, event_date: Err(e) },
        };
        out.records.push(record);
    }
    Ok(out)
}

/// Physical records: lines, joined while a quoted field is open. A quote opens a quoted field
/// only at the start of a field (RFC 4180), so a stray `"` inside a value cannot swallow the
/// lines after it. Yields (1-based first line, text).
fn csv_records(bytes: &[u8]) -> impl Iterator<Item = (i64, &[u8])> {
    let mut start = 0usize;
    let mut line_no = 0i64;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        line_no += 1;
        let first_line = line_no;
        let (mut quoted, mut field_start) = (false, true);
        let mut i = start;
        while i < bytes.len() {
            let b = bytes[i];
            if quoted {
                if b == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 1;
                    } else {
                        quoted = false;
                    }
                } else if b == b'\n' {
                    line_no += 1;
                }
            } else {
                match b {
                    b'"' if field_start => quoted = true,
                    b'\n' => break,
                    _ => {}
                }
                field_start = b == b',';
            }
            i += 1;
        }
        let end = i;
        let record = bytes[start..end].strip_suffix(b"\r").unwrap_or(&bytes[start..end]);
        start = end + 1;
        Some((first_line, record))
    })
}

fn split_csv(record: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = record.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err("CSV row has text after a closing quote".into());
                    }
                }
            } else {
                cell.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' => return Err("CSV row has a quote inside an unquoted field".into()),
            ',' => {
                cells.push(std::mem::take(&mut cell));
                at_start = true;
            }
            c => {
                cell.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("CSV row has an unclosed quote".into());
    }
    cells.push(cell);
    Ok(cells)
}

/// `{"a": "1", "device": {"type": "tv"}}` from headers `a,device.type`; empty cells are absent.
fn csv_row_to_json(header: &[String], cells: &[String]) -> String {
    let mut root = serde_json::Map::new();
    for (name, cell) in header.iter().zip(cells) {
        if cell.is_empty() {
            continue;
        }
        let mut parts = name.split('.').peekable();
        let mut node = &mut root;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_string(), serde_json::Value::String(cell.clone()));
                break;
            }
            let entry = node
                .entry(part.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(Default::default());
            }
            node = entry.as_object_mut().expect("just made an object");
        }
    }
    serde_json::Value::Object(root).to_string()
}

fn parse_parquet(bytes: &[u8], max_bytes: u64) -> Result<ParsedFile, String> {
    // Polars' Parquet reader panics on some damaged files (the fuzz harness finds them in the
    // footer's Thrift, in page bounds and in bitmaps), and its JSON writer has panicking
    // corners for some types; a bad file must never take the whole run down, so it is
    // contained here, quietly, and reported like any unreadable file.
    let owned = bytes.to_vec();
    crate::telemetry::contained(move || parquet_to_ndjson(owned, max_bytes))
        .unwrap_or_else(|| Err("not a readable Parquet file (its metadata or pages are damaged)".to_string()))
        .and_then(|buf| if buf.len() as u64 > max_bytes { Err(too_large(max_bytes, "the Parquet rows as JSON take")) } else { Ok(buf) })
        .map(|buf| {
            let mut parsed = parse_ndjson(&buf);
            parsed.blank_lines = 0;
            parsed
        })
}

/// A Parquet file's rows as JSON lines, through arrow-rs's Parquet reader (hardened by
/// OSS-Fuzz; Polars' reader aborted the process on a damaged footer with an allocation of
/// 2^61 bytes, found by the fuzz harness). Rows are decoded 8,192 at a time and the JSON is
/// refused once it passes `max_bytes`, so neither a damaged nor a huge file takes the memory.
fn parquet_to_ndjson(bytes: Vec<u8>, max_bytes: u64) -> Result<Vec<u8>, String> {
    use std::sync::Arc;

    use deltalake::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let unreadable = |e: &dyn std::fmt::Display| format!("not a readable Parquet file: {e}");
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).map_err(|e| unreadable(&e))?;
    // Declared sizes far beyond what the file can hold are damage, refused before decoding.
    let declared: i64 = builder.metadata().row_groups().iter().map(|g| g.total_byte_size().max(0)).sum();
    if declared as u64 > max_bytes.saturating_mul(4) {
        return Err(too_large(max_bytes, "the Parquet row groups declare"));
    }
    for field in builder.schema().fields() {
        if matches!(field.data_type(), DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_)) {
            return Err(format!("Parquet column `{}` is binary; events must be JSON-compatible", field.name()));
        }
    }
    let reader = builder.with_batch_size(8192).build().map_err(|e| unreadable(&e))?;
    let mut writer = deltalake::arrow::json::LineDelimitedWriter::new(Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(&e))?;
        // Payloads are JSON: naive timestamps are UTC, written RFC 3339 with a `Z`.
        let mut fields = Vec::with_capacity(batch.num_columns());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            match field.data_type() {
                DataType::Timestamp(unit, None) => {
                    let values = column.as_primitive_opt::<deltalake::arrow::datatypes::Int64Type>();
                    let text: StringArray = (0..column.len())
                        .map(|i| {
                            if column.is_null(i) {
                                return None;
                            }
                            let raw = match values {
                                Some(v) => v.value(i),
                                None => deltalake::arrow::compute::cast(&column.slice(i, 1), &DataType::Int64).ok()?.as_primitive::<deltalake::arrow::datatypes::Int64Type>().value(0),
                            };
                            let t = match unit {
                                TimeUnit::Second => chrono::DateTime::from_timestamp(raw, 0),
                                TimeUnit::Millisecond => chrono::DateTime::from_timestamp_millis(raw),
                                TimeUnit::Microsecond => chrono::DateTime::from_timestamp_micros(raw),
                                TimeUnit::Nanosecond => Some(chrono::DateTime::from_timestamp_nanos(raw)),
                            }?;
                            Some(t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
                        })
                        .collect();
                    fields.push(Field::new(field.name(), DataType::Utf8, true));
                    columns.push(Arc::new(text));
                }
                _ => {
                    fields.push(field.as_ref().clone());
                    columns.push(column.clone());
                }
            }
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| unreadable(&e))?;
        writer.write(&batch).map_err(|e| format!("cannot convert Parquet rows to JSON: {e}"))?;
        if writer.get_ref().len() as u64 > max_bytes {
            return Err(too_large(max_bytes, "the Parquet rows as JSON take"));
        }
    }
    writer.finish().map_err(|e| format!("cannot convert Parquet rows to JSON: {e}"))?;
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests;
