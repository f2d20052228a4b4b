//! The strict reader: pickle opcodes of data, run on a stack machine that can build only
//! [`Value`]s, and every other opcode refused by name.
//!
//! The stack holds indices into an arena of nodes, not values, because a pickle shares:
//! `MEMOIZE` saves a reference to a list before `APPENDS` fills it, and `GET` pushes that
//! same list again. Once `STOP` is reached the root node is unfolded into a tree of
//! values, copying what was shared, under a budget proportional to the pickle's size.

use std::collections::HashMap;

use super::refused::{Reason, Refused, shown};
use super::value::Value;
use super::{MAX_DEPTH, MAX_INT_BYTES, MAX_MEMO};

/// A value under construction; containers refer to other nodes by index.
enum Node {
    Leaf(Value),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    FrozenSet(Vec<usize>),
    /// An allowed constructor, pushed by `GLOBAL`; only `REDUCE` may consume it.
    Callable(Callable),
}

/// The only globals a data pickle of CPython uses, each for a type that has no opcode of
/// its own at protocol 2 (or, for `bytearray`, below protocol 5).
#[derive(Clone, Copy, PartialEq)]
enum Callable {
    /// `_codecs.encode(text, "latin1")`: how protocol 2 writes `bytes`.
    Encode,
    Bytes,
    ByteArray,
    Set,
    FrozenSet,
}

