//! Serialization of events to NDJSON and CSV, hand-written into a reused buffer (no
//! `serde_json::Value` per event: the generator must write millions of events per second), and
//! the ways a line goes bad: bad values in valid lines, and malformed lines.

use super::model::{
    AD_POSITIONS, CITIES, DEVICE_TYPES, ERRORS, Event, Kind, MS_PER_DAY, NO_CONTENT, OSES, RESOLUTIONS, SessionMeta,
    TsStyle, ad_profile,
};
use super::rng::Rng;

pub(super) const CSV_HEADER: &[u8] = b"event_id,event_type,event_ts,user_id,session_id,content_id,\
device.type,device.os,device.app_version,geo.country,geo.region,geo.city,\
playback.position_s,playback.duration_s,playback.watched_s,playback.bitrate_kbps,playback.resolution,\
playback.buffer_ms,playback.seek_from_s,playback.quality_from,playback.quality_to,\
ad.ad_id,ad.campaign_id,ad.position,ad.duration_s,error.code,error.message";

#[cfg(test)]
pub(super) const CSV_COLUMNS: usize = 27;

/// How a valid line carries a bad value (DESIGN §3: silver quarantines these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bad {
    None,
    UnknownType(u8),
    MissingEventId,
    DeviceType(u8),
    Timestamp(u8),
    NegativePosition,
    PositionText(u8),
    MissingContentId,
}

const UNKNOWN_TYPES: [&str; 5] = ["video_start", "PLAY", "heartbeat_v2", "clik", "ad_view"];
const BAD_DEVICE_TYPES: [&str; 6] = ["toaster", "SmartTV", "MOBILE", "", "phone", "unknown_device"];
const BAD_TIMESTAMPS: [&str; 5] = ["not-a-timestamp", "2025-02-30T25:61:00Z", "", "yesterday", "1735689600000ms"];
const POSITION_TEXTS: [&str; 4] = ["abc", "NaN", "12,5", "n/a"];

/// A bad value that fits the event: position and content faults only on playback events.
pub(super) fn choose_bad(rng: &mut Rng, ev: &Event) -> Bad {
    let choices = if ev.kind.is_playback() { 8 } else { 4 };
    match rng.below(choices) {
        0 => Bad::UnknownType(rng.below(UNKNOWN_TYPES.len() as u64) as u8),
        1 => Bad::MissingEventId,
        2 => Bad::DeviceType(rng.below(BAD_DEVICE_TYPES.len() as u64) as u8),
        3 => Bad::Timestamp(rng.below(BAD_TIMESTAMPS.len() as u64) as u8),
        4 => Bad::NegativePosition,
        5 => Bad::PositionText(rng.below(POSITION_TEXTS.len() as u64) as u8),
        _ => Bad::MissingContentId,
    }
}

/// Lines that are not JSON at all (each fails `serde_json::from_slice`).
pub(super) const GARBAGE_JSON: [&[u8]; 10] = [
    b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    b"{\"event_type\":\"heartbeat\",\"playback\":{\"position_s\":NaN}}",
    b"event_type=play&user_id=u000123&content_id=c00042",
    b"{'event_id': 'f3b0c442', 'event_type': 'play'}",
    b"{\"event_id\":\"5f2b\",\"event_type\":\"pause\"}}",
    b"[object Object]",
    b"{\"event_type\":\"pause\",,\"user_id\":\"u000001\"}",
    b"{\"event_type\":\"seek\",\"event_ts\":2025-01-01T10:00:00Z}",
    b"undefined",
    b"{\"event_id\":\"9c1d\",\"event_type\":\"play\",\"event_ts\":\"2025-01-01T10:00:00Z\"",
];

/// CSV lines with one column (no comma), so never the 27 the header has.
pub(super) const GARBAGE_CSV: [&[u8]; 4] = [
    b"<html><body>502 Bad Gateway</body></html>",
    b"-- export interrupted --",
    b"event_id;event_type;event_ts;user_id",
    b"NULL",
];

