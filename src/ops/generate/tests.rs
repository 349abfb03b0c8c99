use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use super::model::{DEVICE_TYPES, Kind};
use super::rng::{Rng, Zipf, det_exp, det_ln};
use super::write::{CSV_COLUMNS, CSV_HEADER, push_rfc3339, push_uuid};
use super::*;
use crate::error::ErrorKind;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test dates are valid")
}

fn base(dir: &Path) -> GenerateSettings {
    GenerateSettings {
        out_dir: dir.to_path_buf(),
        content_path: dir.join("content/content.csv"),
        dates: vec![date("2025-01-01"), date("2025-01-02")],
        events_per_day: 10_000,
        seed: 7,
        files_per_day: 2,
        users: 500,
        content_items: 200,
        ..GenerateSettings::default()
    }
}

fn with_shares(mut s: GenerateSettings, share: f64) -> GenerateSettings {
    s.malformed_share = share;
    s.duplicate_share = share;
    s.late_share = share;
    s.bad_value_share = share;
    s
}

fn run(settings: &GenerateSettings) -> GenerateReport {
    generate(settings, &|_: u64| {}).expect("generate succeeds")
}

/// The file's bytes, decompressed when it is gzip.
fn contents(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).expect("generated file is readable");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut plain).expect("valid gzip");
        plain
    } else {
        raw
    }
}

fn lines_of(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// UTC epoch ms of an `event_ts` value, if it is readable.
fn event_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()),
        _ => None,
    }
}

fn utc_date(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms).expect("in range").date_naive()
}

/// Strict RFC 4180 split of one row; `None` when a quote is out of place.
fn csv_fields(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut field = Vec::new();
        if line.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match line.get(i) {
                    None => return None,
                    Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        field.push(b);
                        i += 1;
                    }
                }
            }
            if i < line.len() && line[i] != b',' {
                return None;
            }
        } else {
            while i < line.len() && line[i] != b',' {
                if line[i] == b'"' {
                    return None;
                }
                field.push(line[i]);
                i += 1;
            }
        }
        fields.push(field);
        if i >= line.len() {
            break;
        }
        i += 1;
    }
    Some(fields)
}

#[test]
fn same_seed_gives_byte_identical_files() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let mut settings = with_shares(base(a.path()), 0.03);
    settings.files_per_day = 3;
    let first = run(&settings);
    settings.out_dir = b.path().to_path_buf();
    settings.content_path = b.path().join("content/content.csv");
    let second = run(&settings);
    assert_eq!(first.files.len(), 6);
    assert_eq!(first.files.len(), second.files.len());
    for (fa, fb) in first.files.iter().zip(&second.files) {
        assert_eq!(fa.path.strip_prefix(a.path()).ok(), fb.path.strip_prefix(b.path()).ok());
        assert_eq!(contents(&fa.path), contents(&fb.path), "{} differs", fa.path.display());
        assert_eq!(fa.lines, fb.lines);
    }
    let ca = first.content_path.expect("catalog written");
    let cb = second.content_path.expect("catalog written");
    assert_eq!(contents(&ca), contents(&cb));
}

#[test]
fn different_seed_gives_different_files() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let mut settings = base(a.path());
    let first = run(&settings);
    settings.out_dir = b.path().to_path_buf();
    settings.content_path = b.path().join("content/content.csv");
    settings.seed = 8;
    let second = run(&settings);
    assert_ne!(contents(&first.files[0].path), contents(&second.files[0].path));
}

#[test]
fn report_counts_match_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = with_shares(base(dir.path()), 0.04);
    settings.events_per_day = 10_001; // not divisible by the file count
    let report = run(&settings);
    assert_eq!(report.lines, 2 * 10_001, "lines per day = events_per_day");
    assert_eq!(report.lines, report.files.iter().map(|f| f.lines).sum::<u64>());
    assert_eq!(report.lines, report.events + report.malformed);
    assert_eq!(report.content_items, 200);
    for file in &report.files {
        assert!(file.path.exists(), "{} exists", file.path.display());
        assert!(!tmp_path(&file.path).exists(), "no .tmp left");
        assert_eq!(lines_of(&contents(&file.path)).len() as u64, file.lines);
        assert_eq!(std::fs::metadata(&file.path).expect("metadata").len(), file.bytes);
        let name = file.path.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        assert!(name.starts_with("part-") && name.ends_with(".ndjson"), "{name}");
        let folder = file.path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).expect("folder");
        assert_eq!(folder, format!("date={}", file.date));
    }
    assert_eq!(report.files[0].path, dir.path().join("date=2025-01-01/part-00000.ndjson"));
}

