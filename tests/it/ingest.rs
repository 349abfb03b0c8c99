//! `vbda ingest`: lossless, each file exactly once, bad files reported without stopping others.

use std::io::Write;
use std::time::Duration;

use crate::common::{TestContext, age, files_under, nonblank_lines, rows_per_file};

fn generate(ctx: &TestContext, args: &[&str]) -> serde_json::Value {
    let landing = ctx.landing();
    let mut all = vec!["generate", "--out", landing.to_str().unwrap()];
    all.extend(args);
    ctx.run_json(&all)
}

#[test]
fn generated_lines_all_land_in_bronze_once_and_a_rerun_adds_nothing() {
    let ctx = TestContext::new();
    let generated = generate(
        &ctx,
        &["--events", "3000", "--files-per-day", "3", "--date", "2025-01-01", "--date", "2025-01-02",
          "--malformed-share", "0.02", "--duplicate-share", "0.02", "--late-share", "0.02", "--bad-value-share", "0.02", "--gzip"],
    );
    let lines = generated["lines"].as_u64().unwrap();
    assert_eq!(lines, 6000);
    assert!(generated["malformed"].as_u64().unwrap() > 0);

    let first = ctx.run_json(&["ingest"]);
    assert_eq!(first["files_ingested"], 6, "{first}");
    assert_eq!(first["rows"].as_u64().unwrap(), lines, "every line, malformed included: {first}");
    let version = first["bronze_version"].as_i64().unwrap();

    let bronze = ctx.bronze();
    assert_eq!(bronze.height() as u64, lines);
    // Per file: exactly the file's lines.
    let per_file = rows_per_file(&bronze);
    for path in files_under(&ctx.landing()).iter().filter(|p| p.to_string_lossy().contains(".ndjson")) {
        let uri = format!("file://{}", path.display());
        assert_eq!(per_file.get(&uri).copied(), Some(nonblank_lines(path)), "{uri}");
    }
    // Rows whose time could not be read are flagged with a reason; the rest carry their date.
    let flagged = bronze.column("event_date_fallback").unwrap().bool().unwrap().sum().unwrap() as u64;
    let errors = bronze.column("payload_error").unwrap().len() as u64 - bronze.column("payload_error").unwrap().null_count() as u64;
    assert_eq!(flagged, errors);
    assert_eq!(flagged, first["rows_without_event_time"].as_u64().unwrap());
    assert!(flagged >= generated["malformed"].as_u64().unwrap(), "malformed lines have no readable event time");

    let second = ctx.run_json(&["ingest"]);
    assert_eq!(second["files_ingested"], 0, "{second}");
    assert_eq!(second["files_already_ingested"], 6);
    assert_eq!(second["rows"], 0);
    assert_eq!(second["bronze_version"].as_i64().unwrap(), version, "no commit when nothing is new");
    assert_eq!(ctx.bronze().height() as u64, lines);
}

#[test]
fn generated_csv_lands_line_for_line() {
    let ctx = TestContext::new();
    let generated = generate(&ctx, &["--format", "csv", "--events", "4000", "--files-per-day", "2", "--malformed-share", "0.05", "--bad-value-share", "0.02"]);
    let out = ctx.run_json(&["ingest"]);
    assert_eq!(out["rows"], generated["lines"], "every CSV line but the headers is a row: {out}");
    assert!(out["rows_without_event_time"].as_u64().unwrap() >= generated["malformed"].as_u64().unwrap() / 2, "{out}");
}

