//! The writer: protocol 4 with data opcodes only, so Python's `pickle.loads` of what it
//! writes builds data and calls nothing.
//!
//! No `GLOBAL` is ever written: protocol 4 has opcodes for every [`Value`] but
//! `bytearray`, which is written as protocol 5's `BYTEARRAY8` (the header then says 5; any
//! Python since 3.8 reads it). There is no memo and no framing: both are optional to a
//! reader, and a session value has nothing to share.

use super::value::Value;

/// Work left to do, so that nesting needs no recursion and no stack depth.
enum Task<'a> {
    Value(&'a Value),
    Op(u8),
}

/// Writes one pickle: see [`dumps`](super::dumps).
pub(super) fn dumps(value: &Value) -> Vec<u8> {
    let mut out = vec![0x80, 4];
    let mut tasks = vec![Task::Value(value)];
    while let Some(task) = tasks.pop() {
        let value = match task {
            Task::Op(op) => {
                out.push(op);
                continue;
            }
            Task::Value(value) => value,
        };
        match value {
            Value::None => out.push(b'N'),
            Value::Bool(true) => out.push(0x88),
            Value::Bool(false) => out.push(0x89),
            Value::Int(n) => int(&mut out, *n),
            Value::BigInt(n) => {
                let bytes = n.to_le_bytes();
                match u8::try_from(bytes.len()) {
                    Ok(len) => out.extend([0x8a, len]),
                    Err(_) => {
                        out.push(0x8b);
                        out.extend((bytes.len() as u32).to_le_bytes());
                    }
                }
                out.extend_from_slice(bytes);
            }
            Value::Float(f) => {
                out.push(b'G');
                out.extend(f.to_bits().to_be_bytes());
            }
            Value::Str(s) => sized(&mut out, s.as_bytes(), 0x8c, b'X', 0x8d),
            Value::Bytes(b) => sized(&mut out, b, b'C', b'B', 0x8e),
            Value::ByteArray(b) => {
                out[1] = 5;
                out.push(0x96);
                out.extend((b.len() as u64).to_le_bytes());
                out.extend_from_slice(b);
            }
            Value::Tuple(items) => match items.len() {
                0 => out.push(b')'),
                n @ 1..=3 => {
                    tasks.push(Task::Op(0x84 + n as u8));
                    tasks.extend(items.iter().rev().map(Task::Value));
                }
                _ => {
                    out.push(b'(');
                    tasks.push(Task::Op(b't'));
                    tasks.extend(items.iter().rev().map(Task::Value));
                }
            },
            Value::List(items) => {
                out.push(b']');
                marked(&mut tasks, b'e', items.iter());
            }
            Value::Set(items) => {
                out.push(0x8f);
                marked(&mut tasks, 0x90, items.iter());
            }
            Value::FrozenSet(items) => {
                tasks.push(Task::Op(0x91));
                tasks.extend(items.iter().rev().map(Task::Value));
                tasks.push(Task::Op(b'('));
            }
            Value::Dict(items) => {
                out.push(b'}');
                marked(&mut tasks, b'u', items.iter().flat_map(|(k, v)| [k, v]));
            }
        }
    }
    out.push(b'.');
    out
}

/// `MARK items... op`, or nothing for no items (the empty container is already out).
fn marked<'a>(
    tasks: &mut Vec<Task<'a>>,
    op: u8,
    items: impl DoubleEndedIterator<Item = &'a Value>,
) {
    let start = tasks.len();
    tasks.push(Task::Op(op));
    tasks.extend(items.rev().map(Task::Value));
    if tasks.len() == start + 1 {
        tasks.pop();
    } else {
        tasks.push(Task::Op(b'('));
    }
}

/// The shortest int opcode, as CPython's pickler picks it.
fn int(out: &mut Vec<u8>, n: i64) {
    if let Ok(b) = u8::try_from(n) {
        out.extend([b'K', b]);
    } else if let Ok(w) = u16::try_from(n) {
        out.push(b'M');
        out.extend(w.to_le_bytes());
    } else if let Ok(w) = i32::try_from(n) {
        out.push(b'J');
        out.extend(w.to_le_bytes());
    } else {
        let bytes = n.to_le_bytes();
        let len = minimal(&bytes);
        out.extend([0x8a, len as u8]);
        out.extend_from_slice(&bytes[..len]);
    }
}

/// The shortest two's-complement length of a little-endian `i64`.
fn minimal(bytes: &[u8; 8]) -> usize {
    let mut len = 8;
    while len > 1 {
        let (top, next) = (bytes[len - 1], bytes[len - 2]);
        if (top == 0 && next & 0x80 == 0) || (top == 0xff && next & 0x80 != 0) {
            len -= 1;
        } else {
            break;
        }
    }
    len
}

/// Text or bytes with a 1-, 4- or 8-byte length.
fn sized(out: &mut Vec<u8>, bytes: &[u8], short: u8, long: u8, huge: u8) {
    if let Ok(len) = u8::try_from(bytes.len()) {
        out.extend([short, len]);
    } else if let Ok(len) = u32::try_from(bytes.len()) {
        out.push(long);
        out.extend(len.to_le_bytes());
    } else {
        out.push(huge);
        out.extend((bytes.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(bytes);
}
