//! The simulated world: users, devices, places, content and ads. How one viewing session
//! unfolds in time is [`session`].
//!
//! Everything about a user, a content item or an ad is derived from (seed, id) by hashing, so
//! every file (and every thread) sees the same user in the same city on the same device, and
//! the catalog's `duration_s` is the one the events carry, without sharing any state.
//!
//! The simulation is what makes DESIGN §3's metrics meaningful: a view is a `play` of one
//! content in one session; its largest `position_s` reaches 90% of `duration_s` for some views
//! and not for most; every playback event carries `watched_s`, the playback seconds since the
//! previous playback event of the session, so their sum is the watch time; `buffer` carries the
//! stall length; errors, ads and interactions occur at rates that differ by device and country.

use super::rng::{Perm, Rng, Zipf, mix, pick_weighted};

mod session;

pub(super) use session::{diurnal_offset_ms, simulate_session};

pub(super) const MS_PER_DAY: i64 = 86_400_000;
/// `Event::content` when the event has no content.
pub(super) const NO_CONTENT: u32 = u32::MAX;

const SALT_USER: u64 = 0x7573_6572;
const SALT_USER_ORDER: u64 = 0x7573_6f72;
const SALT_CONTENT: u64 = 0x636f_6e74;
const SALT_CONTENT_ORDER: u64 = 0x636f_6f72;
const SALT_AD: u64 = 0x6164_7300;
const SALT_CAMPAIGN: u64 = 0x6361_6d70;

/// The event types of DESIGN §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    SessionStart,
    SessionEnd,
    DeviceChange,
    Play,
    Pause,
    Resume,
    Stop,
    Seek,
    Buffer,
    Heartbeat,
    Error,
    QualityChange,
    Like,
    Dislike,
    Comment,
    Share,
    Subscribe,
    AdImpression,
    AdClick,
    AdSkip,
    AdComplete,
}

impl Kind {
    #[cfg(test)]
    pub(super) const ALL: [Kind; 21] = [
        Kind::SessionStart,
        Kind::SessionEnd,
        Kind::DeviceChange,
        Kind::Play,
        Kind::Pause,
        Kind::Resume,
        Kind::Stop,
        Kind::Seek,
        Kind::Buffer,
        Kind::Heartbeat,
        Kind::Error,
        Kind::QualityChange,
        Kind::Like,
        Kind::Dislike,
        Kind::Comment,
        Kind::Share,
        Kind::Subscribe,
        Kind::AdImpression,
        Kind::AdClick,
        Kind::AdSkip,
        Kind::AdComplete,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::SessionStart => "session_start",
            Kind::SessionEnd => "session_end",
            Kind::DeviceChange => "device_change",
            Kind::Play => "play",
            Kind::Pause => "pause",
            Kind::Resume => "resume",
            Kind::Stop => "stop",
            Kind::Seek => "seek",
            Kind::Buffer => "buffer",
            Kind::Heartbeat => "heartbeat",
            Kind::Error => "error",
            Kind::QualityChange => "quality_change",
            Kind::Like => "like",
            Kind::Dislike => "dislike",
            Kind::Comment => "comment",
            Kind::Share => "share",
            Kind::Subscribe => "subscribe",
            Kind::AdImpression => "ad_impression",
            Kind::AdClick => "ad_click",
            Kind::AdSkip => "ad_skip",
            Kind::AdComplete => "ad_complete",
        }
    }

    /// Playback events (`play` .. `quality_change`): they carry `content_id` and `playback`.
    pub(super) fn is_playback(self) -> bool {
        matches!(
            self,
            Kind::Play
                | Kind::Pause
                | Kind::Resume
                | Kind::Stop
                | Kind::Seek
                | Kind::Buffer
                | Kind::Heartbeat
                | Kind::Error
                | Kind::QualityChange
        )
    }

    pub(super) fn is_ad(self) -> bool {
        matches!(self, Kind::AdImpression | Kind::AdClick | Kind::AdSkip | Kind::AdComplete)
    }
}

// ---------------------------------------------------------------------------------------------
// Devices