#[test]
fn progress_reaches_the_total() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = base(dir.path());
    settings.events_per_day = 40_000;
    let last = std::sync::atomic::AtomicU64::new(0);
    let calls = std::sync::atomic::AtomicU64::new(0);
    let report = generate(&settings, &|n: u64| {
        last.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .expect("generate succeeds");
    assert_eq!(last.into_inner(), report.lines);
    assert!(calls.into_inner() > 2);
}

/// Clean data follows DESIGN §2 field by field, and makes §3's metrics meaningful.
#[test]
fn clean_events_follow_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = GenerateSettings {
        out_dir: dir.path().to_path_buf(),
        dates: vec![date("2025-03-10")],
        events_per_day: 60_000,
        seed: 42,
        files_per_day: 1,
        users: 2_000,
        content_items: 300,
        ..GenerateSettings::default()
    };
    let report = run(&settings);
    assert_eq!(report.malformed + report.duplicates + report.late + report.bad_values, 0);

    let catalog = contents(report.content_path.as_ref().expect("catalog"));
    let mut durations = HashMap::new();
    for row in lines_of(&catalog).iter().skip(1) {
        let fields = csv_fields(row).expect("catalog rows are valid CSV");
        assert_eq!(fields.len(), 5);
        let duration: u64 = String::from_utf8_lossy(&fields[3]).parse().expect("duration is a number");
        assert!((120..=10_800).contains(&duration));
        durations.insert(String::from_utf8_lossy(&fields[0]).into_owned(), duration);
    }
    assert_eq!(durations.len(), 300);

    let names: HashSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let mut seen_types = HashSet::new();
    let mut ids = HashSet::new();
    let mut last_ts: HashMap<String, i64> = HashMap::new();
    let mut views: HashMap<(String, String), (f64, f64, bool)> = HashMap::new();
    let (mut watch, mut buffer_ms, mut impressions, mut clicks) = (0.0, 0.0, 0_u64, 0_u64);
    let (mut offsets, mut epoch_ts, mut experiments, mut next_day) = (HashSet::new(), 0, 0, 0);
    let data = contents(&report.files[0].path);
    for line in lines_of(&data) {
        let v: Value = serde_json::from_slice(line).expect("every clean line is JSON");
        let id = v["event_id"].as_str().expect("event_id");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "UUID version 4");
        assert!(ids.insert(id.to_owned()), "event_id is unique");
        let kind = v["event_type"].as_str().expect("event_type");
        assert!(names.contains(kind), "{kind}");
        seen_types.insert(kind.to_owned());
        let ts = event_ms(&v["event_ts"]).expect("event_ts readable");
        match &v["event_ts"] {
            Value::Number(_) => epoch_ts += 1,
            Value::String(s) => {
                offsets.insert(if s.ends_with('Z') { "Z".to_owned() } else { s[s.len() - 6..].to_owned() });
            }
            _ => unreachable!(),
        }
        let day = utc_date(ts);
        assert!(day == date("2025-03-10") || day == date("2025-03-11"), "{day}");
        if day != date("2025-03-10") {
            next_day += 1;
        }
        let user = v["user_id"].as_str().expect("user_id");
        assert!(user.starts_with('u') && user.len() >= 7);
        let session = v["session_id"].as_str().expect("session_id").to_owned();
        assert_eq!(session.len(), 36);
        let previous = last_ts.insert(session.clone(), ts);
        assert!(previous.is_none_or(|p| p <= ts), "time increases within a session");
        assert!(DEVICE_TYPES.contains(&v["device"]["type"].as_str().expect("device.type")));
        assert!(v["device"]["os"].is_string() && v["device"]["app_version"].is_string());
        assert_eq!(v["geo"]["country"].as_str().expect("geo.country").len(), 2);
        if v.get("experiment").is_some() {
            experiments += 1;
        }

        let playback = matches!(
            kind,
            "play" | "pause" | "resume" | "stop" | "seek" | "buffer" | "heartbeat" | "error" | "quality_change"
        );
        if playback {
            let content = v["content_id"].as_str().expect("content_id on playback events").to_owned();
            let p = &v["playback"];
            let position = p["position_s"].as_f64().expect("position_s");
            let duration = p["duration_s"].as_u64().expect("duration_s");
            let watched = p["watched_s"].as_f64().expect("watched_s");
            assert!(position >= 0.0 && watched >= 0.0);
            assert!(position <= duration as f64 + 0.05, "position within the content");
            assert_eq!(durations.get(&content), Some(&duration), "duration_s matches the catalog");
            watch += watched;
            match kind {
                "buffer" => buffer_ms += p["buffer_ms"].as_f64().expect("buffer_ms"),
                "seek" => assert!(p["seek_from_s"].as_f64().is_some()),
                "quality_change" => assert!(p["quality_from"].is_string() && p["quality_to"].is_string()),
                "error" => assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string()),
                _ => {}
            }
            let key = (session.clone(), content);
            if kind == "play" || views.contains_key(&key) {
                let view = views.entry(key).or_insert((0.0, duration as f64, false));
                view.0 = view.0.max(position);
                view.2 |= kind == "error";
            }
        }
        if kind.starts_with("ad_") {
            let ad = &v["ad"];
            assert!(ad["ad_id"].is_string() && ad["campaign_id"].is_string() && ad["duration_s"].is_u64());
            assert!(matches!(ad["position"].as_str(), Some("preroll" | "midroll" | "postroll")));
            impressions += u64::from(kind == "ad_impression");
            clicks += u64::from(kind == "ad_click");
        }
    }

    for name in &names {
        assert!(seen_types.contains(*name), "{name} occurs");
    }
    let completed = views.values().filter(|(max, dur, _)| *max >= 0.9 * dur).count() as f64;
    let completion = completed / views.len() as f64;
    assert!((0.1..0.7).contains(&completion), "completion rate {completion}");
    let failures = views.values().filter(|v| v.2).count() as f64 / views.len() as f64;
    assert!(failures > 0.0 && failures < 0.2, "playback failure rate {failures}");
    assert!(watch > 0.0);
    let rebuffer = buffer_ms / 1000.0 / (watch + buffer_ms / 1000.0);
    assert!(rebuffer > 0.0001 && rebuffer < 0.2, "rebuffer ratio {rebuffer}");
    assert!(clicks > 0 && clicks < impressions);
    assert!(offsets.contains("Z") && offsets.contains("+05:30") && offsets.len() >= 5, "{offsets:?}");
    assert!(epoch_ts > 0 && experiments > 0);
    assert!(next_day > 0 && next_day < 60_000 / 10, "some sessions run past midnight: {next_day}");
}

