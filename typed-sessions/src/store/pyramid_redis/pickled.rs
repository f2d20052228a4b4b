//! The pickle serializer, the package's default (`pickle.dumps` / `pickle.loads`), on the
//! crate's strict codec ([`crate::pickle`]): data only, anything that would run code
//! refused. Each session value stays the Python value it was read as, so a key this side
//! never writes goes back to the app unchanged (a tuple stays a tuple, bytes stay bytes).

use super::payload::{API_VERSION, Decoded, Payload, corrupt, number};
use crate::pickle::{self, Value};
use crate::store::StoreError;

/// Decodes a stored value. A pickle the codec refuses (a class instance, a `datetime`, a
/// global), or not a dict, or `m` not a dict: corrupt (the app's `pickle.loads` would run or
/// fail on it; this side never does). No `v` or an old one: legacy.
pub(super) fn decode(bytes: &[u8]) -> Result<Decoded<Value>, StoreError> {
    let value = pickle::loads(bytes).map_err(|refused| corrupt(refused.to_string()))?;
    let Value::Dict(items) = value else {
        return Err(corrupt(format!(
            "the pickled payload is a {}, not a dict",
            value.type_name()
        )));
    };
    let (mut m, mut c, mut v, mut t, mut x) = (None, None, None, None, None);
    for (key, value) in items {
        let Value::Str(key) = key else { continue };
        match key.as_str() {
            "m" => m = Some(value),
            "c" => c = as_number(&value),
            "v" => v = as_number(&value),
            "t" => t = as_number(&value),
            "x" => x = as_number(&value),
            _ => {}
        }
    }
    if !v.is_some_and(|v| v >= API_VERSION as f64) {
        return Ok(Decoded::Legacy);
    }
    let Some(Value::Dict(m)) = m else {
        return Err(corrupt("the payload has no `m` dict"));
    };
    let mut managed = Vec::with_capacity(m.len());
    let mut hidden = Vec::new();
    for (key, value) in m {
        match key {
            Value::Str(key) => managed.push((key, value)),
            other => hidden.push((other, value)),
        }
    }
    if !hidden.is_empty() {
        tracing::debug!(
            keys = hidden.len(),
            "session keys that are not str are kept for the Pyramid app, not shown"
        );
    }
    Ok(Decoded::Live(Payload {
        managed,
        hidden,
        created: number("c", c)?,
        timeout: t,
        expires: x.filter(|x| *x != 0.0),
    }))
}

/// The stored value of `payload`: the dict `{"m", "c", "v", "x", "t"}` in the package's
/// order, times as `int`s, pickled at protocol 4 with data opcodes only.
pub(super) fn encode(payload: &Payload<Value>) -> Result<Vec<u8>, StoreError> {
    let managed = payload
        .managed
        .iter()
        .map(|(key, value)| (Value::Str(key.clone()), value.clone()))
        .chain(payload.hidden.iter().cloned())
        .collect();
    let mut items = vec![
        (Value::from("m"), Value::Dict(managed)),
        (Value::from("c"), Value::Int(payload.created as i64)),
        (Value::from("v"), Value::Int(API_VERSION)),
    ];
    if let Some(x) = payload.expires {
        items.push((Value::from("x"), Value::Int(x as i64)));
    }
    if let Some(t) = payload.timeout {
        items.push((Value::from("t"), Value::Int(t as i64)));
    }
    Ok(pickle::dumps(&Value::Dict(items)))
}

/// A stored value as the JSON text a session key holds: exact where JSON can say it, the
/// codec's reading view otherwise (a tuple or set as an array, bytes as numbers).
pub(super) fn to_json(value: &Value) -> String {
    value.to_json().to_string()
}

/// A session value written by this side (JSON text) as the Python value the app reads.
pub(super) fn from_json(key: &str, text: &str) -> Result<Value, StoreError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|err| StoreError::Corrupt {
            key: key.to_owned(),
            reason: err.to_string(),
        })?;
    Ok(Value::from_json(&json))
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(n) => Some(*n as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default-options payload of the reference dump, as pyramid_session_redis 1.8.1
    /// pickled it (protocol 4, memo opcodes, `x` written through a memo `BINGET`).
    const PYTHON: &[u8] = b"\x80\x04\x95\xa5\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01m\x94}\x94(\x8c\x01x\x94K\x01\x8c\x01l\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00\x8c\x02\xc3\xbc\x94N\x88e\x8c\x03_f_\x94]\x94\x8c\x02hi\x94a\x8c\x07_csrft_\x94\x8c@c3ffa8d93dd7d995240614d1625a40a4190466867cbfa74a457b56e58721351d\x94u\x8c\x01c\x94Jh-\x11k\x8c\x01v\x94K\x01h\x03J\x182\x11k\x8c\x01t\x94M\xb0\x04u.";

    #[test]
    fn reads_the_packages_pickle_and_writes_what_it_reads_back() {
        let Decoded::Live(payload) = decode(PYTHON).unwrap() else {
            panic!("a live session");
        };
        let keys: Vec<&str> = payload.managed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["x", "l", "_f_", "_csrft_"]);
        assert_eq!(to_json(&payload.managed[1].1), r#"[1,2.5,"ü",null,true]"#);
        assert_eq!(payload.created, 1_796_287_848.0);
        assert_eq!(payload.expires, Some(1_796_289_048.0));
        assert_eq!(payload.timeout, Some(1200.0));
        let written = encode(&payload).unwrap();
        let Decoded::Live(again) = decode(&written).unwrap() else {
            panic!("a live session");
        };
        assert_eq!(again, payload);
    }

    #[test]
    fn keeps_values_and_keys_json_cannot_say() {
        let m = Value::Dict(vec![
            (Value::Int(7), Value::from("int key")),
            (
                Value::from("pair"),
                Value::Tuple(vec![Value::Int(1), Value::Bytes(b"b".to_vec())]),
            ),
        ]);
        let payload = Value::Dict(vec![
            (Value::from("m"), m),
            (Value::from("c"), Value::Int(1)),
            (Value::from("v"), Value::Int(1)),
        ]);
        let Decoded::Live(read) = decode(&pickle::dumps(&payload)).unwrap() else {
            panic!("a live session");
        };
        assert_eq!(read.managed.len(), 1);
        assert_eq!(to_json(&read.managed[0].1), "[1,[98]]");
        assert_eq!(pickle::loads(&encode(&read).unwrap()).unwrap(), {
            // Written back: the same dict, the non-str key after the str ones.
            let Value::Dict(mut items) = payload else {
                unreachable!()
            };
            if let Value::Dict(m) = &mut items[0].1 {
                m.rotate_left(1);
            }
            Value::Dict(items)
        });
    }

    #[test]
    fn refuses_code_and_non_payloads() {
        let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";
        let err = decode(evil).unwrap_err();
        assert!(err.to_string().contains("os.system"), "{err}");
        assert!(decode(&pickle::dumps(&Value::List(vec![]))).is_err());
        let legacy = Value::Dict(vec![(Value::from("m"), Value::Dict(vec![]))]);
        assert!(matches!(
            decode(&pickle::dumps(&legacy)),
            Ok(Decoded::Legacy)
        ));
    }
}
