//! One landing file: its lines, drawn from interleaved sessions, with the asked shares of
//! malformed, duplicate, late and bad-value lines.
//!
//! Each line slot is one of five kinds, drawn independently with the settings' shares:
//! malformed, duplicate, late, bad value, or a plain event. Plain, bad-value and most malformed
//! lines consume the next event of the *main stream*: the day's sessions, started over the day
//! along a diurnal curve and merged in time order, so a file reads like a collector's log.
//! Late lines come from a separate stream of sessions 1-3 days before the file's date (devices
//! that uploaded late); they are cut at the end of their day, so each one really is 1-3 days
//! old. Duplicates re-emit a byte-identical copy of a recent clean line; a share of them is
//! handed to the next file instead ("possibly in a later file").
//!
//! The main stream's pace is self-correcting: a new session starts when the share of the file's
//! expected events already scheduled says it is time, so sessions spread over the whole day
//! (along the diurnal curve) however long they turn out to be. The last sessions run on past
//! midnight, so a few percent of a file's events fall on the next UTC date. When the budget
//! runs out, sessions still in flight are cut (they have no `session_end`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use super::GenerateFormat;
use super::model::{Event, MS_PER_DAY, SessionMeta, Shared, diurnal_offset_ms, simulate_session};
use super::rng::Rng;
use super::write::{
    Bad, CSV_HEADER, GARBAGE_CSV, GARBAGE_JSON, break_csv_row, choose_bad, push_high_bytes, write_csv, write_json,
};

/// Write the buffer to the file when it holds this much.
const FLUSH_AT: usize = 1 << 20;
/// Report progress every this many line slots.
const TICK_EVERY: u64 = 16_384;
/// Recent clean lines kept as candidates for duplicates.
const POOL_CAP: usize = 512;
/// Share of duplicates that go to the next file instead of this one.
const CARRY_SHARE: f64 = 0.25;

/// What every file of a run shares besides the simulated world.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    pub(super) format: GenerateFormat,
    pub(super) malformed: f64,
    pub(super) duplicate: f64,
    pub(super) late: f64,
    pub(super) bad: f64,
}

/// Counts for one file (`lines` = `events` + `malformed`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FileStats {
    pub(super) lines: u64,
    pub(super) events: u64,
    pub(super) malformed: u64,
    pub(super) duplicates: u64,
    pub(super) late: u64,
    pub(super) bad_values: u64,
}

pub(super) struct FileGen<'a> {
    shared: &'a Shared,
    params: Params,
    rng: Rng,
    /// Epoch day of the file's date.
    day: i64,
    main: MainStream,
    late: LateStream,
    pool: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    /// Probability that a clean line is copied into the duplicate pool.
    pool_share: f64,
    carry_out: Vec<Vec<u8>>,
    out: Vec<u8>,
    stats: FileStats,
}

impl<'a> FileGen<'a> {
    /// `seed` is this file's own seed (derived from the run's seed, date and file number);
    /// `budget` the number of line slots it will fill.
    pub(super) fn new(shared: &'a Shared, params: Params, seed: u64, day: i64, budget: u64) -> Self {
        let clean = 1.0 - params.malformed - params.duplicate - params.bad;
        let pool_share =
            if params.duplicate > 0.0 && clean > 0.0 { (2.0 * params.duplicate / clean).min(1.0) } else { 0.0 };
        // Plain, bad-value and (most) malformed slots consume main-stream events.
        let main_share = 1.0 - params.duplicate - params.late - 0.35 * params.malformed;
        let expected = (budget as f64 * main_share).max(1.0);
        let mut out = Vec::with_capacity(FLUSH_AT + (64 << 10));
        if params.format == GenerateFormat::Csv {
            out.extend_from_slice(CSV_HEADER);
            out.push(b'\n');
        }
        Self {
            shared,
            params,
            rng: Rng::new(seed),
            day,
            main: MainStream::new(day * MS_PER_DAY, expected),
            late: LateStream::default(),
            pool: Vec::new(),
            spare: Vec::new(),
            pool_share,
            carry_out: Vec::new(),
            out,
            stats: FileStats::default(),
        }
    }

    /// Fill `budget` line slots. Duplicates handed to the next file (`can_carry`) take a slot
    /// here but are written there. `tick` gets this file's line count now and then.
    pub(super) fn write_body<W: Write>(
        &mut self,
        sink: &mut W,
        budget: u64,
        can_carry: bool,
        tick: &mut dyn FnMut(u64),
    ) -> io::Result<()> {
        let t_malformed = self.params.malformed;
        let t_duplicate = t_malformed + self.params.duplicate;
        let t_late = t_duplicate + self.params.late;
        let t_bad = t_late + self.params.bad;
        let mut next_tick = TICK_EVERY;
        for slot in 0..budget {
            let r = self.rng.f64();
            if r < t_malformed {
                self.malformed_line();
            } else if r < t_duplicate {
                self.duplicate_line(can_carry);
            } else if r < t_late {
                self.late_line();
            } else if r < t_bad {
                self.bad_line();
            } else {
                self.fresh_line();
            }
            if self.out.len() >= FLUSH_AT {
                sink.write_all(&self.out)?;
                self.out.clear();
            }
            if slot + 1 >= next_tick {
                tick(self.stats.lines);
                next_tick += TICK_EVERY;
            }
        }
        Ok(())
    }

