//! The session payload a cookie codec seals: `[accessed, created, state]` as JSON, as
//! Pyramid's `JSONSerializer` writes it. Codecs see only its bytes; this module reads and
//! writes it.
//!
//! Parsing splits the state into per-key raw JSON slices without building a
//! `serde_json::Value` tree: a request decodes only the keys it touches, and a save copies
//! the others back byte for byte.

use std::cell::Cell;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::Rejection;

/// How a cookie factory turns a session into payload bytes and back.
///
/// The default is JSON, as Pyramid 2's own factories write. [`Pickle`](Self::Pickle) is for
/// sharing sessions with an app whose factory pickles (`pyramid_nacl_session` does by
/// default); see [`pickle`](crate::pickle) for what is read, what is refused and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Serializer {
    /// UTF-8 JSON of `[accessed, created, state]` (Pyramid's `JSONSerializer`).
    #[default]
    Json,
    /// `pickle.dumps((accessed, created, state))` (Pyramid's `PickleSerializer`), read by
    /// the strict [`pickle::loads`](crate::pickle::loads) and written by
    /// [`pickle::dumps`](crate::pickle::dumps): data only, protocol 4. A JSON payload
    /// (a cookie from before the switch) still loads, and is saved as a pickle.
    Pickle,
}

/// The two times a session carries from request to request, in its cookie's payload or its
/// store's record, in Unix seconds. Named fields, because both are `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timestamps {
    /// When the session was last accessed, as of the cookie or record being written.
    pub accessed: f64,
    /// When the session was created.
    pub created: f64,
}

/// A parsed payload whose state values are byte ranges into the payload text.
#[derive(Debug, PartialEq)]
pub(crate) struct RawPayload {
    pub times: Timestamps,
    /// Keys in the order they arrived; a key that repeats keeps its first place and its last
    /// value, as Python's `json.loads` does.
    pub entries: Vec<(Key, Range<usize>)>,
}

/// A state key: where it stands in the payload when its JSON has no escapes (the common
/// case, and no allocation), or its unescaped text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Source(Range<usize>),
    Owned(Box<str>),
}

/// Where in the payload a parse error happened, so a serde "invalid type" error maps to the
/// part of the payload that had the wrong shape.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Outer,
    Timestamp,
    State,
}

pub(crate) mod pickled;
mod scan;

/// Parses a payload. Never panics; the nesting depth is bounded by serde_json's recursion
/// limit, so a hostile payload fails fast instead of exhausting the stack.
///
/// A payload of the common shape is split by a one-pass scanner; anything else (an error, an
/// escaped key, a rare timestamp) goes through serde_json, which decides.
pub(crate) fn parse(text: &str) -> Result<RawPayload, Rejection> {
    match scan::split(text) {
        Some(payload) => Ok(payload),
        None => parse_with_serde(text),
    }
}

/// The reference parse, through serde_json: every payload the scanner declines.
fn parse_with_serde(text: &str) -> Result<RawPayload, Rejection> {
    let stage = Cell::new(Stage::Outer);
    let mut de = serde_json::Deserializer::from_str(text);
    let result = PayloadSeed {
        text,
        stage: &stage,
    }
    .deserialize(&mut de)
    .and_then(|payload| de.end().map(|()| payload));
    let payload = result.map_err(|err| match err.classify() {
        serde_json::error::Category::Data => match stage.get() {
            Stage::Outer => Rejection::NotArray,
            Stage::Timestamp => Rejection::BadTimestamp,
            Stage::State => Rejection::StateNotObject,
        },
        _ => Rejection::NotJson,
    })?;
    if nests_deeper_than(text.as_bytes(), MAX_DEPTH) {
        return Err(Rejection::NotJson);
    }
    Ok(payload)
}

/// serde_json's recursion limit. Raw slices are captured without it, so the payload is
/// checked against it once here: every value it holds then decodes without hitting it.
const MAX_DEPTH: usize = 128;

/// Whether well-formed JSON nests arrays and objects deeper than `limit`.
fn nests_deeper_than(json: &[u8], limit: usize) -> bool {
    // Fast path: fewer openers than the limit cannot nest past it.
    // Branch-free so it vectorizes: this runs over every payload.
    let openers: usize = json
        .iter()
        .map(|&b| usize::from((b == b'[') | (b == b'{')))
        .sum();
    if openers <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    false
}