#[test]
fn bad_files_are_reported_and_the_good_ones_still_land() {
    let ctx = TestContext::new();
    let l = ctx.landing();
    std::fs::write(l.join("good.ndjson"), "{\"event_id\":\"a\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"extra\":{\"k\":1}}\n").unwrap();
    std::fs::write(l.join("empty.ndjson"), "").unwrap();
    age(&l.join("empty.ndjson"), 2);
    std::fs::write(l.join("just_created.ndjson"), "").unwrap();
    std::fs::write(l.join("bom.ndjson"), "\u{feff}{\"event_ts\":\"2025-01-01T00:00:00Z\"}\n").unwrap();
    std::fs::write(l.join("bad.ndjson.gz"), "this is not gzip").unwrap();
    std::fs::write(l.join("array.json"), "[{\"event_ts\":1735689600000}, {\"event_ts\":\"2025-01-01T23:30:00-05:00\"}]").unwrap();
    std::fs::write(l.join("broken_array.json"), "[{\"event_ts\":1},").unwrap();
    std::fs::write(l.join("events.csv"), "event_id,event_ts,playback.position_s\ne1,2025-01-03T00:00:00Z,abc\n").unwrap();
    std::fs::write(l.join("notes.txt"), "not data").unwrap();
    // Truncated mid-object (a producer died), invalid UTF-8, and a 1 MB line.
    let mut f = std::fs::File::create(l.join("mixed.ndjson")).unwrap();
    f.write_all(b"{\"event_ts\":\"2025-01-01T00:00:00Z\"}\n\xff\xfe\xfd\n").unwrap();
    let huge = format!("{{\"event_ts\":\"2025-01-01T00:00:00Z\",\"pad\":\"{}\"}}\n", "x".repeat(1 << 20));
    f.write_all(huge.as_bytes()).unwrap();
    f.write_all(b"{\"event_ts\":\"2025-01-01T00:0").unwrap();
    drop(f);

    let (out, stderr) = ctx.run_json_code(&["ingest"], 1);
    assert!(stderr.contains("error: 2 landing file(s) could not be read; everything else was committed"), "{stderr}");
    assert!(out["files_in_flight"][0].as_str().unwrap().ends_with("just_created.ndjson"), "a fresh empty file waits: {out}");
    let unreadable: Vec<String> = out["files_unreadable"].as_array().unwrap().iter().map(|f| format!("{} {}", f["file"], f["reason"])).collect();
    assert_eq!(unreadable.len(), 2, "{out}");
    assert!(unreadable.iter().any(|u| u.contains("bad.ndjson.gz") && u.contains("not a valid gzip file")), "{unreadable:?}");
    assert!(unreadable.iter().any(|u| u.contains("broken_array.json") && u.contains("not a valid JSON array")), "{unreadable:?}");
    assert!(out["files_empty"][0].as_str().unwrap().ends_with("empty.ndjson"));
    assert!(out["files_ignored"][0].as_str().unwrap().ends_with("notes.txt"));
    assert_eq!(out["files_ingested"], 5);
    assert_eq!(out["rows"], 1 + 2 + 1 + 4 + 1, "{out}");
    assert_eq!(out["rows_without_event_time"], 2, "invalid UTF-8 and truncated; the BOM line is read: {out}");

    let bronze = ctx.bronze();
    let payloads = bronze.column("payload").unwrap().str().unwrap().clone();
    let all: Vec<&str> = (0..payloads.len()).map(|i| payloads.get(i).unwrap()).collect();
    assert!(all.iter().any(|p| p.contains("\"extra\":{\"k\":1}")), "unknown fields are kept");
    assert!(all.iter().any(|p| p.len() > 1 << 20), "the 1 MB line is kept whole");
    assert!(all.iter().any(|p| *p == "{\"event_ts\":\"2025-01-01T00:0"), "a truncated line is kept as received");
    assert!(all.iter().any(|p| p.contains("\"position_s\":\"abc\"")), "CSV cells stay text, nested by dotted names");
    let raw = bronze.column("payload_bytes").unwrap().binary().unwrap().clone();
    let kept: Vec<&[u8]> = (0..raw.len()).filter_map(|i| raw.get(i)).collect();
    assert_eq!(kept, vec![&b"\xff\xfe\xfd"[..]], "invalid UTF-8 is kept byte for byte");
    // Event dates: UTC of any offset; unreadable -> ingestion date and flagged.
    let dates = bronze.column("event_date").unwrap().cast(&polars::prelude::DataType::String).unwrap();
    let dates = dates.str().unwrap().clone();
    let mut seen: Vec<String> = (0..dates.len()).map(|i| dates.get(i).unwrap().to_string()).collect();
    seen.sort();
    seen.dedup();
    assert!(seen.contains(&"2025-01-02".to_string()), "23:30-05:00 is the next UTC date: {seen:?}");
    assert!(seen.contains(&"2025-01-03".to_string()), "{seen:?}");

    // Fixing the broken files makes the next run take them, and only them.
    std::fs::remove_file(l.join("bad.ndjson.gz")).unwrap();
    std::fs::write(l.join("broken_array.json"), "[{\"event_ts\":1}]").unwrap();
    std::fs::remove_file(l.join("just_created.ndjson")).unwrap();
    let out = ctx.run_json(&["ingest"]);
    assert_eq!((out["files_ingested"].as_u64(), out["rows"].as_u64()), (Some(1), Some(1)), "{out}");
    assert!(out["files_empty"].as_array().unwrap().is_empty(), "an empty file is recorded once: {out}");
}

