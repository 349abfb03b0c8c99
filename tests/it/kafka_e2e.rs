//! `vbda stream`, `produce` and `status` end to end against a real Apache Kafka 4.1 broker in
//! its own JVM ([`crate::kafka_broker`]). Exactly once is checked as each (partition, offset)
//! in bronze once, and the payloads equal to what was produced. Messages come from an
//! independent client (confluent-kafka) unless the test is about `vbda produce`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use polars::prelude::*;

use crate::common::TestContext;
use crate::kafka_broker::{Kafka, PASSWORD};

/// Stream arguments for a topic on the PLAINTEXT listener, quick to notice a dead member.
fn stream_args(kafka: &Kafka, topic: &str, group: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["stream", "--brokers", &kafka.bootstrap(), "--topic", topic, "--group", group]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Bronze's Kafka rows: (topic, partition, offset) -> payload.
fn bronze_messages(ctx: &TestContext) -> BTreeMap<(String, i32, i64), String> {
    let df = ctx.bronze();
    let topic = df.column("kafka_topic").unwrap().str().unwrap().clone();
    let partition = df.column("kafka_partition").unwrap().i32().unwrap().clone();
    let offset = df.column("kafka_offset").unwrap().i64().unwrap().clone();
    let payload = df.column("payload").unwrap().str().unwrap().clone();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        let key = (topic.get(i).unwrap().to_string(), partition.get(i).unwrap(), offset.get(i).unwrap());
        let previous = out.insert(key.clone(), payload.get(i).unwrap().to_string());
        assert!(previous.is_none(), "{key:?} is in bronze twice");
    }
    out
}

