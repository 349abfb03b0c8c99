//! Crash points for tests: with `VBDA_FAILPOINT=<point>` (or `<point>#<n>`, the n-th time the
//! point is reached) the process aborts there at once, as a `kill -9` would: no destructors,
//! no flush, no cleanup. The crash tests (`tests/it/crash.rs`) abort every writing command at
//! every boundary of its work and check that a rerun ends exactly where a clean run ends.
//!
//! The points (README, "Crash points"): `ingest.before_commit`, `ingest.after_commit`,
//! `content.before_commit`, `content.after_commit`, `stream.before_commit`,
//! `stream.after_commit` (the Delta commit done, Kafka's offsets not yet),
//! `bronze_to_silver.before_commits`, `bronze_to_silver.between_commits` (silver committed,
//! quarantine not), `bronze_to_silver.after_commits`, `silver_to_gold.before_commit`,
//! `silver_to_gold.after_commit` (one gold table committed, the next not), `backfill.before_state`,
//! `backfill.after_state`, `restore.before_commit`, `restore.after_commit`, `publish.before_commit`
//! (one date's rows copied into PostgreSQL, its transaction not committed).
//!
//! Unset (always, outside tests), a point costs one load of a value read once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var("VBDA_FAILPOINT").ok().filter(|v| !v.is_empty())?;
            let (point, nth) = match value.split_once('#') {
                Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
                None => (value, 1),
            };
            Some(Armed { point, nth, seen: AtomicU64::new(0) })
        })
        .as_ref()
}

/// Abort the process here when `VBDA_FAILPOINT` names this point (and this is its n-th hit).
pub fn hit(point: &str) {
    let Some(armed) = armed() else { return };
    if armed.point == point && armed.seen.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth {
        eprintln!("vbda: failpoint {point} reached: aborting");
        std::process::abort();
    }
}
