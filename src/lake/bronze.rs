//! Bronze rows: the one place that knows `bronze.video_events`' 17 columns, how a raw payload
//! becomes a row (the payload probe for `event_id` and `event_ts`, the ingestion-date fallback
//! for an unreadable event time), and the application ids under which each source records
//! its progress in the same Delta commit as its rows (`vbda.ingest:<file uri>`,
//! `vbda.stream:<topic>:<partition>`).
//!
//! Files (`ops::ingest`) and Kafka (`ops::stream`) both build their rows with [`BronzeRows`],
//! so a payload lands the same way whichever way it came. Bronze is lossless: a payload that
//! is not JSON, not UTF-8 or has no readable event time is still a row, with the reason in
//! `payload_error` and `event_date_fallback` set (silver quarantines it).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use deltalake::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use deltalake::arrow::record_batch::RecordBatch;
use serde::Deserialize;

use crate::catalog::TableSpec;
use crate::error::{Error, Result};

/// The bronze table every source lands in.
pub const TABLE: &str = "bronze.video_events";

/// The prefix of the application ids `vbda ingest` records, one per landing file.
pub const INGEST_APP_PREFIX: &str = "vbda.ingest:";
/// The prefix of the application ids `vbda stream` records, one per topic partition.
pub const STREAM_APP_PREFIX: &str = "vbda.stream:";

/// The application id under which a landing file's fingerprint is recorded.
pub fn ingest_app_id(uri: &str) -> String {
    format!("{INGEST_APP_PREFIX}{uri}")
}

/// The application id under which a partition's next offset is recorded.
pub fn stream_app_id(topic: &str, topic_id: Option<&str>, partition: i32) -> String {
    match topic_id {
        Some(id) => format!("{STREAM_APP_PREFIX}{topic}#{id}:{partition}"),
        None => format!("{STREAM_APP_PREFIX}{topic}:{partition}"),
    }
}

/// `vbda.stream:<topic>[#<topic id>]:<partition>` -> (topic, topic id, partition); None for
/// other application ids. (`#` cannot occur in a Kafka topic name.)
pub fn parse_stream_app_id(app_id: &str) -> Option<(&str, Option<&str>, i32)> {
    let (topic, partition) = app_id.strip_prefix(STREAM_APP_PREFIX)?.rsplit_once(':')?;
    let partition = partition.parse().ok()?;
    Some(match topic.split_once('#') {
        Some((topic, id)) => (topic, Some(id), partition),
        None => (topic, None, partition),
    })
}

/// Days since 1970-01-01: Arrow's and Delta's `date` representation.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date")).num_days() as i32
}

/// One payload on its way into bronze.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The payload text; invalid UTF-8 replaced by U+FFFD.
    pub payload: String,
    /// The original bytes when they were not valid UTF-8.
    pub payload_bytes: Option<Vec<u8>>,
    /// 1-based line (NDJSON, CSV), element (JSON array) or row (Parquet) number; 0 for Kafka.
    pub line: i64,
    pub event_id: Option<String>,
    /// The event's UTC date, or why it could not be read.
    pub event_date: Result<NaiveDate, String>,
}

impl Record {
    /// A payload received as bytes (an NDJSON line, a Kafka message). Bytes that are not
    /// UTF-8 are kept as they came and flagged, even when the event time is readable: the
    /// payload is not what producers must send, so silver quarantines it.
    pub fn from_bytes(raw: &[u8], line: i64) -> Self {
        match std::str::from_utf8(raw) {
            Ok(text) => Self::from_text(text.to_string(), None, line, false),
            Err(_) => {
                let text = String::from_utf8_lossy(raw).into_owned();
                let mut record = Self::from_text(text, Some(raw.to_vec()), line, false);
                record.event_date = Err("payload is not valid UTF-8".to_string());
                record
            }
        }
    }

    /// A payload as text. `text_numbers`: it came from a CSV row, whose cells are all text.
    pub fn from_text(payload: String, payload_bytes: Option<Vec<u8>>, line: i64, text_numbers: bool) -> Self {
        let (event_id, event_date) = probe(&payload, text_numbers);
        Self { payload, payload_bytes, line, event_id, event_date }
    }
}