    /// The duplicates this file hands to the next one.
    pub(super) fn take_carry_out(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.carry_out)
    }

    /// Append the duplicates the previous file handed over (re-sent after it was closed).
    pub(super) fn append_carried(&mut self, lines: &[Vec<u8>]) {
        for line in lines {
            self.out.extend_from_slice(line);
            self.stats.lines += 1;
            self.stats.events += 1;
            self.stats.duplicates += 1;
        }
    }

    /// Write what is left in the buffer; the caller finishes the sink.
    pub(super) fn finish<W: Write>(mut self, sink: &mut W) -> io::Result<FileStats> {
        if !self.out.is_empty() {
            sink.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(self.stats)
    }

    fn write_event(&mut self, ev: &Event, meta: &SessionMeta, bad: Bad) {
        match self.params.format {
            GenerateFormat::Ndjson => write_json(&mut self.out, ev, meta, self.shared.seed, bad),
            GenerateFormat::Csv => write_csv(&mut self.out, ev, meta, self.shared.seed, bad),
        }
    }

    /// A valid line without bad values; it may be picked for a duplicate later.
    fn write_clean(&mut self, ev: &Event, meta: &SessionMeta) {
        let start = self.out.len();
        self.write_event(ev, meta, Bad::None);
        self.out.push(b'\n');
        self.stats.lines += 1;
        self.stats.events += 1;
        if self.pool_share > 0.0 && self.rng.chance(self.pool_share) {
            let mut copy = self.spare.pop().unwrap_or_default();
            copy.clear();
            copy.extend_from_slice(&self.out[start..]);
            if self.pool.len() < POOL_CAP {
                self.pool.push(copy);
            } else {
                let i = self.rng.below(POOL_CAP as u64) as usize;
                let old = std::mem::replace(&mut self.pool[i], copy);
                self.spare.push(old);
            }
        }
    }

    fn fresh_line(&mut self) {
        let (ev, meta) = self.main.next(self.shared, &mut self.rng, self.day);
        self.write_clean(&ev, &meta);
    }

    fn late_line(&mut self) {
        let (ev, meta) = self.late.next(self.shared, &mut self.rng, self.day);
        self.write_clean(&ev, &meta);
        self.stats.late += 1;
    }

    fn bad_line(&mut self) {
        let (ev, meta) = self.main.next(self.shared, &mut self.rng, self.day);
        let bad = choose_bad(&mut self.rng, &ev);
        self.write_event(&ev, &meta, bad);
        self.out.push(b'\n');
        self.stats.lines += 1;
        self.stats.events += 1;
        self.stats.bad_values += 1;
    }

    fn duplicate_line(&mut self, can_carry: bool) {
        if self.pool.is_empty() {
            // Nothing sent yet that could be re-sent.
            self.fresh_line();
            return;
        }
        // Taken out of the pool: every event is duplicated at most once.
        let i = self.rng.below(self.pool.len() as u64) as usize;
        let line = self.pool.swap_remove(i);
        if can_carry && self.rng.chance(CARRY_SHARE) {
            self.carry_out.push(line);
            return;
        }
        self.out.extend_from_slice(&line);
        self.spare.push(line);
        self.stats.lines += 1;
        self.stats.events += 1;
        self.stats.duplicates += 1;
    }

    fn malformed_line(&mut self) {
        let start = self.out.len();
        let variant = self.rng.below(100);
        match self.params.format {
            GenerateFormat::Ndjson => {
                if variant < 55 {
                    // Cut off mid-object (an upload that died): never valid JSON, since the
                    // closing brace is always lost.
                    let (ev, meta) = self.main.next(self.shared, &mut self.rng, self.day);
                    write_json(&mut self.out, &ev, &meta, self.shared.seed, Bad::None);
                    let len = self.out.len() - start;
                    let keep = 1 + self.rng.below(len as u64 - 1) as usize;
                    self.out.truncate(start + keep);
                } else if variant < 85 {
                    let garbage = GARBAGE_JSON[self.rng.below(GARBAGE_JSON.len() as u64) as usize];
                    self.out.extend_from_slice(garbage);
                } else if variant < 93 {
                    // A UTF-16 byte-order mark glued to an event: invalid UTF-8, invalid JSON.
                    let (ev, meta) = self.main.next(self.shared, &mut self.rng, self.day);
                    self.out.extend_from_slice(b"\xff\xfe");
                    write_json(&mut self.out, &ev, &meta, self.shared.seed, Bad::None);
                } else {
                    push_high_bytes(&mut self.out, &mut self.rng);
                }
            }
            GenerateFormat::Csv => {
                if variant < 65 {
                    let (ev, meta) = self.main.next(self.shared, &mut self.rng, self.day);
                    write_csv(&mut self.out, &ev, &meta, self.shared.seed, Bad::None);
                    break_csv_row(&mut self.out, start, &mut self.rng);
                } else if variant < 90 {
                    let garbage = GARBAGE_CSV[self.rng.below(GARBAGE_CSV.len() as u64) as usize];
                    self.out.extend_from_slice(garbage);
                } else {
                    push_high_bytes(&mut self.out, &mut self.rng);
                }
            }
        }
        self.out.push(b'\n');
        self.stats.lines += 1;
        self.stats.malformed += 1;
    }
}

