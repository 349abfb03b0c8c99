//! Refusals: what a cluster says when it will never let this client in as configured (wrong
//! SASL credentials or mechanism, a broker certificate the client does not trust, TLS spoken
//! to a plaintext port or the other way round). librdkafka treats these as transient and
//! retries forever, so a scheduled run would spin until its stall timeout and exit 3 as if the
//! brokers were down. vbda watches librdkafka's log and error callbacks ([`Watch`], the
//! context of every client it creates) and turns a refusal into a user error (exit 1) that
//! says which setting to look at, at once.
//!
//! Refusals are recognised by librdkafka's error codes where it raises them
//! (`_AUTHENTICATION`, `_SSL`) and by the wording of its log lines otherwise (it logs the SASL
//! and TLS handshake failures from its broker threads before any error reaches a queue). Log
//! lines never carry secret values; they are still passed through the redaction of URLs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tracing::{debug, error, info, warn};

use crate::error::Error;

/// What kind of refusal, which decides the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// SASL: wrong user or password, or a mechanism the broker does not offer.
    Authentication,
    /// TLS: the broker's certificate is not trusted, or the handshake failed.
    Tls,
    /// The client's `security.protocol` does not match the listener's.
    Protocol,
}

/// A refusal seen on a client, with librdkafka's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

impl Refusal {
    /// The user's error (exit 1) for a client of `brokers`.
    pub fn to_error(&self, brokers: &str) -> Error {
        let brokers = crate::settings::redact_url_userinfo(brokers);
        let (what, hint) = match self.kind {
            RefusalKind::Authentication => (
                "refused the SASL authentication",
                "check sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), sasl.username and the password \
                 (VBDA_KAFKA_SASL_PASSWORD or -X sasl.password=...)",
            ),
            RefusalKind::Tls => (
                "could not be reached over TLS",
                "check ssl.ca.location (the CA that signed the brokers' certificates; the system's CAs are used without \
                 it) and that --brokers names the hosts in the certificate",
            ),
            RefusalKind::Protocol => (
                "speaks another security protocol on this port",
                "check -X security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) against the listener the port belongs to",
            ),
        };
        Error::data(format!("Kafka at {brokers} {what}: {}", self.message)).with_hint(hint)
    }
}

/// Classifies a librdkafka error code and text; None for everything worth retrying.
pub fn refusal(code: Option<RDKafkaErrorCode>, text: &str) -> Option<Refusal> {
    let t = text.to_ascii_lowercase();
    let kind = match code {
        Some(RDKafkaErrorCode::Authentication) | Some(RDKafkaErrorCode::SaslAuthenticationFailed) => {
            Some(RefusalKind::Authentication)
        }
        Some(RDKafkaErrorCode::UnsupportedSASLMechanism) | Some(RDKafkaErrorCode::IllegalSASLState) => {
            Some(RefusalKind::Authentication)
        }
        Some(RDKafkaErrorCode::SSL) => Some(RefusalKind::Tls),
        _ => None,
    }
    .or_else(|| {
        if t.contains("sasl authentication error") || t.contains("authentication failed") || t.contains("sasl handshake failed")
            || t.contains("unsupported sasl mechanism")
        {
            Some(RefusalKind::Authentication)
        } else if t.contains("ssl handshake failed") || t.contains("certificate verify failed") {
            Some(RefusalKind::Tls)
        } else if t.contains("incorrect security.protocol") {
            Some(RefusalKind::Protocol)
        } else {
            None
        }
    })?;
    let message = text.split(" (after ").next().unwrap_or(text).trim().trim_start_matches(|c: char| c == ':' || c == ' ');
    Some(Refusal { kind, message: crate::settings::redact_url_userinfo(message) })
}

/// The context of every client vbda creates: logs librdkafka's lines through `tracing` and
/// remembers the first refusal. Cheap to clone; clones share what they saw.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    seen: Arc<Mutex<Option<Refusal>>>,
    /// Connections the broker closed during the client's first request (ApiVersion).
    closed_at_hello: Arc<AtomicU32>,
}

/// How long a client may see nothing but connections closed during their first request
/// before that counts as the wrong security protocol (see [`Watch::closed_at_hello`]).
pub const HELLO_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

