use super::*;
use chrono::NaiveDate;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn event_dates_follow_utc_for_any_offset_and_epoch_millis() {
    let (_, d) = probe(r#"{"event_ts":"2025-01-01T23:30:00-05:00"}"#, false);
    assert_eq!(d, Ok(date("2025-01-02")), "23:30-05:00 is the next UTC day");
    let (_, d) = probe(r#"{"event_ts":"2025-01-02T03:00:00+05:30"}"#, false);
    assert_eq!(d, Ok(date("2025-01-01")), "03:00+05:30 is the previous UTC day");
    let (id, d) = probe(r#"{"event_id":"e1","event_ts":1735689600000}"#, false);
    assert_eq!((id.as_deref(), d), (Some("e1"), Ok(date("2025-01-01"))));
}

#[test]
fn unreadable_event_times_say_why() {
    let cases = [
        (r#"{"event_ts":"yesterday"}"#, "not RFC 3339"),
        (r#"{"event_ts":1.5}"#, "not an integer"),
        (r#"{"event_ts":true}"#, "wrong type"),
        (r#"{"event_id":"x"}"#, "missing"),
        (r#"{"event_id":"x""#, "malformed JSON"),
        ("[1,2]", "not a JSON object"),
    ];
    for (payload, reason) in cases {
        let (_, d) = probe(payload, false);
        let err = d.unwrap_err();
        assert!(err.contains(reason), "{payload}: {err}");
    }
}

#[test]
fn ndjson_keeps_every_line_exactly_with_line_numbers() {
    let text = b"{\"event_ts\":\"2025-01-01T00:00:00Z\",\"x\":1}\r\n\n{not json\n\xff\xfe{\"event_ts\":1}\n";
    let parsed = parse_file(text, FileFormat::Ndjson, false).unwrap();
    assert_eq!(parsed.records.len(), 3);
    assert_eq!(parsed.blank_lines, 1);
    assert_eq!(parsed.records[0].payload, "{\"event_ts\":\"2025-01-01T00:00:00Z\",\"x\":1}");
    assert_eq!(parsed.records[0].line, 1);
    assert_eq!(parsed.records[1].line, 3);
    assert!(parsed.records[1].event_date.as_ref().unwrap_err().contains("malformed JSON"));
    let bad = &parsed.records[2];
    assert_eq!(bad.payload_bytes.as_deref(), Some(&b"\xff\xfe{\"event_ts\":1}"[..]), "original bytes kept");
    assert_eq!(bad.event_date, Err("payload is not valid UTF-8".to_string()));
}

#[test]
fn gzip_json_array_and_csv_are_read() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"event_ts\":1}\n{\"event_ts\":2}\n").unwrap();
    let parsed = parse_file(&gz.finish().unwrap(), FileFormat::Ndjson, true).unwrap();
    assert_eq!(parsed.records.len(), 2);

    let parsed = parse_file(br#" [ {"event_ts": 1, "a": [1, 2]}, {"b":2} ] "#, FileFormat::Json, false).unwrap();
    assert_eq!(parsed.records[0].payload, r#"{"event_ts": 1, "a": [1, 2]}"#, "exact source text");
    assert_eq!(parsed.records[1].line, 2);

    let csv = "event_id,event_ts,device.type,geo.city\ne1,2025-01-01T00:00:00Z,tv,\"Paris, FR\"\ne2,x\ne3,\"broken,tv,\n";
    let parsed = parse_file(csv.as_bytes(), FileFormat::Csv, false).unwrap();
    assert_eq!(parsed.records.len(), 3);
    let row: serde_json::Value = serde_json::from_str(&parsed.records[0].payload).unwrap();
    assert_eq!(row["device"]["type"], "tv");
    assert_eq!(row["geo"]["city"], "Paris, FR");
    assert_eq!(parsed.records[0].event_date, Ok(date("2025-01-01")));
    assert!(parsed.records[1].event_date.as_ref().unwrap_err().contains("2 fields, the header has 4"));
    assert_eq!(parsed.records[1].payload, "e2,x", "a malformed row keeps its raw text");
    assert!(parsed.records[2].event_date.as_ref().unwrap_err().contains("unclosed quote"));
}

#[test]
fn unreadable_files_are_errors_with_reasons() {
    assert_eq!(parse_file(b"", FileFormat::Ndjson, false).unwrap_err().to_string(), "the file is empty");
    assert!(parse_file(b"not gzip", FileFormat::Ndjson, true).unwrap_err().to_string().contains("gzip"));
    assert!(parse_file(b"[{\"a\":1},", FileFormat::Json, false).unwrap_err().to_string().contains("JSON array"));
    assert!(parse_file(b"\xffa,b\n1,1\n", FileFormat::Csv, false).unwrap_err().to_string().contains("header is not valid UTF-8"));
    assert!(parse_file(b"PAR1garbage", FileFormat::Parquet, false).unwrap_err().to_string().contains("Parquet"));
}

#[test]
fn formats_come_from_file_names() {
    assert_eq!(FileFormat::from_name("a/b.ndjson.gz"), Some((FileFormat::Ndjson, true)));
    assert_eq!(FileFormat::from_name("x.JSONL"), Some((FileFormat::Ndjson, false)));
    assert_eq!(FileFormat::from_name("x.csv"), Some((FileFormat::Csv, false)));
    assert_eq!(FileFormat::from_name("x.parquet"), Some((FileFormat::Parquet, false)));
    assert_eq!(FileFormat::from_name("README.md"), None);
}


#[test]
fn csv_stray_quotes_do_not_swallow_lines_and_colliding_headers_are_refused() {
    let csv = "event_id,title\ne1,a 5\" screen\ne2,ok\ne3,\"multi\nline\"\n";
    let parsed = parse_file(csv.as_bytes(), FileFormat::Csv, false).unwrap();
    assert_eq!(parsed.records.len(), 3, "{:?}", parsed.records);
    assert!(parsed.records[0].event_date.as_ref().unwrap_err().contains("quote inside an unquoted field"));
    assert_eq!(parsed.records[1].line, 3);
    let row: serde_json::Value = serde_json::from_str(&parsed.records[2].payload).unwrap();
    assert_eq!(row["title"], "multi\nline");
    let err = parse_file(b"a,device,device.type\n1,2,3\n", FileFormat::Csv, false).unwrap_err().to_string();
    assert!(err.contains("`device` and `device.type` collide"), "{err}");
    let err = parse_file(b"a,a\n1,2\n", FileFormat::Csv, false).unwrap_err().to_string();
    assert!(err.contains("collide"), "{err}");
}

#[test]
fn a_byte_order_mark_is_not_data() {
    let parsed = parse_file(b"\xEF\xBB\xBF{\"event_ts\":1}\n", FileFormat::Ndjson, false).unwrap();
    assert_eq!(parsed.records[0].payload, "{\"event_ts\":1}");
    assert!(parsed.records[0].event_date.is_ok());
    let parsed = parse_file(b"\xEF\xBB\xBFevent_id,event_ts\ne,1\n", FileFormat::Csv, false).unwrap();
    assert!(parsed.records[0].payload.starts_with("{\"event_id\""), "{}", parsed.records[0].payload);
}

#[test]
fn a_csv_row_that_is_not_utf8_is_kept_byte_for_byte() {
    let parsed = parse_file(b"a,event_ts\n\xff,1\nx,2\n", FileFormat::Csv, false).unwrap();
    assert_eq!(parsed.records.len(), 2);
    assert_eq!(parsed.records[0].payload_bytes.as_deref(), Some(&b"\xff,1"[..]));
    assert_eq!(parsed.records[0].event_date, Err("payload is not valid UTF-8".to_string()));
    assert_eq!(parsed.records[1].line, 3);
}

#[test]
fn csv_epoch_millis_written_as_text_give_the_event_date() {
    let parsed = parse_file(b"event_ts\n1735689600000\n", FileFormat::Csv, false).unwrap();
    assert_eq!(parsed.records[0].event_date, Ok(date("2025-01-01")));
    let (_, d) = probe(r#"{"event_ts":"1735689600000"}"#, false);
    assert!(d.is_err(), "in JSON, epoch milliseconds are an integer");
}

#[test]
fn json_array_elements_are_their_exact_text_whatever_they_hold() {
    let text = "[\n  {\"a\": \"],[{\\\"\" , \"b\":[1, {\"c\":2}]},\t\"x\\u0041\" ,1e3,null,[[]] ]\n";
    let parsed = parse_file(text.as_bytes(), FileFormat::Json, false).unwrap();
    let payloads: Vec<&str> = parsed.records.iter().map(|r| r.payload.as_str()).collect();
    assert_eq!(payloads, [r#"{"a": "],[{\"" , "b":[1, {"c":2}]}"#, r#""x\u0041""#, "1e3", "null", "[[]]"]);
    let lines: Vec<i64> = parsed.records.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5], "elements are numbered from 1");
    assert!(parsed.records[1].event_date.as_ref().unwrap_err().contains("not a JSON object"));

    let parsed = parse_file(b" [ ] ", FileFormat::Json, false).unwrap();
    assert!(parsed.records.is_empty(), "an empty array is read and gives no rows");
}

#[test]
fn json_arrays_that_do_not_parse_or_are_not_utf8_are_unreadable() {
    for bad in [&b"[1,]"[..], b"[1] [2]", b"[{\"a\":1}"] {
        let err = parse_file(bad, FileFormat::Json, false).unwrap_err().to_string();
        assert!(err.contains("not a valid JSON array"), "{}: {err}", String::from_utf8_lossy(bad));
    }
    let err = parse_file(b"[\"\xff\"]", FileFormat::Json, false).unwrap_err().to_string();
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn csv_quote_checks_the_csv_crate_would_not_make() {
    let csv = "a,b\n\"x\"y,2\n\"say \"\"hi\"\"\",3\n  \n\n\"open,4\nnext,5\n";
    let parsed = parse_file(csv.as_bytes(), FileFormat::Csv, false).unwrap();
    assert_eq!(parsed.records.len(), 3, "{:?}", parsed.records);
    assert!(parsed.records[0].event_date.as_ref().unwrap_err().contains("text after a closing quote"));
    assert_eq!(parsed.records[0].payload, "\"x\"y,2", "the flagged row keeps its raw text");
    let row: serde_json::Value = serde_json::from_str(&parsed.records[1].payload).unwrap();
    assert_eq!(row["a"], "say \"hi\"", "doubled quotes inside a quoted field are one quote");
    assert_eq!(parsed.blank_lines, 2, "blank and whitespace-only lines are counted");
    let open = &parsed.records[2];
    assert_eq!((open.line, open.payload.as_str()), (6, "\"open,4\nnext,5\n"), "an open quote runs to the end of the file");
    assert!(open.event_date.as_ref().unwrap_err().contains("unclosed quote"));
}

/// Damaged Parquet footers and pages (the fuzz harness found Polars panicking on them: in the
/// footer's Thrift, in page bounds, in bitmaps) are reported as unreadable files, never a panic.
#[test]
fn damaged_parquet_files_are_unreadable_not_a_panic() {
    let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/parquet/silver_row.parquet")).unwrap();
    assert!(parse_file(&seed, FileFormat::Parquet, false).is_ok(), "the seed itself reads");
    let mut unreadable = 0;
    for at in (0..seed.len()).step_by(7) {
        for byte in [0x00, 0xff, 0x7f] {
            let mut damaged = seed.clone();
            damaged[at] = byte;
            if let Err(e) = parse_file(&damaged, FileFormat::Parquet, false) {
                assert!(!e.to_string().is_empty());
                unreadable += 1;
            }
        }
    }
    assert!(unreadable > 0, "some damage is detected");
    for cut in [4, 8, seed.len() / 2, seed.len() - 9, seed.len() - 1] {
        assert!(parse_file(&seed[..cut], FileFormat::Parquet, false).is_err(), "truncated at {cut}");
    }
}
