//! The data a session pickle may hold: Python's `None`, `bool`, `int`, `float`, `str`,
//! `bytes`, `bytearray`, `list`, `tuple`, `dict`, `set` and `frozenset`, and nothing else.

use std::fmt;

/// A Python data value, as [`loads`](super::loads) reads it and [`dumps`](super::dumps)
/// writes it.
///
/// Each Python type has its own variant, so a load and a save keep what Python would see:
/// a tuple stays a tuple, bytes stay bytes, a big int keeps every digit, a dict keeps keys
/// that are not strings. Dicts and sets are kept as the items the pickle holds, in order;
/// Python's pickler never repeats a key, and one repeated by hand is written back as it
/// came, so Python's reading of it (the last value wins) does not change.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An `int` that fits in an `i64`.
    Int(i64),
    /// An `int` that does not fit in an `i64`.
    BigInt(BigInt),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `bytearray`.
    ByteArray(Vec<u8>),
    /// A `list`.
    List(Vec<Value>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A `dict`, its items in order.
    Dict(Vec<(Value, Value)>),
    /// A `set`, its items in order.
    Set(Vec<Value>),
    /// A `frozenset`, its items in order.
    FrozenSet(Vec<Value>),
}

impl Value {
    /// The Python type's name, for messages: `"tuple"`, `"dict"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::None => "NoneType",
            Self::Bool(_) => "bool",
            Self::Int(_) | Self::BigInt(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "str",
            Self::Bytes(_) => "bytes",
            Self::ByteArray(_) => "bytearray",
            Self::List(_) => "list",
            Self::Tuple(_) => "tuple",
            Self::Dict(_) => "dict",
            Self::Set(_) => "set",
            Self::FrozenSet(_) => "frozenset",
        }
    }

    /// Whether Python can use the value as a dict key or set item: `list`, `dict`, `set`
    /// and `bytearray` are mutable and unhashable, and so is a tuple holding one.
    pub fn is_hashable(&self) -> bool {
        match self {
            Self::List(_) | Self::Dict(_) | Self::Set(_) | Self::ByteArray(_) => false,
            Self::Tuple(items) => items.iter().all(Self::is_hashable),
            _ => true,
        }
    }

    /// The value as a Python integer of any size.
    pub(crate) fn int_from_le(bytes: &[u8]) -> Self {
        match BigInt::from_le_bytes(bytes) {
            Ok(small) => Self::Int(small),
            Err(big) => Self::BigInt(big),
        }
    }
}

/// A Python `int` outside the range of `i64`, kept exactly: its two's-complement bytes,
/// little-endian and minimal, as pickle's `LONG1` opcode carries them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Box<[u8]>);

impl BigInt {
    /// The integer of two's-complement little-endian `bytes`: an `i64` when it fits.
    pub fn from_le_bytes(bytes: &[u8]) -> Result<i64, BigInt> {
        let minimal = minimal_len(bytes);
        let bytes = &bytes[..minimal];
        if bytes.len() <= 8 {
            let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                0xff
            } else {
                0
            };
            let mut word = [fill; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            return Ok(i64::from_le_bytes(word));
        }
        Err(Self(bytes.into()))
    }

    /// The two's-complement little-endian bytes, minimal (more than 8 of them).
    pub fn to_le_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the integer is negative.
    pub fn is_negative(&self) -> bool {
        self.0.last().is_some_and(|b| b & 0x80 != 0)
    }

    /// The nearest `f64`, as Python's `float(n)` gives (without its `OverflowError`: an
    /// integer beyond `f64` gives an infinity).
    pub fn to_f64(&self) -> f64 {
        let (negative, magnitude) = self.magnitude();
        // Most significant limb first; rounding is exact enough for a view of the value.
        let value = magnitude.iter().rev().fold(0.0_f64, |acc, &limb| {
            acc * 4_294_967_296.0 + f64::from(limb)
        });
        if negative { -value } else { value }
    }

