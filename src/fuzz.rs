//! Fuzz targets over every parser vbda owns: NDJSON lines, JSON arrays, CSV (header row
//! included), gzip, Parquet rows to JSON, the bronze payload probe, event-time parsing, and the
//! silver readers (the fast typed reader must give exactly what the general reader gives
//! whenever it accepts a payload).
//!
//! Inputs are random bytes and mutations (overwrite, insert, delete, truncate, splice in a
//! token such as `"`, `\n`, `1e308` or an invalid UTF-8 byte) of the seeds in
//! `fuzz/corpus/<target>/`; proptest shrinks a failure to a small input, printed as the
//! panic message. Each target runs for `VBDA_FUZZ_SECONDS` (default: a smoke pass of 256
//! cases, which is what `cargo test` does in CI); `scripts/fuzz.sh` runs them for longer and
//! prints executions per second. Why proptest and not cargo-fuzz: cargo-fuzz needs nightly
//! and would rebuild the whole dependency tree (Polars, delta-rs) with coverage
//! instrumentation, about an hour on these machines, for every change; proptest runs on
//! stable inside the normal test build. The price: the search is not coverage-guided, so the
//! seeds carry the structure.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::lake::bronze::{probe, read_event_time};
use crate::ops::bronze_to_silver::event::{fast, parse_event, parse_slow};
use crate::ops::ingest::parse::{FileFormat, parse_file};

/// Tokens that parsers treat specially, spliced into inputs.
const TOKENS: &[&[u8]] = &[
    b"\"", b"\\", b"\n", b"\r\n", b",", b"{", b"}", b"[", b"]", b":", b"1e308", b"-0", b"9223372036854775808", b"null",
    b"\xff", b"\xef\xbb\xbf", b"\"event_ts\":", b"\"event_id\":", b"\"\"", b"\x00", b"\\u0000", b"\\ud800",
    b"2025-01-01T10:00:00Z", b"+275760-09-13T00:00:00Z", b"\x1f\x8b",
];

#[derive(Debug, Clone)]
enum Edit {
    Overwrite(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Token(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Overwrite(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(i, t)| Edit::Token(i, t)),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *e {
            Edit::Overwrite(i, b) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            Edit::Insert(i, b) => bytes.insert(at(i, bytes.len()), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(at(i, bytes.len())),
            Edit::Token(i, t) => {
                let pos = at(i, bytes.len());
                bytes.splice(pos..pos, TOKENS[t].iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

/// The seeds of a target: every file in `fuzz/corpus/<target>/`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn input(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        4 => (0..seeds.len(), proptest::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| mutate(seeds[i].clone(), &edits)),
    ]
}

/// Run `check` on generated inputs of `target`: a smoke pass, or `VBDA_FUZZ_SECONDS` long.
fn fuzz(target: &str, check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let seconds: Option<u64> = std::env::var("VBDA_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let cases = if seconds.is_some() { 4096 } else { 256 };
    let strategy = input(target);
    let started = Instant::now();
    let mut runs = 0u64;
    loop {
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        let result = runner.run(&strategy, |bytes| {
            // A panic is a failure like any other: proptest catches it and shrinks the input.
            check(&bytes)
        });
        runs += cases as u64;
        if let Err(e) = result {
            panic!("fuzz target {target} failed: {e}");
        }
        if seconds.is_none_or(|s| started.elapsed() >= Duration::from_secs(s)) {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("fuzz {target}: {runs} inputs in {secs:.1} s = {:.0} per second", runs as f64 / secs);
}

/// A file parser: never panics; a readable file accounts for every line.
fn file_target(target: &str, format: FileFormat, gzip: bool) {
    fuzz(target, |bytes| {
        if let Ok(parsed) = parse_file(bytes, format, gzip) {
            for r in &parsed.records {
                prop_assert!(r.line >= 1, "line numbers start at 1");
                if let Some(raw) = &r.payload_bytes {
                    prop_assert!(std::str::from_utf8(raw).is_err(), "original bytes are kept only when they are not UTF-8");
                }
            }
            if format == FileFormat::Ndjson && !gzip {
                let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                let body = body.strip_suffix(b"\n").unwrap_or(body);
                let lines = body.split(|b| *b == b'\n').count() as u64;
                prop_assert_eq!(parsed.records.len() as u64 + parsed.blank_lines, lines, "every line is a row or a blank line");
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_ndjson() {
    file_target("ndjson", FileFormat::Ndjson, false);
}

#[test]
fn fuzz_json_array() {
    file_target("json", FileFormat::Json, false);
}

#[test]
fn fuzz_csv() {
    file_target("csv", FileFormat::Csv, false);
}

#[test]
fn fuzz_gzip() {
    file_target("gzip", FileFormat::Ndjson, true);
}

#[test]
fn fuzz_parquet() {
    file_target("parquet", FileFormat::Parquet, false);
}

/// The bronze probe and the silver readers on one payload: no panic; the fast typed reader,
/// whenever it accepts a payload, gives exactly the general reader's event; an event time
/// read by the probe is the one silver reads.
#[test]
fn fuzz_payload() {
    fuzz("payload", |bytes| {
        let text = String::from_utf8_lossy(bytes);
        for text_numbers in [false, true] {
            let (_, date) = probe(&text, text_numbers);
            let slow = parse_slow(&text, text_numbers);
            if let (Ok(d), Ok(e)) = (&date, &slow) {
                if let Some(silver) = e.event_date {
                    prop_assert_eq!(*d, silver, "bronze and silver read the same date");
                }
            }
            let _ = parse_event(&text, false, text_numbers);
        }
        if let Some(quick) = fast::parse(&text) {
            match parse_slow(&text, false) {
                Ok(general) => prop_assert_eq!(quick, general, "fast and general readers agree"),
                Err(r) => prop_assert!(false, "the fast reader accepted what the general one rejects: {} {}", r.rule, r.reason),
            }
        }
        Ok(())
    });
}

/// Event-time parsing on any JSON value: no panic, and every time read is inside chrono's
/// calendar.
#[test]
fn fuzz_event_time() {
    fuzz("event_time", |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let values: Vec<serde_json::Value> = match serde_json::from_str(&text) {
            Ok(v) => vec![v],
            Err(_) => vec![serde_json::Value::String(text.to_string())],
        };
        for v in values {
            for text_numbers in [false, true] {
                if let Ok(t) = read_event_time(&v, text_numbers) {
                    let _ = t.date_naive().to_string();
                }
            }
        }
        Ok(())
    });
}