#[test]
fn shares_are_roughly_as_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(&with_shares(base(dir.path()), 0.05));
    assert_eq!(report.lines, 20_000);
    let expected = 1_000.0;
    for (name, n) in [
        ("malformed", report.malformed),
        ("duplicates", report.duplicates),
        ("late", report.late),
        ("bad values", report.bad_values),
    ] {
        assert!((n as f64 - expected).abs() < 0.25 * expected, "{name}: {n}");
    }

    let mut parse_failures = 0;
    let mut copies: HashMap<String, Vec<usize>> = HashMap::new();
    let (mut without_id, mut one_to_three_days_old) = (0, 0);
    for (file_no, file) in report.files.iter().enumerate() {
        let data = contents(&file.path);
        for line in lines_of(&data) {
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                parse_failures += 1;
                continue;
            };
            assert!(v.is_object());
            match v.get("event_id").and_then(Value::as_str) {
                Some(id) => copies.entry(id.to_owned()).or_default().push(file_no),
                None => without_id += 1,
            }
            if let Some(ms) = event_ms(&v["event_ts"]) {
                let age = (file.date - utc_date(ms)).num_days();
                if (1..=3).contains(&age) {
                    one_to_three_days_old += 1;
                }
            }
        }
    }
    assert_eq!(parse_failures, report.malformed, "exactly the malformed lines fail to parse");
    let repeated: u64 = copies.values().map(|c| c.len() as u64 - 1).sum();
    assert_eq!(repeated, report.duplicates, "every duplicate repeats one earlier event once");
    assert!(copies.values().any(|c| c.len() == 2 && c[0] != c[1]), "some duplicates land in a later file");
    assert!(without_id > 0 && without_id <= report.bad_values);
    assert!(one_to_three_days_old >= report.late);
    assert!(one_to_three_days_old <= report.late + report.duplicates);
}

