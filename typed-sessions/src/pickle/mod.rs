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
//! # In a session
//!
//! A session loaded from a pickle (a factory with [`Serializer::Pickle`](crate::Serializer),
//! or [`Session::from_pickle`](crate::Session::from_pickle)) keeps each key as its pickled
//! [`Value`] until the app writes it; keys of JSON sessions are untouched by any of this,
//! and cost what they did.
//!
//! - **Typed reads** (`get_as`, derived accessors) deserialize `T` through [`Value`]'s serde
//!   `Deserializer`: a tuple, set or frozenset reads as a sequence (`(u8, String)`,
//!   `Vec<T>`, `BTreeSet<T>`), bytes as bytes or `Vec<u8>`, a dict with `int` keys as
//!   `HashMap<u32, _>`, an `int` beyond 64 bits as `i128`/`u128`.
//! - **Untyped reads** (`get`, `iter`) see [`Value::to_json`], which is lossy: tuples, sets
//!   and frozensets become arrays, bytes arrays of numbers, big ints floats, NaN and
//!   infinities `null`, non-`str` dict keys their text (`1` becomes `"1"`).
//! - **`get_mut`** lends that view. On save, a view left unchanged saves the pickled value
//!   as it was; a changed view is saved only when JSON holds the value exactly (lists,
//!   dicts with `str` keys, ints, floats, strs, bools, `None`); a tuple, bytes or set changed
//!   through its view is an error naming the key, never saved as a list. Replace such a key
//!   with `insert` or `insert_as` instead.
//! - **Saving** writes untouched keys as the same [`Value`], and keys written from Rust
//!   through their JSON with [`Value::from_json`]: objects become dicts, arrays lists
//!   (so a Rust tuple arrives in Python as a list), numbers ints or floats, `null` `None`.
//! - A top-level key that is not a `str` cannot be a session key: such a session is refused
//!   as a whole ([`Rejection::StateNotObject`](crate::Rejection::StateNotObject)).

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
