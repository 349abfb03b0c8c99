//! How one viewing session unfolds in time: when it starts in the day, what is played, how
//! playback, buffering, errors, ads and interactions follow each other (the world it plays in
//! is the parent module's).

use super::super::rng::{Rng, pick_weighted};
use super::{
    BITRATES, CITIES, ContentKind, DEVICE_MAX_RES, DEVICE_NET, Device, ERROR_WEIGHTS, Event, Kind, MIDROLL, MS_PER_DAY, NO_CONTENT,
    N_ADS, POSTROLL, PREROLL, SessionMeta, Shared, ad_profile, content_profile, random_device,
};

/// Share of the day's sessions starting in each UTC hour: a global audience whose evenings
/// (Americas ~00-03, Asia ~12-15, Europe ~18-22 UTC) overlap.
const HOURLY_WEIGHTS: [u32; 24] = [46, 44, 40, 34, 28, 22, 18, 17, 18, 20, 23, 27, 30, 32, 33, 34, 36, 40, 46, 52, 56, 55, 52, 48];

/// The time of day (ms after UTC midnight) by which a share `p` of the day's sessions started.
pub(in crate::ops::generate) fn diurnal_offset_ms(p: f64) -> i64 {
    let total: u32 = HOURLY_WEIGHTS.iter().sum();
    let target = p.clamp(0.0, 1.0) * f64::from(total);
    let mut acc = 0.0;
    for (hour, &w) in HOURLY_WEIGHTS.iter().enumerate() {
        let w = f64::from(w);
        if target < acc + w {
            let frac = (target - acc) / w;
            return (((hour as f64) + frac) * 3_600_000.0) as i64;
        }
        acc += w;
    }
    MS_PER_DAY - 1
}

/// Simulate one session of a user active on epoch day `day`, starting at `start_ms`, into
/// `events` (cleared first; never empty: a session always starts with `session_start`).
pub(in crate::ops::generate) fn simulate_session(
    shared: &Shared,
    rng: &mut Rng,
    day: i64,
    start_ms: i64,
    meta: &mut SessionMeta,
    events: &mut Vec<Event>,
) {
    events.clear();
    let (user, profile) = shared.pick_user(rng, day);
    let device = if rng.chance(0.8) { profile.device } else { random_device(rng, None) };
    *meta = SessionMeta {
        id: rng.uuid(),
        user,
        city: profile.city,
        ts_style: profile.ts_style,
        experiment: profile.experiment,
    };
    let city_net = CITIES[usize::from(profile.city)].net;
    let mut sim = SessionSim {
        shared,
        rng,
        events,
        t: start_ms,
        device,
        ad_supported: profile.ad_supported,
        city_net,
        net: city_net * DEVICE_NET[usize::from(device.kind)],
    };
    sim.run();
}

struct SessionSim<'a> {
    shared: &'a Shared,
    rng: &'a mut Rng,
    events: &'a mut Vec<Event>,
    /// The session's clock (UTC ms).
    t: i64,
    device: Device,
    ad_supported: bool,
    city_net: f64,
    /// City and device network quality: 1 is average, higher buffers and fails more.
    net: f64,
}

/// One view in progress. Positions and watched time are in tenths of a second.
struct PlayState {
    content: u32,
    duration_s: u32,
    dur_ds: u32,
    pos: u32,
    /// Playback since the previous playback event (becomes that event's `watched_s`).
    acc: u32,
    res: u8,
    max_res: u8,
}

#[derive(Clone, Copy)]
enum Incident {
    Buffer,
    Quality,
    Seek,
    Pause,
    Error,
    Interact,
}

// Per ~30 s of playback.
const P_QUALITY: f64 = 0.012;
const P_SEEK: f64 = 0.012;
const P_PAUSE: f64 = 0.015;
const P_INTERACT: f64 = 0.003;