/// The event ids in bronze, sorted, asserting each message is there once.
fn bronze_event_ids(ctx: &TestContext) -> Vec<String> {
    let mut ids: Vec<String> = bronze_messages(ctx)
        .values()
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap()["event_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn expected(prefix: &str, from: u64, to: u64) -> Vec<String> {
    let mut ids: Vec<String> = (from..to).map(|i| format!("{prefix}{i}")).collect();
    ids.sort();
    ids
}

fn sigterm(child: &Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}

/// Bronze's Delta log as text (commit info included).
fn delta_log_text(ctx: &TestContext) -> String {
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let mut text = String::new();
    for entry in std::fs::read_dir(log).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            text.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    text
}

#[test]
fn sasl_ssl_with_a_scram_user_end_to_end_and_the_password_shown_nowhere() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 4);
    let ctx = TestContext::new();
    let lines: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"event_id":"s{i}","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s{}"}}"#, i % 13))
        .collect();
    let file = ctx.dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let brokers = format!("127.0.0.1:{}", kafka.sasl_ssl);
    let mut tls: Vec<String> = Vec::new();
    for x in kafka.sasl_ssl_settings(&kafka.ca()) {
        tls.extend(["-X".to_string(), x]);
    }
    let run = |args: Vec<String>| {
        let out = ctx.vbda().args(&args).args(["--output", "json", "-v"]).env("VBDA_KAFKA_SASL_PASSWORD", PASSWORD).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD), "the password leaked:\n{stdout}\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "vbda {args:?}:\n{stderr}");
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };

    let mut produce: Vec<String> = ["produce", "--file", file.to_str().unwrap(), "--brokers", &brokers, "--topic", "events"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    produce.extend(tls.clone());
    assert_eq!(run(produce)["delivered"], 500);

    let mut stream: Vec<String> =
        ["stream", "--brokers", &brokers, "--topic", "events", "--group", "secure", "--until-caught-up", "--max-age-ms", "300"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    stream.extend(tls.clone());
    let out = run(stream);
    assert_eq!(out["rows_committed"], 500, "{out}");
    let bronze = bronze_messages(&ctx);
    assert_eq!(bronze.len(), 500);
    let payloads: BTreeSet<&String> = bronze.values().collect();
    assert_eq!(payloads, lines.iter().collect::<BTreeSet<_>>(), "payloads equal what was produced");

    let mut status: Vec<String> =
        ["status", "--table", "bronze.video_events", "--brokers", &brokers, "--topic", "events", "--group", "secure"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    status.extend(tls);
    let out = run(status);
    let lag = out["tables"][0]["stream_lag"].as_object().unwrap_or_else(|| panic!("no lag: {out}"));
    assert_eq!(lag.len(), 4, "{out}");
    assert!(lag.values().all(|v| v == 0), "Kafka's committed offsets follow bronze's: {out}");
    assert!(!delta_log_text(&ctx).contains(PASSWORD), "the password is in bronze's commit info");
}

#[test]
fn a_wrong_password_an_untrusted_ca_or_the_wrong_protocol_exit_1_at_once_with_a_hint() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 1);
    kafka.produce("events", 0, 10, &[]);
    let ctx = TestContext::new();
    let brokers = format!("127.0.0.1:{}", kafka.sasl_ssl);
    let file = ctx.dir.path().join("one.ndjson");
    std::fs::write(&file, "{\"event_id\":\"x\"}\n").unwrap();
    let wrong = "not-the-password-42";
    let check = |settings: Vec<String>, password: &str, wanted: &str| {
        let mut x: Vec<String> = Vec::new();
        for s in settings {
            x.extend(["-X".to_string(), s]);
        }
        let stream: Vec<String> = ["stream", "--brokers", &brokers, "--topic", "events", "--until-caught-up"].iter().map(|s| s.to_string()).collect();
        let produce: Vec<String> = ["produce", "--file", file.to_str().unwrap(), "--brokers", &brokers, "--topic", "events"].iter().map(|s| s.to_string()).collect();
        for base in [stream, produce] {
            let started = Instant::now();
            let out = ctx.vbda().args(&base).args(&x).env("VBDA_KAFKA_SASL_PASSWORD", password).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{base:?} {x:?}: {stderr}");
            // The wrong protocol is told after 20 s of nothing but closed connections (a broker
            // going down looks the same at first); refusals at once.
            let limit = if wanted == "security.protocol" { 40 } else { 15 };
            assert!(started.elapsed() < Duration::from_secs(limit), "told at once, not after retrying: {:?}", started.elapsed());
            assert!(stderr.contains(wanted), "{base:?} {x:?}: the hint names {wanted}:\n{stderr}");
            assert!(!stderr.contains(password) && !String::from_utf8_lossy(&out.stdout).contains(password), "{stderr}");
        }
    };
    check(kafka.sasl_ssl_settings(&kafka.ca()), wrong, "sasl.username");
    check(kafka.sasl_ssl_settings(&kafka.other_ca()), PASSWORD, "ssl.ca.location");
    // Plaintext spoken to the TLS port.
    check(vec!["security.protocol=SASL_PLAINTEXT".into(), "sasl.mechanism=SCRAM-SHA-512".into(), "sasl.username=vbda".into()], PASSWORD, "security.protocol");
    assert!(!ctx.lakehouse().join("bronze/video_events/_delta_log").exists() || bronze_messages(&ctx).is_empty());

    // status reports the refusal for the table instead of failing the whole report.
    let mut status: Vec<String> = ["status", "--table", "bronze.video_events", "--brokers", &brokers, "--topic", "events", "--group", "g"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for s in kafka.sasl_ssl_settings(&kafka.ca()) {
        status.extend(["-X".to_string(), s]);
    }
    let out = ctx.vbda().args(&status).args(["--output", "json"]).env("VBDA_KAFKA_SASL_PASSWORD", wrong).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SASL") && !text.contains(wrong), "{text}");
}

#[test]
fn topics_compressed_by_an_independent_producer_land_exactly_once() {
    let kafka = Kafka::start();
    let codecs = ["zstd", "lz4", "snappy", "gzip"];
    for codec in codecs {
        let topic = format!("c-{codec}");
        kafka.create_topic(&topic, 3);
        kafka.produce(&topic, 0, 3000, &["--codec", codec, "--prefix", codec, "--size", "500"]);
    }
    let ctx = TestContext::new();
    let topics = codecs.map(|c| format!("c-{c}")).join(",");
    let out = ctx.run_json(&refs(&stream_args(&kafka, &topics, "codecs", &["--until-caught-up", "--max-age-ms", "300"])));
    assert_eq!(out["rows_committed"], 12_000, "{out}");
    let mut wanted: Vec<String> = codecs.iter().flat_map(|c| expected(c, 0, 3000)).collect();
    wanted.sort();
    assert_eq!(bronze_event_ids(&ctx), wanted, "every message of every codec exactly once");
    let sizes: BTreeSet<usize> = bronze_messages(&ctx).values().map(|p| p.len()).collect();
    assert!(sizes.iter().all(|s| (490..=510).contains(s)), "payloads arrive whole: {sizes:?}");
}

/// Three workers in one group over a million messages on 12 partitions: one is SIGKILLed and
/// restarted twice, a third joins mid-run; then one is SIGKILLed once more and an
/// `--until-caught-up` run in the same group with default settings (the dead member holds its
/// partitions for librdkafka's 45 s session timeout) finishes: exactly once, and the group's
/// committed offsets in Kafka equal bronze's.
#[test]
fn three_workers_a_million_messages_kills_and_a_rebalance_exactly_once() {
    const N: u64 = 1_000_000;
    let kafka = Kafka::start();
    kafka.create_topic("events", 12);
    kafka.produce("events", 0, N, &["--codec", "lz4"]);
    let ctx = TestContext::new();
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let commits = || std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
    let wait_for_commits = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while commits() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let worker = || {
        ctx.vbda()
            .args(refs(&stream_args(&kafka, "events", "many", &["-q", "--max-rows", "20000", "--max-age-ms", "500"])))
            .args(["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"])
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (worker(), worker());
    for round in 0..2 {
        wait_for_commits(commits() + 3);
        let _ = a.kill();
        a.wait().unwrap();
        if round == 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        a = worker();
    }
    let mut c = worker();
    wait_for_commits(commits() + 3);
    let _ = b.kill();
    b.wait().unwrap();
    for child in [&a, &c] {
        sigterm(child);
    }
    for child in [&mut a, &mut c] {
        assert!(child.wait().unwrap().success(), "a worker ends cleanly on SIGTERM");
    }
    // Defaults only: b's 6 s session is the one to outwait here; the default 45 s is the
    // restart case below.
    let out = ctx.run_json(&refs(&stream_args(&kafka, "events", "many", &["--until-caught-up"])));
    assert_eq!(out["stopped_by"], "caught up", "{out}");
    let bronze = bronze_messages(&ctx);
    assert_eq!(bronze.len() as u64, N, "each (partition, offset) once");
    let ends = kafka.ends("events");
    let offsets: BTreeMap<i32, i64> =
        out["offsets"].as_object().unwrap().iter().map(|(k, v)| (k.rsplit_once('/').unwrap().1.parse().unwrap(), v.as_i64().unwrap())).collect();
    assert_eq!(offsets, ends, "bronze's offsets are the end offsets");
    let committed = kafka.committed("many", "events");
    assert_eq!(committed, ends.iter().map(|(p, e)| (*p, Some(*e))).collect(), "Kafka's committed offsets equal bronze's");
    let ids: BTreeSet<String> =
        bronze.values().map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap()["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len() as u64, N, "payloads are the produced events");
}

/// A worker SIGKILLed, then a new one in the same group with default settings and
/// `--until-caught-up`: it waits out the dead member's 45 s session (not a stall) and succeeds.
#[test]
fn a_restarted_worker_with_default_settings_waits_for_its_partitions_and_succeeds() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 4);
    kafka.produce("events", 0, 2000, &[]);
    let ctx = TestContext::new();
    let log = ctx.lakehouse().join("bronze/video_events/_delta_log");
    let mut first = ctx.vbda().args(refs(&stream_args(&kafka, "events", "restart", &["-q", "--max-rows", "200", "--max-age-ms", "100"]))).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = first.kill();
    first.wait().unwrap();
    kafka.produce("events", 2000, 1000, &[]);
    let started = Instant::now();
    let out = ctx.run_json(&refs(&stream_args(&kafka, "events", "restart", &["--until-caught-up"])));
    assert_eq!(out["stopped_by"], "caught up", "{out}");
    eprintln!("the restarted worker caught up after {:?}", started.elapsed());
    assert_eq!(bronze_event_ids(&ctx), expected("k", 0, 3000), "every message exactly once");
}

/// The broker SIGKILLed and restarted (same storage, same ports) while a worker streams: the
/// worker carries on by itself, and every message lands exactly once.
#[test]
fn the_broker_killed_and_restarted_mid_stream_loses_nothing() {
    let mut kafka = Kafka::start();
    kafka.create_topic("events", 4);
    kafka.produce("events", 0, 5000, &[]);
    let ctx = TestContext::new();
    let mut child = ctx.vbda().args(refs(&stream_args(&kafka, "events", "outage", &["-q", "--max-rows", "500", "--max-age-ms", "200"]))).spawn().unwrap();
    let rows = || if ctx.lakehouse().join("bronze/video_events/_delta_log").exists() { ctx.bronze().height() } else { 0 };
    let wait_rows = |n: usize, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while rows() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
        }
        rows()
    };
    assert!(wait_rows(1000, 60) >= 1000, "the stream started");
    kafka.kill();
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "the stream keeps retrying while the broker is away");
    kafka.restart();
    kafka.produce("events", 5000, 5000, &[]);
    assert_eq!(wait_rows(10_000, 120), 10_000, "the stream resumed after the outage");
    assert!(child.try_wait().unwrap().is_none(), "the same worker carried on");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    assert_eq!(bronze_event_ids(&ctx), expected("k", 0, 10_000), "every message exactly once");
}

