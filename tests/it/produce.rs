//! `vbda produce` against librdkafka's mock cluster: every line arrives once, keyed by
//! session_id; an unreachable broker is an environment failure.

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Offset, TopicPartitionList};

use crate::common::TestContext;

#[test]
fn every_line_arrives_once_keyed_by_session() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 3, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let ctx = TestContext::new();
    let lines = [
        r#"{"event_id":"e1","session_id":"s1","event_type":"play"}"#,
        r#"{"event_id":"e2","session_id":"s2","event_type":"play"}"#,
        r#"{"event_id":"e3","session_id":"s1","event_type":"pause"}"#,
        r#"{"event_id":"e4","session_id":"s1""#,
    ];
    let file = ctx.dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n\n").unwrap();

    let out = ctx.run_json(&["produce", "--file", file.to_str().unwrap(), "--brokers", &brokers, "--topic", "events"]);
    assert_eq!((out["sent"].as_u64(), out["delivered"].as_u64(), out["failed"].as_u64()), (Some(4), Some(4), Some(0)), "{out}");
    assert_eq!(out["without_key"], 1, "the malformed line has no key: {out}");

    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", "check").create().unwrap();
    let mut all = TopicPartitionList::new();
    for p in 0..3 {
        all.add_partition_offset("events", p, Offset::Beginning).unwrap();
    }
    consumer.assign(&all).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 4 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
            got.push((key, m.partition(), String::from_utf8_lossy(m.payload().unwrap()).into_owned()));
        }
    }
    let mut payloads: Vec<&str> = got.iter().map(|(_, _, p)| p.as_str()).collect();
    payloads.sort();
    let mut want = lines.to_vec();
    want.sort();
    assert_eq!(payloads, want, "every line once, as it was");
    let s1: std::collections::BTreeSet<i32> = got.iter().filter(|(k, _, _)| k.as_deref() == Some("s1")).map(|(_, p, _)| *p).collect();
    assert_eq!(s1.len(), 1, "one session, one partition: {got:?}");
}

#[test]
fn an_unreachable_broker_exits_3_and_missing_settings_exit_1() {
    let ctx = TestContext::new();
    let file = ctx.dir.path().join("events.ndjson");
    std::fs::write(&file, "{\"session_id\":\"s1\"}\n").unwrap();
    let run = ctx.run(&["produce", "--file", file.to_str().unwrap(), "--brokers", "127.0.0.1:1", "--topic", "t", "-X", "message.timeout.ms=1500"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("1 of 1 messages were not delivered to t"), "{}", run.stderr);
    let run = ctx.run(&["produce", "--file", file.to_str().unwrap(), "--brokers", "127.0.0.1:1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no topic given"), "{}", run.stderr);
    let run = ctx.run(&["produce", "--file", "/no/such/file", "--brokers", "127.0.0.1:1", "--topic", "t"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}