impl Callable {
    fn find(module: &[u8], name: &[u8]) -> Option<Self> {
        let builtins = module == b"builtins" || module == b"__builtin__";
        Some(match (module, name) {
            (b"_codecs", b"encode") => Self::Encode,
            (_, b"bytes") if builtins => Self::Bytes,
            (_, b"bytearray") if builtins => Self::ByteArray,
            (_, b"set") if builtins => Self::Set,
            (_, b"frozenset") if builtins => Self::FrozenSet,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Encode => "_codecs.encode",
            Self::Bytes => "builtins.bytes",
            Self::ByteArray => "builtins.bytearray",
            Self::Set => "builtins.set",
            Self::FrozenSet => "builtins.frozenset",
        }
    }
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    /// Where the current opcode starts, for the refusal.
    at: usize,
    nodes: Vec<Node>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u64, usize>,
}

type Step<T> = Result<T, Reason>;

/// Reads one pickle of data: see [`loads`](super::loads).
pub(super) fn loads(input: &[u8]) -> Result<Value, Refused> {
    let mut machine = Machine {
        input,
        pos: 0,
        at: 0,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = machine.run().map_err(|reason| Refused {
        offset: machine.at,
        reason,
    })?;
    // Each byte of input yields at most a node and a byte of text, so without sharing a
    // value stays within the pickle's size; this leaves room for shared strings and
    // containers and stops a "billion laughs" of GETs.
    let mut unfold = Unfold {
        nodes: &machine.nodes,
        on_path: vec![false; machine.nodes.len()],
        budget: 16 * input.len() + 65_536,
        limit: 16 * input.len() + 65_536,
    };
    unfold.value(root, 0).map_err(|reason| Refused {
        offset: input.len().saturating_sub(1),
        reason,
    })
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Step<usize> {
        self.at = 0;
        match self.byte()? {
            0x80 => {}
            _ => return Err(Reason::Protocol(0)),
        }
        let protocol = self.byte()?;
        if !(2..=5).contains(&protocol) {
            return Err(Reason::Protocol(protocol));
        }
        loop {
            self.at = self.pos;
            let op = self.byte()?;
            match op {
                b'.' => return self.stop(),
                _ => self.step(op)?,
            }
        }
    }

    fn stop(&mut self) -> Step<usize> {
        if self.pos != self.input.len() {
            return Err(Reason::TrailingBytes);
        }
        match (self.stack.as_slice(), self.marks.is_empty()) {
            ([root], true) => Ok(*root),
            ([], _) => Err(Reason::Stack("STOP")),
            _ => Err(Reason::LeftOnStack),
        }
    }

    fn step(&mut self, op: u8) -> Step<()> {
        match op {
            // Framing and protocol.
            0x80 => return Err(Reason::Misused("a second PROTO opcode".into())),
            0x95 => {
                let len = self.u64_le()?;
                if len > self.remaining() as u64 {
                    return Err(Reason::BadLength(len));
                }
            }
            // Marks and plain stack work.
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                self.pop("POP")?;
            }
            b'1' => {
                self.pop_mark("POP_MARK")?;
            }
            b'2' => {
                let top = self.top("DUP")?;
                self.stack.push(top);
            }
            // Scalars.
            b'N' => self.leaf(Value::None),
            0x88 => self.leaf(Value::Bool(true)),
            0x89 => self.leaf(Value::Bool(false)),
            b'K' => {
                let v = self.byte()?;
                self.leaf(Value::Int(v.into()));
            }
            b'M' => {
                let b = self.take(2)?;
                self.leaf(Value::Int(u16::from_le_bytes([b[0], b[1]]).into()));
            }
            b'J' => {
                let b = self.take(4)?;
                self.leaf(Value::Int(
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]).into(),
                ));
            }
            0x8a => {
                let len = self.byte()?.into();
                self.long(len)?;
            }
            0x8b => {
                let len = self.u32_le()?.into();
                self.long(len)?;
            }
            b'G' => {
                let b = self.take(8)?;
                let bits = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                self.leaf(Value::Float(f64::from_bits(bits)));
            }
            // Text.
            0x8c => {
                let len = self.byte()?.into();
                self.text(len)?;
            }
            b'X' => {
                let len = self.u32_le()?.into();
                self.text(len)?;
            }
            0x8d => {
                let len = self.u64_le()?;
                self.text(len)?;
            }
            // Python 2 `str`: Python 3 reads it as ASCII text (`encoding="ASCII"`).
            b'U' => {
                let len = self.byte()?.into();
                self.ascii(len)?;
            }
            b'T' => {
                let len = i32::from_le_bytes(self.u32_le()?.to_le_bytes());
                self.ascii(u64::try_from(len).map_err(|_| Reason::BadLength(0))?)?;
            }
            // Bytes.
            b'C' => {
                let len = self.byte()?.into();
                let b = self.sized(len)?.to_vec();
                self.leaf(Value::Bytes(b));
            }
            b'B' => {
                let len = self.u32_le()?.into();
                let b = self.sized(len)?.to_vec();
                self.leaf(Value::Bytes(b));
            }
            0x8e => {
                let len = self.u64_le()?;
                let b = self.sized(len)?.to_vec();
                self.leaf(Value::Bytes(b));
            }
            0x96 => {
                let len = self.u64_le()?;
                let b = self.sized(len)?.to_vec();
                self.leaf(Value::ByteArray(b));
            }
            // Containers.
            b']' => self.push(Node::List(Vec::new())),
            b'l' => {
                let items = self.pop_mark("LIST")?;
                self.push(Node::List(items));
            }
            b')' => self.push(Node::Tuple(Vec::new())),
            b't' => {
                let items = self.pop_mark("TUPLE")?;
                self.push(Node::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let name = ["TUPLE1", "TUPLE2", "TUPLE3"][n - 1];
                if self.above_mark() < n {
                    return Err(Reason::Stack(name));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push(Node::Tuple(items));
            }
            b'}' => self.push(Node::Dict(Vec::new())),
            b'd' => {
                let items = self.pop_mark("DICT")?;
                let pairs = pairs(&items).ok_or(Reason::Stack("DICT"))?;
                self.push(Node::Dict(pairs));
            }
            0x8f => self.push(Node::Set(Vec::new())),
            0x91 => {
                let items = self.pop_mark("FROZENSET")?;
                self.push(Node::FrozenSet(items));
            }
            b'a' => {
                let item = self.pop("APPEND")?;
                self.extend_list("APPEND", vec![item])?;
            }
            b'e' => {
                let items = self.pop_mark("APPENDS")?;
                self.extend_list("APPENDS", items)?;
            }
            b's' => {
                let value = self.pop("SETITEM")?;
                let key = self.pop("SETITEM")?;
                self.extend_dict("SETITEM", vec![(key, value)])?;
            }
            b'u' => {
                let items = self.pop_mark("SETITEMS")?;
                let pairs = pairs(&items).ok_or(Reason::Stack("SETITEMS"))?;
                self.extend_dict("SETITEMS", pairs)?;
            }
            0x90 => {
                let items = self.pop_mark("ADDITEMS")?;
                let top = self.top("ADDITEMS")?;
                match &mut self.nodes[top] {
                    Node::Set(set) => set.extend(items),
                    other => {
                        return Err(Reason::WrongType {
                            opcode: "ADDITEMS",
                            found: type_name(other),
                        });
                    }
                }
            }
            // The memo.
            0x94 => {
                let top = self.top("MEMOIZE")?;
                let slot = self.memo.len() as u64;
                self.put(slot, top)?;
            }
            b'q' => {
                let slot = self.byte()?.into();
                self.put_top("BINPUT", slot)?;
            }
            b'r' => {
                let slot = self.u32_le()?.into();
                self.put_top("LONG_BINPUT", slot)?;
            }
            b'p' => {
                let slot = self.decimal_line()?;
                self.put_top("PUT", slot)?;
            }
            b'h' => {
                let slot = self.byte()?.into();
                self.get(slot)?;
            }
            b'j' => {
                let slot = self.u32_le()?.into();
                self.get(slot)?;
            }
            b'g' => {
                let slot = self.decimal_line()?;
                self.get(slot)?;
            }
            // The few globals of data, and REDUCE of them only.
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.global(module, name)?;
            }
            0x93 => {
                let name = self.pop("STACK_GLOBAL")?;
                let module = self.pop("STACK_GLOBAL")?;
                match (&self.nodes[module], &self.nodes[name]) {
                    (Node::Leaf(Value::Str(m)), Node::Leaf(Value::Str(n))) => {
                        let (m, n) = (m.clone(), n.clone());
                        self.global(m.as_bytes(), n.as_bytes())?;
                    }
                    _ => {
                        return Err(Reason::Misused(
                            "STACK_GLOBAL of names that are not str".into(),
                        ));
                    }
                }
            }
            b'R' => self.reduce()?,
            // Code, objects and references outside the pickle: never.
            b'b' => return Err(Reason::Opcode("BUILD")),
            b'i' => return Err(Reason::Opcode("INST")),
            b'o' => return Err(Reason::Opcode("OBJ")),
            0x81 => return Err(Reason::Opcode("NEWOBJ")),
            0x92 => return Err(Reason::Opcode("NEWOBJ_EX")),
            b'P' => return Err(Reason::Opcode("PERSID")),
            b'Q' => return Err(Reason::Opcode("BINPERSID")),
            0x82 => return Err(Reason::Opcode("EXT1")),
            0x83 => return Err(Reason::Opcode("EXT2")),
            0x84 => return Err(Reason::Opcode("EXT4")),
            0x97 => return Err(Reason::Opcode("NEXT_BUFFER")),
            0x98 => return Err(Reason::Opcode("READONLY_BUFFER")),
            // Protocol-0 text forms: no Python 3 pickler writes them at protocol 2 or above.
            b'I' => return Err(Reason::Opcode("INT (protocol 0)")),
            b'L' => return Err(Reason::Opcode("LONG (protocol 0)")),
            b'F' => return Err(Reason::Opcode("FLOAT (protocol 0)")),
            b'S' => return Err(Reason::Opcode("STRING (protocol 0)")),
            b'V' => return Err(Reason::Opcode("UNICODE (protocol 0)")),
            other => return Err(Reason::UnknownOpcode(other)),
        }
        Ok(())
    }