/// A topic deleted and created again under the same name starts its offsets at 0: bronze's
/// offsets for the old topic (kept under its topic id) must not skip the new one's messages.
#[test]
fn a_recreated_topic_is_read_from_its_start() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 2);
    kafka.produce("events", 0, 300, &["--prefix", "old"]);
    let ctx = TestContext::new();
    let args = stream_args(&kafka, "events", "again", &["--until-caught-up", "--max-age-ms", "200"]);
    assert_eq!(ctx.run_json(&refs(&args))["rows_committed"], 300);
    let old_id = kafka.client_ok(&["topic-id", "events"]);
    kafka.delete_topic("events");
    kafka.create_topic("events", 2);
    kafka.produce("events", 0, 200, &["--prefix", "new"]);
    let new_id = kafka.client_ok(&["topic-id", "events"]);
    assert_ne!(old_id, new_id);
    let out = ctx.run_json(&refs(&args));
    assert_eq!(out["rows_committed"], 200, "the new topic's messages land although their offsets are below the old ones: {out}");
    let offsets: i64 = out["offsets"].as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(offsets, 200, "the report shows the new topic's offsets: {out}");
    let mut wanted = expected("old", 0, 300);
    wanted.extend(expected("new", 0, 200));
    wanted.sort();
    // (topic, partition, offset) repeats across the two topics, so count event ids: each once.
    let df = ctx.bronze();
    let mut ids: Vec<String> = df
        .column("payload")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|p| serde_json::from_str::<serde_json::Value>(p.unwrap()).unwrap()["event_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, wanted);
    assert!(delta_log_text(&ctx).contains(&format!("events#{new_id}:")), "offsets are recorded under the topic id");
    let out = ctx.run_json(&refs(&args));
    assert_eq!(out["rows_committed"], 0, "a rerun adds nothing: {out}");
}