pub(super) const DEVICE_TYPES: [&str; 6] = ["mobile", "tablet", "desktop", "smart_tv", "console", "web"];
const DEVICE_WEIGHTS: [u32; 6] = [40, 9, 10, 22, 5, 14];
/// Highest index into `RESOLUTIONS` a device type plays.
const DEVICE_MAX_RES: [u8; 6] = [4, 4, 4, 5, 5, 4];
/// How much worse than average the network of a device type is (buffering, errors).
const DEVICE_NET: [f64; 6] = [1.4, 1.2, 0.75, 0.85, 0.8, 1.0];

pub(super) struct Os {
    pub(super) name: &'static str,
    device: u8,
    weight: u32,
}

pub(super) const OSES: [Os; 18] = [
    Os { name: "Android", device: 0, weight: 55 },
    Os { name: "iOS", device: 0, weight: 45 },
    Os { name: "iPadOS", device: 1, weight: 60 },
    Os { name: "Android", device: 1, weight: 40 },
    Os { name: "Windows", device: 2, weight: 70 },
    Os { name: "macOS", device: 2, weight: 25 },
    Os { name: "Linux", device: 2, weight: 5 },
    Os { name: "Tizen", device: 3, weight: 25 },
    Os { name: "webOS", device: 3, weight: 20 },
    Os { name: "Android TV", device: 3, weight: 25 },
    Os { name: "tvOS", device: 3, weight: 15 },
    Os { name: "Roku OS", device: 3, weight: 15 },
    Os { name: "PlayStation", device: 4, weight: 55 },
    Os { name: "Xbox", device: 4, weight: 45 },
    Os { name: "Chrome", device: 5, weight: 60 },
    Os { name: "Safari", device: 5, weight: 20 },
    Os { name: "Firefox", device: 5, weight: 10 },
    Os { name: "Edge", device: 5, weight: 10 },
];

/// A device as events report it: type and OS are indexes into `DEVICE_TYPES` and `OSES`,
/// `app` is the app version (major, minor, patch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) struct Device {
    pub(super) kind: u8,
    pub(super) os: u8,
    pub(super) app: [u8; 3],
}

fn random_device(rng: &mut Rng, exclude: Option<u8>) -> Device {
    let mut weights = DEVICE_WEIGHTS;
    if let Some(k) = exclude {
        weights[usize::from(k)] = 0;
    }
    let kind = pick_weighted(rng, &weights) as u8;
    let mut os_weights = [0_u32; OSES.len()];
    for (w, os) in os_weights.iter_mut().zip(OSES.iter()) {
        if os.device == kind {
            *w = os.weight;
        }
    }
    let os = pick_weighted(rng, &os_weights) as u8;
    // Most users run a recent app; a tail never updates.
    let (major, minor) = match rng.below(100) {
        0..=44 => (5, 14),
        45..=69 => (5, 13),
        70..=81 => (5, 12),
        82..=89 => (5, 11),
        _ => (4, 8 + rng.below(4) as u8),
    };
    let patch = rng.below(4) as u8;
    Device { kind, os, app: [major, minor, patch] }
}

// ---------------------------------------------------------------------------------------------
// Places

/// A city with its country (ISO 3166 alpha-2), region (ISO 3166-2 subdivision code), the UTC
/// offset its clients print timestamps with, its share of users and how bad its network is.
pub(super) struct City {
    pub(super) country: &'static str,
    pub(super) region: &'static str,
    pub(super) name: &'static str,
    pub(super) offset_min: i32,
    weight: u32,
    net: f64,
}

const fn city(country: &'static str, region: &'static str, name: &'static str, offset_min: i32, weight: u32, net: f64) -> City {
    City { country, region, name, offset_min, weight, net }
}

