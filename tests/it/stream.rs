//! `vbda stream` against librdkafka's mock cluster (a Kafka-protocol broker on 127.0.0.1,
//! in the test process; the stream runs as a separate process): every message exactly once,
//! across restarts, kills, SIGTERM and two or three workers in one group.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::common::TestContext;

const TOPIC: &str = "events";

fn event(i: usize) -> String {
    format!(r#"{{"event_id":"k{i}","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u{i}","session_id":"s{}","content_id":"c"}}"#, i % 7)
}

/// Produce messages `from..to` round-robin over 3 partitions; returns (partition, payload) in order.
fn produce(brokers: &str, from: usize, to: usize) {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    for i in from..to {
        let payload = event(i);
        let record = BaseRecord::<str, str>::to(TOPIC).partition((i % 3) as i32).key("s").payload(&payload);
        producer.send(record).unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn cluster() -> (MockCluster<'static, rdkafka::producer::DefaultProducerContext>, String) {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 3, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    (cluster, brokers)
}

fn stream_args<'a>(brokers: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    // A killed worker's partitions move on after the session timeout: keep it short here.
    let mut args = vec![
        "stream", "--brokers", brokers, "--topic", TOPIC, "--group", "vbda",
        "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
    ];
    if !extra.contains(&"--max-age-ms") {
        args.extend(["--max-age-ms", "200"]);
    }
    args.extend(extra);
    args
}

/// Bronze's Kafka rows: (partition, offset) -> how many times, and the payloads.
fn bronze_offsets(ctx: &TestContext) -> (BTreeMap<(i64, i64), u32>, Vec<String>) {
    let out = ctx.run_json(&["show", "bronze.video_events", "--limit", "1000000"]);
    let mut counts = BTreeMap::new();
    let mut payloads = Vec::new();
    for r in out["rows"].as_array().unwrap() {
        *counts.entry((r["kafka_partition"].as_i64().unwrap(), r["kafka_offset"].as_i64().unwrap())).or_insert(0) += 1;
        payloads.push(r["payload"].as_str().unwrap().to_string());
    }
    payloads.sort();
    (counts, payloads)
}

/// Bronze holds messages 0..n, each exactly once.
fn assert_exactly_once(ctx: &TestContext, n: usize, what: &str) {
    let (counts, payloads) = bronze_offsets(ctx);
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c != 1).collect();
    assert!(twice.is_empty(), "{what}: no message twice: {twice:?}");
    assert_eq!(payloads, expected(n), "{what}: every message");
}

fn expected(n: usize) -> Vec<String> {
    let mut all: Vec<String> = (0..n).map(event).collect();
    all.sort();
    all
}

#[test]
fn until_caught_up_lands_every_message_once_and_reruns_add_only_new_ones() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 60);
    // A tombstone and a message that is not JSON.
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    producer.send(BaseRecord::<str, str>::to(TOPIC).partition(0).key("s")).unwrap();
    producer.send(BaseRecord::<str, str>::to(TOPIC).partition(1).key("s").payload("not json")).unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    let ctx = TestContext::new();
    let out = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!((out["rows_committed"].as_u64(), out["tombstones"].as_u64()), (Some(61), Some(1)), "{out}");
    assert_eq!(out["stopped_by"], "caught up", "{out}");
    let (counts, payloads) = bronze_offsets(&ctx);
    assert_eq!(counts.len(), 61);
    assert!(counts.values().all(|n| *n == 1), "no message twice");
    assert!(payloads.contains(&"not json".to_string()), "bronze is lossless");
    let rows = ctx.run_json(&["show", "bronze.video_events", "--limit", "1000"]);
    let flagged: Vec<&serde_json::Value> = rows["rows"].as_array().unwrap().iter().filter(|r| !r["payload_error"].is_null()).collect();
    assert_eq!(flagged.len(), 1, "only the non-JSON message is flagged: {flagged:?}");
    assert_eq!(flagged[0]["payload"], "not json");
    assert!(flagged[0]["payload_error"].as_str().unwrap().contains("JSON"), "{}", flagged[0]["payload_error"]);
    let silver = ctx.run_json(&["bronze-to-silver"]);
    assert_eq!((silver["silver_rows"].as_u64(), silver["quarantined"].as_u64()), (Some(60), Some(1)), "{silver}");

    let again = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(again["rows_committed"], 0, "{again}");
    produce(&brokers, 60, 90);
    let more = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(more["rows_committed"], 30, "{more}");
    let (counts, payloads) = bronze_offsets(&ctx);
    assert!(counts.values().all(|n| *n == 1));
    let mut want = expected(90);
    want.push("not json".to_string());
    want.sort();
    assert_eq!(payloads, want);
}

