//! The session payload as `pyramid_nacl_session`'s default serializer (Pyramid's
//! `PickleSerializer`) writes it: `pickle.dumps((accessed, created, state))` at Python's
//! highest protocol, `accessed` an `int` and `created` a `float` in Unix seconds.

use super::Timestamps;
use crate::error::Rejection;
use crate::pickle::{self, Value};

/// A pickled payload: its timestamps and its state's items, every key a `str`.
pub(crate) struct PickledPayload {
    pub times: Timestamps,
    pub entries: Vec<(String, Value)>,
}

/// Reads a pickled payload. A pickle that holds more than data is refused by
/// [`pickle::loads`], and the reason logged (at warning level: the payload was sealed with
/// the app's key, so whoever wrote it had the key).
pub(crate) fn parse(bytes: &[u8]) -> Result<PickledPayload, Rejection> {
    let value = pickle::loads(bytes).map_err(|refused| {
        tracing::warn!(reason = %refused, "a pickled session payload was refused");
        Rejection::PickleRefused
    })?;
    // Pyramid unpacks any 3-item iterable; its own writer gives a tuple.
    let (Value::Tuple(parts) | Value::List(parts)) = value else {
        return Err(Rejection::NotArray);
    };
    let [accessed, created, state] =
        <[Value; 3]>::try_from(parts).map_err(|_| Rejection::NotArray)?;
    let times = Timestamps {
        accessed: timestamp(&accessed)?,
        created: timestamp(&created)?,
    };
    Ok(PickledPayload {
        times,
        entries: state_entries(state)?,
    })
}

/// The items of a pickled state: a `dict` whose keys are all `str` (a session key is
/// text; Pyramid's own keys are).
pub(crate) fn state_entries(state: Value) -> Result<Vec<(String, Value)>, Rejection> {
    let Value::Dict(items) = state else {
        return Err(Rejection::StateNotObject);
    };
    items
        .into_iter()
        .map(|(key, value)| match key {
            Value::Str(key) => Ok((key, value)),
            other => {
                tracing::warn!(
                    key_type = other.type_name(),
                    "a pickled session has a key that is not a str"
                );
                Err(Rejection::StateNotObject)
            }
        })
        .collect()
}

/// Pyramid calls `float()` on both; ints and floats are what its writer gives.
fn timestamp(value: &Value) -> Result<f64, Rejection> {
    match *value {
        Value::Int(n) => Ok(n as f64),
        Value::Float(f) => Ok(f),
        _ => Err(Rejection::BadTimestamp),
    }
}

/// The pickle of `(accessed, created, state)`: `accessed` as an `int` when whole, as
/// Pyramid writes `int(time.time())`, `created` as a `float`.
pub(crate) fn write(times: Timestamps, entries: Vec<(&str, Value)>) -> Vec<u8> {
    const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53
    let accessed = if times.accessed.fract() == 0.0 && times.accessed.abs() < EXACT_INT {
        Value::Int(times.accessed as i64)
    } else {
        Value::Float(times.accessed)
    };
    let state = entries
        .into_iter()
        .map(|(key, value)| (Value::from(key), value))
        .collect();
    pickle::dumps(&Value::Tuple(vec![
        accessed,
        Value::Float(times.created),
        Value::Dict(state),
    ]))
}
