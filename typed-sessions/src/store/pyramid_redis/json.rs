//! The JSON serializer: the payload as UTF-8 JSON, for an app that configures
//! `serialize = lambda d: json.dumps(d).encode("utf-8")` and `deserialize = json.loads`.
//! Each session value stays the JSON text it was read as.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::payload::{API_VERSION, Decoded, Payload, corrupt, number};
use crate::store::StoreError;

/// Decodes a stored value. Not JSON, not an object, or `m` not an object: corrupt (the
/// package fails the request too); no `v` or an old one: legacy.
pub(super) fn decode(bytes: &[u8]) -> Result<Decoded<Box<RawValue>>, StoreError> {
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|err| corrupt(format!("not a JSON session payload: {err}")))?;
    if !raw.v.is_some_and(|v| v >= API_VERSION as f64) {
        return Ok(Decoded::Legacy);
    }
    let managed = raw.m.ok_or_else(|| corrupt("the payload has no `m`"))?.0;
    Ok(Decoded::Live(Payload {
        managed,
        hidden: Vec::new(),
        created: number("c", raw.c)?,
        timeout: raw.t,
        expires: raw.x.filter(|x| *x != 0.0),
    }))
}

/// The stored value of `payload`: `{"m":…,"c":…,"v":1,"x":…,"t":…}`, in the package's key
/// order, times as integers.
pub(super) fn encode(payload: &Payload<Box<RawValue>>) -> Result<Vec<u8>, StoreError> {
    let out = Out {
        m: Managed(&payload.managed),
        c: payload.created as i64,
        v: API_VERSION,
        x: payload.expires.map(|x| x as i64),
        t: payload.timeout.map(|t| t as i64),
    };
    serde_json::to_vec(&out).map_err(|err| corrupt(format!("cannot write the payload: {err}")))
}

/// A session value written by this side (JSON text) in this serializer's form.
pub(super) fn from_json(key: &str, text: &str) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(text.to_owned()).map_err(|err| StoreError::Corrupt {
        key: key.to_owned(),
        reason: err.to_string(),
    })
}

#[derive(Deserialize)]
struct Raw {
    m: Option<Entries>,
    c: Option<f64>,
    v: Option<f64>,
    t: Option<f64>,
    x: Option<f64>,
}

/// `m`'s keys and raw values in their order.
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of session keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                // Not sized from the input's hint: the input is not trusted.
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[derive(Serialize)]
struct Out<'a> {
    m: Managed<'a>,
    c: i64,
    v: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<i64>,
}

struct Managed<'a>(&'a [(String, Box<RawValue>)]);

impl Serialize for Managed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the package wrote with `json.dumps(d, separators=(",", ":"))` (the reference
    /// dump, `tests/pyramid/psr_peer.py` checks it live).
    const PYTHON: &[u8] = br#"{"m":{"x":1,"l":[1,2.5,"\u00fc",null,true],"_f_":["hi"]},"c":1796287848,"v":1,"x":1796289048,"t":1200}"#;

    #[test]
    fn reads_and_writes_the_packages_json() {
        let Decoded::Live(payload) = decode(PYTHON).unwrap() else {
            panic!("a live session");
        };
        let keys: Vec<&str> = payload.managed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["x", "l", "_f_"]);
        assert_eq!(payload.managed[1].1.get(), r#"[1,2.5,"\u00fc",null,true]"#);
        assert_eq!(payload.created, 1_796_287_848.0);
        assert_eq!(payload.expires, Some(1_796_289_048.0));
        assert_eq!(
            encode(&payload).unwrap(),
            PYTHON,
            "written back byte for byte"
        );
    }

    #[test]
    fn refuses_what_is_not_a_payload_and_spots_legacy_ones() {
        for bad in [
            &b"[1]"[..],
            b"{\"m\":[],\"v\":1,\"c\":1}",
            b"\xff",
            b"{\"v\":1,\"c\":1}",
        ] {
            assert!(
                matches!(decode(bad), Err(StoreError::Corrupt { .. })),
                "{bad:?}"
            );
        }
        assert!(
            matches!(decode(b"{\"m\":{},\"v\":1}"), Err(StoreError::Corrupt { key, .. }) if key == "c")
        );
        for legacy in [&b"{\"m\":{},\"c\":1}"[..], b"{\"m\":{},\"c\":1,\"v\":0}"] {
            assert!(matches!(decode(legacy), Ok(Decoded::Legacy)), "{legacy:?}");
        }
    }
}
