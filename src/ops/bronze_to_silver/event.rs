//! One bronze payload -> one typed, flattened silver event, or the reason it cannot be one.
//!
//! This step only decides what a payload *says*: JSON that does not parse, a value of the
//! wrong type (`"position_s": "abc"`) or an event time that cannot be read is rejected here
//! with a rule name (`parse_json`, `parse_utf8`, `parse_event_ts`, `type_<field>`). Everything
//! that is well-formed but wrong (a missing id, an unknown event type, a negative number) is
//! left to the table spec's expectations, which name their own rule. CSV rows carry every
//! cell as text, so for them numbers written as text are read as numbers.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::lake::bronze::read_event_time;

/// A payload's fields, typed as `silver.video_events` declares them. Text borrows from the
/// payload where it can.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypedEvent<'a> {
    pub event_id: Option<Cow<'a, str>>,
    pub event_type: Option<Cow<'a, str>>,
    /// Microseconds since the epoch, UTC.
    pub event_ts: Option<i64>,
    pub event_date: Option<NaiveDate>,
    pub user_id: Option<Cow<'a, str>>,
    pub session_id: Option<Cow<'a, str>>,
    pub content_id: Option<Cow<'a, str>>,
    pub device_type: Option<Cow<'a, str>>,
    pub device_os: Option<Cow<'a, str>>,
    pub device_app_version: Option<Cow<'a, str>>,
    pub geo_country: Option<Cow<'a, str>>,
    pub geo_region: Option<Cow<'a, str>>,
    pub geo_city: Option<Cow<'a, str>>,
    pub position_s: Option<f64>,
    pub duration_s: Option<f64>,
    pub watched_s: Option<f64>,
    pub bitrate_kbps: Option<i64>,
    pub resolution: Option<Cow<'a, str>>,
    pub buffer_ms: Option<i64>,
    pub seek_from_s: Option<f64>,
    pub quality_from: Option<Cow<'a, str>>,
    pub quality_to: Option<Cow<'a, str>>,
    pub ad_id: Option<Cow<'a, str>>,
    pub campaign_id: Option<Cow<'a, str>>,
    pub ad_position: Option<Cow<'a, str>>,
    pub ad_duration_s: Option<f64>,
    pub error_code: Option<Cow<'a, str>>,
    pub error_message: Option<Cow<'a, str>>,
}

/// Why a payload cannot become a silver event.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub rule: String,
    pub reason: String,
}

fn reject(rule: impl Into<String>, reason: impl Into<String>) -> Rejection {
    Rejection { rule: rule.into(), reason: reason.into() }
}

/// Read one payload. `text_numbers`: numbers may be written as text (CSV rows).
/// `original_bytes`: set when the payload was not valid UTF-8 (it is then rejected).
pub fn parse_event(payload: &str, original_bytes: bool, text_numbers: bool) -> Result<TypedEvent<'_>, Rejection> {
    if original_bytes {
        return Err(reject("parse_utf8", "payload is not valid UTF-8"));
    }
    if !text_numbers {
        if let Some(e) = fast::parse(payload) {
            return Ok(e);
        }
    }
    parse_slow(payload, text_numbers)
}

