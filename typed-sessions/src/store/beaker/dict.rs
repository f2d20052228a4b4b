//! The value Beaker stores for one session: its dict `{"_creation_time", "_accessed_time",
//! "_domain", "_path", …the app's keys}`, serialized (pickle or zlib-compressed JSON),
//! base64-encoded into a `str`, and that `str` pickled (alone, or in `{"session": str}`).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::Serializer;
use crate::pickle::{self, Value};
use crate::store::{Commit, Record, StoreError};

/// The most bytes a stored JSON session may inflate to: a zlib bomb stops here, refused as
/// corrupt, instead of filling memory.
pub const MAX_INFLATED: usize = 8 << 20;

/// The session dict's own keys (Beaker's bookkeeping), never shown as session keys.
const CREATED: &str = "_creation_time";
const ACCESSED: &str = "_accessed_time";
const DOMAIN: &str = "_domain";
const PATH: &str = "_path";

/// The key of the session's `str` in the dict of a file or database back end.
const SESSION: &str = "session";

/// How the back end keeps the base64 `str`: pickled alone (`ext:redis`), or as the one item
/// of the namespace dict `{"session": str}` (`file`, `ext:database`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outer {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Str,
    Dict,
}

/// A session as read: the outer value (to write back what else it holds) and the dict.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stored {
    /// The namespace dict's other items (`Outer::Dict` only).
    others: Vec<(Value, Value)>,
    /// The session dict, in its stored order.
    pub(super) dict: Vec<(Value, Value)>,
}

fn corrupt(key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl Stored {
    /// Decodes a stored value. A pickle the strict codec refuses (a class instance, a
    /// `datetime`, any `REDUCE` of a callable) is corrupt: it is never run, nor coerced.
    pub(super) fn decode(
        bytes: &[u8],
        outer: Outer,
        serializer: Serializer,
    ) -> Result<Self, StoreError> {
        let value =
            pickle::loads(bytes).map_err(|refused| corrupt(SESSION, refused.to_string()))?;
        let (text, others) = match (outer, value) {
            (Outer::Str, Value::Str(text)) => (text, Vec::new()),
            (Outer::Dict, Value::Dict(items)) => {
                let mut text = None;
                let mut others = Vec::new();
                for (key, value) in items {
                    match (&key, value) {
                        (Value::Str(k), Value::Str(v)) if k == SESSION => text = Some(v),
                        (_, value) => others.push((key, value)),
                    }
                }
                let text = text.ok_or_else(|| corrupt(SESSION, "no `session` str in the dict"))?;
                (text, others)
            }
            (_, value) => {
                return Err(corrupt(
                    SESSION,
                    format!("the stored value is a {}", value.type_name()),
                ));
            }
        };
        let raw = STANDARD
            .decode(text.trim_end())
            .map_err(|err| corrupt(SESSION, format!("not base64: {err}")))?;
        let dict = match serializer {
            Serializer::Pickle => match pickle::loads(&raw) {
                Ok(Value::Dict(items)) => items,
                Ok(other) => {
                    return Err(corrupt(
                        SESSION,
                        format!("the session is a {}, not a dict", other.type_name()),
                    ));
                }
                Err(refused) => return Err(corrupt(SESSION, refused.to_string())),
            },
            Serializer::Json => {
                let json = inflate(&raw)?;
                match serde_json::from_slice::<serde_json::Value>(&json) {
                    Ok(serde_json::Value::Object(map)) => map
                        .into_iter()
                        .map(|(key, value)| (Value::Str(key), Value::from_json(&value)))
                        .collect(),
                    Ok(_) => return Err(corrupt(SESSION, "the JSON session is not an object")),
                    Err(err) => return Err(corrupt(SESSION, format!("not JSON: {err}"))),
                }
            }
        };
        Ok(Self { others, dict })
    }

    /// A new session's dict, as Beaker starts one (`_domain`, `_path`, then the times).
    pub(super) fn fresh(commit: &Commit) -> Result<Self, StoreError> {
        let mut stored = Self {
            others: Vec::new(),
            dict: vec![
                (Value::from(DOMAIN), Value::None),
                (Value::from(PATH), Value::from("/")),
                (Value::from(ACCESSED), Value::Float(commit.accessed)),
                (Value::from(CREATED), Value::Float(commit.created)),
            ],
        };
        stored.apply(commit)?;
        Ok(stored)
    }

    /// The record a factory loads: the times, and each `str` key but Beaker's own as JSON
    /// text (the lossy view where JSON cannot say a Python value: a tuple as an array).
    /// Keys that are not `str` stay in the dict for the app, unseen here.
    pub(super) fn record(&self) -> Result<Record, StoreError> {
        let time = |name: &str| {
            self.dict
                .iter()
                .find_map(|(key, value)| match (key, value) {
                    (Value::Str(k), Value::Float(t)) if k == name => Some(*t),
                    (Value::Str(k), Value::Int(t)) if k == name => Some(*t as f64),
                    _ => None,
                })
        };
        let created = time(CREATED).ok_or_else(|| corrupt(CREATED, "missing or not a number"))?;
        // Beaker reads a session without `_accessed_time` as accessed now; its creation
        // time is the closest this side can say.
        let accessed = time(ACCESSED).unwrap_or(created);
        let entries = self
            .dict
            .iter()
            .filter_map(|(key, value)| match key {
                Value::Str(k) if !is_beakers(k) => Some((k.clone(), value.to_json().to_string())),
                _ => None,
            })
            .collect();
        Ok(Record {
            created,
            accessed,
            entries,
        })
    }

    /// Applies a commit's removals and writes and its `accessed` time; keys it does not
    /// touch keep the Python values they were read as.
    pub(super) fn apply(&mut self, commit: &Commit) -> Result<(), StoreError> {
        if !commit.remove.is_empty() {
            self.dict.retain(|(key, _)| {
                !matches!(key, Value::Str(k) if commit.remove.contains(k) && !is_beakers(k))
            });
        }
        for (key, text) in &commit.set {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|err| corrupt(key, err.to_string()))?;
            self.put(key, Value::from_json(&json));
        }
        self.put(ACCESSED, Value::Float(commit.accessed));
        Ok(())
    }

    fn put(&mut self, key: &str, value: Value) {
        match self
            .dict
            .iter_mut()
            .find(|(k, _)| matches!(k, Value::Str(k) if k == key))
        {
            Some((_, old)) => *old = value,
            None => self.dict.push((Value::from(key), value)),
        }
    }

    /// The bytes to store.
    pub(super) fn encode(
        &self,
        outer: Outer,
        serializer: Serializer,
    ) -> Result<Vec<u8>, StoreError> {
        let raw = match serializer {
            Serializer::Pickle => pickle::dumps(&Value::Dict(self.dict.clone())),
            Serializer::Json => {
                let json = Value::Dict(self.dict.clone())
                    .to_json_exact()
                    .map_err(|err| corrupt(SESSION, err.to_string()))?;
                deflate(
                    &serde_json::to_vec(&json).map_err(|err| corrupt(SESSION, err.to_string()))?,
                )
            }
        };
        let text = Value::Str(STANDARD.encode(raw));
        Ok(pickle::dumps(&match outer {
            Outer::Str => text,
            Outer::Dict => {
                let mut items = vec![(Value::from(SESSION), text)];
                items.extend(self.others.iter().cloned());
                Value::Dict(items)
            }
        }))
    }
}