impl SessionSim<'_> {
    fn run(&mut self) {
        self.push(Kind::SessionStart, NO_CONTENT);
        self.wait_ms(1_500, 25_000);
        let mut plays = 1;
        while plays < 8 && self.rng.chance(0.45) {
            plays += 1;
        }
        for i in 0..plays {
            if i > 0 {
                // Browsing between titles.
                self.wait_exp(45_000.0, 600_000.0);
                self.wait_ms(2_000, 8_000);
                if self.rng.chance(0.03) {
                    self.device_change();
                }
            }
            let content = self.shared.pick_content(self.rng);
            if !self.play(content) {
                // The app was closed or crashed: no session_end.
                return;
            }
        }
        self.wait_ms(1_000, 40_000);
        if self.rng.chance(0.94) {
            self.push(Kind::SessionEnd, NO_CONTENT);
        }
    }

    /// Append an event at the session clock, keeping times strictly increasing.
    fn push(&mut self, kind: Kind, content: u32) -> usize {
        if let Some(last) = self.events.last()
            && self.t <= last.ts_ms
        {
            self.t = last.ts_ms + 1;
        }
        let id = self.rng.uuid();
        self.events.push(Event {
            ts_ms: self.t,
            id,
            kind,
            device: self.device,
            content,
            duration_s: 0,
            position_ds: 0,
            watched_ds: 0,
            aux: 0,
            bitrate: 0,
            res: 0,
            res_from: 0,
            ad_pos: 0,
        });
        self.events.len() - 1
    }

    fn wait_ms(&mut self, lo: u64, hi: u64) {
        self.t += self.rng.range(lo, hi) as i64;
    }

    fn wait_exp(&mut self, mean_ms: f64, cap_ms: f64) {
        self.t += self.rng.exp(mean_ms).min(cap_ms) as i64;
    }

    /// Play `ds` tenths of a second.
    fn advance(&mut self, ps: &mut PlayState, ds: u32) {
        ps.pos += ds;
        ps.acc += ds;
        self.t += i64::from(ds) * 100;
    }

    /// A playback event at the current position; it reports (and resets) the watched time.
    fn pb(&mut self, kind: Kind, ps: &mut PlayState) -> usize {
        let bitrate = (f64::from(BITRATES[usize::from(ps.res)]) * self.rng.uniform(0.88, 1.08)) as u32;
        let i = self.push(kind, ps.content);
        let e = &mut self.events[i];
        e.duration_s = ps.duration_s;
        e.position_ds = ps.pos;
        e.watched_ds = ps.acc;
        e.bitrate = bitrate;
        e.res = ps.res;
        ps.acc = 0;
        i
    }

    fn device_change(&mut self) {
        self.device = random_device(self.rng, Some(self.device.kind));
        self.net = self.city_net * DEVICE_NET[usize::from(self.device.kind)];
        self.push(Kind::DeviceChange, NO_CONTENT);
    }

    /// One view of `content`. Returns false when the session ends with it (no `session_end`).
    fn play(&mut self, content: u32) -> bool {
        let (profile, _) = content_profile(self.shared.seed, content);
        let dur_ds = profile.duration_s * 10;
        // Continue watching from where an earlier (not generated) session stopped.
        let start = if profile.kind != ContentKind::Clip && self.rng.chance(0.15) {
            (f64::from(dur_ds) * self.rng.uniform(0.05, 0.7)) as u32
        } else {
            0
        };
        let complete_p = match profile.kind {
            ContentKind::Clip => 0.55,
            ContentKind::Episode => 0.33,
            ContentKind::Movie => 0.2,
        };
        let target = if self.rng.chance(complete_p) {
            if self.rng.chance(0.55) { dur_ds } else { (f64::from(dur_ds) * self.rng.uniform(0.9, 1.0)) as u32 }
        } else {
            // Most views stop early; the drop-off is steep.
            let u = self.rng.f64();
            start + (f64::from(dur_ds - start) * (0.005 + 0.88 * u * u)) as u32
        };
        let target = target.max(start + 50_u32.min(dur_ds - start)).min(dur_ds);

        if self.ad_supported && self.rng.chance(0.7) && !self.ad_break(content, PREROLL) {
            // Left during the preroll: no view.
            return !self.rng.chance(0.5);
        }
        let max_res = DEVICE_MAX_RES[usize::from(self.device.kind)];
        let drop = (if self.net >= 1.6 {
            self.rng.range(1, 3)
        } else if self.net >= 1.1 {
            self.rng.below(3)
        } else {
            self.rng.below(2)
        }) as u8;
        let mut ps = PlayState {
            content,
            duration_s: profile.duration_s,
            dur_ds,
            pos: start,
            acc: 0,
            res: max_res.saturating_sub(drop),
            max_res,
        };
        self.wait_ms(300, 2_500);
        self.pb(Kind::Play, &mut ps);
        if self.rng.chance(0.012 * self.net) {
            // Startup failure.
            self.wait_ms(500, 8_000);
            self.pb_error(&mut ps);
            if self.rng.chance(0.65) {
                return !self.rng.chance(0.4);
            }
        }

        let mut next_midroll = if self.ad_supported && profile.duration_s >= 1_200 {
            ps.pos + self.rng.range(6_000, 9_000) as u32
        } else {
            u32::MAX
        };
        let p_buffer = 0.02 * self.net;
        let p_error = 0.0006 * self.net;
        while ps.pos < target {
            // A heartbeat every ~30 s of playback.
            let chunk = (self.rng.range(290, 310) as u32).min(target - ps.pos);
            let r = self.rng.f64();
            let mut incident = None;
            let mut acc = 0.0;
            for (kind, p) in [
                (Incident::Buffer, p_buffer),
                (Incident::Quality, P_QUALITY),
                (Incident::Seek, P_SEEK),
                (Incident::Pause, P_PAUSE),
                (Incident::Error, p_error),
                (Incident::Interact, P_INTERACT),
            ] {
                acc += p;
                if r < acc {
                    incident = Some(kind);
                    break;
                }
            }
            if let Some(kind) = incident {
                let off = (f64::from(chunk) * self.rng.uniform(0.1, 0.9)) as u32;
                self.advance(&mut ps, off);
                match kind {
                    Incident::Buffer => self.buffer(&mut ps),
                    Incident::Quality => self.quality_change(&mut ps, None),
                    Incident::Seek => self.seek(&mut ps),
                    Incident::Pause => {
                        if !self.pause(&mut ps) {
                            return !self.rng.chance(0.5);
                        }
                    }
                    Incident::Error => {
                        self.pb_error(&mut ps);
                        if self.rng.chance(0.4) {
                            // Fatal: the player gave up.
                            return !self.rng.chance(0.5);
                        }
                    }
                    Incident::Interact => self.interact_now(content),
                }
                if ps.pos >= target {
                    break;
                }
                let rest = (chunk - off).min(target - ps.pos);
                self.advance(&mut ps, rest);
            } else {
                self.advance(&mut ps, chunk);
            }
            if ps.pos >= target {
                break;
            }
            self.pb(Kind::Heartbeat, &mut ps);
            if ps.pos >= next_midroll {
                if !self.ad_break(content, MIDROLL) {
                    self.pb(Kind::Stop, &mut ps);
                    return !self.rng.chance(0.5);
                }
                next_midroll = ps.pos + self.rng.range(9_000, 12_000) as u32;
            }
        }
        self.pb(Kind::Stop, &mut ps);
        let completed = u64::from(ps.pos) * 10 >= u64::from(dur_ds) * 9;
        if ps.pos >= dur_ds && self.ad_supported && self.rng.chance(0.3) {
            self.ad_break(content, POSTROLL);
        }
        self.interact_after(content, completed);
        !self.rng.chance(0.03)
    }

    fn buffer(&mut self, ps: &mut PlayState) {
        let stall = (250.0 + self.rng.exp(1_800.0 * self.net)).min(45_000.0) as u32;
        let i = self.pb(Kind::Buffer, ps);
        self.events[i].aux = stall;
        self.t += i64::from(stall);
        if ps.res > 0 && self.rng.chance(0.4) {
            self.wait_ms(100, 800);
            self.quality_change(ps, Some(false));
        }
    }

    fn quality_change(&mut self, ps: &mut PlayState, up: Option<bool>) {
        let up = match up {
            Some(up) => up,
            None => ps.res == 0 || (ps.res < ps.max_res && self.rng.chance(0.6 / self.net)),
        };
        let from = ps.res;
        let to = if up { (from + 1).min(ps.max_res) } else { from.saturating_sub(1) };
        if to == from {
            return;
        }
        ps.res = to;
        let i = self.pb(Kind::QualityChange, ps);
        self.events[i].res_from = from;
    }

    fn seek(&mut self, ps: &mut PlayState) {
        let from = ps.pos;
        let to = if self.rng.chance(0.65) {
            (from + self.rng.range(150, 6_000) as u32).min(ps.dur_ds)
        } else {
            from.saturating_sub(self.rng.range(100, 1_200) as u32)
        };
        self.wait_ms(200, 1_500);
        ps.pos = to;
        let i = self.pb(Kind::Seek, ps);
        self.events[i].aux = from;
    }

    /// Returns false when the viewer never resumes.
    fn pause(&mut self, ps: &mut PlayState) -> bool {
        self.pb(Kind::Pause, ps);
        self.wait_exp(60_000.0, 1_800_000.0);
        self.wait_ms(2_000, 5_000);
        if self.rng.chance(0.1) {
            self.pb(Kind::Stop, ps);
            return false;
        }
        self.pb(Kind::Resume, ps);
        true
    }

    fn pb_error(&mut self, ps: &mut PlayState) {
        let code = pick_weighted(self.rng, &ERROR_WEIGHTS) as u32;
        let i = self.pb(Kind::Error, ps);
        self.events[i].aux = code;
    }

    fn ad_event(&mut self, kind: Kind, content: u32, ad: u32, position: u8) {
        let i = self.push(kind, content);
        let e = &mut self.events[i];
        e.aux = ad;
        e.ad_pos = position;
    }

    /// An ad break; returns false when the viewer left during it.
    fn ad_break(&mut self, content: u32, position: u8) -> bool {
        let ads = match position {
            PREROLL => self.rng.range(1, 2),
            MIDROLL => self.rng.range(1, 3),
            _ => 1,
        };
        for _ in 0..ads {
            let ad = self.rng.below(u64::from(N_ADS)) as u32;
            let profile = ad_profile(self.shared.seed, ad);
            self.ad_event(Kind::AdImpression, content, ad, position);
            let dur_ms = u64::from(profile.duration_s) * 1_000;
            let mut elapsed = 0;
            if self.rng.chance(profile.ctr) {
                elapsed = self.rng.range(500, dur_ms - 500);
                self.t += elapsed as i64;
                self.ad_event(Kind::AdClick, content, ad, position);
            }
            let r = self.rng.f64();
            if r < 0.04 {
                return false;
            }
            if profile.duration_s >= 15 && r < 0.34 {
                let skip_at = self.rng.range(5_000, dur_ms.min(20_000)).max(elapsed + 200);
                self.t += (skip_at - elapsed) as i64;
                self.ad_event(Kind::AdSkip, content, ad, position);
            } else {
                self.t += dur_ms.saturating_sub(elapsed) as i64;
                self.ad_event(Kind::AdComplete, content, ad, position);
            }
            self.wait_ms(100, 900);
        }
        true
    }

    fn interact_now(&mut self, content: u32) {
        let kind = match pick_weighted(self.rng, &[50, 8, 15, 20, 7]) {
            0 => Kind::Like,
            1 => Kind::Dislike,
            2 => Kind::Comment,
            3 => Kind::Share,
            _ => Kind::Subscribe,
        };
        self.wait_ms(200, 2_000);
        self.push(kind, content);
    }

    fn interact_after(&mut self, content: u32, completed: bool) {
        let boost = if completed { 2.5 } else { 1.0 };
        for (kind, p) in [
            (Kind::Like, 0.05 * boost),
            (Kind::Dislike, 0.012),
            (Kind::Comment, 0.012 * boost),
            (Kind::Share, 0.015 * boost),
            (Kind::Subscribe, 0.006 * boost),
        ] {
            if self.rng.chance(p) {
                self.wait_ms(1_000, 20_000);
                self.push(kind, content);
            }
        }
    }
}