/// The general reader: any JSON value, exact rejection reasons.
pub(crate) fn parse_slow(payload: &str, text_numbers: bool) -> Result<TypedEvent<'static>, Rejection> {
    let value: Value = match serde_json::from_str(payload) {
        Ok(v) => v,
        // Valid JSON whose number is beyond f64 (`1e999`): the fast reader skips such a value in
        // a field silver ignores, so the general reader must read the payload too (the fuzz
        // harness found the two disagreeing). The number reads as the largest finite double,
        // which the range rules quarantine where silver types the field.
        Err(e) if e.to_string().starts_with("number out of range") => serde_json::from_str(&clamp_huge_numbers(payload))
            .map_err(|e| reject("parse_json", format!("malformed JSON: {e}")))?,
        Err(e) => return Err(reject("parse_json", format!("malformed JSON: {e}"))),
    };
    let Value::Object(root) = value else {
        return Err(reject("parse_json", "payload is not a JSON object"));
    };
    let reader = Reader { text_numbers };
    let mut e = TypedEvent {
        event_id: reader.string(&root, "", "event_id")?,
        event_type: reader.string(&root, "", "event_type")?,
        user_id: reader.string(&root, "", "user_id")?,
        session_id: reader.string(&root, "", "session_id")?,
        content_id: reader.string(&root, "", "content_id")?,
        ..Default::default()
    };
    match root.get("event_ts") {
        None | Some(Value::Null) => {}
        Some(ts) => {
            let t = read_event_time(ts, text_numbers).map_err(|reason| reject("parse_event_ts", reason))?;
            e.event_ts = Some(t.timestamp_micros());
            e.event_date = Some(t.date_naive());
        }
    }
    let device = reader.object(&root, "device")?;
    if let Some(d) = device {
        e.device_type = reader.string(d, "device.", "type")?;
        e.device_os = reader.string(d, "device.", "os")?;
        e.device_app_version = reader.string(d, "device.", "app_version")?;
    }
    if let Some(g) = reader.object(&root, "geo")? {
        e.geo_country = reader.string(g, "geo.", "country")?;
        e.geo_region = reader.string(g, "geo.", "region")?;
        e.geo_city = reader.string(g, "geo.", "city")?;
    }
    if let Some(p) = reader.object(&root, "playback")? {
        e.position_s = reader.number(p, "playback.", "position_s")?;
        e.duration_s = reader.number(p, "playback.", "duration_s")?;
        e.watched_s = reader.number(p, "playback.", "watched_s")?;
        e.bitrate_kbps = reader.integer(p, "playback.", "bitrate_kbps")?;
        e.resolution = reader.string(p, "playback.", "resolution")?;
        e.buffer_ms = reader.integer(p, "playback.", "buffer_ms")?;
        e.seek_from_s = reader.number(p, "playback.", "seek_from_s")?;
        e.quality_from = reader.string(p, "playback.", "quality_from")?;
        e.quality_to = reader.string(p, "playback.", "quality_to")?;
    }
    if let Some(a) = reader.object(&root, "ad")? {
        e.ad_id = reader.string(a, "ad.", "ad_id")?;
        e.campaign_id = reader.string(a, "ad.", "campaign_id")?;
        e.ad_position = reader.string(a, "ad.", "position")?;
        e.ad_duration_s = reader.number(a, "ad.", "duration_s")?;
    }
    if let Some(x) = reader.object(&root, "error")? {
        e.error_code = reader.string(x, "error.", "code")?;
        e.error_message = reader.string(x, "error.", "message")?;
    }
    Ok(e)
}

/// The common case, several times faster: a well-formed event whose fields all have their
/// contract types, read straight into the typed fields without building a JSON tree. Any
/// deviation (a wrong type, a duplicate key, an unreadable time, ...) returns None and the
/// general reader decides, so both give the same event for every payload this accepts.
pub(crate) mod fast {
    use std::borrow::Cow;

