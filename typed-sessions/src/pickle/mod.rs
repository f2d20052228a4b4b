//! A strict pickle codec for session state: Python's data types in, the same data out, and
//! nothing that runs code either way.
//!
//! Pickle is a program: Python's `pickle.loads` runs whatever callable a pickle names
//! (`GLOBAL` + `REDUCE`), so a pickle sealed with an app's key or stored in its Redis is
//! code that app will run. The Python session packages this crate shares sessions with
//! (`pyramid_nacl_session`, `pyramid_session_redis`, Beaker) pickle by default. This module
//! reads and writes only what such a session holds as *data*:
//!
//! - **[`loads`]** reads protocols 2 to 5: `None`, `bool`, `int` of any size (up to
//!   [`MAX_INT_BYTES`]), `float`, `str` (and Python 2 `str` when ASCII, as Python 3 reads
//!   it), `bytes`, `bytearray`, `list`, `tuple`, `dict` (keys of any hashable type), `set`,
//!   `frozenset`; with the memo (`MEMOIZE`, `PUT`, `GET` and their variants) and framing.
//!   It **refuses** every other global (`datetime.datetime`, `os.system`, a class),
//!   `REDUCE` of anything else, `BUILD`, `INST`, `OBJ`, `NEWOBJ(_EX)`, persistent ids,
//!   extension codes and out-of-band buffers, with a [`Refused`] that names what it found
//!   and where. Nothing is coerced: an object never becomes its `__dict__`, a tuple never a
//!   list, an unknown global never `None`.
//! - The few globals it accepts are exactly the ones CPython's own pickler writes for data
//!   types that protocol 2 has no opcode for, each only with the arguments CPython gives it
//!   and only through `REDUCE`: `_codecs.encode(str, "latin1")` (how protocol 2 writes
//!   `bytes`; Beaker pickles at protocol 2), `builtins.bytes()` (empty `bytes` at protocol
//!   2), `builtins.set(list)` / `builtins.frozenset(list)` (sets below protocol 4), and
//!   `builtins.bytearray(bytes)` (below protocol 5), under their Python 2 module name
//!   `__builtin__` too. They are decoded here as data; none is a call.
//! - **[`dumps`]** writes protocol 4 with data opcodes only: no `GLOBAL`, no `REDUCE`, so
//!   what Python unpickles from it can only be data. Sets are `EMPTY_SET` + `ADDITEMS`,
//!   frozensets `FROZENSET`; a `bytearray` needs protocol 5's `BYTEARRAY8`.
//! - **Bounded**: a declared length past the end of the input is refused before anything
//!   is allocated; nesting is limited to [`MAX_DEPTH`], the memo to [`MAX_MEMO`] slots, and
//!   values copied by memo `GET`s to a budget proportional to the input's size (so a
//!   "billion laughs" of shared lists is refused, not expanded). It never panics on any
//!   input (fuzzed: `fuzz/fuzz_targets/pickle_loads.rs`).
//!
//! A load and a save keep what Python sees: a tuple stays a tuple, integer and tuple dict
//! keys stay keys, sets stay sets, bytes stay bytes, big ints keep every digit.
//!
//! ```
//! use typed_sessions::pickle::{self, Value};
//!
//! // What `pickle.dumps({"cart": (1, "apple"), 7: {3}}, 5)` gives in CPython.
//! let bytes = b"\x80\x05\x95\x20\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04cart\x94K\x01\
//!     \x8c\x05apple\x94\x86\x94K\x07\x8f\x94(K\x03\x90u.";
//! let value = pickle::loads(bytes)?;
//! assert_eq!(
//!     value,
//!     Value::Dict(vec![
//!         (Value::from("cart"), Value::Tuple(vec![Value::Int(1), Value::from("apple")])),
//!         (Value::Int(7), Value::Set(vec![Value::Int(3)])),
//!     ])
//! );
//! // Written back, it is the same Python value (in other bytes: no memo, protocol 4).
//! assert_eq!(pickle::loads(&pickle::dumps(&value))?, value);
//!
//! // A REDUCE of `os.system` is refused, never run.
//! let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";
//! let refused = pickle::loads(evil).unwrap_err();
//! assert_eq!(refused.to_string(), "pickle refused at byte 2: global `os.system`");
//! # Ok::<(), pickle::Refused>(())
//! ```
//!
//! The session state lives in the crate's per-key state: a key loaded from a pickle keeps
//! its [`Value`] (typed reads deserialize through [`Value`]'s serde `Deserializer`,
//! untyped reads see [`Value::to_json`]), an untouched key is written back as the same
//! value, and a key written from Rust is converted with [`Value::from_json`].

mod de;
mod json;
mod read;
mod refused;
mod value;
mod write;

pub use json::NotJson;
pub use refused::{Reason, Refused};
pub use value::{BigInt, Value};

/// How deep containers may nest in a pickle that [`loads`] reads: serde_json's limit, so
/// whatever loads can also be viewed as JSON.
pub const MAX_DEPTH: usize = 128;

/// How many memo slots a pickle may fill. CPython memoizes each string and container once,
/// so this is far above what a session of a few megabytes uses.
pub const MAX_MEMO: usize = 1 << 20;

/// The longest `int` [`loads`] reads, in bytes: 1024 bytes is about 2466 decimal digits,
/// under CPython's own limit of 4300 digits for converting an int to text.
pub const MAX_INT_BYTES: usize = 1024;

/// Reads a pickle of data, refusing anything else: see the [module docs](self).
///
/// ```
/// use typed_sessions::pickle::{self, Reason, Value};
///
/// assert_eq!(pickle::loads(b"\x80\x04K\x07.")?, Value::Int(7));
/// // An instance of a class: NEWOBJ and BUILD would run its code.
/// let err = pickle::loads(b"\x80\x04\x8c\x08__main__\x8c\x01C\x93)\x81}b.").unwrap_err();
/// assert_eq!(err.reason, Reason::Global("__main__.C".into()));
/// # Ok::<(), pickle::Refused>(())
/// ```
pub fn loads(bytes: &[u8]) -> Result<Value, Refused> {
    read::loads(bytes)
}

/// Writes a value as a pickle of data opcodes only (protocol 4, or 5 for a `bytearray`).
///
/// ```
/// use typed_sessions::pickle::{self, Value};
///
/// let value = Value::Tuple(vec![Value::Int(1), Value::from("a")]);
/// assert_eq!(pickle::dumps(&value), b"\x80\x04K\x01\x8c\x01a\x86.");
/// ```
pub fn dumps(value: &Value) -> Vec<u8> {
    write::dumps(value)
}

#[cfg(test)]
mod tests;