/// A line of random bytes >= 0x80: never valid UTF-8 text, never a newline, comma or quote.
pub(super) fn push_high_bytes(out: &mut Vec<u8>, rng: &mut Rng) {
    let n = rng.range(16, 96);
    for _ in 0..n {
        out.push(0x80 + rng.below(0x80) as u8);
    }
}

/// Turn the well-formed CSV row at `out[start..]` (no newline) into a malformed one: fewer or
/// more columns than the header, and sometimes a stray quote inside an unquoted field as well.
pub(super) fn break_csv_row(out: &mut Vec<u8>, start: usize, rng: &mut Rng) {
    let seps = separators(&out[start..]);
    if seps.len() < 26 {
        out.extend_from_slice(b",extra");
        return;
    }
    match rng.below(3) {
        0 => {
            let keep = rng.range(1, 25) as usize;
            out.truncate(start + seps[keep - 1]);
        }
        1 => {
            for _ in 0..rng.range(1, 3) {
                out.extend_from_slice(b",extra");
            }
        }
        _ => {
            let keep = rng.range(2, 26) as usize;
            out.truncate(start + seps[keep - 1]);
            // Inside event_type (>= 4 characters, never quoted), after its first character.
            out.insert(start + seps[0] + 2, b'"');
        }
    }
}

/// Positions of the column separators of a row written by `write_csv`.
fn separators(row: &[u8]) -> Vec<usize> {
    let mut seps = Vec::with_capacity(26);
    let mut quoted = false;
    for (i, &b) in row.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            seps.push(i);
        }
    }
    seps
}

// ---------------------------------------------------------------------------------------------
// NDJSON