struct PayloadSeed<'s> {
    text: &'s str,
    stage: &'s Cell<Stage>,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = RawPayload;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawPayload, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = RawPayload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [accessed, created, state]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPayload, A::Error> {
        self.stage.set(Stage::Timestamp);
        let accessed = seq.next_element::<IntOrFloat>()?;
        let created = seq.next_element::<IntOrFloat>()?;
        self.stage.set(Stage::State);
        let entries = seq.next_element_seed(StateSeed { text: self.text })?;
        self.stage.set(Stage::Outer);
        let (Some(accessed), Some(created), Some(entries)) = (accessed, created, entries) else {
            return Err(de::Error::invalid_length(2, &self));
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &self));
        }
        Ok(RawPayload {
            times: Timestamps {
                accessed: accessed.0,
                created: created.0,
            },
            entries,
        })
    }
}

/// Pyramid writes `accessed` as an int and `created` as a float; either is accepted.
struct IntOrFloat(f64);

impl<'de> serde::Deserialize<'de> for IntOrFloat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrFloatVisitor;
        impl Visitor<'_> for IntOrFloatVisitor {
            type Value = IntOrFloat;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Unix timestamp")
            }
            fn visit_u64<E>(self, v: u64) -> Result<IntOrFloat, E> {
                Ok(IntOrFloat(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<IntOrFloat, E> {
                Ok(IntOrFloat(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<IntOrFloat, E> {
                Ok(IntOrFloat(v))
            }
        }
        deserializer.deserialize_any(IntOrFloatVisitor)
    }
}

struct StateSeed<'s> {
    text: &'s str,
}

impl<'de> DeserializeSeed<'de> for StateSeed<'_> {
    type Value = Vec<(Key, Range<usize>)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StateSeed<'_> {
    type Value = Vec<(Key, Range<usize>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The payload is at most a few KiB, so the hint is small; cap it all the same.
        let mut entries: Vec<(Key, Range<usize>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        let base = self.text.as_ptr() as usize;
        while let Some(key) = map.next_key_seed(KeySeed { base })? {
            let raw: &RawValue = map.next_value()?;
            let start = raw.get().as_ptr() as usize - base;
            let range = start..start + raw.get().len();
            // Few keys: find a repeat as they come. Past that, `dedup` finds them at once.
            if entries.len() < DEDUP_AT_END_FROM {
                let name = key_text(self.text, &key);
                if let Some(entry) = entries
                    .iter_mut()
                    .find(|(k, _)| key_text(self.text, k) == name)
                {
                    entry.1 = range;
                    continue;
                }
            }
            entries.push((key, range));
        }
        if entries.len() > DEDUP_AT_END_FROM {
            dedup(self.text, &mut entries);
        }
        Ok(entries)
    }
}

/// The number of keys past which repeated keys are found with a hash set after the parse,
/// not by a search per key (which would make a large state quadratic).
const DEDUP_AT_END_FROM: usize = 16;

/// Keeps the first place and the last value of each repeated key.
fn dedup(text: &str, entries: &mut Vec<(Key, Range<usize>)>) {
    let mut first = std::collections::HashMap::with_capacity(entries.len());
    let mut repeats = Vec::new();
    for (i, (key, _)) in entries.iter().enumerate() {
        if let Some(&at) = first.get(key_text(text, key)) {
            repeats.push((at, i));
        } else {
            first.insert(key_text(text, key), i);
        }
    }
    drop(first);
    if repeats.is_empty() {
        return;
    }
    let mut later = vec![false; entries.len()];
    for &(at, i) in &repeats {
        entries[at].1 = entries[i].1.clone();
        later[i] = true;
    }
    let mut i = 0;
    entries.retain(|_| {
        i += 1;
        !later[i - 1]
    });
}

/// The text of a key of a payload parsed from `text`.
pub(crate) fn key_text<'a>(text: &'a str, key: &'a Key) -> &'a str {
    match key {
        Key::Source(range) => &text[range.clone()],
        Key::Owned(key) => key,
    }
}

/// Reads an object key as a range of the payload when serde_json can lend it (no escapes).
struct KeySeed {
    base: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key, E> {
        let start = key.as_ptr() as usize - self.base;
        Ok(Key::Source(start..start + key.len()))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(Key::Owned(key.into()))
    }
}

/// The payload `[accessed, created, state]`, where `write_state` appends the state object.
/// `state_len` is a guess of the state's length, for the allocation.
pub(crate) fn write<E>(
    times: Timestamps,
    state_len: usize,
    write_state: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let mut out = Vec::with_capacity(state_len + 48);
    out.push(b'[');
    write_timestamp(&mut out, times.accessed);
    out.push(b',');
    write_timestamp(&mut out, times.created);
    out.push(b',');
    write_state(&mut out)?;
    out.push(b']');
    Ok(out)
}

/// Appends a timestamp the way Python prints it: whole numbers as integers, others in the
/// shortest form that reads back to the same float.
fn write_timestamp(out: &mut Vec<u8>, t: f64) {
    const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53
    if t.fract() == 0.0 && t.abs() < EXACT_INT {
        let _ = serde_json::to_writer(&mut *out, &(t as i64));
    } else if t.is_finite() {
        // serde_json writes finite floats with ryu: the shortest round-trip form.
        let _ = serde_json::to_writer(&mut *out, &t);
    } else {
        out.push(b'0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice<'a>(text: &'a str, p: &RawPayload, i: usize) -> &'a str {
        &text[p.entries[i].1.clone()]
    }

    /// Where the scanner accepts a payload, serde_json finds the same timestamps, keys and
    /// ranges: checked on payloads and on every one-byte deletion, replacement and insertion
    /// of them with the bytes that matter to JSON.
    #[test]
    fn the_scanner_agrees_with_serde_json_where_it_accepts() {
        fn check(bytes: &[u8]) -> bool {
            let Ok(text) = std::str::from_utf8(bytes) else {
                return false;
            };
            let Some(fast) = scan::split(text) else {
                return false;
            };
            assert_eq!(Ok(fast), parse_with_serde(text), "payload {text:?}");
            true
        }
        let seeds = [
            r#"[1700000000, 1699999999.5, {"a": [1, 2], "b": {"c": "é"}}]"#,
            r#"[1,2,{"user_id":48213,"views":17,"_csrft_":"0a1b","_f_success":["Welcome!"],"cart":[{"sku":"SKU-00000","qty":1,"price_cents":199}]}]"#,
            r#" [ -1.5e3 , 0 , { "x" : [ true , false , null , -0.0 , 1E+2 , "\"\\\/\b\f\n\r\t\u00e9" ] , "y" : { } , "z" : [ ] , "x" : {"k\u0041": 1} } ] "#,
            "[1,2,{}]",
            r#"[1,2,{"a":[{"b":[[{}],{"c":[]}]},[]],"d":{"e":{"f":[1,{"g":"h"}]}}}]"#,
            "[100000000000000000000, 1e400, {\"n\": 1e400}]",
        ];
        let bytes_that_matter = b"[]{}\",:\\ -+.eE019tfnu\x01\x7fa";
        let mut accepted = 0;
        for seed in seeds {
            let seed = seed.as_bytes();
            accepted += usize::from(check(seed));
            for i in 0..=seed.len() {
                for &b in bytes_that_matter {
                    let mut m = seed.to_vec();
                    m.insert(i, b);
                    accepted += usize::from(check(&m));
                    if i < seed.len() {
                        m.remove(i);
                        m[i] = b;
                        accepted += usize::from(check(&m));
                    }
                }
                if i < seed.len() {
                    let mut m = seed.to_vec();
                    m.remove(i);
                    accepted += usize::from(check(&m));
                }
            }
        }
        assert!(accepted > 1000, "the scanner took {accepted} mutants");
        for seed in &seeds[..5] {
            assert!(
                scan::split(seed).is_some(),
                "the common shape is scanned: {seed}"
            );
        }
    }

    #[test]
    fn splits_state_into_raw_slices() {
        let text = r#"[1700000000, 1699999999.5, {"a": [1, 2], "b": {"c": "é"}}]"#;
        let p = parse(text).unwrap();
        assert_eq!(p.times.accessed, 1_700_000_000.0);
        assert_eq!(p.times.created, 1_699_999_999.5);
        assert_eq!(key_text(text, &p.entries[0].0), "a");
        assert_eq!(slice(text, &p, 0), "[1, 2]");
        assert_eq!(key_text(text, &p.entries[1].0), "b");
        assert_eq!(slice(text, &p, 1), r#"{"c": "é"}"#);
    }

    #[test]
    fn repeated_key_keeps_first_place_and_last_value() {
        let text = r#"[1, 1, {"a": 1, "b": 2, "a": 3}]"#;
        let p = parse(text).unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(key_text(text, &p.entries[0].0), "a");
        assert_eq!(&text[p.entries[0].1.clone()], "3");
    }

    #[test]
    fn repeated_keys_in_a_large_state_keep_first_place_and_last_value() {
        let mut state: Vec<String> = (0..40).map(|i| format!(r#""k{i}": {i}"#)).collect();
        state.push(r#""k3": "again""#.to_owned());
        state.push(r#""k30": "again""#.to_owned());
        state.push(r#""k3": "last""#.to_owned());
        let text = format!("[1, 1, {{{}}}]", state.join(", "));
        let p = parse(&text).unwrap();
        assert_eq!(p.entries.len(), 40);
        let at = |i: usize| {
            (
                key_text(&text, &p.entries[i].0),
                &text[p.entries[i].1.clone()],
            )
        };
        assert_eq!(at(3), ("k3", r#""last""#));
        assert_eq!(at(30), ("k30", r#""again""#));
        assert_eq!(at(39), ("k39", "39"));
    }

    #[test]
    fn classifies_each_bad_shape() {
        let cases = [
            ("", Rejection::NotJson),
            ("[1, 2, {}", Rejection::NotJson),
            ("{}", Rejection::NotArray),
            ("\"abc\"", Rejection::NotArray),
            ("[1, 2]", Rejection::NotArray),
            ("[1, 2, {}, 4]", Rejection::NotArray),
            ("[\"1\", 2, {}]", Rejection::BadTimestamp),
            ("[1, null, {}]", Rejection::BadTimestamp),
            ("[1, 2, []]", Rejection::StateNotObject),
            ("[1, 2, \"x\"]", Rejection::StateNotObject),
            ("[1, 2, {}] x", Rejection::NotJson),
            ("[1, 2, {\"a\": NaN}]", Rejection::NotJson),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "payload {text:?}");
        }
    }

    #[test]
    fn escaped_keys_are_unescaped_and_match_their_plain_spelling() {
        let text = r#"[1, 1, {"caf\u00e9": 1, "café": 2, "plain": 3}]"#;
        let p = parse(text).unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].0, Key::Owned("café".into()));
        assert_eq!(&text[p.entries[0].1.clone()], "2");
        assert!(matches!(p.entries[1].0, Key::Source(_)));
    }

    #[test]
    fn deep_nesting_fails_fast() {
        let depth = 10_000;
        let text = format!(
            "[1, 2, {{\"a\": {}{}}}]",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(parse(&text).unwrap_err(), Rejection::NotJson);
    }

    #[test]
    fn nesting_up_to_the_limit_loads_and_decodes() {
        let depth = MAX_DEPTH - 2;
        let text = format!(
            "[1, 2, {{\"a\": {}{}}}]",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let p = parse(&text).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text[p.entries[0].1.clone()]).unwrap();
        assert!(value.is_array());
        let strings = format!(
            "[1, 2, {{\"a\": \"{}\\\"{}\"}}]",
            "[".repeat(500),
            "{".repeat(500)
        );
        assert!(
            parse(&strings).is_ok(),
            "brackets inside strings do not nest"
        );
    }

    #[test]
    fn written_payloads_parse_back() {
        let times = Timestamps {
            accessed: 1_700_000_000.0,
            created: 1_699_999_999.5,
        };
        let text = write(times, 8, |out| {
            out.extend_from_slice(br#"{"a": 1}"#);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(text, br#"[1700000000,1699999999.5,{"a": 1}]"#);
        let p = parse(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(p.times, times);
    }

    #[test]
    fn timestamps_print_like_python() {
        let mut out = Vec::new();
        write_timestamp(&mut out, 1_700_000_000.0);
        out.push(b' ');
        write_timestamp(&mut out, 1_700_000_000.123_456_7);
        out.push(b' ');
        write_timestamp(&mut out, -5.0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1700000000 1700000000.1234567 -5"
        );
    }
}
