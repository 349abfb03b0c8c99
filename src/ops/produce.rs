//! `vbda produce`: replay NDJSON files (such as `vbda generate`'s) into a Kafka topic, one
//! message per line, keyed by the event's `session_id` (DESIGN §2), at an optional rate, and
//! wait for every delivery report.
//!
//! Lines are sent as they are, bad ones included (a malformed line has no key): the stream
//! must store them raw in bronze, so a replay should reproduce them. Blank lines are skipped.
//! Idempotent production is on, so a retried send is not written twice.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::producer::FutureRecord;
use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::telemetry::Progress;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProduceSettings {
    /// Brokers and librdkafka settings (`-X`, `VBDA_KAFKA_*`).
    pub connection: crate::kafka::Connection,
    pub topic: String,
    /// NDJSON files (optionally .gz), or folders searched for them.
    pub inputs: Vec<PathBuf>,
    /// Messages per second; None for as fast as the broker takes them.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    pub topic: String,
    pub files: u64,
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    pub without_key: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// The first delivery error, if any.
    pub error: Option<String>,
}

fn files_of(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            collect(input, &mut found)?;
            found.sort();
            out.extend(found);
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            return Err(Error::data(format!("{} is not a file or a folder", input.display())));
        }
    }
    if out.is_empty() {
        return Err(Error::data("nothing to produce: no .ndjson/.jsonl files found").with_hint("pass --file FILE or a folder of NDJSON files"));
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).env_err(|| format!("cannot list {}", dir.display()))? {
        let path = entry.env_err(|| format!("cannot list {}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            collect(&path, out)?;
        } else if [".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz"].iter().any(|ext| name.ends_with(ext)) {
            out.push(path);
        }
    }
    Ok(())
}

/// The message key: the line's `session_id`, when the line is a JSON object that has one.
pub fn session_key(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Key {
        session_id: Option<String>,
    }
    if !line.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{') {
        return None;
    }
    serde_json::from_slice::<Key>(line).ok().and_then(|k| k.session_id)
}

pub async fn produce(s: &ProduceSettings) -> Result<ProduceReport> {
    let started = Instant::now();
    let files = files_of(&s.inputs)?;
    let (producer, watch) = s.connection.producer()?;
    let mut report = ProduceReport {
        topic: s.topic.clone(),
        files: files.len() as u64,
        sent: 0,
        delivered: 0,
        failed: 0,
        without_key: 0,
        bytes: 0,
        seconds: 0.0,
        error: None,
    };
    let progress = Progress::new("produce", files.len() as u64, false);
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let interval = s.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    for file in &files {
        let raw = std::fs::File::open(file).env_err(|| format!("cannot open {}", file.display()))?;
        let reader: Box<dyn Read> = if file.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).data_err(|| format!("cannot read {}", file.display()))?;
            if n == 0 {
                break;
            }
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            if let Some(gap) = interval {
                let due = started + gap.mul_f64(report.sent as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    tokio::time::sleep(wait).await;
                }
            }
            let key = session_key(&line);
            if key.is_none() {
                report.without_key += 1;
            }
            report.bytes += line.len() as u64;
            report.sent += 1;
            // send_result hands the message to librdkafka now (its timestamp is now), so a
            // --rate is a steady rate; the delivery report is awaited later.
            let mut record = FutureRecord::<String, Vec<u8>>::to(&s.topic).payload(&line);
            if let Some(k) = &key {
                record = record.key(k);
            }
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        in_flight.push(async move {
                            match delivery.await {
                                Ok(Ok(_)) => Ok(()),
                                Ok(Err((e, _))) => Err(e.to_string()),
                                Err(_) => Err("the producer went away before the delivery report".to_string()),
                            }
                        });
                        break;
                    }
                    Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        if in_flight.is_empty() {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        } else {
                            settle(&mut in_flight, &mut report, &watch, &s.connection.brokers, started).await?;
                        }
                    }
                    Err((e, _)) => {
                        report.failed += 1;
                        report.error.get_or_insert_with(|| e.to_string());
                        break;
                    }
                }
            }
            // Keep the number of unacknowledged sends bounded.
            while in_flight.len() >= 10_000 {
                settle(&mut in_flight, &mut report, &watch, &s.connection.brokers, started).await?;
            }
        }
        progress.inc(1);
    }
    while !in_flight.is_empty() {
        settle(&mut in_flight, &mut report, &watch, &s.connection.brokers, started).await?;
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Waits for the next delivery report. A cluster that refused the producer (wrong password,
/// untrusted certificate) ends the run at once: librdkafka would retry until
/// `message.timeout.ms` (five minutes) and then fail every message.
async fn settle<F>(
    in_flight: &mut futures::stream::FuturesUnordered<F>,
    report: &mut ProduceReport,
    watch: &crate::kafka::Watch,
    brokers: &str,
    started: Instant,
) -> Result<()>
where
    F: std::future::Future<Output = std::result::Result<(), String>>,
{
    use futures::StreamExt;
    loop {
        if let Some(refusal) = watch.refusal() {
            return Err(refusal.to_error(brokers));
        }
        if let Some(refusal) = watch.stuck_at_hello(started, false).filter(|_| report.delivered == 0) {
            return Err(refusal.to_error(brokers));
        }
        match tokio::time::timeout(Duration::from_millis(250), in_flight.next()).await {
            Err(_) => continue,
            Ok(None) => return Ok(()),
            Ok(Some(Ok(()))) => report.delivered += 1,
            Ok(Some(Err(e))) => {
                report.failed += 1;
                report.error.get_or_insert(e);
            }
        }
        return Ok(());
    }
}
