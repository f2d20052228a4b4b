//! Why a pickle was refused: the opcode, global or shape found, and where.

use std::fmt;

/// A pickle [`loads`](super::loads) will not read, with the reason and the byte offset of
/// the opcode that gave it away (for what shows only once the value is whole, a container
/// holding itself, an unhashable key, too much sharing, the offset of `STOP`). Nothing in
/// a refused pickle was run or coerced.
///
/// ```
/// use typed_sessions::pickle;
///
/// // `datetime.datetime(...)`: a global and a REDUCE, which Python would run.
/// let refused = pickle::loads(b"\x80\x04\x8c\x08datetime\x8c\x08datetime\x93)R.").unwrap_err();
/// assert_eq!(refused.to_string(), "pickle refused at byte 22: global `datetime.datetime`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Where the opcode that was refused starts.
    pub offset: usize,
    /// What was found there.
    pub reason: Reason,
}

/// What a refused pickle holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// An opcode that builds objects, calls code or reads outside the pickle: `REDUCE` (of a
    /// callable that is not allowed), `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`,
    /// `PERSID`, `BINPERSID`, `EXT1/2/4`, `NEXT_BUFFER`, `READONLY_BUFFER`; or a protocol-0
    /// text opcode no Python 3 pickler writes at protocol 2 or above.
    #[error("opcode {0}")]
    Opcode(&'static str),
    /// A byte that is no pickle opcode.
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    /// A `GLOBAL` or `STACK_GLOBAL` of anything but the few data constructors allowed
    /// (`_codecs.encode` for protocol-2 bytes, `set`, `frozenset`, `bytes`, `bytearray`).
    #[error("global `{0}`")]
    Global(String),
    /// An allowed constructor applied to arguments it is not allowed with, or a global used
    /// other than through `REDUCE`.
    #[error("{0}")]
    Misused(String),
    /// The pickle does not start with `PROTO` 2 to 5.
    #[error("protocol {0} (2 to 5 are read)")]
    Protocol(u8),
    /// The pickle ends inside an opcode or before `STOP`.
    #[error("the pickle ends before its STOP opcode")]
    Truncated,
    /// Bytes follow `STOP`.
    #[error("bytes after the STOP opcode")]
    TrailingBytes,
    /// An opcode needs more items on the stack, or a mark that is not there.
    #[error("opcode {0} finds the stack without what it needs")]
    Stack(&'static str),
    /// `STOP` leaves other items or marks on the stack.
    #[error("items or marks are left on the stack at STOP")]
    LeftOnStack,
    /// An opcode applied to a value of the wrong type (`APPEND` to a tuple, say).
    #[error("opcode {opcode} on a {found}")]
    WrongType {
        /// The opcode.
        opcode: &'static str,
        /// The Python type it found.
        found: &'static str,
    },
    /// A dict key or set item of a type Python cannot hash (a list, dict, set or bytearray).
    #[error("a {0} as a dict key or set item (unhashable)")]
    Unhashable(&'static str),
    /// A container that holds itself, which a tree of values cannot represent.
    #[error("a container that holds itself")]
    Recursive,
    /// `GET` of a memo slot nothing was put in.
    #[error("memo slot {0} is empty")]
    MemoMissing(u64),
    /// More memo slots than [`MAX_MEMO`](super::MAX_MEMO).
    #[error("more than {} memo slots", super::MAX_MEMO)]
    MemoFull,
    /// Containers nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("containers nested deeper than {}", super::MAX_DEPTH)]
    TooDeep,
    /// The values would take more memory than the pickle's size allows (shared values
    /// repeated by memo `GET`s are copied).
    #[error("the values would take more than {0} units of memory")]
    TooLarge(usize),
    /// An int of more than [`MAX_INT_BYTES`](super::MAX_INT_BYTES) bytes.
    #[error("an int of {0} bytes (at most {max} are read)", max = super::MAX_INT_BYTES)]
    IntTooBig(u64),
    /// A `str` whose bytes are not UTF-8 (Python writes lone surrogates that way, which a
    /// Rust `String` cannot hold), or a Python 2 `str` that is not ASCII.
    #[error("a str that is not valid UTF-8 (or a Python 2 str that is not ASCII)")]
    BadText,
    /// A declared length longer than the rest of the pickle.
    #[error("a length of {0} bytes, past the end of the pickle")]
    BadLength(u64),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pickle refused at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for Refused {}

/// A name from the pickle, for a message: at most 64 characters, control characters
/// escaped, so a hostile name cannot forge log lines.
pub(crate) fn shown(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let mut out: String = text
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 64 {
        out.push_str("...");
    }
    // `escape_default` escapes quotes and non-ASCII; names are ASCII identifiers in practice.
    out = out.replace("\\'", "'").replace("\\\"", "\"");
    out
}
