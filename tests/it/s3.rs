//! vbda on S3: a real S3 endpoint, `moto_server` (moto[server] from PyPI, installed by
//! scripts/test.sh into ~/.cache/vbda-moto-venv), started on 127.0.0.1 by each test as a
//! separate process. The lakehouse and the landing zone live in its buckets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;

const D: &str = "2025-01-01";
const GOLD: [&str; 6] = ["daily_kpis", "content_daily", "user_daily", "device_geo_daily", "ad_daily", "user_activity"];

struct Moto {
    child: Option<Child>,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn moto_server() -> PathBuf {
    let venv = std::env::var_os("VBDA_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vbda-moto-venv"));
    let bin = venv.join("bin/moto_server");
    assert!(bin.exists(), "moto_server is not installed at {}: run scripts/test.sh, which installs it", bin.display());
    bin
}

impl Moto {
    fn start() -> Moto {
        Moto::start_with_auth_after(None)
    }

    /// With `Some(n)`, moto checks signatures and IAM policies after the first n requests.
    fn start_with_auth_after(free_requests: Option<u32>) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(moto_server());
        if let Some(n) = free_requests {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child: Some(child), port }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP request (moto does not check signatures): (status, body).
    fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
    }

    fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.http("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "{body}");
    }

    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let (status, text) = self.http("PUT", &format!("/{bucket}/{key}"), body);
        assert_eq!(status, 200, "PUT /{bucket}/{key}: {text}");
    }

    /// Replace an object (moto refuses unsigned overwrites): a signed PUT through boto3 from
    /// moto's own virtual environment.
    fn replace(&self, bucket: &str, key: &str, body: &[u8]) {
        let python = moto_server().with_file_name("python");
        let script = "import boto3, sys\nboto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=sys.stdin.buffer.read())";
        let mut child = Command::new(python)
            .args(["-c", script, &self.endpoint(), bucket, key])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        assert!(child.wait().unwrap().success(), "replacing s3://{bucket}/{key} failed");
    }

    /// Upload every file under `dir` to `bucket` under `prefix`.
    fn upload(&self, dir: &Path, bucket: &str, prefix: &str) -> usize {
        let mut n = 0;
        for entry in walk(dir) {
            let key = format!("{prefix}{}", entry.strip_prefix(dir).unwrap().to_string_lossy());
            self.put(bucket, &key, &std::fs::read(&entry).unwrap());
            n += 1;
        }
        n
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// vbda with the lakehouse and landing zone in moto's buckets; credentials from the
/// environment, as the AWS chain reads them.
fn s3_vbda(ctx: &TestContext, moto: &Moto, args: &[&str]) -> Command {
    let mut cmd = ctx.vbda();
    cmd.env("VBDA_LAKEHOUSE", "s3://lake/warehouse")
        .env("VBDA_LANDING", "s3://landing/events/")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "AKIAVBDATESTKEY")
        .env("AWS_SECRET_ACCESS_KEY", "vbda-test-secret-do-not-print")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .args(args)
        .args(["--output", "json"]);
    cmd
}