#[test]
fn a_changed_file_is_reported_and_reingested_only_when_asked() {
    let ctx = TestContext::new();
    let path = ctx.landing().join("a.ndjson");
    std::fs::write(&path, "{\"event_ts\":1}\n").unwrap();
    assert_eq!(ctx.run_json(&["ingest"])["rows"], 1);
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, "{\"event_ts\":1}\n{\"event_ts\":2}\n").unwrap();
    let (out, stderr) = ctx.run_json_code(&["ingest"], 1);
    assert_eq!(out["rows"], 0);
    assert!(out["files_changed"][0].as_str().unwrap().ends_with("a.ndjson"), "{out}");
    assert!(stderr.contains("hint: inspect the changed files; `vbda ingest --reingest-changed`"), "{stderr}");
    let run = ctx.run(&["ingest"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("--reingest-changed"), "the text summary says what to do: {}", run.stdout);
    let out = ctx.run_json(&["ingest", "--reingest-changed"]);
    assert_eq!(out["rows"], 2);
    assert_eq!(ctx.run_json(&["ingest"])["files_changed"].as_array().unwrap().len(), 0);
    assert_eq!(ctx.bronze().height(), 3);
}

#[test]
fn a_missing_landing_folder_is_a_clear_error() {
    let ctx = TestContext::new();
    let run = ctx.run(&["ingest", "--landing", "/nonexistent/landing"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("landing folder /nonexistent/landing does not exist"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: pass --landing DIR"), "{}", run.stderr);
}

/// SIGKILL at random moments, then rerun until done: every file is in bronze exactly once.
#[test]
fn killed_at_any_moment_then_rerun_every_file_lands_exactly_once() {
    let ctx = TestContext::new();
    generate(&ctx, &["--events", "20000", "--files-per-day", "40", "--malformed-share", "0.01"]);
    let files: Vec<_> = files_under(&ctx.landing()).into_iter().filter(|p| p.to_string_lossy().contains(".ndjson")).collect();
    assert_eq!(files.len(), 40);

    // Deterministic "random" kill delays spread over a run's length (a few seconds in debug).
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut killed_mid_run = 0;
    let mut partial = 0;
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let commits = || std::fs::read_dir(&log).map(|d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json")).count()).unwrap_or(0);
    for _ in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(200 + seed % 2500);
        let mut child = ctx.vbda().args(["ingest", "--batch-rows", "400", "-q"]).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed_mid_run += 1;
            // Version 0 creates the table; 40 files make 40 more commits when all is done.
            let n = commits();
            if n > 1 && n < 41 {
                partial += 1;
            }
        }
        child.wait().unwrap();
    }
    let out = ctx.run_json(&["ingest", "--batch-rows", "400"]);
    assert!(out["files_unreadable"].as_array().unwrap().is_empty());
    assert!(killed_mid_run > 0, "at least one run must have been killed mid-way");
    assert!(partial > 0, "at least one kill must land between commits of a run");

    let bronze = ctx.bronze();
    let per_file = rows_per_file(&bronze);
    assert_eq!(per_file.len(), 40, "every file is in bronze");
    for path in &files {
        let uri = format!("file://{}", path.display());
        assert_eq!(per_file.get(&uri).copied(), Some(nonblank_lines(path)), "{uri} must be in bronze exactly once");
    }
    let again = ctx.run_json(&["ingest"]);
    assert_eq!((again["rows"].as_u64(), again["files_already_ingested"].as_u64()), (Some(0), Some(40)));
}

#[test]
fn parquet_rows_land_as_json_payloads() {
    use polars::prelude::*;
    let ctx = TestContext::new();
    let mut df = df!(
        "event_id" => ["p1", "p2"],
        "event_ts" => ["2025-01-01T12:00:00Z", "2025-01-02T12:00:00+01:00"],
        "position_s" => [1.5, 2.0],
    )
    .unwrap();
    let file = std::fs::File::create(ctx.landing().join("events.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    let out = ctx.run_json(&["ingest"]);
    assert_eq!((out["files_ingested"].as_u64(), out["rows"].as_u64()), (Some(1), Some(2)), "{out}");
    let bronze = ctx.bronze().sort(["source_line"], Default::default()).unwrap();
    let payload = bronze.column("payload").unwrap().str().unwrap().get(0).unwrap().to_string();
    let row: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!((row["event_id"].as_str(), row["position_s"].as_f64()), (Some("p1"), Some(1.5)), "{payload}");
    let formats = bronze.column("payload_format").unwrap().str().unwrap().get(1).unwrap().to_string();
    assert_eq!(formats, "parquet");
    assert_eq!(bronze.column("event_id").unwrap().str().unwrap().get(1), Some("p2"));
    assert_eq!(bronze.column("event_date_fallback").unwrap().bool().unwrap().sum(), Some(0));
}

#[test]
fn parquet_naive_timestamps_are_utc_and_binary_columns_are_refused() {
    use polars::prelude::*;
    let ctx = TestContext::new();
    let ts = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(23, 0, 0).unwrap();
    let mut df = df!("event_id" => ["t1"], "event_ts" => [ts]).unwrap();
    ParquetWriter::new(std::fs::File::create(ctx.landing().join("ts.parquet")).unwrap()).finish(&mut df).unwrap();
    let mut df = df!("event_id" => ["b1"]).unwrap();
    df.with_column(Series::new("blob".into(), [&b"\x00\x01"[..]]).into_column()).unwrap();
    ParquetWriter::new(std::fs::File::create(ctx.landing().join("bin.parquet")).unwrap()).finish(&mut df).unwrap();
    let (out, _) = ctx.run_json_code(&["ingest"], 1);
    assert_eq!(out["rows"], 1, "{out}");
    assert_eq!(out["rows_without_event_time"], 0, "naive timestamps read as UTC: {out}");
    let reason = out["files_unreadable"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("column `blob` is binary"), "{reason}");
}

/// Two ingests racing over the same landing folder: Delta's conflict check on the files'
/// application transactions lets each file in exactly once.
#[test]
fn two_concurrent_ingests_land_each_file_exactly_once() {
    let ctx = TestContext::new();
    generate(&ctx, &["--events", "6000", "--files-per-day", "12"]);
    // Create bronze first so both runs race on commits, not on table creation.
    std::fs::create_dir_all(ctx.dir.path().join("empty")).unwrap();
    ctx.run_json(&["ingest", "--landing", ctx.dir.path().join("empty").to_str().unwrap()]);
    let a = ctx.vbda().args(["ingest", "--batch-rows", "300", "--output", "json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = ctx.vbda().args(["ingest", "--batch-rows", "300", "--output", "json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let rows = |o: &std::process::Output| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["rows"].as_u64().unwrap()
    };
    assert_eq!(rows(&a) + rows(&b), 6000, "the two runs split the files between them");
    let per_file = rows_per_file(&ctx.bronze());
    assert_eq!(per_file.len(), 12);
    for path in files_under(&ctx.landing()) {
        let uri = format!("file://{}", path.display());
        assert_eq!(per_file.get(&uri).copied(), Some(nonblank_lines(&path)), "{uri}");
    }
}

/// A symlink in the landing folder to a file elsewhere on the machine is never read (whoever
/// can write into the landing folder could otherwise copy any file vbda can read into
/// bronze): it is reported as skipped; a symlink to a file inside the landing folder is read.
#[cfg(unix)]
#[test]
fn symlinks_to_files_outside_the_landing_folder_are_skipped_and_reported() {
    let ctx = TestContext::new();
    let secret = ctx.dir.path().join("secret.ndjson");
    std::fs::write(&secret, r#"{"event_id":"s1","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s","content_id":"c"}"#.to_string() + "\n").unwrap();
    std::os::unix::fs::symlink(&secret, ctx.landing().join("leak.ndjson")).unwrap();
    std::fs::create_dir_all(ctx.landing().join("real")).unwrap();
    std::fs::write(ctx.landing().join("real/a.ndjson"), r#"{"event_id":"a1","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s","content_id":"c"}"#.to_string() + "\n").unwrap();
    std::os::unix::fs::symlink(ctx.landing().join("real/a.ndjson"), ctx.landing().join("inside.ndjson")).unwrap();
    let out = ctx.run_json(&["ingest"]);
    let outside: Vec<&str> = out["files_outside_landing"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(outside.len(), 1, "{out}");
    assert!(outside[0].ends_with("leak.ndjson"), "{out}");
    assert_eq!(out["files_ingested"], 2, "the real file and the link inside the folder: {out}");
    let bronze = ctx.run_json(&["show", "bronze.video_events", "--limit", "100"]);
    let payloads = bronze.to_string();
    assert!(!payloads.contains("s1"), "the outside file's content never reaches bronze: {payloads}");
    let text = ctx.run(&["ingest"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("outside the landing folder") && text.stdout.contains("leak.ndjson"), "{}", text.stdout);
}

/// A gzip member that inflates beyond `--max-file-bytes` (a gzip bomb) is refused while it
/// inflates, as is a plain file over the limit: both reported unreadable with the limit and
/// how to raise it (exit 1), the other files committed, nothing of the refused ones.
#[test]
fn a_gzip_bomb_and_a_file_over_the_size_limit_are_refused_and_the_rest_is_ingested() {
    let ctx = TestContext::new();
    let event = r#"{"event_id":"g1","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s","content_id":"c"}"#;
    std::fs::write(ctx.landing().join("good.ndjson"), format!("{event}\n")).unwrap();
    // 64 MiB of blank lines in a few dozen KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'\n'; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    std::fs::write(ctx.landing().join("bomb.ndjson.gz"), &bomb).unwrap();
    std::fs::write(ctx.landing().join("big.ndjson"), format!("{event}\n").repeat(20_000)).unwrap();
    let (out, stderr) = ctx.run_json_code(&["ingest", "--max-file-bytes", "1000000"], 1);
    assert_eq!(out["files_ingested"], 1, "{out}");
    assert_eq!(out["rows"], 1, "{out}");
    let unreadable = out["files_unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 2, "{out}");
    for f in unreadable {
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.contains("more than 1000000 bytes") && reason.contains("--max-file-bytes"), "{reason}");
    }
    assert!(unreadable.iter().any(|f| f["reason"].as_str().unwrap().contains("inflates")), "{out}");
    assert!(stderr.contains("error:"), "{stderr}");
    // Raised, the big file goes in (the bomb is blank lines only: counted, recorded empty).
    let out = ctx.run_json(&["ingest", "--max-file-bytes", "100000000"]);
    assert_eq!((out["files_ingested"].as_u64(), out["rows"].as_u64()), (Some(1), Some(20_000)), "{out}");
    assert_eq!(out["files_empty"].as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(out["blank_lines"], 64 << 20, "{out}");
    let shown = ctx.run_json(&["ingest", "--show-settings"]);
    assert_eq!(shown["settings"]["max_file_bytes"], 1u64 << 30, "the default: {shown}");
}