    /// The sign and the absolute value in 32-bit limbs, least significant first.
    fn magnitude(&self) -> (bool, Vec<u32>) {
        let negative = self.is_negative();
        let mut bytes = self.0.to_vec();
        if negative {
            // Two's complement: invert and add one.
            let mut carry = true;
            for b in &mut bytes {
                let (sum, overflow) = (!*b).overflowing_add(u8::from(carry));
                *b = sum;
                carry = overflow;
            }
        }
        let limbs = bytes
            .chunks(4)
            .map(|chunk| {
                let mut word = [0; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                u32::from_le_bytes(word)
            })
            .collect();
        (negative, limbs)
    }
}

/// The length of the shortest two's-complement encoding of the same integer.
fn minimal_len(bytes: &[u8]) -> usize {
    let mut len = bytes.len();
    while len > 1 {
        let (top, next) = (bytes[len - 1], bytes[len - 2]);
        let redundant = (top == 0 && next & 0x80 == 0) || (top == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        len -= 1;
    }
    if len == 1 && bytes[0] == 0 { 0 } else { len }
}

impl fmt::Display for BigInt {
    /// Decimal, as Python's `str(n)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (negative, mut limbs) = self.magnitude();
        // Repeated division by 10^9: the digits come out nine at a time, least significant
        // first. Quadratic, and bounded by the reader's limit on an int's size.
        let mut chunks = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut text = String::with_capacity(chunks.len() * 9 + 1);
        if negative {
            text.push('-');
        }
        match chunks.split_last() {
            None => text.push('0'),
            Some((top, rest)) => {
                text.push_str(&top.to_string());
                for chunk in rest.iter().rev() {
                    text.push_str(&format!("{chunk:09}"));
                }
            }
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({self})")
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(text_le: &[u8]) -> BigInt {
        BigInt::from_le_bytes(text_le).unwrap_err()
    }

    #[test]
    fn small_ints_come_back_as_i64_and_minimal() {
        assert_eq!(BigInt::from_le_bytes(&[]), Ok(0));
        assert_eq!(BigInt::from_le_bytes(&[0xff]), Ok(-1));
        assert_eq!(BigInt::from_le_bytes(&[0xff, 0xff, 0xff]), Ok(-1));
        assert_eq!(BigInt::from_le_bytes(&[0x80, 0x00]), Ok(128));
        assert_eq!(BigInt::from_le_bytes(&[0, 0, 0, 0x80, 0]), Ok(1 << 31));
        assert_eq!(BigInt::from_le_bytes(&i64::MIN.to_le_bytes()), Ok(i64::MIN));
        let mut padded = i64::MAX.to_le_bytes().to_vec();
        padded.extend([0, 0]);
        assert_eq!(BigInt::from_le_bytes(&padded), Ok(i64::MAX));
    }

    #[test]
    fn big_ints_print_in_decimal() {
        // 2**70, as in the pyramid_nacl_session dump.
        let n = big(&[0, 0, 0, 0, 0, 0, 0, 0, 0x40]);
        assert_eq!(n.to_string(), "1180591620717411303424");
        assert_eq!(n.to_f64(), 2f64.powi(70));
        // -(2**64)
        let n = big(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(n.to_string(), "-18446744073709551616");
        assert!(n.is_negative());
        // 2**63 (just past i64::MAX)
        let n = big(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0]);
        assert_eq!(n.to_string(), "9223372036854775808");
        // Minimal: redundant sign bytes are dropped.
        assert_eq!(
            big(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0])
                .to_le_bytes()
                .len(),
            9
        );
    }

    #[test]
    fn hashability_is_pythons() {
        assert!(Value::Tuple(vec![Value::Int(1), Value::FrozenSet(vec![])]).is_hashable());
        assert!(!Value::Tuple(vec![Value::List(vec![])]).is_hashable());
        assert!(!Value::ByteArray(vec![]).is_hashable());
    }
}