/// One event as a JSON object (no newline).
pub(super) fn write_json(out: &mut Vec<u8>, ev: &Event, meta: &SessionMeta, seed: u64, bad: Bad) {
    out.push(b'{');
    if bad != Bad::MissingEventId {
        out.extend_from_slice(b"\"event_id\":\"");
        push_uuid(out, ev.id);
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"\"event_type\":\"");
    push_event_type(out, ev, bad);
    out.extend_from_slice(b"\",\"event_ts\":");
    match bad {
        Bad::Timestamp(v) => push_json_str(out, BAD_TIMESTAMPS[usize::from(v)]),
        _ if meta.ts_style == TsStyle::EpochMillis => push_i64(out, ev.ts_ms),
        _ => {
            out.push(b'"');
            push_ts(out, ev.ts_ms, meta);
            out.push(b'"');
        }
    }
    out.extend_from_slice(b",\"user_id\":\"");
    push_user_id(out, meta.user);
    out.extend_from_slice(b"\",\"session_id\":\"");
    push_uuid(out, meta.id);
    out.push(b'"');
    if has_content(ev, bad) {
        out.extend_from_slice(b",\"content_id\":\"");
        push_content_id(out, ev.content);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"device\":{\"type\":");
    match bad {
        Bad::DeviceType(v) => push_json_str(out, BAD_DEVICE_TYPES[usize::from(v)]),
        _ => push_json_str(out, DEVICE_TYPES[usize::from(ev.device.kind)]),
    }
    out.extend_from_slice(b",\"os\":");
    push_json_str(out, OSES[usize::from(ev.device.os)].name);
    out.extend_from_slice(b",\"app_version\":\"");
    push_app_version(out, ev.device.app);
    let city = &CITIES[usize::from(meta.city)];
    out.extend_from_slice(b"\"},\"geo\":{\"country\":\"");
    out.extend_from_slice(city.country.as_bytes());
    out.extend_from_slice(b"\",\"region\":\"");
    out.extend_from_slice(city.region.as_bytes());
    out.extend_from_slice(b"\",\"city\":");
    push_json_str(out, city.name);
    out.push(b'}');

    if ev.kind.is_playback() {
        out.extend_from_slice(b",\"playback\":{\"position_s\":");
        match bad {
            Bad::NegativePosition => {
                out.push(b'-');
                push_ds(out, ev.position_ds.max(15));
            }
            Bad::PositionText(v) => push_json_str(out, POSITION_TEXTS[usize::from(v)]),
            _ => push_ds(out, ev.position_ds),
        }
        out.extend_from_slice(b",\"duration_s\":");
        push_u64(out, u64::from(ev.duration_s));
        out.extend_from_slice(b",\"watched_s\":");
        push_ds(out, ev.watched_ds);
        if has_bitrate(ev.kind) {
            out.extend_from_slice(b",\"bitrate_kbps\":");
            push_u64(out, u64::from(ev.bitrate));
            out.extend_from_slice(b",\"resolution\":\"");
            out.extend_from_slice(RESOLUTIONS[usize::from(ev.res)].as_bytes());
            out.push(b'"');
        }
        match ev.kind {
            Kind::Buffer => {
                out.extend_from_slice(b",\"buffer_ms\":");
                push_u64(out, u64::from(ev.aux));
            }
            Kind::Seek => {
                out.extend_from_slice(b",\"seek_from_s\":");
                push_ds(out, ev.aux);
            }
            Kind::QualityChange => {
                out.extend_from_slice(b",\"quality_from\":\"");
                out.extend_from_slice(RESOLUTIONS[usize::from(ev.res_from)].as_bytes());
                out.extend_from_slice(b"\",\"quality_to\":\"");
                out.extend_from_slice(RESOLUTIONS[usize::from(ev.res)].as_bytes());
                out.push(b'"');
            }
            _ => {}
        }
        out.push(b'}');
    }
    if ev.kind.is_ad() {
        let ad = ad_profile(seed, ev.aux);
        out.extend_from_slice(b",\"ad\":{\"ad_id\":\"");
        push_ad_id(out, ev.aux);
        out.extend_from_slice(b"\",\"campaign_id\":\"");
        push_campaign_id(out, ad.campaign);
        out.extend_from_slice(b"\",\"position\":\"");
        out.extend_from_slice(AD_POSITIONS[usize::from(ev.ad_pos)].as_bytes());
        out.extend_from_slice(b"\",\"duration_s\":");
        push_u64(out, u64::from(ad.duration_s));
        out.push(b'}');
    }
    if ev.kind == Kind::Error {
        let (code, message) = ERRORS[ev.aux as usize];
        out.extend_from_slice(b",\"error\":{\"code\":");
        push_json_str(out, code);
        out.extend_from_slice(b",\"message\":");
        push_json_str(out, message);
        out.push(b'}');
    }
    match meta.experiment {
        1 => out.extend_from_slice(b",\"experiment\":\"A\""),
        2 => out.extend_from_slice(b",\"experiment\":\"B\""),
        _ => {}
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// CSV

/// One event as a CSV row in `CSV_HEADER`'s 27 columns (no newline); an empty cell is an
/// absent field. CSV has no place for unknown fields, so `experiment` is not written.
pub(super) fn write_csv(out: &mut Vec<u8>, ev: &Event, meta: &SessionMeta, seed: u64, bad: Bad) {
    if bad != Bad::MissingEventId {
        push_uuid(out, ev.id);
    }
    out.push(b',');
    push_event_type(out, ev, bad);
    out.push(b',');
    match bad {
        Bad::Timestamp(v) => push_csv_field(out, BAD_TIMESTAMPS[usize::from(v)]),
        _ if meta.ts_style == TsStyle::EpochMillis => push_i64(out, ev.ts_ms),
        _ => push_ts(out, ev.ts_ms, meta),
    }
    out.push(b',');
    push_user_id(out, meta.user);
    out.push(b',');
    push_uuid(out, meta.id);
    out.push(b',');
    if has_content(ev, bad) {
        push_content_id(out, ev.content);
    }
    out.push(b',');
    match bad {
        Bad::DeviceType(v) => push_csv_field(out, BAD_DEVICE_TYPES[usize::from(v)]),
        _ => out.extend_from_slice(DEVICE_TYPES[usize::from(ev.device.kind)].as_bytes()),
    }
    out.push(b',');
    push_csv_field(out, OSES[usize::from(ev.device.os)].name);
    out.push(b',');
    push_app_version(out, ev.device.app);
    out.push(b',');
    let city = &CITIES[usize::from(meta.city)];
    out.extend_from_slice(city.country.as_bytes());
    out.push(b',');
    out.extend_from_slice(city.region.as_bytes());
    out.push(b',');
    push_csv_field(out, city.name);
    out.push(b',');

    // playback.* (9 columns, each followed by a separator)
    if ev.kind.is_playback() {
        match bad {
            Bad::NegativePosition => {
                out.push(b'-');
                push_ds(out, ev.position_ds.max(15));
            }
            Bad::PositionText(v) => push_csv_field(out, POSITION_TEXTS[usize::from(v)]),
            _ => push_ds(out, ev.position_ds),
        }
        out.push(b',');
        push_u64(out, u64::from(ev.duration_s));
        out.push(b',');
        push_ds(out, ev.watched_ds);
        out.push(b',');
        if has_bitrate(ev.kind) {
            push_u64(out, u64::from(ev.bitrate));
            out.push(b',');
            out.extend_from_slice(RESOLUTIONS[usize::from(ev.res)].as_bytes());
            out.push(b',');
        } else {
            out.extend_from_slice(b",,");
        }
        if ev.kind == Kind::Buffer {
            push_u64(out, u64::from(ev.aux));
        }
        out.push(b',');
        if ev.kind == Kind::Seek {
            push_ds(out, ev.aux);
        }
        out.push(b',');
        if ev.kind == Kind::QualityChange {
            out.extend_from_slice(RESOLUTIONS[usize::from(ev.res_from)].as_bytes());
            out.push(b',');
            out.extend_from_slice(RESOLUTIONS[usize::from(ev.res)].as_bytes());
            out.push(b',');
        } else {
            out.extend_from_slice(b",,");
        }
    } else {
        out.extend_from_slice(b",,,,,,,,,");
    }

    // ad.* (4 columns, each followed by a separator)
    if ev.kind.is_ad() {
        let ad = ad_profile(seed, ev.aux);
        push_ad_id(out, ev.aux);
        out.push(b',');
        push_campaign_id(out, ad.campaign);
        out.push(b',');
        out.extend_from_slice(AD_POSITIONS[usize::from(ev.ad_pos)].as_bytes());
        out.push(b',');
        push_u64(out, u64::from(ad.duration_s));
        out.push(b',');
    } else {
        out.extend_from_slice(b",,,,");
    }

    // error.code, error.message (the last column)
    if ev.kind == Kind::Error {
        let (code, message) = ERRORS[ev.aux as usize];
        push_csv_field(out, code);
        out.push(b',');
        push_csv_field(out, message);
    } else {
        out.push(b',');
    }
}

// ---------------------------------------------------------------------------------------------
// Pieces

fn has_content(ev: &Event, bad: Bad) -> bool {
    ev.content != NO_CONTENT && bad != Bad::MissingContentId
}

fn has_bitrate(kind: Kind) -> bool {
    matches!(kind, Kind::Play | Kind::Heartbeat | Kind::Buffer | Kind::QualityChange)
}

fn push_event_type(out: &mut Vec<u8>, ev: &Event, bad: Bad) {
    match bad {
        Bad::UnknownType(v) => out.extend_from_slice(UNKNOWN_TYPES[usize::from(v)].as_bytes()),
        _ => out.extend_from_slice(ev.kind.name().as_bytes()),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case.
pub(super) fn push_uuid(out: &mut Vec<u8>, id: u128) {
    for (i, b) in id.to_be_bytes().iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn push_user_id(out: &mut Vec<u8>, user: u32) {
    out.push(b'u');
    push_padded(out, u64::from(user) + 1, 6);
}

fn push_content_id(out: &mut Vec<u8>, content: u32) {
    out.push(b'c');
    push_padded(out, u64::from(content) + 1, 5);
}

fn push_ad_id(out: &mut Vec<u8>, ad: u32) {
    out.extend_from_slice(b"ad");
    push_padded(out, u64::from(ad) + 1, 4);
}

fn push_campaign_id(out: &mut Vec<u8>, campaign: u32) {
    out.extend_from_slice(b"cmp");
    push_padded(out, u64::from(campaign) + 1, 3);
}

fn push_app_version(out: &mut Vec<u8>, app: [u8; 3]) {
    push_u64(out, u64::from(app[0]));
    out.push(b'.');
    push_u64(out, u64::from(app[1]));
    out.push(b'.');
    push_u64(out, u64::from(app[2]));
}

pub(super) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0_u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// `v` with at least `width` digits (zero-padded).
pub(super) fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = 1;
    let mut x = v;
    while x >= 10 {
        x /= 10;
        digits += 1;
    }
    for _ in digits..width {
        out.push(b'0');
    }
    push_u64(out, v);
}

/// Tenths of a second as seconds with one decimal: 1234 -> `123.4`.
fn push_ds(out: &mut Vec<u8>, ds: u32) {
    push_u64(out, u64::from(ds / 10));
    out.push(b'.');
    out.push(b'0' + (ds % 10) as u8);
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `event_ts` as RFC 3339 text in the session's style (not `EpochMillis`, which callers write
/// as a number).
fn push_ts(out: &mut Vec<u8>, ts_ms: i64, meta: &SessionMeta) {
    let offset = CITIES[usize::from(meta.city)].offset_min;
    match meta.ts_style {
        TsStyle::UtcMillis => push_rfc3339(out, ts_ms, 0, true, true),
        TsStyle::UtcSeconds => push_rfc3339(out, ts_ms, 0, false, true),
        TsStyle::LocalMillis => push_rfc3339(out, ts_ms, offset, true, false),
        TsStyle::LocalSeconds | TsStyle::EpochMillis => push_rfc3339(out, ts_ms, offset, false, false),
    }
}

/// RFC 3339 local time at `offset_min` for the UTC instant `ts_ms`. Without milliseconds the
/// time is truncated, which never moves an instant onto the previous UTC date.
pub(super) fn push_rfc3339(out: &mut Vec<u8>, ts_ms: i64, offset_min: i32, millis: bool, zulu: bool) {
    let local = ts_ms + i64::from(offset_min) * 60_000;
    let days = local.div_euclid(MS_PER_DAY);
    let ms_of_day = local.rem_euclid(MS_PER_DAY) as u32;
    let (y, m, d) = civil_from_days(days);
    push_padded(out, y.max(0) as u64, 4);
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
    out.push(b'T');
    let secs = ms_of_day / 1_000;
    push2(out, secs / 3_600);
    out.push(b':');
    push2(out, secs / 60 % 60);
    out.push(b':');
    push2(out, secs % 60);
    if millis {
        let ms = ms_of_day % 1_000;
        out.push(b'.');
        out.push(b'0' + (ms / 100) as u8);
        push2(out, ms % 100);
    }
    if zulu {
        out.push(b'Z');
    } else {
        out.push(if offset_min < 0 { b'-' } else { b'+' });
        let a = offset_min.unsigned_abs();
        push2(out, a / 60);
        out.push(b':');
        push2(out, a % 60);
    }
}

/// (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A JSON string literal, escaped.
pub(super) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// A CSV field, quoted per RFC 4180 when it holds a comma, quote or line break.
pub(super) fn push_csv_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}