pub(super) const CITIES: [City; 39] = [
    city("US", "NY", "New York", -300, 60, 1.0),
    city("US", "CA", "Los Angeles", -480, 50, 1.0),
    city("US", "IL", "Chicago", -360, 40, 1.0),
    city("US", "TX", "Houston", -360, 40, 1.0),
    city("US", "WA", "Seattle", -480, 25, 0.9),
    city("US", "FL", "Miami", -300, 30, 1.0),
    city("US", "CO", "Denver", -420, 20, 1.0),
    city("US", "DC", "Washington, D.C.", -300, 15, 1.0),
    city("GB", "ENG", "London", 0, 60, 0.9),
    city("GB", "ENG", "Manchester", 0, 20, 0.9),
    city("GB", "SCT", "Glasgow", 0, 10, 0.95),
    city("DE", "BE", "Berlin", 60, 30, 0.9),
    city("DE", "BY", "München", 60, 30, 0.9),
    city("DE", "HH", "Hamburg", 60, 20, 0.9),
    city("IN", "MH", "Mumbai", 330, 40, 2.0),
    city("IN", "DL", "Delhi", 330, 40, 2.0),
    city("IN", "KA", "Bengaluru", 330, 40, 1.8),
    city("BR", "SP", "São Paulo", -180, 50, 1.6),
    city("BR", "RJ", "Rio de Janeiro", -180, 30, 1.7),
    city("FR", "IDF", "Paris", 60, 40, 0.9),
    city("FR", "ARA", "Lyon", 60, 20, 0.9),
    city("JP", "13", "Tokyo", 540, 40, 0.7),
    city("JP", "27", "Osaka", 540, 20, 0.7),
    city("CA", "ON", "Toronto", -300, 30, 1.0),
    city("CA", "BC", "Vancouver", -480, 12, 1.0),
    city("CA", "QC", "Montréal", -300, 12, 1.0),
    city("CA", "NL", "St. John's", -210, 3, 1.1),
    city("MX", "CMX", "Mexico City", -360, 30, 1.4),
    city("MX", "JAL", "Guadalajara", -360, 10, 1.4),
    city("AU", "NSW", "Sydney", 660, 20, 1.0),
    city("AU", "VIC", "Melbourne", 660, 10, 1.0),
    city("ES", "MD", "Madrid", 60, 20, 1.0),
    city("ES", "CT", "Barcelona", 60, 10, 1.0),
    city("IT", "62", "Roma", 60, 20, 1.0),
    city("KR", "11", "Seoul", 540, 20, 0.6),
    city("NL", "NH", "Amsterdam", 60, 20, 0.8),
    city("NG", "LA", "Lagos", 60, 15, 2.5),
    city("ID", "JK", "Jakarta", 420, 15, 1.8),
    city("NP", "P3", "Kathmandu", 345, 3, 2.2),
];

/// How a client prints `event_ts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum TsStyle {
    /// `2025-01-01T12:34:56.789Z`
    #[default]
    UtcMillis,
    /// `2025-01-01T12:34:56Z`
    UtcSeconds,
    /// `2025-01-01T18:04:56.789+05:30` (the city's offset)
    LocalMillis,
    /// `2025-01-01T04:34:56-08:00`
    LocalSeconds,
    /// `1735734896789`
    EpochMillis,
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Clone, Copy, Debug)]
pub(super) struct UserProfile {
    pub(super) city: u16,
    pub(super) device: Device,
    pub(super) ts_style: TsStyle,
    /// Free tier: sees ads.
    pub(super) ad_supported: bool,
    /// 0: none, 1: "A", 2: "B" (an unknown field bronze must keep).
    pub(super) experiment: u8,
    /// First and first-inactive epoch day: some users join or churn within the generated dates.
    pub(super) join_day: i64,
    pub(super) churn_day: i64,
}

fn user_profile(shared: &Shared, idx: u32) -> UserProfile {
    let mut r = Rng::new(mix(&[shared.seed, SALT_USER, u64::from(idx)]));
    let weights: [u32; CITIES.len()] = std::array::from_fn(|i| CITIES[i].weight);
    let city = pick_weighted(&mut r, &weights) as u16;
    let device = random_device(&mut r, None);
    let epoch_share = if matches!(device.kind, 3 | 4) { 0.25 } else { 0.08 };
    let ts_style = if r.chance(epoch_share) {
        TsStyle::EpochMillis
    } else {
        match r.below(100) {
            0..=34 => TsStyle::UtcMillis,
            35..=39 => TsStyle::UtcSeconds,
            40..=79 => TsStyle::LocalMillis,
            _ => TsStyle::LocalSeconds,
        }
    };
    let ad_supported = r.chance(0.6);
    let experiment = if r.chance(0.05) { 1 + r.below(2) as u8 } else { 0 };
    let span = (shared.last_day - shared.first_day).max(0) as u64;
    let join_day = if span > 0 && r.chance(0.12) { shared.first_day + r.below(span + 1) as i64 } else { i64::MIN };
    let churn_day = if span > 0 && r.chance(0.18) { shared.first_day + 1 + r.below(span + 1) as i64 } else { i64::MAX };
    UserProfile { city, device, ts_style, ad_supported, experiment, join_day, churn_day }
}