    use chrono::DateTime;
    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};

    use super::{TypedEvent, has_surrogate_escape};

    type S<'a> = Option<Cow<'a, str>>;

    /// `Option<Cow<str>>` that borrows from the payload when the text has no escapes
    /// (serde's `borrow` does not reach through the Option on its own).
    fn text_field<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<S<'a>, D::Error> {
        #[derive(Deserialize)]
        struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
        Option::<Text<'a>>::deserialize(d).map(|t| t.map(|t| t.0))
    }

    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(borrow, default, deserialize_with = "text_field")]
        event_id: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        event_type: S<'a>,
        #[serde(default)]
        event_ts: Option<Ts>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        user_id: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        session_id: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        content_id: S<'a>,
        #[serde(borrow, default)]
        device: Option<MapOnly<Device<'a>>>,
        #[serde(borrow, default)]
        geo: Option<MapOnly<Geo<'a>>>,
        #[serde(borrow, default)]
        playback: Option<MapOnly<Playback<'a>>>,
        #[serde(borrow, default)]
        ad: Option<MapOnly<Ad<'a>>>,
        #[serde(borrow, default)]
        error: Option<MapOnly<ErrorInfo<'a>>>,
    }

    #[derive(Deserialize)]
    struct Device<'a> {
        #[serde(borrow, default, rename = "type", deserialize_with = "text_field")]
        kind: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        os: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        app_version: S<'a>,
    }

    #[derive(Deserialize)]
    struct Geo<'a> {
        #[serde(borrow, default, deserialize_with = "text_field")]
        country: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        region: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        city: S<'a>,
    }

    #[derive(Deserialize)]
    struct Playback<'a> {
        #[serde(default)]
        position_s: Option<f64>,
        #[serde(default)]
        duration_s: Option<f64>,
        #[serde(default)]
        watched_s: Option<f64>,
        #[serde(default)]
        bitrate_kbps: Option<f64>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        resolution: S<'a>,
        #[serde(default)]
        buffer_ms: Option<f64>,
        #[serde(default)]
        seek_from_s: Option<f64>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        quality_from: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        quality_to: S<'a>,
    }

    #[derive(Deserialize)]
    struct Ad<'a> {
        #[serde(borrow, default, deserialize_with = "text_field")]
        ad_id: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        campaign_id: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        position: S<'a>,
        #[serde(default)]
        duration_s: Option<f64>,
    }

    #[derive(Deserialize)]
    struct ErrorInfo<'a> {
        #[serde(borrow, default, deserialize_with = "text_field")]
        code: S<'a>,
        #[serde(borrow, default, deserialize_with = "text_field")]
        message: S<'a>,
    }

    /// A nested object, and only an object: a derived struct would also read a JSON array
    /// positionally, which the general reader rejects.
    struct MapOnly<T>(T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = T;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                    T::deserialize(de::value::MapAccessDeserializer::new(map))
                }
            }
            d.deserialize_map(V(std::marker::PhantomData)).map(MapOnly)
        }
    }

    /// `event_ts`: a string (RFC 3339) or an integer (epoch milliseconds), nothing else.
    enum Ts {
        Text(String),
        Millis(i64),
    }

    impl<'de> Deserialize<'de> for Ts {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Ts;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string or an integer")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Ts, E> {
                    Ok(Ts::Text(v.to_string()))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ts, E> {
                    Ok(Ts::Millis(v))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                    i64::try_from(v).map(Ts::Millis).map_err(|_| E::custom("out of range"))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn text(v: S<'_>) -> S<'_> {
        v.filter(|s| !s.is_empty())
    }

    /// The general reader's whole-number rule: None (let it reject) when not whole.
    fn whole(v: Option<f64>) -> Result<Option<i64>, ()> {
        match v {
            None => Ok(None),
            Some(x) if x.fract() == 0.0 && x.abs() <= 9.0e15 => Ok(Some(x as i64)),
            Some(_) => Err(()),
        }
    }

    pub(crate) fn parse(payload: &str) -> Option<TypedEvent<'_>> {
        // serde skips an ignored field's `\u` escapes without checking surrogates (a lone
        // `\ud800`), which the general reader refuses: with any surrogate escape the general
        // reader decides (found by the fuzz harness). Other escapes stay on the fast path.
        if has_surrogate_escape(payload) {
            return None;
        }
        // A struct would also accept a JSON array positionally: only objects are events.
        if !payload.trim_start().starts_with('{') {
            return None;
        }
        let raw: Event = serde_json::from_str(payload).ok()?;
        let mut e = TypedEvent {
            event_id: text(raw.event_id),
            event_type: text(raw.event_type),
            user_id: text(raw.user_id),
            session_id: text(raw.session_id),
            content_id: text(raw.content_id),
            ..Default::default()
        };
        if let Some(ts) = raw.event_ts {
            let t = match ts {
                Ts::Text(s) => DateTime::parse_from_rfc3339(&s).ok()?.with_timezone(&chrono::Utc),
                Ts::Millis(ms) => DateTime::from_timestamp_millis(ms)?,
            };
            e.event_ts = Some(t.timestamp_micros());
            e.event_date = Some(t.date_naive());
        }
        if let Some(MapOnly(d)) = raw.device {
            e.device_type = text(d.kind);
            e.device_os = text(d.os);
            e.device_app_version = text(d.app_version);
        }
        if let Some(MapOnly(g)) = raw.geo {
            e.geo_country = text(g.country);
            e.geo_region = text(g.region);
            e.geo_city = text(g.city);
        }
        if let Some(MapOnly(p)) = raw.playback {
            e.position_s = p.position_s;
            e.duration_s = p.duration_s;
            e.watched_s = p.watched_s;
            e.bitrate_kbps = whole(p.bitrate_kbps).ok()?;
            e.resolution = text(p.resolution);
            e.buffer_ms = whole(p.buffer_ms).ok()?;
            e.seek_from_s = p.seek_from_s;
            e.quality_from = text(p.quality_from);
            e.quality_to = text(p.quality_to);
        }
        if let Some(MapOnly(a)) = raw.ad {
            e.ad_id = text(a.ad_id);
            e.campaign_id = text(a.campaign_id);
            e.ad_position = text(a.position);
            e.ad_duration_s = a.duration_s;
        }
        if let Some(MapOnly(x)) = raw.error {
            e.error_code = text(x.code);
            e.error_message = text(x.message);
        }
        Some(e)
    }
}

struct Reader {
    text_numbers: bool,
}

impl Reader {
    fn object<'a>(&self, m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, Rejection> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(other) => Err(wrong_type("", key, "an object", other)),
        }
    }

    fn string(&self, m: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<Cow<'static, str>>, Rejection> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Owned(s.clone()))),
            // Codes and versions are sometimes sent as numbers; their text is unambiguous.
            Some(Value::Number(n)) if matches!(key, "code" | "app_version" | "resolution") => Ok(Some(Cow::Owned(n.to_string()))),
            Some(other) => Err(wrong_type(prefix, key, "a string", other)),
        }
    }

    fn number(&self, m: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<f64>, Rejection> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if self.text_numbers && s.is_empty() => Ok(None),
            Some(Value::String(s)) if self.text_numbers => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(wrong_type(prefix, key, "a number", &Value::String(s.clone()))),
            },
            Some(other) => Err(wrong_type(prefix, key, "a number", other)),
        }
    }

    fn integer(&self, m: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<i64>, Rejection> {
        let Some(v) = self.number(m, prefix, key)? else { return Ok(None) };
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            return Err(reject(format!("type_{key}"), format!("{prefix}{key} {v} is not a whole number")));
        }
        Ok(Some(v as i64))
    }
}

