//! Prometheus metrics of `vbda stream`: the counters, histograms and lag gauges the worker
//! updates, and the HTTP server behind `--metrics-addr HOST:PORT` that exposes them.
//!
//! The registry, the metric types and the text encoding are `prometheus-client`'s; the page is
//! its Prometheus text format 0.0.4 (what `promtool check metrics` reads; its OpenMetrics
//! encoding writes a counter's `# TYPE` without `_total`, which promtool rejects). The server
//! is hyper's HTTP/1: `GET /metrics` (or HEAD) answers the page, another method on `/metrics`
//! 405, any other path 404; one request per connection, and a client that sends no complete
//! request head within hyper's 30 s header timeout is dropped, so idle sockets cannot pile up.
//!
//! What can go wrong: the address cannot be bound (in use, not local, no permission), which
//! `serve` reports before the stream starts; a failed connection only loses that scrape.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::debug;

const SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0, 30.0, 60.0, 300.0];
const ROWS: &[f64] = &[1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0, 1_000_000.0];

/// The labels of `vbda_stream_consumer_lag`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

/// Everything `vbda stream` exports. The handles are shared with the registry, so updating
/// one is what the next scrape shows.
pub struct Metrics {
    registry: Registry,
    messages: Counter,
    bytes: Counter,
    rows_committed: Counter,
    commits: Counter,
    tombstones: Counter,
    skipped: Counter,
    errors: Counter,
    commit_seconds: Histogram,
    batch_rows: Histogram,
    end_to_end: Histogram,
    lag: Family<PartitionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        // prometheus-client appends `_total` to counter names and a final `.` to help texts.
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let messages = counter("vbda_stream_messages", "Kafka messages consumed");
        let bytes = counter("vbda_stream_bytes", "Payload bytes consumed");
        let rows_committed = counter("vbda_stream_rows_committed", "Rows committed to bronze.video_events");
        let commits = counter("vbda_stream_commits", "Delta commits to bronze.video_events");
        let tombstones = counter("vbda_stream_tombstones", "Messages with a null payload, counted and skipped");
        let skipped = counter("vbda_stream_skipped", "Messages skipped because bronze already holds them");
        let errors = counter("vbda_stream_errors", "Errors (Kafka or commit) seen by the stream");
        let mut histogram = |name: &str, help: &str, buckets: &[f64]| {
            let h = Histogram::new(buckets.iter().copied());
            registry.register(name, help, h.clone());
            h
        };
        let commit_seconds = histogram("vbda_stream_commit_seconds", "Time to commit one batch to Delta", SECONDS);
        let batch_rows = histogram("vbda_stream_batch_rows", "Rows per committed batch", ROWS);
        let end_to_end = histogram(
            "vbda_stream_end_to_end_seconds",
            "From a message's Kafka timestamp (producer create time) to its Delta commit",
            SECONDS,
        );
        let lag = Family::<PartitionLabels, Gauge>::default();
        registry.register("vbda_stream_consumer_lag", "Messages in the partition after the offset bronze holds", lag.clone());
        Self {
            registry,
            messages,
            bytes,
            rows_committed,
            commits,
            tombstones,
            skipped,
            errors,
            commit_seconds,
            batch_rows,
            end_to_end,
            lag,
        }
    }
}

impl Metrics {
    pub fn add_messages(&self, n: u64) {
        self.messages.inc_by(n);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.inc_by(n);
    }

    pub fn add_skipped(&self, n: u64) {
        self.skipped.inc_by(n);
    }

    pub fn add_error(&self) {
        self.errors.inc();
    }

    /// Kafka messages consumed so far.
    pub fn messages(&self) -> u64 {
        self.messages.get()
    }

    pub fn committed(&self, rows: u64, tombstones: u64, seconds: f64) {
        self.rows_committed.inc_by(rows);
        self.tombstones.inc_by(tombstones);
        self.commits.inc();
        self.commit_seconds.observe(seconds);
        self.batch_rows.observe(rows as f64);
    }

    pub fn end_to_end(&self, seconds: f64) {
        // A producer clock ahead of ours would give a negative latency.
        self.end_to_end.observe(seconds.max(0.0));
    }

    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.get_or_create(&PartitionLabels { topic: topic.to_string(), partition }).set(lag.max(0));
    }

    /// The metrics page, Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and none of these metrics' encoders returns an error.
        prometheus_text::encode(&mut out, &self.registry).expect("encoding metrics into a String");
        out
    }
}