#[test]
fn duplicates_are_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = base(dir.path());
    settings.duplicate_share = 0.1;
    let report = run(&settings);
    let mut by_id: HashMap<String, Vec<u8>> = HashMap::new();
    let mut checked = 0;
    for file in &report.files {
        let data = contents(&file.path);
        for line in lines_of(&data) {
            let v: Value = serde_json::from_slice(line).expect("no malformed lines asked for");
            let id = v["event_id"].as_str().expect("event_id").to_owned();
            if let Some(first) = by_id.get(&id) {
                assert_eq!(first.as_slice(), line);
                checked += 1;
            } else {
                by_id.insert(id, line.to_vec());
            }
        }
    }
    assert_eq!(checked, report.duplicates);
    assert!(checked > 1_000);
}

#[test]
fn csv_has_the_header_and_27_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = base(dir.path());
    settings.format = GenerateFormat::Csv;
    settings.malformed_share = 0.05;
    settings.duplicate_share = 0.02;
    settings.late_share = 0.02;
    let report = run(&settings);
    let names: HashSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let (mut good, mut bad, mut quoted) = (0_u64, 0_u64, 0_u64);
    for file in &report.files {
        assert!(file.path.to_string_lossy().ends_with(".csv"));
        let data = contents(&file.path);
        let lines = lines_of(&data);
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len() as u64 - 1, file.lines, "the header is not counted");
        for line in &lines[1..] {
            match csv_fields(line) {
                Some(fields) if fields.len() == CSV_COLUMNS => {
                    good += 1;
                    assert_eq!(fields[0].len(), 36, "event_id");
                    let kind = String::from_utf8_lossy(&fields[1]).into_owned();
                    assert!(names.contains(kind.as_str()), "{kind}");
                    assert!(!fields[2].is_empty() && !fields[3].is_empty() && !fields[4].is_empty());
                    if kind == "play" {
                        assert!(!fields[5].is_empty(), "content_id on play");
                        let position: f64 = String::from_utf8_lossy(&fields[12]).parse().expect("position_s");
                        assert!(position >= 0.0);
                    }
                    if line.contains(&b'"') {
                        quoted += 1;
                    }
                }
                _ => bad += 1,
            }
        }
    }
    assert_eq!(good, report.events);
    assert_eq!(bad, report.malformed);
    assert!(quoted > 0, "fields with commas or quotes are quoted");
    let catalog = contents(report.content_path.as_ref().expect("catalog"));
    assert!(catalog.starts_with(b"content_id,title,genre,duration_s,release_year\n"));
}

#[test]
fn gzip_decompresses_to_the_plain_output() {
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let gz_dir = tempfile::tempdir().expect("tempdir");
    let plain = run(&with_shares(base(plain_dir.path()), 0.02));
    let mut settings = with_shares(base(gz_dir.path()), 0.02);
    settings.gzip = true;
    let gz = run(&settings);
    assert_eq!(plain.files.len(), gz.files.len());
    for (p, g) in plain.files.iter().zip(&gz.files) {
        assert!(g.path.to_string_lossy().ends_with(".ndjson.gz"));
        assert_eq!(contents(&p.path), contents(&g.path));
        assert_eq!(p.lines, g.lines);
        assert!(g.bytes < p.bytes);
    }
}