/// Just the fields bronze reads from a payload; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    event_id: Option<serde_json::Value>,
    #[serde(default)]
    event_ts: Option<serde_json::Value>,
}

/// The event id (when a string) and the UTC date of `event_ts`, or why it cannot be read.
pub fn probe(payload: &str, text_numbers: bool) -> (Option<String>, Result<NaiveDate, String>) {
    // serde would also read a struct from a JSON array, positionally; events are objects.
    let object = payload.trim_start().starts_with('{');
    let probe: Probe = match serde_json::from_str(payload) {
        Ok(_) if !object => return (None, Err("payload is not a JSON object".into())),
        Ok(p) => p,
        Err(e) if e.is_data() => return (None, Err("payload is not a JSON object".into())),
        Err(e) => return (None, Err(format!("malformed JSON: {e}"))),
    };
    let event_id = match probe.event_id {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    let date = match probe.event_ts {
        None | Some(serde_json::Value::Null) => Err("event_ts is missing".to_string()),
        Some(ts) => read_event_time(&ts, text_numbers).map(|t| t.date_naive()),
    };
    (event_id, date)
}

/// `event_ts` as bronze and silver both read it: [`event_time`], and for CSV rows (all text)
/// also epoch milliseconds written as digits. Both layers must agree, so that every bronze row
/// of a date ends in silver or quarantine of the same date.
pub fn read_event_time(value: &serde_json::Value, text_numbers: bool) -> Result<DateTime<Utc>, String> {
    if let (serde_json::Value::String(s), true) = (value, text_numbers) {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(ms) = s.parse::<i64>() {
                return event_time(&serde_json::Value::from(ms));
            }
        }
    }
    event_time(value)
}

/// The Kafka timestamps bronze keeps (years 1 to 9999, what every Delta reader can show);
/// a producer may set any 64-bit value (brokers accept it with `log.message.timestamp.*`
/// unbounded): beyond this range `kafka_timestamp` is null, and the message is kept whole.
pub const KAFKA_TIMESTAMP_RANGE_MS: std::ops::RangeInclusive<i64> = -62_135_596_800_000..=253_402_300_799_999;

/// DESIGN §2: `event_ts` is an RFC 3339 string with an offset, or integer epoch milliseconds.
pub fn event_time(value: &serde_json::Value) -> Result<DateTime<Utc>, String> {
    match value {
        serde_json::Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("event_ts `{}` is not RFC 3339: {e}", truncate(s, 64))),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(ms) => DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| format!("event_ts {ms} is out of range for epoch milliseconds")),
            None => Err(format!("event_ts {n} is not an integer of epoch milliseconds")),
        },
        other => Err(format!("event_ts has the wrong type: {}", json_type(other))),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// At most `max` characters of `s`, with `...` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Where a bronze row came from: its source coordinates.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A landing file (`payload_format` is the file's format: ndjson, json, csv, parquet).
    File { uri: &'a str, format: &'a str },
    /// A Kafka message.
    Kafka { topic: &'a str, partition: i32, offset: i64, timestamp_ms: Option<i64>, key: Option<&'a str> },
}

/// Column builders for bronze rows: one Arrow record batch per file or commit.
pub struct BronzeRows {
    payload: StringBuilder,
    payload_bytes: BinaryBuilder,
    payload_format: StringBuilder,
    payload_error: StringBuilder,
    event_id: StringBuilder,
    event_date_fallback: BooleanBuilder,
    source_kind: StringBuilder,
    source_file: StringBuilder,
    source_line: Int64Builder,
    kafka_topic: StringBuilder,
    kafka_partition: Int32Builder,
    kafka_offset: Int64Builder,
    kafka_timestamp: TimestampMicrosecondBuilder,
    kafka_key: StringBuilder,
    batch_id: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    event_date: Date32Builder,
    batch: String,
    ingested_micros: i64,
    /// Rows whose event time could not be read get this date (UTC, at ingestion).
    ingest_date: NaiveDate,
    fallback_rows: u64,
    rows: usize,
}

