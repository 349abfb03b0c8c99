//! Which offsets in bronze belong to which topic: Kafka's topic ids (a recreated topic is a new
//! one), and the offsets recorded by name alone before ids (see `ops::stream` for the scheme).

use std::time::{Duration, Instant};

use tracing::debug;

use super::{TopicPartition, Worker};
use crate::error::{Error, Result};
use crate::lake;
use crate::ops::stream::app_id;

impl Worker<'_> {
    /// Whether bronze holds offsets of `topic` recorded under a topic id.
    fn under_an_id(&self, topic: &str) -> bool {
        self.bronze
            .recorded()
            .versions
            .keys()
            .any(|app| matches!(lake::bronze::parse_stream_app_id(app), Some((t, Some(_), _)) if t == topic))
    }

    /// Topics whose id is unknown while bronze holds their offsets under an id.
    fn unknown_ids(&self) -> Vec<&str> {
        self.s.topics.iter().filter(|t| !self.topic_ids.contains_key(*t) && self.under_an_id(t)).map(String::as_str).collect()
    }

    /// Reads the topics' ids at start. A cluster without ids (or one that does not answer the
    /// query) leaves offsets recorded by name, unless bronze already holds offsets of a topic
    /// under an id: reading that topic by name would start it again from Kafka's committed
    /// offset and duplicate rows, so the worker asks again for 30 s and then fails (exit 3).
    pub(super) fn learn_topic_ids(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.refresh_topic_ids();
            let missing = self.unknown_ids();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::environment(format!(
                    "Kafka at {} did not tell the id of topic {} within 30 s, and bronze records its offsets by topic id",
                    self.s.connection.brokers,
                    missing.join(", ")
                ))
                .with_hint("nothing was read; rerun once the cluster answers (its controller must be reachable)"));
            }
        }
    }

    /// Reads the topics' ids from Kafka (at start and at each assignment change: a topic
    /// recreated while the worker runs is revoked and assigned again).
    fn refresh_topic_ids(&mut self) {
        let meta = self.meta.clone();
        let ids = tokio::task::block_in_place(|| crate::kafka::topic_ids(&meta, &self.s.topics, Duration::from_secs(3)));
        // An answer that lost a topic (a timeout) keeps what was known.
        for (topic, id) in ids {
            if self.topic_ids.get(&topic) != Some(&id) {
                debug!(%topic, %id, "Kafka topic id.");
                self.topic_ids.insert(topic, id);
            }
        }
        self.refresh_by_name();
    }

    /// Per topic, whether offsets recorded by name alone count: where the topic's id is
    /// unknown, or bronze holds none of its offsets under an id yet.
    fn refresh_by_name(&mut self) {
        self.by_name = self.s.topics.iter().map(|topic| (topic.clone(), !self.topic_ids.contains_key(topic) || !self.under_an_id(topic))).collect();
    }

    /// After bronze was reloaded at an assignment change: ask for ids again when some are
    /// known (a recreated topic gets a new one), or when none are and another worker recorded
    /// offsets under ids since; a cluster that gave no id and whose offsets are all by name is
    /// not asked again (brokers without ids, or a cluster without a reachable controller,
    /// would hold up every rebalance by the query's timeout).
    pub(super) fn follow_topic_ids(&mut self) -> Result<()> {
        if !self.topic_ids.is_empty() {
            self.refresh_topic_ids();
            Ok(())
        } else if !self.unknown_ids().is_empty() {
            self.learn_topic_ids()
        } else {
            self.refresh_by_name();
            Ok(())
        }
    }

    /// The application id of a partition's offset in bronze.
    pub(super) fn app_id(&self, tp: &TopicPartition) -> String {
        app_id(&tp.0, self.topic_ids.get(&tp.0).map(String::as_str), tp.1)
    }

    /// The next offset bronze holds for a partition.
    pub(super) fn in_bronze(&self, tp: &TopicPartition) -> Option<i64> {
        self.bronze.recorded_version(&self.app_id(tp)).or_else(|| {
            let by_name = self.topic_ids.contains_key(&tp.0) && self.by_name.get(&tp.0).copied().unwrap_or(false);
            by_name.then(|| self.bronze.recorded_version(&app_id(&tp.0, None, tp.1))).flatten()
        })
    }
}