fn run_s3(ctx: &TestContext, moto: &Moto, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = s3_vbda(ctx, moto, args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stdout.contains("vbda-test-secret") && !stderr.contains("vbda-test-secret"), "a secret was printed");
    let json = serde_json::from_str(stdout.lines().next().unwrap_or("null")).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn ok_s3(ctx: &TestContext, moto: &Moto, args: &[&str]) -> serde_json::Value {
    let (code, json, stderr) = run_s3(ctx, moto, args);
    assert_eq!(code, 0, "vbda {args:?} on S3 failed:\n{stderr}");
    json
}

fn generate(ctx: &TestContext, events: &str) -> PathBuf {
    let landing = ctx.dir.path().join("generated");
    ctx.run_json(&["generate", "--out", landing.to_str().unwrap(), "--content-out", "c.csv", "--events", events, "--date", D,
        "--files-per-day", "4", "--duplicate-share", "0.02", "--malformed-share", "0.01"]);
    landing
}

fn gold_rows(f: impl Fn(&[&str]) -> serde_json::Value) -> Vec<serde_json::Value> {
    GOLD.iter().map(|t| f(&["show", &format!("gold.{t}"), "--date", D, "--limit", "100000"])["rows"].clone()).collect()
}

/// generate -> landing bucket -> ingest -> bronze-to-silver -> silver-to-gold -> check ->
/// vacuum with the lakehouse on S3 gives the same gold as the same pipeline on local disk;
/// a rerun of ingest adds nothing; a changed object is reported.
#[test]
fn the_whole_pipeline_on_s3_gives_the_same_gold_as_on_local_disk() {
    let mut moto = Moto::start();
    moto.create_bucket("lake");
    moto.create_bucket("landing");
    let ctx = TestContext::new();
    let generated = generate(&ctx, "20000");
    let objects = moto.upload(&generated, "landing", "events/");
    assert!(objects >= 2, "the generator wrote several files");

    // Several commits (one per file), so that optimize has files to compact.
    let ingested = ok_s3(&ctx, &moto, &["ingest", "--batch-rows", "4000"]);
    ok_s3(&ctx, &moto, &["ingest", "--content", "c.csv"]);
    assert_eq!(ingested["files_ingested"].as_u64(), Some(objects as u64), "{ingested}");
    ok_s3(&ctx, &moto, &["bronze-to-silver", "--date", D]);
    ok_s3(&ctx, &moto, &["silver-to-gold", "--date", D]);
    ok_s3(&ctx, &moto, &["check", "--date", D]);
    ok_s3(&ctx, &moto, &["vacuum"]);

    // The maintenance commands on S3: optimize, then a vacuum that really deletes (the
    // compacted files), checkpoint, status, history, restore, and a backfill whose state
    // file lives in the bucket.
    let optimized = ok_s3(&ctx, &moto, &["optimize", "--table", "bronze.video_events"]);
    let bronze_opt = &optimized["tables"][0];
    assert!(bronze_opt["files_removed"].as_u64().unwrap() >= 2, "{optimized}");
    let objects_under = |prefix: &str| {
        let (_, body) = moto.http("GET", &format!("/lake?list-type=2&prefix={prefix}"), b"");
        body.matches(".parquet</Key>").count()
    };
    let before = objects_under("warehouse/bronze/video_events/");
    let vacuumed = ok_s3(&ctx, &moto, &["vacuum", "--table", "bronze.video_events", "--retention-hours", "0", "--force"]);
    let removed = vacuumed["tables"][0]["files_removed"].as_u64().unwrap();
    assert_eq!(removed, bronze_opt["files_removed"].as_u64().unwrap(), "{vacuumed}");
    assert_eq!(objects_under("warehouse/bronze/video_events/"), before - removed as usize, "the files are gone from the bucket");
    ok_s3(&ctx, &moto, &["checkpoint"]);
    let status = ok_s3(&ctx, &moto, &["status"]);
    let bronze_status = status["tables"].as_array().unwrap().iter().find(|t| t["table"] == "bronze.video_events").unwrap().clone();
    assert_eq!(bronze_status["files"], bronze_opt["files_after"], "{status}");
    let history = ok_s3(&ctx, &moto, &["history", "gold.daily_kpis"]);
    let versions = history["entries"].as_array().unwrap().len();
    assert!(versions >= 2, "{history}");
    ok_s3(&ctx, &moto, &["restore", "gold.daily_kpis", "--version", "0"]);
    assert_eq!(ok_s3(&ctx, &moto, &["show", "gold.daily_kpis", "--date", D])["rows"], serde_json::json!([]), "restored to the empty v0");
    let backfill = ok_s3(&ctx, &moto, &["backfill", "--from", D, "--to", D]);
    assert_eq!(backfill["done"], 1, "{backfill}");
    assert!(backfill["state_file"].as_str().unwrap().starts_with("s3://lake/warehouse/_vbda/backfills/"), "{backfill}");
    let again = ok_s3(&ctx, &moto, &["backfill", "--from", D, "--to", D]);
    assert_eq!((again["done"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(1)), "the state in the bucket is read back: {again}");
    let on_s3 = gold_rows(|a| ok_s3(&ctx, &moto, a));
    // Registering the tables on S3: Athena and Trino get s3:// locations, Spark s3a://.
    let athena = ok_s3(&ctx, &moto, &["ddl", "--engine", "athena"]);
    let statements: Vec<&str> = athena["statements"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(statements.contains(&"CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`daily_kpis` LOCATION 's3://lake/warehouse/gold/daily_kpis' TBLPROPERTIES ('table_type' = 'DELTA')"), "{athena}");
    assert!(statements.contains(&"CREATE DATABASE IF NOT EXISTS `silver`"), "{athena}");
    let trino = ok_s3(&ctx, &moto, &["ddl", "--engine", "trino", "--table", "gold.daily_kpis"]);
    assert_eq!(trino["statements"][1], "CALL \"delta\".system.register_table(schema_name => 'gold', table_name => 'daily_kpis', table_location => 's3://lake/warehouse/gold/daily_kpis')", "{trino}");
    let spark = ok_s3(&ctx, &moto, &["ddl", "--engine", "spark", "--table", "gold.daily_kpis"]);
    assert_eq!(spark["statements"][1], "CREATE TABLE IF NOT EXISTS `gold`.`daily_kpis` USING DELTA LOCATION 's3a://lake/warehouse/gold/daily_kpis'", "{spark}");

    // The same on local disk.
    std::fs::remove_dir_all(ctx.landing()).unwrap();
    std::fs::rename(&generated, ctx.landing()).unwrap();
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["ingest", "--content", "c.csv"]);
    ctx.run_json(&["bronze-to-silver", "--date", D]);
    ctx.run_json(&["silver-to-gold", "--date", D]);
    let local = gold_rows(|a| ctx.run_json(a));
    assert!(on_s3.iter().all(|rows| !rows.as_array().unwrap().is_empty()), "every gold table has rows");
    assert_eq!(on_s3, local, "gold on S3 equals gold on local disk");

    // Exactly once per object: a rerun adds nothing; a replaced object is reported (exit 1).
    let again = ok_s3(&ctx, &moto, &["ingest"]);
    assert_eq!((again["files_ingested"].as_u64(), again["files_already_ingested"].as_u64()), (Some(0), Some(objects as u64)), "{again}");
    let first = walk(&ctx.landing()).into_iter().next().unwrap();
    let key = format!("events/{}", first.strip_prefix(ctx.landing()).unwrap().to_string_lossy());
    moto.replace("landing", &key, b"{\"event_id\":\"changed\"}\n");
    let (code, changed, _) = run_s3(&ctx, &moto, &["ingest"]);
    assert_eq!(code, 1, "{changed}");
    assert_eq!(changed["files_changed"], serde_json::json!([format!("s3://landing/{key}")]), "{changed}");
    moto.stop();
}

/// More than one page of objects (1,000 keys a page): every object is listed and ingested.
#[test]
fn a_landing_zone_of_more_than_a_thousand_objects_is_listed_page_by_page() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    moto.create_bucket("landing");
    for i in 0..1_205 {
        let line = format!("{{\"event_id\":\"e{i}\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\"}}\n");
        moto.put("landing", &format!("events/part-{i:05}.ndjson"), line.as_bytes());
    }
    moto.put("landing", "events/_SUCCESS", b"");
    // A Delta table placed under the landing prefix is not input (its data files neither).
    moto.put("landing", "events/lake/t/_delta_log/00000000000000000000.json", b"{}\n");
    moto.put("landing", "events/lake/t/date=x/part-0.ndjson", b"{\"event_id\":\"in-a-table\"}\n");
    moto.put("landing", "events/.staging/part-x.ndjson", b"{}\n");
    let ctx = TestContext::new();
    let out = ok_s3(&ctx, &moto, &["ingest"]);
    assert_eq!((out["files_ingested"].as_u64(), out["rows"].as_u64()), (Some(1_205), Some(1_205)), "{out}");
}

/// Two ingests committing to the same S3 table at once (S3 conditional writes decide the
/// race): both succeed, every row of both landing zones is there once.
#[test]
fn two_writers_on_one_s3_table_lose_no_commit() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    moto.create_bucket("landing");
    let mut expected = 0;
    for (zone, files) in [("a", 12), ("b", 12)] {
        for f in 0..files {
            let lines: String = (0..50)
                .map(|i| format!("{{\"event_id\":\"{zone}{f}-{i}\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\"}}\n"))
                .collect();
            moto.put("landing", &format!("{zone}/part-{f:03}.ndjson"), lines.as_bytes());
            expected += 50;
        }
    }
    let ctx = TestContext::new();
    // Create bronze first so that the race is between appends, not table creation.
    ok_s3(&ctx, &moto, &["ingest", "--landing", "s3://landing/none/"]);
    let spawn = |zone: &str| {
        let mut cmd = s3_vbda(&ctx, &moto, &["ingest", "--landing", &format!("s3://landing/{zone}/"), "--batch-rows", "50"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let rows = ok_s3(&ctx, &moto, &["show", "bronze.video_events", "--limit", "100000"]);
    let mut ids: Vec<&str> = rows["rows"].as_array().unwrap().iter().map(|r| r["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), expected, "no commit lost");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected, "no row twice");
    let history = ok_s3(&ctx, &moto, &["history", "bronze.video_events"]);
    assert!(history["entries"].as_array().map_or(0, |c| c.len()) >= 25, "24 appends and the creation: {history}");
}

/// SIGKILL of ingest against S3 after its first commit, then a rerun: every object's rows
/// exactly once.
#[test]
fn ingest_killed_mid_run_against_s3_then_rerun_lands_every_object_once() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    moto.create_bucket("landing");
    for f in 0..40 {
        let lines: String = (0..100)
            .map(|i| format!("{{\"event_id\":\"f{f}-{i}\",\"event_type\":\"like\",\"event_ts\":\"2025-01-01T10:00:00Z\",\"user_id\":\"u\",\"session_id\":\"s\"}}\n"))
            .collect();
        moto.put("landing", &format!("events/part-{f:03}.ndjson"), lines.as_bytes());
    }
    let ctx = TestContext::new();
    ok_s3(&ctx, &moto, &["ingest", "--landing", "s3://landing/none/"]);
    let versions = || {
        let (_, body) = moto.http("GET", "/lake?list-type=2&prefix=warehouse/bronze/video_events/_delta_log/", b"");
        body.matches(".json</Key>").count()
    };
    let before = versions();
    let mut child = s3_vbda(&ctx, &moto, &["ingest", "--batch-rows", "100"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while versions() < before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let committed = versions() - before;
    assert!((1..40).contains(&committed), "killed mid-run: {committed} of 40 commits made");
    let rerun = ok_s3(&ctx, &moto, &["ingest", "--batch-rows", "100"]);
    assert_eq!(rerun["files_already_ingested"].as_u64().unwrap() + rerun["files_ingested"].as_u64().unwrap(), 40, "{rerun}");
    let rows = ok_s3(&ctx, &moto, &["show", "bronze.video_events", "--limit", "100000"]);
    let mut ids: Vec<&str> = rows["rows"].as_array().unwrap().iter().map(|r| r["event_id"].as_str().unwrap()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!((n, ids.len()), (4_000, 4_000), "every object's rows exactly once");
}

/// The common S3 failures: a clear message naming the bucket and operation, the exit code,
/// a hint, and no secret printed.
#[test]
fn s3_failures_name_the_bucket_and_exit_with_the_right_code() {
    let mut moto = Moto::start();
    moto.create_bucket("lake");
    let ctx = TestContext::new();
    // The landing bucket does not exist: the user must fix it (exit 1).
    let (code, json, stderr) = run_s3(&ctx, &moto, &["ingest", "--landing", "s3://no-such-landing/x/"]);
    assert_eq!(code, 1, "{stderr}");
    let message = json["error"].as_str().unwrap_or(&stderr).to_string();
    assert!(message.contains("no-such-landing") && message.contains("does not exist"), "{json} {stderr}");
    assert!(json["hint"].as_str().unwrap_or(&stderr).contains("create the bucket"), "{json}");
    // The lakehouse bucket does not exist.
    let mut cmd = s3_vbda(&ctx, &moto, &["status"]);
    let out = cmd.env("VBDA_LAKEHOUSE", "s3://no-such-lake/w").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no-such-lake"), "{text}");
    assert!(!text.contains("vbda-test-secret"), "{text}");
    // No credentials anywhere in the chain: the user must provide them (exit 1).
    let local = ctx.lakehouse();
    let out = s3_vbda(&ctx, &moto, &["ingest", "--lakehouse", local.to_str().unwrap()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", ctx.dir.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", ctx.dir.path().join("no-credentials"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert!(json["error"].as_str().unwrap().contains("no usable AWS credentials"), "{json}");
    // The endpoint is unreachable: it may pass (exit 3), for the landing zone and the tables.
    moto.stop();
    let (code, json, stderr) = run_s3(&ctx, &moto, &["ingest", "--lakehouse", local.to_str().unwrap()]);
    assert_eq!(code, 3, "{json} {stderr}");
    assert_eq!(json["error"], "cannot list the landing zone in S3 bucket landing: endpoint unreachable", "{json}");
    let (code, json, stderr) = run_s3(&ctx, &moto, &["ingest"]);
    assert_eq!(code, 3, "{json} {stderr}");
    let message = json["error"].as_str().unwrap_or(&stderr).to_string();
    assert!(message.contains("s3://lake/warehouse") && message.contains("unreachable"), "{json}");
}

/// `vbda stream` into a bronze table on S3 (the Kafka side is librdkafka's mock cluster): every
/// message once, and a rerun adds nothing (the offsets live in the S3 table's log).
#[test]
fn stream_into_a_bronze_table_on_s3_is_exactly_once() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let moto = Moto::start();
    moto.create_bucket("lake");
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    for i in 0..50 {
        let payload = format!(r#"{{"event_id":"k{i}","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s"}}"#);
        producer.send(BaseRecord::<str, str>::to("events").partition(i % 2).key("s").payload(&payload)).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let ctx = TestContext::new();
    let args = ["stream", "--brokers", &brokers, "--topic", "events", "--group", "g", "--until-caught-up", "--max-rows", "20", "--max-age-ms", "200"];
    let out = ok_s3(&ctx, &moto, &args);
    assert_eq!((out["rows_committed"].as_u64(), out["stopped_by"].as_str()), (Some(50), Some("caught up")), "{out}");
    let again = ok_s3(&ctx, &moto, &args);
    assert_eq!(again["rows_committed"], 0, "{again}");
    let rows = ok_s3(&ctx, &moto, &["show", "bronze.video_events", "--limit", "1000"]);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 50);
}

/// With moto checking credentials: an unknown access key and a user without permissions each
/// get their message, exit 1 and a hint, on the landing zone and on the lakehouse.
#[test]
fn invalid_and_denied_credentials_exit_1_with_a_hint() {
    let moto = Moto::start_with_auth_after(Some(4));
    let python = moto_server().with_file_name("python");
    // Setup within the 4 unchecked requests: two buckets, a user, its access key.
    let script = "import boto3, sys\nkw = dict(endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1')\ns3 = boto3.client('s3', **kw); iam = boto3.client('iam', **kw)\ns3.create_bucket(Bucket='lake'); s3.create_bucket(Bucket='landing')\niam.create_user(UserName='nobody')\nk = iam.create_access_key(UserName='nobody')['AccessKey']\nprint(k['AccessKeyId'], k['SecretAccessKey'])";
    let out = Command::new(python).args(["-c", script, &moto.endpoint()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8(out.stdout).unwrap();
    let (key, secret) = keys.trim().split_once(' ').unwrap();
    let ctx = TestContext::new();
    let run = |key: &str, secret: &str, args: &[&str]| {
        let out = s3_vbda(&ctx, &moto, args).env("AWS_ACCESS_KEY_ID", key).env("AWS_SECRET_ACCESS_KEY", secret).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(secret), "the secret was printed: {text}");
        (out.status.code(), json)
    };
    let local = ctx.lakehouse();
    let landing_only = ["ingest", "--lakehouse", local.to_str().unwrap()];
    let (code, json) = run("AKIAUNKNOWNKEY000000", "wrong-secret-value", &landing_only);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["error"], "cannot list the landing zone in S3 bucket landing: the credentials are not valid (InvalidAccessKeyId)", "{json}");
    assert!(json["hint"].as_str().unwrap().contains("AWS_ACCESS_KEY_ID"), "{json}");
    let (code, json) = run(key, secret, &landing_only);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["error"], "cannot list the landing zone in S3 bucket landing: access denied", "{json}");
    let (code, json) = run(key, secret, &["status"]);
    assert_eq!(code, Some(1), "{json}");
    let message = json["error"].as_str().unwrap();
    assert!(message.contains("s3://lake/warehouse/") && message.contains("access denied"), "{json}");
}