impl Watch {
    /// The first refusal seen, if any.
    pub fn refusal(&self) -> Option<Refusal> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }

    /// The refusal seen, forgetting it (a later one is remembered again).
    pub fn take_refusal(&self) -> Option<Refusal> {
        self.seen.lock().ok().and_then(|mut s| s.take())
    }

    /// Connections the broker closed during their first request (ApiVersion). Plaintext sent
    /// to a TLS listener looks like this (the TLS side drops it without a word), but so can a
    /// broker going down, so it is only a suspicion: callers that got nowhere for
    /// [`HELLO_PATIENCE`] turn it into [`Watch::wrong_protocol`].
    pub fn closed_at_hello(&self) -> u32 {
        self.closed_at_hello.load(Ordering::Relaxed)
    }

    /// The refusal a client that got nowhere reports when its connections were closed at hello.
    pub fn wrong_protocol(&self) -> Option<Refusal> {
        (self.closed_at_hello() > 0).then(|| Refusal {
            kind: RefusalKind::Protocol,
            message: "the broker closed the connections during their first request (ApiVersion) and answered nothing".into(),
        })
    }

    /// The wrong protocol, for a client that has got nowhere since `since`: once that lasted
    /// [`HELLO_PATIENCE`], or when the caller is out of time anyway.
    pub fn stuck_at_hello(&self, since: std::time::Instant, out_of_time: bool) -> Option<Refusal> {
        if out_of_time || since.elapsed() >= HELLO_PATIENCE { self.wrong_protocol() } else { None }
    }

    fn note(&self, code: Option<RDKafkaErrorCode>, text: &str) {
        if text.contains("Disconnected") && text.contains("in state APIVERSION_QUERY") {
            self.closed_at_hello.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(r) = refusal(code, text) {
            if let Ok(mut seen) = self.seen.lock() {
                seen.get_or_insert(r);
            }
        }
    }
}

impl ClientContext for Watch {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if !matches!(level, RDKafkaLogLevel::Debug) {
            self.note(None, message);
        }
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                error!(target: "librdkafka", "{fac} {message}")
            }
            RDKafkaLogLevel::Warning => warn!(target: "librdkafka", "{fac} {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => info!(target: "librdkafka", "{fac} {message}"),
            RDKafkaLogLevel::Debug => debug!(target: "librdkafka", "{fac} {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.note(error.rdkafka_error_code(), reason);
        warn!(target: "librdkafka", "{error}: {reason}");
    }
}

impl ConsumerContext for Watch {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_from_outages() {
        let r = refusal(
            None,
            "sasl_ssl://127.0.0.1:4000/bootstrap: SASL authentication error: Authentication failed during authentication due to \
             invalid credentials with SASL mechanism SCRAM-SHA-512 (after 3ms in state AUTH_REQ)",
        )
        .unwrap();
        assert_eq!(r.kind, RefusalKind::Authentication);
        assert!(!r.message.contains("after 3ms"), "{r:?}");
        let e = r.to_error("127.0.0.1:4000");
        assert!(e.hint().unwrap_or_default().contains("sasl.username"), "{e:?}");
        assert_eq!(
            refusal(None, "ssl://h:1/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed").unwrap().kind,
            RefusalKind::Tls
        );
        assert_eq!(refusal(Some(RDKafkaErrorCode::SSL), "x").unwrap().kind, RefusalKind::Tls);
        assert_eq!(
            refusal(None, "Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration")
                .unwrap()
                .kind,
            RefusalKind::Protocol
        );
        assert_eq!(refusal(None, "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused"), None);
        assert_eq!(refusal(Some(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down"), None);
    }

    #[test]
    fn a_broker_that_closes_the_first_request_is_only_a_suspicion() {
        let watch = Watch::default();
        watch.note(
            None,
            "sasl_plaintext://127.0.0.1:1/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN \
             (after 4ms in state APIVERSION_QUERY)",
        );
        assert_eq!(watch.refusal(), None, "not a refusal by itself: a broker going away does the same");
        assert_eq!(watch.closed_at_hello(), 1);
        assert_eq!(watch.wrong_protocol().map(|r| r.kind), Some(RefusalKind::Protocol));
    }
}