/// Bind `addr` and serve the metrics there until the process ends; returns once listening.
pub async fn serve(addr: &str, metrics: Arc<Metrics>) -> crate::error::Result<()> {
    use crate::error::Context;
    let listener = tokio::net::TcpListener::bind(addr).await.env_err(|| format!("cannot listen on {addr} for metrics"))?;
    tokio::spawn(async move {
        loop {
            let socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of file descriptors, say: back off instead of spinning on accept.
                    debug!(error = %e, "Cannot accept a metrics connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = respond(&request, &metrics);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service);
                if let Err(e) = connection.await {
                    debug!(error = %e, "Metrics connection failed.");
                }
            });
        }
    });
    Ok(())
}

fn respond<B>(request: &Request<B>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.uri().path(), request.method()) {
        ("/metrics", &Method::GET | &Method::HEAD) => (StatusCode::OK, prometheus_text::CONTENT_TYPE, metrics.render()),
        ("/metrics", _) => (StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "Use GET.\n".to_string()),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "The metrics are at /metrics.\n".to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One HTTP/1.1 request over a plain socket; the server closes after answering.
    fn request(addr: std::net::SocketAddr, head: &str) -> (String, String) {
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(head.as_bytes()).unwrap();
        let mut text = String::new();
        socket.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metrics_are_served_at_slash_metrics_and_nothing_else() {
        let metrics = Arc::new(Metrics::default());
        metrics.add_messages(3);
        metrics.committed(3, 1, 0.2);
        metrics.set_lag("events", 2, 7);
        metrics.set_lag("events", 1, -4);
        // A free port: bind one, let it go, serve on it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        serve(&addr.to_string(), metrics.clone()).await.unwrap();

        let (head, body) = tokio::task::spawn_blocking(move || request(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
        for line in [
            "# TYPE vbda_stream_messages_total counter",
            "vbda_stream_messages_total 3",
            "vbda_stream_rows_committed_total 3",
            "vbda_stream_tombstones_total 1",
            "vbda_stream_commits_total 1",
            "vbda_stream_commit_seconds_bucket{le=\"0.25\"} 1",
            "vbda_stream_commit_seconds_count 1",
            "vbda_stream_batch_rows_bucket{le=\"10\"} 1",
            "# HELP vbda_stream_consumer_lag Messages in the partition after the offset bronze holds.",
            "vbda_stream_consumer_lag{topic=\"events\",partition=\"2\"} 7",
            "vbda_stream_consumer_lag{topic=\"events\",partition=\"1\"} 0",
        ] {
            assert!(body.lines().any(|l| l == line), "missing `{line}` in:\n{body}");
        }

        let (head, _) = tokio::task::spawn_blocking(move || request(addr, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let (head, _) = tokio::task::spawn_blocking(move || request(addr, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    }

    /// `monitoring/prometheus/vbda-stream-rules.yml` queries only metrics the stream exports,
    /// and passes `promtool check rules` and its own `promtool test rules` unit tests.
    #[test]
    fn the_stream_alert_rules_query_exported_metrics_and_pass_promtool() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring/prometheus");
        let rules = std::fs::read_to_string(dir.join("vbda-stream-rules.yml")).unwrap();
        let metrics = Metrics::default();
        metrics.add_error();
        metrics.committed(1, 0, 0.1);
        metrics.set_lag("events", 0, 1);
        let exported = metrics.render();
        let queried: std::collections::BTreeSet<String> = rules
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| w.starts_with("vbda_"))
            .map(str::to_string)
            .collect();
        assert!(queried.len() >= 3, "{queried:?}");
        for name in &queried {
            let emitted = exported.lines().any(|l| !l.starts_with('#') && (l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{"))));
            assert!(emitted, "the rules query `{name}`, which the stream does not export:\n{exported}");
        }
        for args in [vec!["check", "rules", "vbda-stream-rules.yml"], vec!["test", "rules", "vbda-stream-rules.test.yml"]] {
            let out = std::process::Command::new("promtool")
                .args(&args)
                .current_dir(&dir)
                .output()
                .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
            assert!(
                out.status.success(),
                "promtool {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[tokio::test]
    async fn an_address_in_use_is_an_environment_error_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let err = serve(&addr, Arc::new(Metrics::default())).await.unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err:?}");
        assert!(err.message().contains(&addr), "{}", err.message());
    }
}