/// Bronze restored to an earlier version takes its recorded offsets back with it: the next
/// stream reads the restored-away messages again (Kafka's committed offsets are past them),
/// each exactly once.
#[test]
fn after_bronze_is_restored_the_stream_reads_the_restored_away_messages_again_once() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 60);
    let ctx = TestContext::new();
    let first = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(first["rows_committed"], 60, "{first}");
    let history = ctx.run_json(&["history", "bronze.video_events"]);
    let after_first = history["entries"][0]["version"].as_i64().unwrap_or_else(|| panic!("{history}"));
    produce(&brokers, 60, 90);
    let second = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(second["rows_committed"], 30, "{second}");

    let out = ctx.run_json(&["restore", "bronze.video_events", "--version", &after_first.to_string()]);
    assert_eq!(out["transactions_restored"], 3, "one offset per partition: {out}");
    assert_eq!(bronze_offsets(&ctx).1, expected(60));
    let again = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(again["rows_committed"], 30, "{again}");
    assert_exactly_once(&ctx, 90, "after the rerun");
}

/// The stream aborted (VBDA_FAILPOINT) right before a bronze commit, and right after one but
/// before Kafka's offsets follow: the restarted stream lands every message exactly once.
#[test]
fn crashed_before_or_after_a_bronze_commit_the_rerun_lands_every_message_once() {
    use std::os::unix::process::ExitStatusExt;
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 90);
    for point in ["stream.before_commit#2", "stream.after_commit#2", "stream.after_commit"] {
        let ctx = TestContext::new();
        let group = format!("crash-{}", point.replace(['#', '.'], "-"));
        let mut args = stream_args(&brokers, &["--until-caught-up", "--max-rows", "20"]);
        let at = args.iter().position(|a| *a == "vbda").unwrap();
        args[at] = &group;
        let out = ctx.vbda().env("VBDA_FAILPOINT", point).args(&args).output().unwrap();
        assert_eq!(out.status.signal(), Some(6), "{point}: {}", String::from_utf8_lossy(&out.stderr));
        let again = ctx.run_json(&args);
        assert_eq!(again["stopped_by"], "caught up", "{point}: {again}");
        assert_exactly_once(&ctx, 90, point);
    }
}

#[test]
fn killed_at_random_moments_and_restarted_every_message_lands_exactly_once() {
    let (_cluster, brokers) = cluster();
    let ctx = TestContext::new();
    let mut produced = 0;
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let commits = || std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
    for (trial, delay_ms) in [0u64, 40, 90, 10, 150, 60].into_iter().enumerate() {
        produce(&brokers, produced, produced + 40);
        produced += 40;
        let before = commits();
        let mut child = ctx.vbda().args(stream_args(&brokers, &["-q", "--max-rows", "7", "--max-age-ms", "50"])).spawn().unwrap();
        // Kill once this worker is committing (it first waits for the group), at varied moments.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while commits() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let (counts, _) = bronze_offsets_or_empty(&ctx);
        assert!(counts.values().all(|n| *n == 1), "trial {trial}: a message twice");
    }
    ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    let (counts, payloads) = bronze_offsets(&ctx);
    assert!(counts.values().all(|n| *n == 1), "no message twice");
    assert_eq!(payloads, expected(produced), "every message once");
}

fn bronze_offsets_or_empty(ctx: &TestContext) -> (BTreeMap<(i64, i64), u32>, Vec<String>) {
    if ctx.lakehouse().join("bronze/video_events/_delta_log").exists() { bronze_offsets(ctx) } else { Default::default() }
}

#[test]
fn sigterm_commits_the_batch_in_flight_and_exits_0() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 12);
    let ctx = TestContext::new();
    // A batch that only closes on age after a minute: SIGTERM must commit it. (The worker needs a
    // few seconds to start: the mock cluster does not answer the topic-id query, which waits 3 s.)
    let child = ctx
        .vbda()
        .args(["stream", "--brokers", &brokers, "--topic", TOPIC, "--group", "vbda", "--max-age-ms", "60000", "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["stopped_by"].as_str(), report["rows_committed"].as_u64()), (Some("SIGTERM"), Some(12)), "{report}");
    assert_eq!(bronze_offsets(&ctx).1, expected(12));
}

#[test]
fn two_workers_in_one_group_share_the_partitions_exactly_once() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 150);
    let ctx = TestContext::new();
    let spawn = || ctx.vbda().args(stream_args(&brokers, &["-q", "--max-rows", "10", "--until-caught-up"])).spawn().unwrap();
    let (mut a, mut b) = (spawn(), spawn());
    std::thread::sleep(Duration::from_millis(800));
    produce(&brokers, 150, 200);
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    // Each worker stops only once bronze holds the end offsets seen at its start (the first
    // 150 messages), whichever of the two committed them.
    let (_, payloads) = bronze_offsets(&ctx);
    let first: Vec<String> = expected(150);
    assert!(first.iter().all(|p| payloads.contains(p)), "both workers caught up with the first 150 before stopping");
    ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_exactly_once(&ctx, 200, "after the rerun");
}