#[test]
fn late_events_are_one_to_three_days_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = base(dir.path());
    settings.late_share = 1.0;
    settings.dates = vec![date("2025-06-15")];
    let report = run(&settings);
    assert_eq!(report.late, 10_000);
    for file in &report.files {
        let data = contents(&file.path);
        for line in lines_of(&data) {
            let v: Value = serde_json::from_slice(line).expect("JSON");
            let age = (file.date - utc_date(event_ms(&v["event_ts"]).expect("readable"))).num_days();
            assert!((1..=3).contains(&age), "age {age}");
        }
    }
}

#[test]
fn bad_settings_are_data_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = base(dir.path());
    let cases: Vec<(GenerateSettings, &str)> = vec![
        (GenerateSettings { dates: vec![], ..ok.clone() }, "no dates"),
        (GenerateSettings { files_per_day: 0, ..ok.clone() }, "files per day"),
        (GenerateSettings { users: 0, ..ok.clone() }, "users"),
        (GenerateSettings { content_items: 0, ..ok.clone() }, "content items"),
        (GenerateSettings { late_share: 1.5, ..ok.clone() }, "late share"),
        (GenerateSettings { malformed_share: -0.1, ..ok.clone() }, "malformed share"),
        (GenerateSettings { duplicate_share: f64::NAN, ..ok.clone() }, "duplicate share"),
        (GenerateSettings { malformed_share: 0.6, bad_value_share: 0.6, ..ok.clone() }, "add up to"),
    ];
    for (settings, words) in cases {
        let err = generate(&settings, &|_: u64| {}).expect_err(words);
        assert_eq!(err.kind(), ErrorKind::Data);
        assert!(err.message().contains(words), "{}", err.message());
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written for bad settings");
}

#[test]
fn zero_events_write_empty_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = base(dir.path());
    settings.events_per_day = 0;
    let report = run(&settings);
    assert_eq!(report.lines, 0);
    assert_eq!(report.files.len(), 4);
    assert!(report.files.iter().all(|f| f.bytes == 0));
}

#[test]
fn deterministic_math_matches_std() {
    for i in 1..2_000 {
        let x = f64::from(i) * 0.37;
        assert!((det_ln(x) - x.ln()).abs() <= 1e-13 * x.ln().abs().max(1.0), "ln {x}");
        let y = f64::from(i) * 0.05 - 50.0;
        assert!((det_exp(y) - y.exp()).abs() <= 1e-13 * y.exp(), "exp {y}");
    }
    assert!((det_ln(1e-300) - 1e-300_f64.ln()).abs() < 1e-10);
}

#[test]
fn zipf_ranks_are_skewed_and_in_range() {
    let zipf = Zipf::new(2_000);
    let mut rng = Rng::new(1);
    let mut counts = vec![0_u32; 2_001];
    for _ in 0..100_000 {
        let k = zipf.sample(&mut rng) as usize;
        assert!((1..=2_000).contains(&k));
        counts[k] += 1;
    }
    assert!(counts[1] > counts[2] && counts[2] > counts[10] && counts[10] > counts[1_000]);
    let top10: u32 = counts[1..=10].iter().sum();
    assert!((25_000..60_000).contains(&top10), "top 10 share {top10}");
}

#[test]
fn formatting_helpers() {
    let mut out = Vec::new();
    push_uuid(&mut out, Rng::new(3).uuid());
    let s = String::from_utf8(out).expect("ascii");
    assert!(uuid::Uuid::parse_str(&s).is_ok_and(|u| u.get_version_num() == 4), "{s}");

    // 2024-02-29T23:30:00.123Z printed at +05:30 is the next local day.
    let ms = DateTime::parse_from_rfc3339("2024-02-29T23:30:00.123Z").expect("valid").timestamp_millis();
    let mut out = Vec::new();
    push_rfc3339(&mut out, ms, 330, true, false);
    assert_eq!(out, b"2024-03-01T05:00:00.123+05:30");
    let mut out = Vec::new();
    push_rfc3339(&mut out, ms, -210, false, false);
    assert_eq!(out, b"2024-02-29T20:00:00-03:30");
    let mut out = Vec::new();
    push_rfc3339(&mut out, ms, 0, true, true);
    assert_eq!(out, b"2024-02-29T23:30:00.123Z");
}
