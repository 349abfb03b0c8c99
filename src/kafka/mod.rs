//! Kafka plumbing shared by `stream`, `produce` and `status`: one way to build a client from
//! `--brokers`, `-X KEY=VALUE` and `VBDA_KAFKA_*` (the [`Connection`]), and the offset
//! queries (end offsets, a group's committed offsets, lag) that more than one command needs.
//!
//! librdkafka is built with TLS (the system's OpenSSL), SASL PLAIN and SCRAM-SHA-256/512, and
//! gzip, snappy, lz4 and zstd. Left out: GSSAPI (Kerberos; it needs Cyrus SASL and a KDC to
//! test against) and OAUTHBEARER's OIDC token fetch (it needs libcurl); OAUTHBEARER itself is
//! there only in librdkafka's unsecured-JWT development mode. Managed Kafkas offer SCRAM or
//! PLAIN over TLS.
//!
//! What can go wrong: librdkafka checks settings only at client creation (a bad `-X` is the
//! user's to fix, exit 1, told without the value when the setting is a secret); a cluster that
//! refuses the client as configured (wrong password, untrusted certificate) is the user's too
//! and is told at once ([`problems`]); brokers that do not answer make the offset queries time
//! out (the environment's, exit 3). Secrets (`sasl.password`, key passwords) are never shown:
//! [`Connection`] serialises them as `<redacted>`.

pub mod offsets;
pub mod problems;
pub mod topics;

pub use offsets::{PartitionEnds, committed_offsets, consumer_lag, end_offsets, watermarks};
pub use problems::{Refusal, Watch};
pub use topics::topic_ids;

use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::FutureProducer;
use serde::Serialize;

use crate::error::{Error, Result};

/// Where a Kafka client connects and with which librdkafka settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// librdkafka settings, in the order they apply (later ones win): `VBDA_KAFKA_*` first, then `-X`.
    pub config: Vec<(String, String)>,
}

impl Connection {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self { brokers: brokers.into(), config: Vec::new() }
    }

    /// The librdkafka settings from `VBDA_KAFKA_<KEY>` environment variables (for secrets:
    /// `VBDA_KAFKA_SASL_PASSWORD` -> `sasl.password`), then the `-X KEY=VALUE` pairs.
    pub fn with_settings(brokers: impl Into<String>, pairs: &[String]) -> Result<Self> {
        let mut config: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("VBDA_KAFKA_").map(|key| (key.to_ascii_lowercase().replace('_', "."), v)))
            .collect();
        config.sort();
        for pair in pairs {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                Error::data(format!("-X expects KEY=VALUE, got `{}`", crate::settings::redact_setting(pair)))
                    .with_hint("write each librdkafka setting as -X key=value, e.g. -X sasl.mechanism=SCRAM-SHA-256")
            })?;
            config.push((k.trim().to_string(), v.to_string()));
        }
        Ok(Self { brokers: brokers.into(), config })
    }

    /// A client configuration: vbda's `defaults` for this kind of client, then the user's
    /// settings (which may override them).
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        // librdkafka's connection failures are logged at info; rust-rdkafka would otherwise
        // take the level from the `log` crate's (warn by default) and the Watch would not see
        // them. Watch passes them on to tracing, whose filter decides what is shown.
        config.set_log_level(rdkafka::config::RDKafkaLogLevel::Info);
        config.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            config.set(*k, *v);
        }
        for (k, v) in &self.config {
            config.set(k, v);
        }
        config
    }

    /// A consumer in `group` that never commits on its own (vbda commits after Delta does).
    pub fn consumer_config(&self, group: &str) -> ClientConfig {
        self.client_config(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", "false"),
        ])
    }

    /// A client of this connection, watched for refusals. Creation checks the settings: an
    /// unknown key or a bad value is the user's to fix (exit 1), shown without the value when
    /// the key names a secret.
    pub fn create<T: FromClientConfigAndContext<Watch>>(&self, config: &ClientConfig) -> Result<T> {
        self.create_watched(config, Watch::default())
    }

    /// [`Connection::create`] with the caller's `watch` (a clone sees what the client saw).
    pub fn create_watched<T: FromClientConfigAndContext<Watch>>(&self, config: &ClientConfig, watch: Watch) -> Result<T> {
        config.create_with_context(watch).map_err(|e| self.creation_error(e))
    }

    /// A consumer in `group` ([`Connection::consumer_config`]).
    pub fn consumer(&self, group: &str) -> Result<Consumer> {
        self.create(&self.consumer_config(group))
    }

    /// A client for metadata and offset queries only: it joins no group.
    pub fn metadata_client(&self) -> Result<Consumer> {
        self.create(&self.client_config(&[("enable.auto.commit", "false"), ("group.id", "vbda-metadata")]))
    }

    /// A producer with vbda's defaults (idempotent) and the user's settings.
    /// With the producer's watch: a future producer's context is not reachable from it.
    pub fn producer(&self) -> Result<(FutureProducer<Watch>, Watch)> {
        let watch = Watch::default();
        let producer = self.create_watched(&self.client_config(&[("enable.idempotence", "true"), ("linger.ms", "20")]), watch.clone())?;
        Ok((producer, watch))
    }

    fn creation_error(&self, e: rdkafka::error::KafkaError) -> Error {
        use rdkafka::error::KafkaError;
        let brokers = crate::settings::redact_url_userinfo(&self.brokers);
        match e {
            KafkaError::ClientConfig(_, description, key, value) => {
                // A name librdkafka does not know may be a mistyped secret (`sasl.pasword`):
                // its value is never shown, nor that of any secret-looking name.
                let unknown = description.contains("No such configuration property");
                let detail = if unknown {
                    format!(": {description}")
                } else if is_secret(&key) || value.is_empty() {
                    String::new()
                } else {
                    format!(" = `{value}`: {description}")
                };
                Error::data(format!("invalid Kafka setting `{key}` (-X or VBDA_KAFKA_*){detail}")).with_hint(
                    "check the -X KEY=VALUE and VBDA_KAFKA_* settings against librdkafka's CONFIGURATION.md \
                     (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md)",
                )
            }
            other => {
                let text = other.to_string();
                let shown = if self.config.iter().any(|(k, v)| is_secret(k) && !v.is_empty() && text.contains(v.as_str())) {
                    "librdkafka rejected the settings".to_string()
                } else {
                    text
                };
                Error::data(format!("cannot create a Kafka client for {brokers}: {shown}"))
                    .with_hint("check the -X / VBDA_KAFKA_* settings (files named by ssl.*.location must exist and be readable)")
            }
        }
    }

    /// The settings with secret values replaced, for `--show-settings` and logs.
    pub fn redacted_config(&self) -> Vec<(String, String)> {
        self.config.iter().map(|(k, v)| (k.clone(), if is_secret(k) { "<redacted>".into() } else { v.clone() })).collect()
    }
}

