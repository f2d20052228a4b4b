//! The fast path of [`parse`](super::parse): one pass over the payload's bytes that finds the
//! same timestamps and per-key ranges as the serde_json path, without serde's machinery.
//!
//! It takes only the common shape (keys without escapes, nesting within the limit, plain
//! timestamps) and answers `None` for anything else, valid or not; the serde_json path then
//! parses the payload again and decides. So every error, and every rare shape, is classified
//! exactly as before: this scanner only has to agree with serde_json on what it accepts,
//! which the tests check by mutating payloads byte by byte.

use std::ops::Range;

use super::{IntOrFloat, Key, MAX_DEPTH, RawPayload};
use crate::payload::Timestamps;

/// How deep a state value may nest itself: the payload's array and the state object take
/// two of the [`MAX_DEPTH`] levels.
const MAX_VALUE_DEPTH: u32 = MAX_DEPTH as u32 - 2;
const _: () = assert!(MAX_VALUE_DEPTH <= u128::BITS, "one bit per level");

/// Bytes that end the plain run of a JSON string: the quote, a backslash, control
/// characters (which JSON strings may not hold raw).
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        table[c] = true;
        c += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Splits a payload of the common shape, or says `None`.
pub(super) fn split(text: &str) -> Option<RawPayload> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    s.ws();
    s.eat(b'[')?;
    let accessed = s.timestamp(text)?;
    s.ws();
    s.eat(b',')?;
    let created = s.timestamp(text)?;
    s.ws();
    s.eat(b',')?;
    s.ws();
    s.eat(b'{')?;
    let mut entries: Vec<(Key, Range<usize>)> = Vec::with_capacity(8);
    s.ws();
    if s.eat(b'}').is_none() {
        loop {
            s.ws();
            let key = s.plain_key()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let start = s.at;
            s.value()?;
            let range = start..s.at;
            let name = &text[key.clone()];
            // A key that repeats keeps its first place and its last value, as in the serde
            // path (and Python's `json.loads`).
            match entries
                .iter_mut()
                .find(|(k, _)| matches!(k, Key::Source(r) if text[r.clone()] == *name))
            {
                Some(entry) => entry.1 = range,
                None => entries.push((Key::Source(key), range)),
            }
            s.ws();
            match s.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    s.eat(b']')?;
    s.ws();
    (s.at == s.bytes.len()).then_some(RawPayload {
        times: Timestamps { accessed, created },
        entries,
    })
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        // Payloads written by this crate have none: one comparison says so.
        while let Some(&b) = self.bytes.get(self.at) {
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
            self.at += 1;
        }
    }

    /// A timestamp: digits only read here; any other number through serde_json, which reads
    /// it as the serde path does.
    fn timestamp(&mut self, text: &str) -> Option<f64> {
        self.ws();
        let start = self.at;
        self.number()?;
        let token = &self.bytes[start..self.at];
        // 15 digits stay below 2^53: exact as an integer and as an `f64`.
        if token.len() <= 15 && token.iter().all(u8::is_ascii_digit) {
            let n = token
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            return Some(n as f64);
        }
        serde_json::from_str::<IntOrFloat>(&text[start..self.at])
            .ok()
            .map(|t| t.0)
    }

    /// A string starting at the cursor; `true` when it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        self.eat(b'"')?;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.next()? {
                b'"' => return Some(escaped),
                b'\\' => {
                    escaped = true;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.bytes.get(self.at..self.at + 4)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 4;
                        }
                        _ => return None,
                    }
                }
                // A raw control character.
                _ => return None,
            }
        }
    }

    /// Skips the plain run of a string (up to a quote, backslash or control character), eight
    /// bytes at a time while eight remain.
    #[inline(always)]
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
        /// High bit set in each byte of `v` that is zero; exact up to the first such byte.
        fn zeros(v: u64) -> u64 {
            v.wrapping_sub(ONES) & !v & HIGHS
        }
        while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let stops = zeros(word ^ (ONES * u64::from(b'"')))
                | zeros(word ^ (ONES * u64::from(b'\\')))
                // Bytes below 0x20 (the high-bit mask leaves out bytes of 0x80 and above).
                | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
            if stops != 0 {
                self.at += (stops.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
        while let Some(&b) = self.bytes.get(self.at) {
            if STRING_STOP[usize::from(b)] {
                return;
            }
            self.at += 1;
        }
    }

    /// A state key without escapes, as the range of its text.
    fn plain_key(&mut self) -> Option<Range<usize>> {
        let start = self.at + 1;
        match self.string()? {
            true => None,
            false => Some(start..self.at - 1),
        }
    }

    /// Digits; how many.
    #[inline(always)]
    fn digits(&mut self) -> usize {
        let run = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += run;
        run
    }

    /// A number as JSON spells it: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    #[inline(always)]
    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object member's key and colon.
    fn member_key(&mut self) -> Option<()> {
        self.ws();
        self.string()?;
        self.ws();
        self.eat(b':')
    }

    /// One JSON value of any kind, nested at most [`MAX_VALUE_DEPTH`] deep, without
    /// recursion: bit `i` of `objects` says whether the container at depth `i` is an object,
    /// and `in_object` caches the innermost one's bit (read on every element).
    fn value(&mut self) -> Option<()> {
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        let mut in_object = false;
        loop {
            self.ws();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    if depth == MAX_VALUE_DEPTH {
                        return None;
                    }
                    let object = open == b'{';
                    self.ws();
                    if self.eat(if object { b'}' } else { b']' }).is_none() {
                        objects = (objects & !(1 << depth)) | (u128::from(object) << depth);
                        depth += 1;
                        in_object = object;
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a value: close containers until one takes another element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.member_key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => {
                        depth -= 1;
                        in_object = depth > 0 && objects >> (depth - 1) & 1 == 1;
                    }
                    _ => return None,
                }
            }
        }
    }
}