/// Whether `key` is one of Beaker's bookkeeping keys.
fn is_beakers(key: &str) -> bool {
    matches!(key, CREATED | ACCESSED | DOMAIN | PATH)
}

/// Inflates zlib data, refusing more than [`MAX_INFLATED`] bytes of output.
fn inflate(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    ZlibDecoder::new(raw)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| corrupt(SESSION, format!("not zlib data: {err}")))?;
    if out.len() > MAX_INFLATED {
        return Err(corrupt(
            SESSION,
            format!("the JSON session inflates past {MAX_INFLATED} bytes"),
        ));
    }
    Ok(out)
}

fn deflate(json: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing to a `Vec` cannot fail.
    let _ = encoder.write_all(json);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file back end's bytes of the reference dump (`data_serializer=json`), as Beaker
    /// 1.14.1 wrote them.
    const PYTHON_FILE_JSON: &[u8] = b"\x80\x04\x95\xbd\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x07session\x94\x8c\xaceJxtjd0KgzAMRl9Fcj3UKv1xr6JSSo1YqFW0hcHYuy9ht7v6cpJDvjfY5dhdSPCsUonxUYE9Xd4IoQEm5z3eNy42hx1pLfSgOqONHmrVS2mkYctf6HI40l+rF0qw9eIDZaQcaehqSTSVtl09df3681Vw5perZQ22APPnC2exLXs=\x94s.";

    /// The `ext:redis` bytes of the reference dump (`data_serializer=pickle`).
    const PYTHON_REDIS_PICKLE: &[u8] = b"\x80\x04\x95\xe8\x00\x00\x00\x00\x00\x00\x00\x8c\xe4gAJ9cQAoWAcAAABfZG9tYWlucQFOWAUAAABfcGF0aHECWAEAAAAvcQNYDgAAAF9hY2Nlc3NlZF90aW1lcQRHQdrES2HqRYlYDgAAAF9jcmVhdGlvbl90aW1lcQVHQdrES2Hpui5YAQAAAHhxBksBWAEAAABscQddcQgoSwFHQAQAAAAAAABYAgAAAMO8cQlOiGVYAwAAAF9mX3EKXXELWAIAAABoaXEMYXUu\x94.";

    fn entries(record: &Record) -> Vec<(&str, &str)> {
        record
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn reads_the_reference_values() {
        let stored = Stored::decode(PYTHON_FILE_JSON, Outer::Dict, Serializer::Json).unwrap();
        let record = stored.record().unwrap();
        assert_eq!(record.accessed, 1796287879.6355858);
        assert_eq!(record.created, 1796287879.6331618);
        let mut got = entries(&record);
        got.sort();
        assert_eq!(
            got,
            [
                ("_f_", r#"["hi"]"#),
                ("l", r#"[1,2.5,"ü",null,true]"#),
                ("x", "1")
            ]
        );

        let stored = Stored::decode(PYTHON_REDIS_PICKLE, Outer::Str, Serializer::Pickle).unwrap();
        let record = stored.record().unwrap();
        assert_eq!(record.accessed, 1796287879.660494);
        assert_eq!(
            entries(&record),
            [
                ("x", "1"),
                ("l", r#"[1,2.5,"ü",null,true]"#),
                ("_f_", r#"["hi"]"#)
            ]
        );
        // The wrong serializer or outer shape is corrupt, not a panic.
        assert!(Stored::decode(PYTHON_REDIS_PICKLE, Outer::Dict, Serializer::Pickle).is_err());
        assert!(Stored::decode(PYTHON_FILE_JSON, Outer::Dict, Serializer::Pickle).is_err());
    }

    #[test]
    fn a_save_keeps_untouched_python_values_and_moves_the_accessed_time() {
        let mut stored =
            Stored::decode(PYTHON_REDIS_PICKLE, Outer::Str, Serializer::Pickle).unwrap();
        stored
            .dict
            .push((Value::from("pair"), Value::Tuple(vec![Value::Int(1)])));
        let mut commit = Commit {
            id: "x".into(),
            replace: false,
            retire: None,
            set: vec![("x".into(), "2".into())],
            remove: vec!["l".into(), "_path".into()],
            created: 0.0,
            accessed: 1796288000.5,
            ttl: None,
            user: None,
            previous_user: None,
            alias: None,
            expect: Vec::new(),
        };
        stored.apply(&commit).unwrap();
        let serializer = Serializer::Pickle;
        let bytes = stored.encode(Outer::Str, serializer).unwrap();
        let again = Stored::decode(&bytes, Outer::Str, serializer).unwrap();
        assert_eq!(again, stored);
        let record = again.record().unwrap();
        assert_eq!(record.accessed, 1796288000.5);
        assert_eq!(
            entries(&record),
            [("x", "2"), ("_f_", r#"["hi"]"#), ("pair", "[1]")]
        );
        assert!(again.dict.iter().any(|(k, _)| k == &Value::from("_path")));
        // A tuple cannot be JSON: the JSON serializer refuses it rather than changing it.
        assert!(stored.encode(Outer::Str, Serializer::Json).is_err());
        commit.replace = true;
        commit.created = 1796288000.0;
        let fresh = Stored::fresh(&commit).unwrap();
        let bytes = fresh.encode(Outer::Dict, Serializer::Json).unwrap();
        let record = Stored::decode(&bytes, Outer::Dict, Serializer::Json)
            .unwrap()
            .record()
            .unwrap();
        assert_eq!(
            (record.created, record.accessed),
            (1796288000.0, 1796288000.5)
        );
        assert_eq!(entries(&record), [("x", "2")]);
    }

    #[test]
    fn refuses_code_bombs_and_garbage() {
        // `pickle.dumps(datetime.datetime(2026, 1, 1), 2)` as the session: a REDUCE of a
        // global, refused.
        let inner = b"\x80\x02}q\x00X\x01\x00\x00\x00dq\x01cdatetime\ndatetime\nq\x02c_codecs\nencode\nq\x03X\x0b\x00\x00\x00\x07\xc3\xaa\x01\x01\x00\x00\x00\x00\x00\x00q\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x85q\x08Rq\ts.";
        let outer = pickle::dumps(&Value::Str(STANDARD.encode(inner)));
        let err = Stored::decode(&outer, Outer::Str, Serializer::Pickle).unwrap_err();
        assert!(err.to_string().contains("datetime.datetime"), "{err}");

        let bomb = deflate(&vec![b' '; MAX_INFLATED + 10]);
        let outer = pickle::dumps(&Value::Str(STANDARD.encode(bomb)));
        let err = Stored::decode(&outer, Outer::Str, Serializer::Json).unwrap_err();
        assert!(err.to_string().contains("inflates past"), "{err}");

        for bytes in [&b""[..], b"\x80\x04N.", b"garbage"] {
            assert!(Stored::decode(bytes, Outer::Str, Serializer::Json).is_err());
        }
        let not_b64 = pickle::dumps(&Value::from("!!!"));
        assert!(Stored::decode(&not_b64, Outer::Str, Serializer::Pickle).is_err());
    }
}