/// Three workers in one group: a third joins mid-stream (a rebalance), then one is SIGKILLed
/// (its partitions move on when its session times out), while messages keep coming; a final
/// `--until-caught-up` run in the same group: every message exactly once.
#[test]
fn three_workers_with_rebalances_land_every_message_exactly_once() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 300);
    let ctx = TestContext::new();
    let spawn = || ctx.vbda().args(stream_args(&brokers, &["-q", "--max-rows", "7", "--max-age-ms", "50"])).spawn().unwrap();
    let (mut a, mut b) = (spawn(), spawn());
    std::thread::sleep(Duration::from_millis(1500));
    let mut c = spawn();
    produce(&brokers, 300, 600);
    std::thread::sleep(Duration::from_millis(1500));
    a.kill().unwrap();
    a.wait().unwrap();
    produce(&brokers, 600, 900);
    std::thread::sleep(Duration::from_secs(8));
    for child in [&mut b, &mut c] {
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(child.wait().unwrap().success(), "a worker ends cleanly on SIGTERM");
    }
    let out = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!(out["stopped_by"], "caught up", "{out}");
    assert_exactly_once(&ctx, 900, "after the rerun");
}

/// `--metrics-addr` serves Prometheus metrics that `promtool check metrics` accepts.
#[test]
fn metrics_are_served_in_prometheus_format() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 20);
    let ctx = TestContext::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = ctx.vbda().args(stream_args(&brokers, &["-q", "--metrics-addr", &addr])).spawn().unwrap();
    let get = || -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text.split_once("\r\n\r\n")?.1.to_string())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut body = String::new();
    while std::time::Instant::now() < deadline {
        if let Some(b) = get() {
            let lags = (0..3).all(|p| b.contains(&format!(r#"vbda_stream_consumer_lag{{topic="events",partition="{p}"}} 0"#)));
            if b.contains("vbda_stream_rows_committed_total 20") && lags {
                body = b;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    child.wait().unwrap();
    assert!(body.contains("vbda_stream_rows_committed_total 20"), "{body}");
    assert!(body.contains("vbda_stream_messages_total 20") && body.contains("vbda_stream_commit_seconds_count"), "{body}");
    assert!(body.contains(r#"vbda_stream_consumer_lag{topic="events",partition="0"} 0"#), "{body}");
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
    use std::io::Write;
    promtool.stdin.as_ref().unwrap().write_all(body.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The broker goes away mid-stream and comes back: the stream keeps going and loses nothing.
#[test]
fn a_broker_that_goes_away_and_comes_back_loses_nothing() {
    let (cluster, brokers) = cluster();
    produce(&brokers, 0, 30);
    let ctx = TestContext::new();
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let commits = || std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
    let mut child = ctx.vbda().args(stream_args(&brokers, &["-q", "--max-rows", "5"])).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while commits() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.broker_down(1).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    cluster.broker_up(1).unwrap();
    produce(&brokers, 30, 60);
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "the stream is still running after the outage");
    // SIGTERM while the broker is down again: the stream still stops at once, cleanly.
    cluster.broker_down(1).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let asked = std::time::Instant::now();
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(child.wait().unwrap().success());
    assert!(asked.elapsed() < Duration::from_secs(20), "took {:?} to stop", asked.elapsed());
    cluster.broker_up(1).unwrap();
    ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_exactly_once(&ctx, 60, "after the rerun");
}

/// A transactional producer leaves a commit marker after its messages: the partition's end
/// offset is one past the last message, which never reaches bronze. `--until-caught-up` still
/// stops (this worker has read past the marker) with every message once.
#[test]
fn until_caught_up_stops_after_transaction_markers() {
    use rdkafka::producer::BaseProducer;
    let (_cluster, brokers) = cluster();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("transactional.id", "vbda-test-tx")
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(10)).unwrap();
    producer.begin_transaction().unwrap();
    for i in 0..12 {
        let payload = event(i);
        producer.send(BaseRecord::<str, str>::to(TOPIC).partition((i % 3) as i32).key("s").payload(&payload)).unwrap();
    }
    producer.commit_transaction(Duration::from_secs(10)).unwrap();
    let ctx = TestContext::new();
    let started = std::time::Instant::now();
    let out = ctx.run_json(&stream_args(&brokers, &["--until-caught-up"]));
    assert_eq!((out["rows_committed"].as_u64(), out["stopped_by"].as_str()), (Some(12), Some("caught up")), "{out}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped promptly: {:?}", started.elapsed());
    let (counts, payloads) = bronze_offsets(&ctx);
    assert!(counts.values().all(|n| *n == 1));
    assert_eq!(payloads, expected(12));
}

/// `--until-caught-up` must neither hang nor pass for caught up when the group hands it
/// nothing: a frozen member (SIGSTOP, long session) holds every partition while messages wait;
/// the run fails with exit 3 after `--stall-timeout` seconds in which nothing moved.
#[test]
fn until_caught_up_fails_with_exit_3_when_nothing_moves() {
    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 30);
    let ctx = TestContext::new();
    let mut frozen = ctx.vbda().args(stream_args(&brokers, &["-q", "-X", "session.timeout.ms=45000"])).spawn().unwrap();
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill").args(["-STOP", &frozen.id().to_string()]).status();
    produce(&brokers, 30, 60);
    let started = std::time::Instant::now();
    let (json, _) = ctx.run_json_code(&stream_args(&brokers, &["--until-caught-up", "--stall-timeout", "5"]), 3);
    let _ = std::process::Command::new("kill").args(["-CONT", &frozen.id().to_string()]).status();
    let _ = frozen.kill();
    let _ = frozen.wait();
    let message = json["error"].as_str().unwrap();
    assert!(message.starts_with("not caught up: events/") && message.contains("nothing moved for 5 s"), "{json}");
    assert!(started.elapsed() < Duration::from_secs(40), "gave up in time: {:?}", started.elapsed());
    // Nothing was lost: a normal run later takes the rest.
    // (In a new group: the killed member holds the old one's partitions for 45 s more.)
    let mut args = stream_args(&brokers, &["--until-caught-up"]);
    let group = args.iter().position(|a| *a == "--group").unwrap() + 1;
    args[group] = "other";
    let out = ctx.run_json(&args);
    assert_eq!(out["stopped_by"], "caught up", "{out}");
    let (counts, payloads) = bronze_offsets(&ctx);
    assert!(counts.values().all(|n| *n == 1));
    assert_eq!(payloads, expected(60));
}

/// A worker started in-process (the library's entry point, as a scheduler embedding vbda or a
/// test would) and stopped through its `Shutdown` while a batch is open: the batch in flight
/// is committed, with its offsets, before the worker returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_worker_stopped_mid_batch_commits_the_batch_in_flight() {
    use std::sync::Arc;
    use vbda::ops::stream::{Shutdown, StreamSettings, run};
    use vbda::ops::stream_metrics::Metrics;

    let (_cluster, brokers) = cluster();
    produce(&brokers, 0, 30);
    let ctx = TestContext::new();
    let lake = vbda::lake::Lakehouse::new(ctx.lakehouse().to_str().unwrap(), Default::default()).unwrap();
    let catalog = vbda::catalog::Catalog::load(&crate::common::project_dir()).unwrap();
    // A batch that would only close on age after ten minutes, or at a million rows.
    let settings = StreamSettings {
        connection: vbda::kafka::Connection::new(brokers.clone()),
        topics: vec![TOPIC.to_string()],
        group: "in-process".into(),
        max_age: Duration::from_secs(600),
        max_rows: 1_000_000,
        ..Default::default()
    };
    let (shutdown, metrics) = (Shutdown::new(), Arc::new(Metrics::default()));
    let worker = tokio::spawn({
        let (shutdown, metrics) = (shutdown.clone(), metrics.clone());
        async move { run(&lake, &catalog, &settings, shutdown, metrics).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while metrics.messages() < 30 {
        assert!(std::time::Instant::now() < deadline, "the worker read {} of 30 messages", metrics.messages());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // All 30 are in the open batch; nothing is committed yet (bronze has only its create commit).
    let history = ctx.run_json(&["history", "bronze.video_events"]);
    assert_eq!(history["entries"].as_array().map(Vec::len), Some(1), "{history}");

    shutdown.stop("test");
    let report = tokio::time::timeout(Duration::from_secs(60), worker).await.expect("worker stops").unwrap().unwrap();
    assert_eq!((report.stopped_by.as_str(), report.rows_committed, report.commits), ("test", 30, 1), "{report:?}");
    let offsets: Vec<(&str, i64)> = report.offsets.iter().map(|(p, o)| (p.as_str(), *o)).collect();
    assert_eq!(offsets, [("events/0", 10), ("events/1", 10), ("events/2", 10)]);
    let (counts, payloads) = bronze_offsets(&ctx);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(payloads, expected(30));
}
