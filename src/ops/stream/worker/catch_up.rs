//! `--until-caught-up`: the end offsets seen at start, when this worker (or, for partitions it
//! does not hold, the group through bronze) has reached them, and when nothing moved for the
//! stall timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::Consumer as _;

use super::{TopicPartition, Worker};
use crate::error::{Error, Result};
use crate::ops::stream::PEER_REFRESH;

/// `--until-caught-up`'s bookkeeping: the end offsets at start and when anything last moved.
pub(super) struct CatchUp {
    pub(super) targets: HashMap<TopicPartition, i64>,
    pub(super) last_peer_refresh: Instant,
    /// The sum of bronze's and this consumer's offsets, and when it last changed.
    pub(super) progress: (i64, Instant),
}

impl Worker<'_> {
    /// With `--until-caught-up` and no batch open: whether bronze (or this consumer's
    /// position, on the partitions it holds) has reached every end offset seen at start.
    /// Fails (exit 3) when nothing moved for the stall timeout.
    pub(super) async fn caught_up(&mut self) -> Result<bool> {
        if self.catch_up.is_none() {
            return Ok(false);
        }
        // Where this worker's consumer stands on the partitions it holds: past a target it
        // has read everything there is below it, even when the last offsets were not
        // messages (transaction markers) and so never reach bronze.
        let positions: HashMap<TopicPartition, i64> = self
            .consumer()?
            .position()
            .map(|tpl| {
                tpl.elements()
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut left = self.behind(&positions);
        let catch_up = self.catch_up.as_mut().expect("catch_up checked above");
        // Partitions this worker does not hold are caught up by the others: look at bronze.
        if !left.is_empty() && catch_up.last_peer_refresh.elapsed() >= PEER_REFRESH {
            catch_up.last_peer_refresh = Instant::now();
            self.bronze.reload().await?;
            left = self.behind(&positions);
        }
        let catch_up = self.catch_up.as_ref().expect("catch_up checked above");
        let moved: i64 =
            catch_up.targets.keys().map(|tp| self.in_bronze(tp).unwrap_or(0)).sum::<i64>() + positions.values().sum::<i64>();
        // A worker that holds no partitions waits for the group: a member that died without
        // leaving keeps its partitions for a session timeout, which must not count as a stall.
        let grace = if self.assigned.is_empty() { self.s.session_timeout() } else { Duration::ZERO };
        let stalled = catch_up.progress.1.elapsed() > self.s.stall_timeout + grace;
        let catch_up = self.catch_up.as_mut().expect("catch_up checked above");
        if moved != catch_up.progress.0 {
            catch_up.progress = (moved, Instant::now());
        } else if !left.is_empty() && stalled {
            let list = left.iter().map(|(t, p)| format!("{t}/{p}")).collect::<Vec<_>>().join(", ");
            return Err(Error::environment(format!(
                "not caught up: {list} still behind their end offsets, and nothing moved for {} s (neither this worker's reads nor bronze)",
                self.s.stall_timeout.as_secs()
            ))
            .with_hint(format!(
                "check the brokers and the consumer group {} (`vbda status`: lag, members); rerun: bronze holds what was committed",
                self.s.group
            )));
        }
        Ok(left.is_empty())
    }

    /// The partitions still short of their end offset, sorted.
    fn behind(&self, positions: &HashMap<TopicPartition, i64>) -> Vec<TopicPartition> {
        let Some(catch_up) = &self.catch_up else { return Vec::new() };
        let mut v: Vec<TopicPartition> = catch_up
            .targets
            .iter()
            .filter(|(tp, end)| {
                let read = if self.assigned.contains(tp) { positions.get(*tp).copied().unwrap_or(0) } else { 0 };
                self.in_bronze(tp).unwrap_or(0).max(read) < **end
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        v.sort();
        v
    }

    /// Whether the open batch takes this worker's partitions to their end offsets, moving at
    /// least one of them there (then it is committed at once instead of waiting for its age;
    /// once there, later messages wait for the batch's age like any others).
    pub(super) fn completes_catch_up(&self) -> bool {
        let Some(catch_up) = &self.catch_up else { return false };
        let done = |tp: &TopicPartition| self.in_bronze(tp).unwrap_or(0);
        let crosses =
            self.batch.next.iter().any(|(tp, n)| catch_up.targets.get(tp).is_some_and(|end| done(tp) < *end && n >= end));
        crosses
            && self.assigned.iter().all(|tp| {
                let next = self.batch.next.get(tp).copied().unwrap_or_else(|| done(tp));
                catch_up.targets.get(tp).is_none_or(|end| next >= *end)
            })
    }
}