impl BronzeRows {
    /// Rows that share a `batch_id` and an `ingested_at` (now).
    pub fn new(batch_id: &str) -> Self {
        Self::at(batch_id, Utc::now())
    }

    /// Rows that continue `self`'s (the next record batch of one file): the same `batch_id`,
    /// `ingested_at` and ingestion date.
    pub fn continued(&self) -> Self {
        let mut next = Self::at(&self.batch, Utc::now());
        (next.ingested_micros, next.ingest_date) = (self.ingested_micros, self.ingest_date);
        next
    }

    fn at(batch_id: &str, now: DateTime<Utc>) -> Self {
        let utc = || TimestampMicrosecondBuilder::new().with_timezone("UTC");
        Self {
            payload: StringBuilder::new(),
            payload_bytes: BinaryBuilder::new(),
            payload_format: StringBuilder::new(),
            payload_error: StringBuilder::new(),
            event_id: StringBuilder::new(),
            event_date_fallback: BooleanBuilder::new(),
            source_kind: StringBuilder::new(),
            source_file: StringBuilder::new(),
            source_line: Int64Builder::new(),
            kafka_topic: StringBuilder::new(),
            kafka_partition: Int32Builder::new(),
            kafka_offset: Int64Builder::new(),
            kafka_timestamp: utc(),
            kafka_key: StringBuilder::new(),
            batch_id: StringBuilder::new(),
            ingested_at: utc(),
            event_date: Date32Builder::new(),
            batch: batch_id.to_string(),
            ingested_micros: now.timestamp_micros(),
            ingest_date: now.date_naive(),
            fallback_rows: 0,
            rows: 0,
        }
    }