impl Serialize for Connection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Connection", 2)?;
        st.serialize_field("brokers", &crate::settings::redact_url_userinfo(&self.brokers))?;
        let config: std::collections::BTreeMap<String, String> = self.redacted_config().into_iter().collect();
        st.serialize_field("config", &config)?;
        st.end()
    }
}

/// Whether a librdkafka setting holds a secret ([`crate::settings::is_secret_key`]).
pub fn is_secret(key: &str) -> bool {
    crate::settings::is_secret_key(key)
}

/// The consumer vbda uses everywhere: polled on the caller's thread, watched for refusals.
pub type Consumer = BaseConsumer<Watch>;

/// `a,b, c` -> the topic names.
pub fn topic_list(topics: &str) -> Vec<String> {
    topics.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_later_settings_win() {
        let c = Connection::with_settings(
            "h:9092",
            &["sasl.password=hunter2".into(), "security.protocol=SASL_SSL".into(), "ssl.key.password=k".into()],
        )
        .unwrap();
        let shown = serde_json::to_string(&c).unwrap();
        assert!(!shown.contains("hunter2") && !shown.contains("\"k\""), "{shown}");
        assert!(shown.contains("SASL_SSL"), "{shown}");
        let config = c.client_config(&[("security.protocol", "PLAINTEXT")]);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        let bad = Connection::with_settings("h", &["sasl.password".into()]).unwrap_err();
        assert!(bad.to_string().contains("KEY=VALUE"), "{bad}");
        let bad = Connection::with_settings("h", &["sasl.password:hunter2".into()]).unwrap_err();
        assert_eq!(bad.exit_code(), 1);
        assert!(bad.to_string().contains("sasl.password") && !bad.to_string().contains("hunter2"), "{bad}");
        // librdkafka's own refusal of a mistyped name carries the value: never shown.
        let typo = Connection::with_settings("h", &["sasl.pasword=hunter2".into()]).unwrap();
        let err = typo.consumer("g").err().expect("librdkafka refuses an unknown property");
        assert_eq!(err.exit_code(), 1, "{err}");
        assert!(err.to_string().contains("sasl.pasword") && !format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}