    // Input.

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        if n > self.remaining() {
            return Err(Reason::Truncated);
        }
        let input: &'a [u8] = self.input;
        let bytes = &input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// `len` bytes declared by the pickle: refused before any allocation when they would
    /// run past its end.
    fn sized(&mut self, len: u64) -> Step<&'a [u8]> {
        match usize::try_from(len) {
            Ok(n) if n <= self.remaining() => self.take(n),
            _ => Err(Reason::BadLength(len)),
        }
    }

    fn byte(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32_le(&mut self) -> Step<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_le(&mut self) -> Step<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A newline-terminated argument of a text opcode (`GLOBAL`, `PUT`, `GET`).
    fn line(&mut self) -> Step<&'a [u8]> {
        let input: &'a [u8] = self.input;
        let rest = &input[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Reason::Truncated)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn decimal_line(&mut self) -> Step<u64> {
        let line = self.line()?;
        std::str::from_utf8(line)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Reason::Misused("a memo slot that is not a decimal number".into()))
    }

    // Values.

    fn push(&mut self, node: Node) {
        self.nodes.push(node);
        self.stack.push(self.nodes.len() - 1);
    }

    fn leaf(&mut self, value: Value) {
        self.push(Node::Leaf(value));
    }

    fn long(&mut self, len: u64) -> Step<()> {
        if len > MAX_INT_BYTES as u64 {
            return Err(Reason::IntTooBig(len));
        }
        let bytes = self.sized(len)?;
        let value = Value::int_from_le(bytes);
        self.leaf(value);
        Ok(())
    }

    fn text(&mut self, len: u64) -> Step<()> {
        let bytes = self.sized(len)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Reason::BadText)?
            .to_owned();
        self.leaf(Value::Str(text));
        Ok(())
    }

    fn ascii(&mut self, len: u64) -> Step<()> {
        let bytes = self.sized(len)?;
        if !bytes.is_ascii() {
            return Err(Reason::BadText);
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| Reason::BadText)?;
        self.leaf(Value::Str(text));
        Ok(())
    }

    /// How many items on the stack are above the innermost mark: as in CPython's
    /// unpickler, no opcode but those that pop the mark reaches below it.
    fn above_mark(&self) -> usize {
        self.stack.len() - self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, opcode: &'static str) -> Step<usize> {
        if self.above_mark() == 0 {
            return Err(Reason::Stack(opcode));
        }
        self.stack.pop().ok_or(Reason::Stack(opcode))
    }

    fn top(&self, opcode: &'static str) -> Step<usize> {
        if self.above_mark() == 0 {
            return Err(Reason::Stack(opcode));
        }
        self.stack.last().copied().ok_or(Reason::Stack(opcode))
    }

    fn pop_mark(&mut self, opcode: &'static str) -> Step<Vec<usize>> {
        let mark = self.marks.pop().ok_or(Reason::Stack(opcode))?;
        Ok(self.stack.split_off(mark))
    }

    fn extend_list(&mut self, opcode: &'static str, items: Vec<usize>) -> Step<()> {
        let top = self.top(opcode)?;
        match &mut self.nodes[top] {
            Node::List(list) => {
                list.extend(items);
                Ok(())
            }
            other => Err(Reason::WrongType {
                opcode,
                found: type_name(other),
            }),
        }
    }

    fn extend_dict(&mut self, opcode: &'static str, items: Vec<(usize, usize)>) -> Step<()> {
        let top = self.top(opcode)?;
        match &mut self.nodes[top] {
            Node::Dict(dict) => {
                dict.extend(items);
                Ok(())
            }
            other => Err(Reason::WrongType {
                opcode,
                found: type_name(other),
            }),
        }
    }

    fn put_top(&mut self, opcode: &'static str, slot: u64) -> Step<()> {
        let top = self.top(opcode)?;
        self.put(slot, top)
    }

    fn put(&mut self, slot: u64, node: usize) -> Step<()> {
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&slot) {
            return Err(Reason::MemoFull);
        }
        self.memo.insert(slot, node);
        Ok(())
    }

    fn get(&mut self, slot: u64) -> Step<()> {
        let node = *self.memo.get(&slot).ok_or(Reason::MemoMissing(slot))?;
        self.stack.push(node);
        Ok(())
    }

    fn global(&mut self, module: &[u8], name: &[u8]) -> Step<()> {
        match Callable::find(module, name) {
            Some(callable) => {
                self.push(Node::Callable(callable));
                Ok(())
            }
            None => Err(Reason::Global(format!("{}.{}", shown(module), shown(name)))),
        }
    }

    /// `REDUCE`: only an allowed constructor, only with the arguments CPython's pickler
    /// gives it, so the value is data whatever Python would have called.
    fn reduce(&mut self) -> Step<()> {
        let args = self.pop("REDUCE")?;
        let callable = self.pop("REDUCE")?;
        let Node::Callable(callable) = self.nodes[callable] else {
            return Err(Reason::Opcode("REDUCE"));
        };
        let misused = || {
            Reason::Misused(format!(
                "opcode REDUCE of `{}` with arguments other than CPython's pickler gives it",
                callable.name()
            ))
        };
        let Node::Tuple(args) = &self.nodes[args] else {
            return Err(misused());
        };
        let arg = |i: usize| args.get(i).map(|&n| &self.nodes[n]);
        let node = match (callable, args.len()) {
            (Callable::Encode, 2) => {
                let (Some(Node::Leaf(Value::Str(text))), Some(Node::Leaf(Value::Str(codec)))) =
                    (arg(0), arg(1))
                else {
                    return Err(misused());
                };
                if !matches!(codec.as_str(), "latin1" | "latin-1") {
                    return Err(misused());
                }
                let bytes = latin1(text).ok_or_else(misused)?;
                Node::Leaf(Value::Bytes(bytes))
            }
            (Callable::Bytes, 0) => Node::Leaf(Value::Bytes(Vec::new())),
            (Callable::ByteArray, 0) => Node::Leaf(Value::ByteArray(Vec::new())),
            (Callable::ByteArray, 1) => match arg(0) {
                Some(Node::Leaf(Value::Bytes(b))) => Node::Leaf(Value::ByteArray(b.clone())),
                _ => return Err(misused()),
            },
            (Callable::Set, 0) => Node::Set(Vec::new()),
            (Callable::FrozenSet, 0) => Node::FrozenSet(Vec::new()),
            (Callable::Set | Callable::FrozenSet, 1) => match arg(0) {
                Some(Node::List(items)) => {
                    let items = items.clone();
                    if callable == Callable::Set {
                        Node::Set(items)
                    } else {
                        Node::FrozenSet(items)
                    }
                }
                _ => return Err(misused()),
            },
            _ => return Err(misused()),
        };
        self.push(node);
        Ok(())
    }
}