/// Whether `payload` holds a `\uD800`..`\uDFFF` escape (half of a surrogate pair).
fn has_surrogate_escape(payload: &str) -> bool {
    let b = payload.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        w[0] == b'\\' && w[1] == b'u' && (w[2] | 0x20) == b'd' && matches!(w[3] | 0x20, b'8'..=b'9' | b'a'..=b'f') && (i == 0 || b[i - 1] != b'\\')
    })
}

/// `payload` with every number outside f64's range (outside strings) replaced by the largest
/// finite double of its sign.
fn clamp_huge_numbers(payload: &str) -> String {
    let bytes = payload.as_bytes();
    let mut out = String::with_capacity(payload.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                let token = &payload[start..i];
                if token.parse::<f64>().is_ok_and(f64::is_infinite) {
                    out.push_str(&payload[copied..start]);
                    out.push_str(if token.starts_with('-') { "-1.7976931348623157e308" } else { "1.7976931348623157e308" });
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&payload[copied.min(payload.len())..]);
    out
}

fn wrong_type(prefix: &str, key: &str, expected: &str, got: &Value) -> Rejection {
    let shown = got.to_string();
    let shown = if shown.len() > 60 { format!("{}...", &shown[..shown.char_indices().nth(57).map_or(shown.len(), |(i, _)| i)]) } else { shown };
    reject(format!("type_{key}"), format!("{prefix}{key} must be {expected}, got {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz harness: a number beyond f64 in a field silver ignores made the fast
    /// reader accept and the general reader reject the same payload. Both now read it; in a
    /// typed field it becomes the largest double, which the range rules quarantine.
    #[test]
    fn a_number_beyond_f64_reads_the_same_in_both_readers() {
        let p = r#"{"event_id":"e","event_type":"play","event_ts":"2025-01-01T00:00:00Z","extra":{"x":1e999,"s":"1e999 \" -2e400"},"y":-1e400}"#;
        let general = parse_slow(p, false).expect("the general reader reads it");
        assert_eq!(fast::parse(p), Some(general.clone()), "the fast reader gives the same event");
        assert_eq!(general.event_id.as_deref(), Some("e"));
        let typed = parse_event(r#"{"event_id":"e","event_ts":"2025-01-01T00:00:00Z","playback":{"position_s":1e999}}"#, false, false).unwrap();
        assert_eq!(typed.position_s, Some(f64::MAX));
        // A lone surrogate escape in an ignored field: both readers refuse it alike.
        let lone = r#"{"event_id":"e","event_ts":"2025-01-01T00:00:00Z"," x":"a\ud800b"}"#;
        assert_eq!(fast::parse(lone), None);
        assert_eq!(parse_event(lone, false, false).unwrap_err().rule, "parse_json");
        assert_eq!(clamp_huge_numbers(r#"{"a":"1e999","b":1e999,"c":1.5}"#), r#"{"a":"1e999","b":1.7976931348623157e308,"c":1.5}"#);
    }

    fn ok(payload: &str) -> TypedEvent<'_> {
        parse_event(payload, false, false).unwrap_or_else(|r| panic!("{payload}: {r:?}"))
    }

    fn rejected(payload: &str) -> Rejection {
        parse_event(payload, false, false).expect_err(payload)
    }

    #[test]
    fn a_full_event_is_flattened_and_typed() {
        let e = ok(r#"{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T23:30:00-05:00","user_id":"u1","session_id":"s1","content_id":"c1",
            "device":{"type":"smart_tv","os":"tizen","app_version":"5.1"},"geo":{"country":"US","region":"NY","city":"New York"},
            "playback":{"position_s":12.5,"duration_s":3600,"watched_s":10,"bitrate_kbps":4500,"resolution":"1080p","buffer_ms":0},
            "experiment":"A"}"#);
        assert_eq!(e.event_id.as_deref(), Some("e1"));
        assert_eq!(e.event_date, NaiveDate::from_ymd_opt(2025, 1, 2), "23:30-05:00 is the next UTC day");
        assert_eq!(e.event_ts, Some(1_735_792_200_000_000));
        assert_eq!((e.device_type.as_deref(), e.geo_city.as_deref()), (Some("smart_tv"), Some("New York")));
        assert_eq!((e.position_s, e.duration_s, e.bitrate_kbps, e.buffer_ms), (Some(12.5), Some(3600.0), Some(4500), Some(0)));
        let ms = ok(r#"{"event_ts":1735689600000}"#);
        assert_eq!(ms.event_date, NaiveDate::from_ymd_opt(2025, 1, 1));
    }

    #[test]
    fn malformed_and_mistyped_payloads_are_rejected_with_their_rule() {
        assert_eq!(rejected("{not json").rule, "parse_json");
        assert_eq!(rejected("[1]").rule, "parse_json");
        assert_eq!(rejected(r#"{"event_ts":"yesterday"}"#).rule, "parse_event_ts");
        let r = rejected(r#"{"playback":{"position_s":"abc"}}"#);
        assert_eq!((r.rule.as_str(), r.reason.as_str()), ("type_position_s", r#"playback.position_s must be a number, got "abc""#));
        assert_eq!(rejected(r#"{"user_id":42}"#).rule, "type_user_id");
        assert_eq!(rejected(r#"{"device":"tv"}"#).rule, "type_device");
        assert_eq!(rejected(r#"{"playback":{"buffer_ms":1.5}}"#).rule, "type_buffer_ms");
        assert_eq!(parse_event("{}", true, false).unwrap_err().rule, "parse_utf8");
    }

    #[test]
    fn well_formed_but_wrong_values_are_left_to_the_expectations() {
        let e = ok(r#"{"event_type":"teleport","playback":{"position_s":-3}}"#);
        assert_eq!((e.event_id, e.event_type.as_deref(), e.position_s), (None, Some("teleport"), Some(-3.0)));
    }

    /// The fast reader gives exactly what the general reader gives, or leaves it to it.
    #[test]
    fn the_fast_reader_agrees_with_the_general_reader() {
        let payloads = [
            r#"{"event_id":"e1","event_type":"play","event_ts":"2025-01-01T23:30:00-05:00","user_id":"u1","session_id":"s1","content_id":"c1","device":{"type":"smart_tv","os":"tizen","app_version":"5.1"},"geo":{"country":"US","region":"NY","city":"New York"},"playback":{"position_s":12.5,"duration_s":3600,"watched_s":10,"bitrate_kbps":4500,"resolution":"1080p","buffer_ms":0,"seek_from_s":3,"quality_from":"720p","quality_to":"1080p"},"experiment":{"a":[1,{"b":null}]}}"#,
            r#"{"event_id":"e\u00e9\n","event_ts":1735689600000,"ad":{"ad_id":"a","campaign_id":"k","position":"preroll","duration_s":15},"error":{"code":"E1","message":""}}"#,
            r#"{"event_id":"","user_id":null,"device":null,"playback":{"bitrate_kbps":4500.0,"buffer_ms":-3}}"#,
            r#"{"playback":{"bitrate_kbps":1.5}}"#,
            r#"{"playback":{"position_s":"abc"}}"#,
            r#"{"error":{"code":42}}"#,
            r#"{"device":{"app_version":5}}"#,
            r#"{"event_ts":"yesterday"}"#,
            r#"{"event_ts":1.5}"#,
            r#"{"event_ts":99999999999999999999}"#,
            r#"{"event_ts":true}"#,
            r#"{"event_id":"a","event_id":"b"}"#,
            r#"["e1","play"]"#,
            r#"  {"event_id":"x"}  "#,
            r#"{"event_id":"x"} trailing"#,
            r#"{"device":"tv"}"#,
            r#"{"event_id":"e1","device":["smart_tv","ios","5"]}"#,
            r#"{"playback":[]}"#,
            r#"{"geo":["US"],"ad":[1],"error":["E"]}"#,
            "{not json",
            "",
        ];
        for p in payloads {
            let general = parse_slow(p, false);
            match fast::parse(p) {
                Some(e) => assert_eq!(Ok(e), general, "{p}"),
                None => {}
            }
            assert_eq!(parse_event(p, false, false), general, "{p}");
        }
        assert!(fast::parse(payloads[0]).is_some() && fast::parse(payloads[1]).is_some(), "the common case takes the fast path");
    }

    #[test]
    fn csv_rows_read_numbers_written_as_text() {
        let e = parse_event(r#"{"event_ts":"1735689600000","playback":{"position_s":"12.5","bitrate_kbps":"800"}}"#, false, true).unwrap();
        assert_eq!((e.position_s, e.bitrate_kbps, e.event_date), (Some(12.5), Some(800), NaiveDate::from_ymd_opt(2025, 1, 1)));
        let r = parse_event(r#"{"playback":{"position_s":"abc"}}"#, false, true).unwrap_err();
        assert_eq!(r.rule, "type_position_s");
    }
}