// ---------------------------------------------------------------------------------------------
// Content

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ContentKind {
    Clip,
    Episode,
    Movie,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct ContentProfile {
    pub(super) kind: ContentKind,
    pub(super) genre: &'static str,
    /// Content length, 120..=10800 s.
    pub(super) duration_s: u32,
}

const CLIP_GENRES: [&str; 5] = ["Music", "News", "Sports", "Comedy", "Kids"];
const EPISODE_GENRES: [&str; 7] = ["Drama", "Comedy", "Reality", "Kids", "Animation", "Documentary", "Crime"];
const MOVIE_GENRES: [&str; 8] = ["Action", "Thriller", "Sci-Fi", "Romance", "Horror", "Documentary", "Drama", "Animation"];

/// The profile of content `idx` (0-based; its id is `c{idx+1:05}`), and the generator it was
/// drawn from so that the catalog can go on drawing a title and a year.
pub(super) fn content_profile(seed: u64, idx: u32) -> (ContentProfile, Rng) {
    let mut r = Rng::new(mix(&[seed, SALT_CONTENT, u64::from(idx)]));
    let kind = match r.below(100) {
        0..=34 => ContentKind::Clip,
        35..=79 => ContentKind::Episode,
        _ => ContentKind::Movie,
    };
    let genre = match kind {
        ContentKind::Clip => CLIP_GENRES[r.below(CLIP_GENRES.len() as u64) as usize],
        ContentKind::Episode => EPISODE_GENRES[r.below(EPISODE_GENRES.len() as u64) as usize],
        ContentKind::Movie => MOVIE_GENRES[r.below(MOVIE_GENRES.len() as u64) as usize],
    };
    let duration_s = (match kind {
        ContentKind::Clip => r.range(120, 900),
        ContentKind::Episode => match r.below(3) {
            0 => r.range(1_200, 1_560),
            1 => r.range(2_400, 3_000),
            _ => r.range(1_200, 3_600),
        },
        ContentKind::Movie => {
            if r.chance(0.85) {
                r.range(5_100, 8_400)
            } else {
                r.range(4_800, 10_800)
            }
        }
    }) as u32;
    (ContentProfile { kind, genre, duration_s }, r)
}

// ---------------------------------------------------------------------------------------------
// Ads, errors, quality ladder

pub(super) const N_ADS: u32 = 240;
const N_CAMPAIGNS: u64 = 48;
pub(super) const AD_POSITIONS: [&str; 3] = ["preroll", "midroll", "postroll"];
const PREROLL: u8 = 0;
const MIDROLL: u8 = 1;
const POSTROLL: u8 = 2;

pub(super) struct AdProfile {
    pub(super) campaign: u32,
    pub(super) duration_s: u32,
    ctr: f64,
}

/// Ad `ad` (0-based; its id is `ad{ad+1:04}`): campaign, length and click-through propensity.
pub(super) fn ad_profile(seed: u64, ad: u32) -> AdProfile {
    let mut r = Rng::new(mix(&[seed, SALT_AD, u64::from(ad)]));
    let campaign = r.below(N_CAMPAIGNS) as u32;
    let duration_s = [6, 15, 15, 20, 30, 30, 60][r.below(7) as usize];
    let mut c = Rng::new(mix(&[seed, SALT_CAMPAIGN, u64::from(campaign)]));
    let ctr = c.uniform(0.004, 0.05);
    AdProfile { campaign, duration_s, ctr }
}

/// (code, message); some messages hold a comma or quotes on purpose (CSV quoting, JSON escaping).
pub(super) const ERRORS: [(&str, &str); 6] = [
    ("NETWORK_TIMEOUT", "Segment request timed out after 10000 ms"),
    ("CDN_404", "Segment not found, retrying on backup CDN"),
    ("DECODE_ERROR", "Media decode failed: \"unsupported codec profile\""),
    ("DRM_LICENSE_DENIED", "License request failed (HTTP 403)"),
    ("MANIFEST_PARSE", "Could not parse HLS manifest"),
    ("PLAYER_CRASH", "Player crashed; restarting"),
];
const ERROR_WEIGHTS: [u32; 6] = [35, 20, 10, 8, 12, 15];

pub(super) const RESOLUTIONS: [&str; 6] = ["240p", "360p", "480p", "720p", "1080p", "2160p"];
const BITRATES: [u32; 6] = [400, 800, 1_400, 2_800, 5_000, 15_000];

// ---------------------------------------------------------------------------------------------
// Events and sessions

/// One simulated event, before serialization. Times are UTC epoch milliseconds; playback
/// positions are in tenths of a second (written with one decimal).
#[derive(Clone, Copy, Debug)]
pub(super) struct Event {
    pub(super) ts_ms: i64,
    pub(super) id: u128,
    pub(super) kind: Kind,
    pub(super) device: Device,
    /// 0-based content index, or `NO_CONTENT`.
    pub(super) content: u32,
    pub(super) duration_s: u32,
    pub(super) position_ds: u32,
    pub(super) watched_ds: u32,
    /// `buffer`: buffer_ms; `seek`: seek_from in tenths of a second; `ad_*`: ad index;
    /// `error`: index into `ERRORS`.
    pub(super) aux: u32,
    pub(super) bitrate: u32,
    /// Index into `RESOLUTIONS`.
    pub(super) res: u8,
    /// `quality_change`: the resolution before the change.
    pub(super) res_from: u8,
    /// `ad_*`: index into `AD_POSITIONS`.
    pub(super) ad_pos: u8,
}

/// What every event of a session shares.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SessionMeta {
    pub(super) id: u128,
    /// 0-based user index; the id is `u{user+1:06}`.
    pub(super) user: u32,
    pub(super) city: u16,
    pub(super) ts_style: TsStyle,
    pub(super) experiment: u8,
}

