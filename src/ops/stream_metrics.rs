//! Prometheus metrics of `vbda stream` (`--metrics-addr HOST:PORT`, text format 0.0.4 on any
//! path, e.g. `/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, v: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", self.count, self.sum, self.count);
    }
}

const SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0, 30.0, 60.0, 300.0];
const ROWS: &[f64] = &[1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0, 1_000_000.0];

pub struct Metrics {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub rows_committed: AtomicU64,
    pub commits: AtomicU64,
    pub tombstones: AtomicU64,
    pub skipped: AtomicU64,
    pub errors: AtomicU64,
    commit_seconds: Mutex<Histogram>,
    batch_rows: Mutex<Histogram>,
    end_to_end: Mutex<Histogram>,
    lag: Mutex<BTreeMap<(String, i32), i64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            rows_committed: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            tombstones: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            commit_seconds: Mutex::new(Histogram::new(SECONDS)),
            batch_rows: Mutex::new(Histogram::new(ROWS)),
            end_to_end: Mutex::new(Histogram::new(SECONDS)),
            lag: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    pub fn add_messages(&self, n: u64) {
        self.messages.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Kafka messages consumed so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    pub fn committed(&self, rows: u64, tombstones: u64, seconds: f64) {
        self.rows_committed.fetch_add(rows, Ordering::Relaxed);
        self.tombstones.fetch_add(tombstones, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_seconds.lock().expect("metrics lock").observe(seconds);
        self.batch_rows.lock().expect("metrics lock").observe(rows as f64);
    }

    pub fn end_to_end(&self, seconds: f64) {
        self.end_to_end.lock().expect("metrics lock").observe(seconds.max(0.0));
    }

    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.lock().expect("metrics lock").insert((topic.to_string(), partition), lag.max(0));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter(&mut out, "vbda_stream_messages_total", "Kafka messages consumed.", &self.messages);
        counter(&mut out, "vbda_stream_bytes_total", "Payload bytes consumed.", &self.bytes);
        counter(&mut out, "vbda_stream_rows_committed_total", "Rows committed to bronze.video_events.", &self.rows_committed);
        counter(&mut out, "vbda_stream_commits_total", "Delta commits to bronze.video_events.", &self.commits);
        counter(&mut out, "vbda_stream_tombstones_total", "Messages with a null payload, counted and skipped.", &self.tombstones);
        counter(&mut out, "vbda_stream_skipped_total", "Messages skipped because bronze already holds them.", &self.skipped);
        counter(&mut out, "vbda_stream_errors_total", "Errors (Kafka or commit) seen by the stream.", &self.errors);
        self.commit_seconds.lock().expect("metrics lock").render(&mut out, "vbda_stream_commit_seconds", "Time to commit one batch to Delta.");
        self.batch_rows.lock().expect("metrics lock").render(&mut out, "vbda_stream_batch_rows", "Rows per committed batch.");
        self.end_to_end.lock().expect("metrics lock").render(
            &mut out,
            "vbda_stream_end_to_end_seconds",
            "From a message's Kafka timestamp (producer create time) to its Delta commit.",
        );
        let _ = writeln!(out, "# HELP vbda_stream_consumer_lag Messages in the partition after the offset bronze holds.\n# TYPE vbda_stream_consumer_lag gauge");
        for ((topic, partition), lag) in self.lag.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "vbda_stream_consumer_lag{{topic=\"{topic}\",partition=\"{partition}\"}} {lag}");
        }
        out
    }
}

/// Serve the metrics on `addr` until the process ends.
pub async fn serve(addr: &str, metrics: std::sync::Arc<Metrics>) -> crate::error::Result<()> {
    use crate::error::Context;
    let listener = tokio::net::TcpListener::bind(addr).await.env_err(|| format!("cannot listen on {addr} for metrics"))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let body = metrics.render();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(())
}
