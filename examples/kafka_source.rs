//! Benchmark helper (benches/stream.sh): a Kafka-protocol broker (librdkafka's mock cluster,
//! in this process) with a 4-partition topic `events`, filled with 500-byte JSON events.
//!
//! Usage: kafka_source PRELOAD RATE SECONDS
//!   produces PRELOAD events at once, then RATE events/s for SECONDS, printing the bootstrap
//!   servers on the first line; exits when SECONDS are over (or stdin closes, with SECONDS=0).

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn event(i: u64) -> String {
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut e = format!(
        r#"{{"event_id":"bench-{i:012}","event_type":"heartbeat","event_ts":"{ts}","user_id":"u{:06}","session_id":"s{:08}","content_id":"c{:05}","device":{{"type":"smart_tv","os":"tizen","app_version":"5.1.0"}},"geo":{{"country":"US","region":"CA","city":"San Francisco"}},"playback":{{"position_s":{},"duration_s":3600,"watched_s":10,"bitrate_kbps":4500,"resolution":"1080p"}},"pad":""#,
        i % 100_000,
        i % 1_000_000,
        i % 5_000,
        i % 3600
    );
    while e.len() < 498 {
        e.push('x');
    }
    e.push_str("\"}");
    e
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let preload: u64 = args[1].parse().unwrap();
    let rate: f64 = args[2].parse().unwrap();
    let seconds: u64 = args[3].parse().unwrap();
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 4, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let send = |i: u64| {
        let payload = event(i);
        let key = format!("s{:08}", i % 1_000_000);
        loop {
            match producer.send(BaseRecord::to("events").key(&key).payload(&payload)) {
                Ok(()) => break,
                Err(_) => {
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    };
    for i in 0..preload {
        send(i);
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    println!("{brokers}");
    std::io::stdout().flush().unwrap();
    if seconds == 0 {
        let _ = std::io::stdin().lock().lines().next();
        return;
    }
    let started = Instant::now();
    let mut i = preload;
    while started.elapsed() < Duration::from_secs(seconds) {
        let due = ((started.elapsed().as_secs_f64()) * rate) as u64 + preload;
        while i < due {
            send(i);
            i += 1;
        }
        producer.poll(Duration::from_millis(1));
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    eprintln!("produced {} events at {rate}/s", i - preload);
}