/// `str(b, "latin1")` undone: each character is one byte.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn pairs(items: &[usize]) -> Option<Vec<(usize, usize)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    Some(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

fn type_name(node: &Node) -> &'static str {
    match node {
        Node::Leaf(value) => value.type_name(),
        Node::List(_) => "list",
        Node::Tuple(_) => "tuple",
        Node::Dict(_) => "dict",
        Node::Set(_) => "set",
        Node::FrozenSet(_) => "frozenset",
        Node::Callable(_) => "global",
    }
}

/// Unfolds the arena into a tree, refusing cycles, deep nesting and unhashable keys, and
/// charging every node and byte copied against the budget.
struct Unfold<'a> {
    nodes: &'a [Node],
    on_path: Vec<bool>,
    budget: usize,
    limit: usize,
}

impl Unfold<'_> {
    fn charge(&mut self, units: usize) -> Step<()> {
        self.budget = self
            .budget
            .checked_sub(units)
            .ok_or(Reason::TooLarge(self.limit))?;
        Ok(())
    }

    fn value(&mut self, node: usize, depth: usize) -> Step<Value> {
        if depth > MAX_DEPTH {
            return Err(Reason::TooDeep);
        }
        let nodes = self.nodes;
        let container = !matches!(nodes[node], Node::Leaf(_));
        if container {
            if self.on_path[node] {
                return Err(Reason::Recursive);
            }
            self.on_path[node] = true;
        }
        self.charge(1)?;
        let value = match &nodes[node] {
            Node::Leaf(value) => {
                self.charge(match value {
                    Value::Str(s) => s.len(),
                    Value::Bytes(b) | Value::ByteArray(b) => b.len(),
                    Value::BigInt(n) => n.to_le_bytes().len(),
                    _ => 0,
                })?;
                value.clone()
            }
            Node::List(items) => Value::List(self.values(items, depth)?),
            Node::Tuple(items) => Value::Tuple(self.values(items, depth)?),
            Node::Set(items) => Value::Set(self.keys(items, depth)?),
            Node::FrozenSet(items) => Value::FrozenSet(self.keys(items, depth)?),
            Node::Dict(items) => {
                let mut out = Vec::with_capacity(items.len());
                for &(k, v) in items {
                    let key = self.key(k, depth)?;
                    out.push((key, self.value(v, depth + 1)?));
                }
                Value::Dict(out)
            }
            Node::Callable(callable) => {
                return Err(Reason::Misused(format!(
                    "global `{}` used as a value, not called",
                    callable.name()
                )));
            }
        };
        if container {
            self.on_path[node] = false;
        }
        Ok(value)
    }

    fn values(&mut self, items: &[usize], depth: usize) -> Step<Vec<Value>> {
        items.iter().map(|&i| self.value(i, depth + 1)).collect()
    }

    fn keys(&mut self, items: &[usize], depth: usize) -> Step<Vec<Value>> {
        items.iter().map(|&i| self.key(i, depth)).collect()
    }

    fn key(&mut self, node: usize, depth: usize) -> Step<Value> {
        let key = self.value(node, depth + 1)?;
        if !key.is_hashable() {
            return Err(Reason::Unhashable(key.type_name()));
        }
        Ok(key)
    }
}