/// Read-only state every file generator shares.
#[derive(Clone, Debug)]
pub(super) struct Shared {
    pub(super) seed: u64,
    users: u64,
    user_order: Perm,
    content_order: Perm,
    zipf: Zipf,
    first_day: i64,
    last_day: i64,
}

impl Shared {
    pub(super) fn new(seed: u64, users: u32, content_items: u32, first_day: i64, last_day: i64) -> Self {
        let users = u64::from(users.max(1));
        let content = u64::from(content_items.max(1));
        Self {
            seed,
            users,
            user_order: Perm::new(users, mix(&[seed, SALT_USER_ORDER])),
            content_order: Perm::new(content, mix(&[seed, SALT_CONTENT_ORDER])),
            zipf: Zipf::new(content),
            first_day,
            last_day,
        }
    }

    /// A content index with Zipf-like popularity (exponent ~1.1).
    pub(super) fn pick_content(&self, rng: &mut Rng) -> u32 {
        let rank = self.zipf.sample(rng);
        self.content_order.apply(rank - 1) as u32
    }

    /// A user active on `day`: heavy users start more sessions (P(rank < k) = sqrt(k/n)).
    fn pick_user(&self, rng: &mut Rng, day: i64) -> (u32, UserProfile) {
        let mut attempt = 0;
        loop {
            let u = rng.f64();
            let rank = ((u * u * self.users as f64) as u64).min(self.users - 1);
            let idx = self.user_order.apply(rank) as u32;
            let profile = user_profile(self, idx);
            attempt += 1;
            if (profile.join_day <= day && day < profile.churn_day) || attempt >= 4 {
                return (idx, profile);
            }
        }
    }
}