/// A session being replayed: its events and the next one to emit.
#[derive(Default)]
struct Slot {
    meta: SessionMeta,
    events: Vec<Event>,
    cursor: usize,
}

/// The day's sessions, merged in time order.
struct MainStream {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// (time of the slot's next event, tie-breaker, slot)
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    seq: u64,
    scheduled: u64,
    /// Main-stream events this file is expected to consume.
    expected: f64,
    day_start: i64,
    last_start: i64,
    last_emitted: i64,
}

impl MainStream {
    fn new(day_start: i64, expected: f64) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            scheduled: 0,
            expected,
            day_start,
            last_start: day_start,
            last_emitted: day_start,
        }
    }

    fn next(&mut self, shared: &Shared, rng: &mut Rng, day: i64) -> (Event, SessionMeta) {
        loop {
            // Start sessions until the next one would begin after the earliest pending event.
            // Terminates: every scheduled session moves `next_start` forward or ends scheduling.
            let due = match self.next_start() {
                Some(start) => self.heap.peek().is_none_or(|Reverse((t, _, _))| start <= *t).then_some(start),
                None => None,
            };
            if let Some(start) = due {
                self.schedule(shared, rng, day, start);
                continue;
            }
            let Some(Reverse((_, _, s))) = self.heap.pop() else { continue };
            let slot = &mut self.slots[s];
            let ev = slot.events[slot.cursor];
            let meta = slot.meta;
            slot.cursor += 1;
            if let Some(next) = slot.events.get(slot.cursor) {
                let t = next.ts_ms;
                self.seq += 1;
                self.heap.push(Reverse((t, self.seq, s)));
            } else {
                self.free.push(s);
            }
            self.last_emitted = ev.ts_ms;
            return (ev, meta);
        }
    }

    /// When the next session starts, or `None` while the sessions in flight drain.
    ///
    /// Sessions start at the time of day by which the share of the file's expected events
    /// scheduled so far should have started (the diurnal curve); never earlier than the
    /// previous start, so events come out in time order. Once all expected events are
    /// scheduled, the sessions in flight play out, past midnight for the late ones. Should the
    /// file still need events after that (chance), one more session starts late in the day.
    fn next_start(&self) -> Option<i64> {
        if (self.scheduled as f64) < self.expected {
            let progress = self.scheduled as f64 / self.expected;
            Some((self.day_start + diurnal_offset_ms(progress)).max(self.last_start))
        } else if self.heap.is_empty() {
            let late = (self.last_start + 60_000).min(self.day_start + MS_PER_DAY - 1);
            Some(late.max(self.last_start).max(self.last_emitted))
        } else {
            None
        }
    }

    fn schedule(&mut self, shared: &Shared, rng: &mut Rng, day: i64, start: i64) {
        let s = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let jitter = rng.below(20_000) as i64;
        let slot = &mut self.slots[s];
        simulate_session(shared, rng, day, start + jitter, &mut slot.meta, &mut slot.events);
        slot.cursor = 0;
        self.scheduled += slot.events.len() as u64;
        self.last_start = start;
        if let Some(first) = slot.events.first() {
            let t = first.ts_ms;
            self.seq += 1;
            self.heap.push(Reverse((t, self.seq, s)));
        } else {
            self.free.push(s);
        }
    }
}

/// Sessions of 1-3 days before the file's date, replayed one after the other.
#[derive(Default)]
struct LateStream {
    meta: SessionMeta,
    events: Vec<Event>,
    cursor: usize,
}

impl LateStream {
    fn next(&mut self, shared: &Shared, rng: &mut Rng, day: i64) -> (Event, SessionMeta) {
        while self.cursor >= self.events.len() {
            let late_day = day - rng.range(1, 3) as i64;
            let day_start = late_day * MS_PER_DAY;
            let start = day_start + diurnal_offset_ms(rng.f64());
            simulate_session(shared, rng, late_day, start, &mut self.meta, &mut self.events);
            // Keep it on its day: the session_start always stays, so this never empties it.
            let keep = self.events.partition_point(|e| e.ts_ms < day_start + MS_PER_DAY);
            self.events.truncate(keep);
            self.cursor = 0;
        }
        let ev = self.events[self.cursor];
        self.cursor += 1;
        (ev, self.meta)
    }
}