    /// Append one row.
    pub fn push(&mut self, record: &Record, origin: Origin<'_>) {
        self.payload.append_value(&record.payload);
        self.payload_bytes.append_option(record.payload_bytes.as_deref());
        self.event_id.append_option(record.event_id.as_deref());
        let date = match &record.event_date {
            Ok(date) => {
                self.payload_error.append_null();
                self.event_date_fallback.append_value(false);
                *date
            }
            Err(reason) => {
                self.payload_error.append_value(reason);
                self.event_date_fallback.append_value(true);
                self.fallback_rows += 1;
                self.ingest_date
            }
        };
        self.event_date.append_value(days_since_epoch(date));
        match origin {
            Origin::File { uri, format } => {
                self.payload_format.append_value(format);
                self.source_kind.append_value("file");
                self.source_file.append_value(uri);
                self.source_line.append_value(record.line);
                self.kafka_topic.append_null();
                self.kafka_partition.append_null();
                self.kafka_offset.append_null();
                self.kafka_timestamp.append_null();
                self.kafka_key.append_null();
            }
            Origin::Kafka { topic, partition, offset, timestamp_ms, key } => {
                self.payload_format.append_value("kafka");
                self.source_kind.append_value("kafka");
                self.source_file.append_null();
                self.source_line.append_null();
                self.kafka_topic.append_value(topic);
                self.kafka_partition.append_value(partition);
                self.kafka_offset.append_value(offset);
                self.kafka_timestamp.append_option(timestamp_ms.filter(|ms| KAFKA_TIMESTAMP_RANGE_MS.contains(ms)).map(|ms| ms * 1000));
                self.kafka_key.append_option(key);
            }
        }
        self.batch_id.append_value(&self.batch);
        self.ingested_at.append_value(self.ingested_micros);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows stored with the ingestion date because their event time could not be read.
    pub fn fallback_rows(&self) -> u64 {
        self.fallback_rows
    }

    /// The rows as one record batch in the spec's column order.
    pub fn finish(mut self, spec: &TableSpec) -> Result<RecordBatch> {
        let mut columns: HashMap<&str, ArrayRef> = HashMap::from([
            ("payload", Arc::new(self.payload.finish()) as ArrayRef),
            ("payload_bytes", Arc::new(self.payload_bytes.finish()) as ArrayRef),
            ("payload_format", Arc::new(self.payload_format.finish()) as ArrayRef),
            ("payload_error", Arc::new(self.payload_error.finish()) as ArrayRef),
            ("event_id", Arc::new(self.event_id.finish()) as ArrayRef),
            ("event_date_fallback", Arc::new(self.event_date_fallback.finish()) as ArrayRef),
            ("source_kind", Arc::new(self.source_kind.finish()) as ArrayRef),
            ("source_file", Arc::new(self.source_file.finish()) as ArrayRef),
            ("source_line", Arc::new(self.source_line.finish()) as ArrayRef),
            ("kafka_topic", Arc::new(self.kafka_topic.finish()) as ArrayRef),
            ("kafka_partition", Arc::new(self.kafka_partition.finish()) as ArrayRef),
            ("kafka_offset", Arc::new(self.kafka_offset.finish()) as ArrayRef),
            ("kafka_timestamp", Arc::new(self.kafka_timestamp.finish()) as ArrayRef),
            ("kafka_key", Arc::new(self.kafka_key.finish()) as ArrayRef),
            ("batch_id", Arc::new(self.batch_id.finish()) as ArrayRef),
            ("ingested_at", Arc::new(self.ingested_at.finish()) as ArrayRef),
            ("event_date", Arc::new(self.event_date.finish()) as ArrayRef),
        ]);
        let schema = super::arrow_schema(spec);
        let ordered = schema
            .fields()
            .iter()
            .map(|f| {
                columns.remove(f.name().as_str()).ok_or_else(|| {
                    Error::data(format!("{} has column `{}` that vbda does not write", spec.path.display(), f.name()))
                        .with_hint("bronze's columns are fixed: restore tables/bronze/video_events.toml")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(schema, ordered)
            .map_err(|e| Error::data(format!("bronze rows do not match {}", spec.path.display())).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_round_trip() {
        assert_eq!(stream_app_id("a.b", None, 3), "vbda.stream:a.b:3");
        assert_eq!(parse_stream_app_id("vbda.stream:a.b:3"), Some(("a.b", None, 3)));
        assert_eq!(stream_app_id("t", Some("7dXRulilShKxLSYksjRK2g"), 0), "vbda.stream:t#7dXRulilShKxLSYksjRK2g:0");
        assert_eq!(parse_stream_app_id("vbda.stream:t#7dXRulilShKxLSYksjRK2g:0"), Some(("t", Some("7dXRulilShKxLSYksjRK2g"), 0)));
        assert_eq!(parse_stream_app_id(&ingest_app_id("file:///x")), None);
    }

    #[test]
    fn files_and_kafka_build_the_same_columns() {
        let catalog = crate::catalog::Catalog::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let spec = catalog.table(TABLE).unwrap();
        let mut rows = BronzeRows::new("b");
        let good = Record::from_bytes(br#"{"event_id":"e","event_ts":"2025-01-01T00:00:00Z"}"#, 1);
        rows.push(&good, Origin::File { uri: "file:///x", format: "ndjson" });
        let bad = Record::from_bytes(b"{\"event_ts\":\"2025-01-01T00:00:00Z\",\"x\":\"\xff\"}", 0);
        rows.push(&bad, Origin::Kafka { topic: "t", partition: 1, offset: 7, timestamp_ms: Some(i64::MAX), key: None });
        assert_eq!(rows.fallback_rows(), 1);
        let batch = rows.finish(spec).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.num_columns(), 17);
        let ts = batch.column_by_name("kafka_timestamp").unwrap();
        assert!(ts.is_null(1), "a timestamp beyond year 9999 is not kept");
    }

    #[test]
    fn kafka_timestamp_range_is_years_1_to_9999() {
        let first = DateTime::from_timestamp_millis(*KAFKA_TIMESTAMP_RANGE_MS.start()).unwrap();
        let last = DateTime::from_timestamp_millis(*KAFKA_TIMESTAMP_RANGE_MS.end()).unwrap();
        assert_eq!(first.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "9999-12-31T23:59:59.999Z");
    }
}
