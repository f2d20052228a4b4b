//! Between pickled values and JSON: the exact conversion (an error for what JSON cannot
//! hold), the lossy view the untyped session API shows, and JSON written from Rust.

use serde_json::{Map, Number, Value as Json};

use super::value::{BigInt, Value};

/// A pickled value that JSON cannot hold without changing its Python meaning, named by
/// its Python type: a `tuple`, `set`, `frozenset`, `bytes`, `bytearray`, an `int` beyond
/// 64 bits, a `float` that is not finite, or a `dict` key that is not a `str`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {0} cannot be held as JSON without changing its Python meaning")]
pub struct NotJson(pub &'static str);

impl Value {
    /// The value as JSON, exactly: an error when JSON would change its Python meaning
    /// (see [`NotJson`]).
    ///
    /// ```
    /// use typed_sessions::pickle::{NotJson, Value};
    ///
    /// let list = Value::List(vec![Value::Int(1), Value::from("a")]);
    /// assert_eq!(list.to_json_exact()?, serde_json::json!([1, "a"]));
    /// let tuple = Value::Tuple(vec![Value::Int(1)]);
    /// assert_eq!(tuple.to_json_exact(), Err(NotJson("tuple")));
    /// # Ok::<(), NotJson>(())
    /// ```
    pub fn to_json_exact(&self) -> Result<Json, NotJson> {
        Ok(match self {
            Self::None => Json::Null,
            Self::Bool(b) => Json::Bool(*b),
            Self::Int(n) => Json::from(*n),
            Self::Float(f) => Number::from_f64(*f)
                .map(Json::Number)
                .ok_or(NotJson("float"))?,
            Self::BigInt(n) => match n.to_u128().and_then(|n| u64::try_from(n).ok()) {
                Some(n) => Json::from(n),
                None => return Err(NotJson("int beyond 64 bits")),
            },
            Self::Str(s) => Json::String(s.clone()),
            Self::List(items) => Json::Array(
                items
                    .iter()
                    .map(Self::to_json_exact)
                    .collect::<Result<_, _>>()?,
            ),
            Self::Dict(items) => {
                let mut map = Map::new();
                for (key, value) in items {
                    let Self::Str(key) = key else {
                        return Err(NotJson("dict key that is not a str"));
                    };
                    map.insert(key.clone(), value.to_json_exact()?);
                }
                Json::Object(map)
            }
            other => return Err(NotJson(other.type_name())),
        })
    }

    /// The value as JSON for reading, where JSON cannot say everything: a `tuple`, `set` or
    /// `frozenset` becomes an array; `bytes` and `bytearray` an array of numbers 0 to 255;
    /// an `int` beyond 64 bits the nearest float (as Python's `float(n)`); a NaN or
    /// infinite `float` `null`; a `dict` key that is not a `str` the JSON text of its view
    /// (`1` becomes `"1"` and `True` `"true"`, as Python's `json.dumps` writes them; the
    /// tuple `(1, 2)` becomes `"[1,2]"`).
    ///
    /// ```
    /// use typed_sessions::pickle::Value;
    ///
    /// let dict = Value::Dict(vec![(Value::Int(7), Value::Tuple(vec![Value::Bytes(b"hi".to_vec())]))]);
    /// assert_eq!(dict.to_json(), serde_json::json!({"7": [[104, 105]]}));
    /// ```
    pub fn to_json(&self) -> Json {
        match self {
            Self::None => Json::Null,
            Self::Bool(b) => Json::Bool(*b),
            Self::Int(n) => Json::from(*n),
            Self::BigInt(n) => Number::from_f64(n.to_f64()).map_or(Json::Null, Json::Number),
            Self::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Self::Str(s) => Json::String(s.clone()),
            Self::Bytes(b) | Self::ByteArray(b) => {
                Json::Array(b.iter().map(|&b| b.into()).collect())
            }
            Self::List(items) | Self::Tuple(items) | Self::Set(items) | Self::FrozenSet(items) => {
                Json::Array(items.iter().map(Self::to_json).collect())
            }
            Self::Dict(items) => Json::Object(
                items
                    .iter()
                    .map(|(key, value)| (key.json_key(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A dict key as JSON object keys are: text.
    fn json_key(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }

    /// A value written from Rust as JSON, as Python would have it: objects become `dict`s,
    /// arrays `list`s, integers `int`s (of any size serde_json holds), other numbers
    /// `float`s, `null` `None`.
    ///
    /// ```
    /// use typed_sessions::pickle::Value;
    ///
    /// let value = Value::from_json(&serde_json::json!({"ids": [1, 2.5, null]}));
    /// assert_eq!(
    ///     value,
    ///     Value::Dict(vec![(
    ///         Value::from("ids"),
    ///         Value::List(vec![Value::Int(1), Value::Float(2.5), Value::None]),
    ///     )])
    /// );
    /// ```
    pub fn from_json(json: &Json) -> Self {
        match json {
            Json::Null => Self::None,
            Json::Bool(b) => Self::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Self::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Self::int_from_le(&u128::from(u).to_le_bytes())
                } else {
                    Self::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Self::Str(s.clone()),
            Json::Array(items) => Self::List(items.iter().map(Self::from_json).collect()),
            Json::Object(map) => Self::Dict(
                map.iter()
                    .map(|(k, v)| (Self::Str(k.clone()), Self::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl BigInt {
    /// The integer as an `i128`, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        let bytes = self.to_le_bytes();
        if bytes.len() > 16 {
            return None;
        }
        let fill = if self.is_negative() { 0xff } else { 0 };
        let mut word = [fill; 16];
        word[..bytes.len()].copy_from_slice(bytes);
        Some(i128::from_le_bytes(word))
    }

    /// The integer as a `u128`, when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        let bytes = self.to_le_bytes();
        if self.is_negative() || bytes.len() > 17 || (bytes.len() == 17 && bytes[16] != 0) {
            return None;
        }
        let mut word = [0; 16];
        let n = bytes.len().min(16);
        word[..n].copy_from_slice(&bytes[..n]);
        Some(u128::from_le_bytes(word))
    }
}