/// CreateTime timestamps far in the future, beyond year 9999, or at the epoch: every message
/// is stored (the timestamp kept where a Delta reader can show it, else null); silver builds.
#[test]
fn absurd_kafka_timestamps_are_stored_without_a_panic() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 1);
    let stamps: [i64; 4] = [i64::MAX / 2, 253_402_300_800_000, 1, 1_735_725_600_000];
    for (i, ts) in stamps.iter().enumerate() {
        kafka.produce("events", i as u64 * 10, 10, &["--timestamp", &ts.to_string()]);
    }
    let ctx = TestContext::new();
    let out = ctx.run_json(&refs(&stream_args(&kafka, "events", "time", &["--until-caught-up", "--max-age-ms", "200"])));
    assert_eq!(out["rows_committed"], 40, "{out}");
    let df = ctx.bronze().sort(["kafka_offset"], Default::default()).unwrap();
    let ts = df.column("kafka_timestamp").unwrap();
    assert_eq!(ts.null_count(), 20, "timestamps beyond year 9999 are null: {ts:?}");
    let kept = ts.cast(&DataType::Int64).unwrap();
    let kept = kept.i64().unwrap();
    assert_eq!(kept.get(25), Some(1000), "the epoch's first millisecond is kept (in microseconds)");
    assert_eq!(kept.get(35), Some(1_735_725_600_000_000));
    let out = ctx.run_json(&["bronze-to-silver"]);
    let accounted = ["silver_rows", "duplicates", "quarantined"].map(|k| out[k].as_u64().unwrap_or_else(|| panic!("{k}: {out}")));
    assert_eq!(accounted, [40, 0, 0], "silver builds from them (the event time is the payload's): {out}");
}

/// Bronze holds a topic's offsets under its id; a cluster that will not tell ids (here
/// librdkafka's mock cluster, which has no controller to answer DescribeTopics) must not make
/// the worker read that topic by name from Kafka's committed offsets (duplicates): exit 3,
/// nothing read.
#[test]
fn offsets_kept_by_topic_id_are_never_read_by_name_alone() {
    let kafka = Kafka::start();
    kafka.create_topic("events", 1);
    kafka.produce("events", 0, 20, &[]);
    let ctx = TestContext::new();
    assert_eq!(ctx.run_json(&refs(&stream_args(&kafka, "events", "ids", &["--until-caught-up", "--max-age-ms", "200"])))["rows_committed"], 20);
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    mock.create_topic("events", 1, 1).unwrap();
    let brokers = mock.bootstrap_servers();
    let started = Instant::now();
    let run = ctx.run(&["stream", "--brokers", &brokers, "--topic", "events", "--group", "ids", "--until-caught-up"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("did not tell the id of topic events") && run.stderr.contains("rerun"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "it gives up after 30 s");
    assert_eq!(bronze_event_ids(&ctx).len(), 20, "nothing was read");
}
