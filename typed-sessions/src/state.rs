//! The session's key/value state, kept as the raw JSON text it arrived as until a key is
//! used.
//!
//! A typed read deserializes straight from that text; the untyped API decodes a key to a
//! [`Value`] once, on first use; a save copies untouched keys back byte for byte.
//!
//! # Keys that came from a pickle
//!
//! A session loaded from a pickle (`pyramid_nacl_session`'s default serializer) keeps each
//! key as its [`pickle::Value`](crate::pickle::Value), in one more kind of slot, boxed so
//! that a slot of JSON is no larger and the JSON path does no more work than before:
//!
//! - a typed read deserializes `T` through the pickled value's serde `Deserializer`
//!   (a tuple reads as a sequence, bytes as bytes, `int` keys as integer keys);
//! - an untyped read sees [`Value::to_json`](crate::pickle::Value::to_json), a lossy view
//!   (tuple, set and frozenset as arrays, bytes as arrays of numbers, big ints as floats,
//!   non-`str` keys as text), built once;
//! - a mutable untyped borrow lends that view; the save then compares it with the pickled
//!   value's: unchanged, the pickled value is saved as it was; changed, a value JSON holds
//!   exactly is saved from the view, and any other (a tuple, bytes, a set...) is an error
//!   naming the key, since saving the view would change its Python type. Replacing the key
//!   (`insert`, `insert_as`) is how Rust changes such a value on purpose;
//! - a save as pickle writes an untouched key back as the same value, and converts keys
//!   written from Rust from their JSON ([`Value::from_json`](crate::pickle::Value::from_json));
//!   a save as JSON converts pickled keys exactly or fails naming the key.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use hashbrown::HashTable;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::payload::{Key, RawPayload, key_text};
use crate::pickle;

/// States of up to this many slots find a key by a linear scan, without an index or its
/// allocation: the common case, since a cookie holds a few dozen keys at most.
const INDEX_ABOVE: usize = 16;

/// The state of one session: keys in insertion order, as a Python `dict` keeps them.
///
/// Small states are a vector searched linearly. A state of more than [`INDEX_ABOVE`] keys
/// (a server-side session may hold thousands) builds a hash index of its keys on the first
/// lookup, so that a request touching every key stays linear in their number. A removed
/// key leaves a hole, so positions stay valid for the index; holes are compacted away once
/// they outnumber the keys.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The payload text that `Text::Source` ranges point into.
    source: String,
    /// In insertion order; `None` where a key was removed.
    slots: Vec<Option<Slot>>,
    /// How many slots are `Some`.
    live: usize,
    /// Slot positions by key; built on the first lookup in a state of more than
    /// [`INDEX_ABOVE`] slots, kept up to date by every change after that.
    index: OnceCell<Index>,
    /// Whether removals are recorded in `removed`: only for server-side sessions, whose
    /// stores delete exactly the removed keys. Cookie sessions rewrite the whole state, so
    /// they skip the bookkeeping (and its allocations).
    track_removed: bool,
    /// Keys removed since the load (some may have been written again since: see
    /// [`removed`](State::removed)), for a store's partial save.
    removed: Vec<Box<str>>,
}

/// A key with its JSON text, lent when the text is as loaded.
pub(crate) type KeyedJson<'a> = (&'a str, std::borrow::Cow<'a, str>);

#[derive(Debug)]
struct Slot {
    key: Key,
    value: SlotValue,
    /// Written (inserted, replaced or borrowed mutably) since the load: a store's partial
    /// save writes exactly these.
    written: bool,
}

#[derive(Debug)]
enum SlotValue {
    /// JSON text not yet decoded: as loaded, or as a typed write serialized it.
    Text {
        text: Text,
        decoded: OnceCell<Option<Value>>,
    },
    /// A value written or borrowed mutably through the untyped API.
    Value(Value),
    /// A value loaded from a pickle and not written since.
    Pickled(Box<Pickled>),
}

/// A pickled value with its JSON view, built on first untyped read.
#[derive(Debug)]
struct Pickled {
    value: pickle::Value,
    view: OnceCell<Value>,
}

#[derive(Debug)]
enum Text {
    Source(Range<usize>),
    /// A `String`, not a `Box<str>`: a typed write's text keeps serde_json's buffer as it
    /// is, without a shrinking reallocation.
    Owned(String),
}

/// The positions of the live slots, by key. Keys come from clients and stores, so they are
/// hashed with std's randomly keyed SipHash, against collisions chosen in advance.
struct Index {
    hasher: RandomState,
    positions: HashTable<usize>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("keys", &self.positions.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    fn build(source: &str, slots: &[Option<Slot>]) -> Self {
        let mut index = Self {
            hasher: RandomState::new(),
            positions: HashTable::with_capacity(slots.len()),
        };
        for (position, slot) in slots.iter().enumerate() {
            if let Some(slot) = slot {
                index.insert(position, key_text(source, &slot.key), source, slots);
            }
        }
        index
    }

    /// Records a key that is not in the index yet at `position`.
    fn insert(&mut self, position: usize, key: &str, source: &str, slots: &[Option<Slot>]) {
        let hasher = &self.hasher;
        self.positions
            .insert_unique(hasher.hash_one(key), position, |&other| {
                hasher.hash_one(slot_key(source, slots, other))
            });
    }

    fn remove(&mut self, position: usize, key: &str) {
        if let Ok(entry) = self
            .positions
            .find_entry(self.hasher.hash_one(key), |&other| other == position)
        {
            entry.remove();
        }
    }
}

/// The key of the live slot at `position`.
fn slot_key<'a>(source: &'a str, slots: &'a [Option<Slot>], position: usize) -> &'a str {
    match &slots[position] {
        Some(slot) => key_text(source, &slot.key),
        // The index holds live positions only.
        None => "",
    }
}

/// Counts key comparisons in tests, so a test can show that a request's work grows
/// linearly with the number of keys.
#[cfg(test)]
pub(crate) mod probe {
    use std::cell::Cell;

    thread_local! {
        static COMPARISONS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn compared() {
        COMPARISONS.with(|count| count.set(count.get() + 1));
    }

    /// The comparisons this thread made since the last call.
    pub(crate) fn take() -> u64 {
        COMPARISONS.with(|count| count.replace(0))
    }
}

/// Where the comparisons of keys are counted in tests; nothing otherwise.
#[inline(always)]
fn compared() {
    #[cfg(test)]
    probe::compared();
}

/// The live slots in order, with an exact count.
struct Live<'a> {
    slots: std::slice::Iter<'a, Option<Slot>>,
    left: usize,
}

impl<'a> Iterator for Live<'a> {
    type Item = &'a Slot;

    fn next(&mut self) -> Option<&'a Slot> {
        let slot = self.slots.by_ref().flatten().next()?;
        self.left -= 1;
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Live<'_> {}

impl State {
    pub(crate) fn from_payload(source: String, payload: RawPayload) -> Self {
        let slots: Vec<_> = payload
            .entries
            .into_iter()
            .map(|(key, range)| {
                Some(Slot {
                    key,
                    value: SlotValue::Text {
                        text: Text::Source(range),
                        decoded: OnceCell::new(),
                    },
                    written: false,
                })
            })
            .collect();
        Self {
            source,
            live: slots.len(),
            slots,
            ..Self::default()
        }
    }

    /// A state loaded from a store: `(key, JSON text)` pairs, kept as text until used, with
    /// removals recorded. The text is not checked here: a value that is not JSON is an
    /// error naming its key when it is read as a type, and is saved back as it was. A key
    /// that repeats keeps its first place and its last text.
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut state = Self::tracked();
        for (key, text) in entries {
            let value = SlotValue::Text {
                text: Text::Owned(text),
                decoded: OnceCell::new(),
            };
            match state.position(&key) {
                Some(position) => state.slot_mut(position).value = value,
                None => state.push(Key::Owned(key.into_boxed_str()), value, false),
            }
        }
        state
    }

    /// A state loaded from a pickled dict whose keys are all `str`: each key keeps its
    /// pickled value until written. `tracked` records removals, for a store's partial save.
    /// A key that repeats keeps its first place and its last value.
    pub(crate) fn from_pickle(
        entries: impl IntoIterator<Item = (String, pickle::Value)>,
        tracked: bool,
    ) -> Self {
        let mut state = Self {
            track_removed: tracked,
            ..Self::default()
        };
        for (key, value) in entries {
            let value = SlotValue::Pickled(Box::new(Pickled {
                value,
                view: OnceCell::new(),
            }));
            match state.position(&key) {
                Some(position) => state.slot_mut(position).value = value,
                None => state.push(Key::Owned(key.into_boxed_str()), value, false),
            }
        }
        state
    }

    /// An empty state that records removals, for a new server-side session.
    pub(crate) fn tracked() -> Self {
        Self {
            track_removed: true,
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    fn live(&self) -> Live<'_> {
        Live {
            slots: self.slots.iter(),
            left: self.live,
        }
    }

    fn key<'a>(&'a self, slot: &'a Slot) -> &'a str {
        key_text(&self.source, &slot.key)
    }

    /// The live slot at `position`.
    fn slot(&self, position: usize) -> &Slot {
        self.slots[position]
            .as_ref()
            .expect("positions come from `position`, which finds live slots only")
    }

    fn slot_mut(&mut self, position: usize) -> &mut Slot {
        self.slots[position]
            .as_mut()
            .expect("positions come from `position`, which finds live slots only")
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.slots.len() <= INDEX_ABOVE {
            return self.slots.iter().position(|slot| {
                slot.as_ref().is_some_and(|slot| {
                    compared();
                    self.key(slot) == key
                })
            });
        }
        let index = self
            .index
            .get_or_init(|| Index::build(&self.source, &self.slots));
        index
            .positions
            .find(index.hasher.hash_one(key), |&position| {
                compared();
                slot_key(&self.source, &self.slots, position) == key
            })
            .copied()
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub(crate) fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.live().map(|slot| self.key(slot))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.live()
            .filter_map(|slot| Some((self.key(slot), self.decode(&slot.value)?)))
    }

    /// The JSON text of a key, when it has not been decoded to a `Value`.
    fn text<'a>(&'a self, text: &'a Text) -> &'a str {
        match text {
            Text::Source(range) => &self.source[range.clone()],
            Text::Owned(text) => text,
        }
    }

    /// Decodes a slot to a `Value`, once. `None` only for text that serde_json validated as
    /// JSON but cannot hold as a `Value` (a number beyond `f64`): such a key is reported and
    /// skipped by the untyped API, and still saved byte for byte.
    fn decode<'a>(&'a self, value: &'a SlotValue) -> Option<&'a Value> {
        match value {
            SlotValue::Value(value) => Some(value),
            SlotValue::Pickled(pickled) => {
                Some(pickled.view.get_or_init(|| pickled.value.to_json()))
            }
            SlotValue::Text { text, decoded } => decoded
                .get_or_init(|| match serde_json::from_str(self.text(text)) {
                    Ok(value) => Some(value),
                    Err(err) => {
                        tracing::warn!(error = %err, "a session value cannot be decoded as JSON");
                        None
                    }
                })
                .as_ref(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        let slot = self.slot(self.position(key)?);
        self.decode(&slot.value)
    }

    /// Deserializes a key straight from its text, without building a `Value`.
    pub(crate) fn get_as<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let slot = self.slot(self.position(key)?);
        Some(match &slot.value {
            SlotValue::Text { text, decoded } => match decoded.get() {
                Some(Some(value)) => T::deserialize(value),
                _ => serde_json::from_str(self.text(text)),
            },
            SlotValue::Value(value) => T::deserialize(value),
            SlotValue::Pickled(pickled) => T::deserialize(&pickled.value),
        })
    }

    /// A mutable `Value` for the key, decoding it first. `None` when the key is missing or
    /// cannot be held as a `Value`.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let position = self.position(key)?;
        self.make_value(position)
    }

    fn make_value(&mut self, position: usize) -> Option<&mut Value> {
        self.slot_mut(position).written = true;
        if matches!(self.slot(position).value, SlotValue::Pickled(_)) {
            let SlotValue::Pickled(pickled) = &mut self.slot_mut(position).value else {
                unreachable!("matched above");
            };
            // The view is lent; the save checks what was done to it (`pickled_value`).
            pickled.view.get_or_init(|| pickled.value.to_json());
            return pickled.view.get_mut();
        }
        let slot = self.slot(position);
        if let SlotValue::Text { .. } = slot.value {
            let value = self.decode(&slot.value)?.clone();
            self.slot_mut(position).value = SlotValue::Value(value);
        }
        match &mut self.slot_mut(position).value {
            SlotValue::Value(value) => Some(value),
            SlotValue::Text { .. } | SlotValue::Pickled(_) => None,
        }
    }

    /// Stores a value, keeping the key's place if it exists. Returns the old value.
    pub(crate) fn insert(&mut self, key: &str, value: Value) -> Option<Value> {
        self.put(key, SlotValue::Value(value))
            .and_then(|old| self.take_value(old))
    }

    /// Serializes and stores a value; the key keeps its place if it exists.
    pub(crate) fn insert_as<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let text = crate::finite::to_string(value)?;
        self.put(
            key,
            SlotValue::Text {
                text: Text::Owned(text),
                decoded: OnceCell::new(),
            },
        );
        Ok(())
    }

    fn put(&mut self, key: &str, value: SlotValue) -> Option<SlotValue> {
        if let Some(position) = self.position(key) {
            let slot = self.slot_mut(position);
            slot.written = true;
            return Some(std::mem::replace(&mut slot.value, value));
        }
        self.push(Key::Owned(key.into()), value, true);
        None
    }

    /// Appends a key that is not in the state.
    fn push(&mut self, key: Key, value: SlotValue, written: bool) {
        let position = self.slots.len();
        self.slots.push(Some(Slot {
            key,
            value,
            written,
        }));
        self.live += 1;
        if let Some(index) = self.index.get_mut() {
            let key = slot_key(&self.source, &self.slots, position);
            index.insert(position, key, &self.source, &self.slots);
        }
    }

    /// Takes the slot at `position` out, recording its key as removed when tracking.
    fn remove_at(&mut self, position: usize) -> Slot {
        let slot = self.slots[position]
            .take()
            .expect("positions come from `position`, which finds live slots only");
        self.live -= 1;
        let key = key_text(&self.source, &slot.key);
        if let Some(index) = self.index.get_mut() {
            index.remove(position, key);
        }
        if self.track_removed {
            self.removed.push(key.into());
        }
        let holes = self.slots.len() - self.live;
        if holes > self.live && holes >= 8 {
            // Positions move: the index is rebuilt on the next lookup.
            self.slots.retain(Option::is_some);
            self.index = OnceCell::new();
        }
        slot
    }

    fn take_value(&self, value: SlotValue) -> Option<Value> {
        match value {
            SlotValue::Value(value) => Some(value),
            SlotValue::Pickled(pickled) => Some(
                pickled
                    .view
                    .into_inner()
                    .unwrap_or_else(|| pickled.value.to_json()),
            ),
            SlotValue::Text { text, decoded } => match decoded.into_inner() {
                Some(value) => value,
                None => serde_json::from_str(self.text(&text)).ok(),
            },
        }
    }

    /// Removes a key: `None` when it is missing, `Some(None)` when its value cannot be held
    /// as a [`Value`] (a number beyond `f64`).
    pub(crate) fn remove(&mut self, key: &str) -> Option<Option<Value>> {
        let position = self.position(key)?;
        let slot = self.remove_at(position);
        Some(self.take_value(slot.value))
    }

    /// Removes a key only if its value deserializes as `T`; a value of another type stays.
    pub(crate) fn remove_as<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let result = self.get_as::<T>(key)?;
        if result.is_ok() {
            let position = self.position(key)?;
            self.remove_at(position);
        }
        Some(result)
    }

    pub(crate) fn clear(&mut self) {
        if self.track_removed {
            let keys: Vec<Box<str>> = self.keys().map(Into::into).collect();
            self.removed.extend(keys);
        }
        self.slots.clear();
        self.live = 0;
        self.index = OnceCell::new();
        self.source.clear();
    }

    /// Marks every key written, so a partial save writes them all (after
    /// [`Session::changed`](crate::Session::changed), which says "something changed" without
    /// saying what).
    pub(crate) fn mark_all_written(&mut self) {
        for slot in self.slots.iter_mut().flatten() {
            slot.written = true;
        }
    }

    /// The text `key` had when the state was loaded, while the state still knows it:
    /// `Some(Some(text))` for a key not yet written or removed, `Some(None)` for a key that
    /// was absent, `None` once the key was written, borrowed mutably or removed.
    pub(crate) fn loaded_text(&self, key: &str) -> Option<Option<String>> {
        match self.position(key) {
            Some(position) => {
                let slot = self.slot(position);
                match &slot.value {
                    SlotValue::Text { text, .. } if !slot.written => {
                        Some(Some(self.text(text).to_owned()))
                    }
                    _ => None,
                }
            }
            None if self.removed.iter().any(|gone| &**gone == key) => None,
            None => Some(None),
        }
    }

    /// Whether a key was written since the load.
    #[cfg(test)]
    fn is_written(&self, key: &str) -> bool {
        self.position(key).is_some_and(|i| self.slot(i).written)
    }

    /// The keys removed since the load and not written again, each once.
    pub(crate) fn removed(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.removed
            .iter()
            .map(|key| &**key)
            .filter(|key| !self.contains_key(key) && seen.insert(*key))
            .collect()
    }

    /// Each key with its JSON text: all keys (`all`), or only those written since the load.
    /// Undecoded values are lent as they are; values changed through the untyped API are
    /// serialized. An error names the key that cannot be serialized.
    pub(crate) fn entries_json(
        &self,
        all: bool,
    ) -> Result<Vec<KeyedJson<'_>>, (String, serde_json::Error)> {
        let mut out = Vec::new();
        for slot in self.live().filter(|slot| all || slot.written) {
            let text = match &slot.value {
                SlotValue::Text { text, .. } => std::borrow::Cow::Borrowed(self.text(text)),
                SlotValue::Value(value) => std::borrow::Cow::Owned(
                    serde_json::to_string(value).map_err(|e| (self.key(slot).to_owned(), e))?,
                ),
                SlotValue::Pickled(pickled) => std::borrow::Cow::Owned(
                    pickled_json(pickled)
                        .and_then(|value| serde_json::to_string(&value))
                        .map_err(|e| (self.key(slot).to_owned(), e))?,
                ),
            };
            out.push((self.key(slot), text));
        }
        Ok(out)
    }

    /// Writes the state as a JSON object, copying undecoded values as they are.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), (String, serde_json::Error)> {
        out.push(b'{');
        for (i, slot) in self.live().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match &slot.key {
                // A key lent by the parser has no escapes, so its text is valid JSON as is.
                Key::Source(range) => {
                    out.push(b'"');
                    out.extend_from_slice(self.source[range.clone()].as_bytes());
                    out.push(b'"');
                }
                Key::Owned(key) => {
                    serde_json::to_writer(&mut *out, &**key).map_err(|e| (key.to_string(), e))?;
                }
            }
            out.push(b':');
            match &slot.value {
                SlotValue::Text { text, .. } => out.extend_from_slice(self.text(text).as_bytes()),
                SlotValue::Value(value) => {
                    serde_json::to_writer(&mut *out, value)
                        .map_err(|e| (self.key(slot).to_owned(), e))?;
                }
                SlotValue::Pickled(pickled) => {
                    pickled_json(pickled)
                        .and_then(|value| serde_json::to_writer(&mut *out, &value))
                        .map_err(|e| (self.key(slot).to_owned(), e))?;
                }
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// Each key with its pickled value: all keys (`all`), or only those written since the
    /// load. Pickled keys are as loaded; keys written from Rust are converted from their
    /// JSON. An error names the key whose JSON text cannot be read as a value (a number
    /// beyond `f64`, which neither JSON nor the pickle of a `float` holds).
    pub(crate) fn entries_pickle(
        &self,
        all: bool,
    ) -> Result<Vec<(&str, pickle::Value)>, (String, serde_json::Error)> {
        let mut out = Vec::with_capacity(self.live);
        for slot in self.live().filter(|slot| all || slot.written) {
            let value = match &slot.value {
                SlotValue::Pickled(pickled) => {
                    pickled_value(pickled).map_err(|e| (self.key(slot).to_owned(), e))?
                }
                SlotValue::Value(value) => pickle::Value::from_json(value),
                SlotValue::Text { text, decoded } => match decoded.get() {
                    Some(Some(value)) => pickle::Value::from_json(value),
                    _ => serde_json::from_str::<Value>(self.text(text))
                        .map(|value| pickle::Value::from_json(&value))
                        .map_err(|e| (self.key(slot).to_owned(), e))?,
                },
            };
            out.push((self.key(slot), value));
        }
        Ok(out)
    }

    /// An upper estimate of the JSON length, to size the output buffer once.
    pub(crate) fn json_len_hint(&self) -> usize {
        self.source.len() + 16 * self.live + 2
    }
}

/// A pickled key as JSON, exactly (as changed through its view, if it was), or a
/// serde_json error saying why it cannot be.
fn pickled_json(pickled: &Pickled) -> Result<Value, serde_json::Error> {
    let exact = pickled
        .value
        .to_json_exact()
        .map_err(<serde_json::Error as serde::ser::Error>::custom)?;
    Ok(pickled.view.get().cloned().unwrap_or(exact))
}

/// A pickled key to save as pickle: as loaded, unless its view was changed, when only a
/// value JSON holds exactly can be saved from it.
fn pickled_value(pickled: &Pickled) -> Result<pickle::Value, serde_json::Error> {
    let Some(view) = pickled.view.get() else {
        return Ok(pickled.value.clone());
    };
    if *view == pickled.value.to_json() {
        return Ok(pickled.value.clone());
    }
    match pickled.value.to_json_exact() {
        Ok(_) => Ok(pickle::Value::from_json(view)),
        Err(_) => Err(<serde_json::Error as serde::ser::Error>::custom(
            format_args!(
                "a Python {} was changed through its JSON view, and saving the view would \
             change its type; replace the key with `insert` or `insert_as` instead",
                pickled.value.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload;

    fn state(text: &str) -> State {
        let parsed = payload::parse(text).unwrap();
        State::from_payload(text.to_owned(), parsed)
    }

    fn json(state: &State) -> String {
        let mut out = Vec::new();
        state.write_json(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Pickled slots are boxed, so a slot of JSON is no larger for them (and the JSON path
    /// moves no more bytes): the enum needs no word of its own for its discriminant.
    #[test]
    fn pickled_slots_do_not_grow_json_slots() {
        use std::mem::size_of;
        assert_eq!(
            size_of::<SlotValue>(),
            size_of::<Text>() + size_of::<OnceCell<Option<Value>>>()
        );
    }

    #[test]
    fn pickled_keys_read_typed_and_untyped_and_save_unchanged() {
        use crate::pickle::Value as P;
        let tuple = P::Tuple(vec![P::Int(1), P::from("a")]);
        let mut s = State::from_pickle(
            [
                ("t".to_owned(), tuple.clone()),
                ("n".to_owned(), P::List(vec![P::Int(2)])),
                ("b".to_owned(), P::Bytes(b"x".to_vec())),
            ],
            false,
        );
        assert_eq!(
            s.get_as::<(u8, String)>("t").unwrap().unwrap(),
            (1, "a".into())
        );
        assert_eq!(s.get("t"), Some(&serde_json::json!([1, "a"])));
        // A view borrowed but left unchanged saves the tuple as it was.
        assert!(s.get_mut("t").is_some());
        // An exact one is saved from its changed view.
        s.get_mut("n")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(3.into());
        s.insert_as("new", &[1.5]).unwrap();
        let saved = s.entries_pickle(true).unwrap();
        assert_eq!(saved[0], ("t", tuple));
        assert_eq!(saved[1], ("n", P::List(vec![P::Int(2), P::Int(3)])));
        assert_eq!(saved[2], ("b", P::Bytes(b"x".to_vec())));
        assert_eq!(saved[3], ("new", P::List(vec![P::Float(1.5)])));
        // As JSON, the tuple cannot be saved: an error naming its key.
        let mut out = Vec::new();
        let (key, err) = s.write_json(&mut out).unwrap_err();
        assert_eq!(key, "t");
        assert!(err.to_string().contains("tuple"), "{err}");
        // A tuple changed through its view cannot be saved as it was: an error naming it.
        s.get_mut("t")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(2.into());
        let (key, err) = s.entries_pickle(true).unwrap_err();
        assert_eq!(key, "t");
        assert!(
            err.to_string().contains("Python tuple was changed"),
            "{err}"
        );
        // Replacing it is the way.
        s.insert("t", serde_json::json!([1, "a", 2]));
        assert_eq!(
            s.entries_pickle(true).unwrap()[0].1,
            P::List(vec![P::Int(1), P::from("a"), P::Int(2)])
        );
    }

    #[test]
    fn untouched_values_are_written_back_byte_for_byte() {
        let s = state(
            r#"[1, 1, {"a": [1,   2], "big": 123456789012345678901234567890, "u": "\u00e9"}]"#,
        );
        assert_eq!(
            json(&s),
            r#"{"a":[1,   2],"big":123456789012345678901234567890,"u":"\u00e9"}"#
        );
    }

    #[test]
    fn typed_write_keeps_place_and_reads_back() {
        let mut s = state(r#"[1, 1, {"a": 1, "b": 2}]"#);
        s.insert_as("a", &vec!["x"]).unwrap();
        assert_eq!(json(&s), r#"{"a":["x"],"b":2}"#);
        assert_eq!(s.get_as::<Vec<String>>("a").unwrap().unwrap(), vec!["x"]);
        assert_eq!(s.get("a"), Some(&serde_json::json!(["x"])));
    }

    #[test]
    fn wrong_type_removal_keeps_the_value() {
        let mut s = state(r#"[1, 1, {"a": "text"}]"#);
        assert!(s.remove_as::<u32>("a").unwrap().is_err());
        assert!(s.contains_key("a"));
        assert_eq!(s.remove_as::<String>("a").unwrap().unwrap(), "text");
        assert!(!s.contains_key("a"));
    }

    #[test]
    fn writes_and_removals_are_tracked_for_stores() {
        let mut s = State::from_entries([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "[1, 2]".to_owned()),
            ("c".to_owned(), "true".to_owned()),
        ]);
        assert!(s.entries_json(false).unwrap().is_empty());
        assert_eq!(s.get_as::<u32>("a").unwrap().unwrap(), 1);
        assert!(!s.is_written("a"));
        s.get_mut("b")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(3.into());
        s.insert_as("d", &"new").unwrap();
        s.remove("c");
        let written: Vec<_> = s
            .entries_json(false)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            written,
            [
                ("b".into(), "[1,2,3]".into()),
                ("d".into(), "\"new\"".into())
            ]
        );
        assert_eq!(s.removed(), ["c"]);
        // Written again: no longer removed.
        s.insert("c", Value::Null);
        assert!(s.removed().is_empty());
        s.clear();
        assert_eq!(s.removed().len(), 4);
    }

    #[test]
    fn cookie_states_do_not_record_removals() {
        let mut s = state(r#"[1, 1, {"a": 1}]"#);
        s.remove("a");
        assert!(s.removed().is_empty());
    }

    /// A request that reads, changes, removes and re-adds every key of a large state makes
    /// a number of key comparisons that grows with the number of keys, not its square.
    #[test]
    fn key_comparisons_grow_linearly_with_the_keys() {
        fn comparisons(n: usize) -> u64 {
            let key = |i: usize| format!("key{i}");
            let entries: Vec<_> = (0..n).map(|i| (key(i), i.to_string())).collect();
            probe::take();
            let mut s = State::from_entries(entries);
            for i in 0..n {
                assert_eq!(s.get_as::<usize>(&key(i)).unwrap().unwrap(), i);
            }
            for i in 0..n {
                s.insert(&key(i), Value::from(i + 1));
            }
            for i in (0..n).step_by(2) {
                assert!(s.remove(&key(i)).is_some());
            }
            for i in (0..n).step_by(4) {
                s.insert_as(&key(i), &"back").unwrap();
            }
            assert_eq!(s.len(), n / 2 + n / 4);
            assert_eq!(s.entries_json(false).unwrap().len(), s.len());
            assert_eq!(s.removed().len(), n / 4);
            probe::take()
        }
        let (thousand, ten_thousand) = (comparisons(1_000), comparisons(10_000));
        // Linear work is about 10x for 10x the keys; a linear search per key would be 100x.
        assert!(
            ten_thousand <= 12 * thousand,
            "{thousand} comparisons at 1k keys, {ten_thousand} at 10k"
        );
        // About one comparison per key looked up: five passes over the keys, and slack for
        // the rare hash collision.
        assert!(ten_thousand <= 6 * 10_000, "{ten_thousand}");
    }

    /// The index and the holes removals leave agree with a plain list under a long run of
    /// mixed operations, in small and large states alike.
    #[test]
    fn indexed_state_matches_a_plain_list() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for keys in [8, 40, 400] {
            let mut s = State::tracked();
            let mut model: Vec<(String, u64)> = Vec::new();
            for step in 0..20_000u64 {
                let key = format!("k{}", next(keys));
                let at = model.iter().position(|(k, _)| *k == key);
                match next(4) {
                    0 | 1 => {
                        s.insert(&key, Value::from(step));
                        match at {
                            Some(at) => model[at].1 = step,
                            None => model.push((key, step)),
                        }
                    }
                    2 => {
                        let removed = s.remove(&key).map(|v| v.unwrap().as_u64().unwrap());
                        assert_eq!(removed, at.map(|at| model.remove(at).1), "{key}");
                    }
                    _ => {
                        let found = s.get(&key).map(|v| v.as_u64().unwrap());
                        assert_eq!(found, at.map(|at| model[at].1), "{key}");
                    }
                }
                assert_eq!(s.len(), model.len());
            }
            let order: Vec<&str> = s.keys().collect();
            let expected: Vec<&str> = model.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(order, expected, "{keys} keys");
        }
    }

    #[test]
    fn a_store_record_with_a_repeated_key_keeps_its_first_place_and_last_text() {
        let s = State::from_entries([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned()),
        ]);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.get_as::<u32>("a").unwrap().unwrap(), 3);
        assert!(s.entries_json(false).unwrap().is_empty(), "nothing written");
    }

    #[test]
    fn out_of_range_number_is_skipped_by_untyped_reads_but_saved() {
        let mut s = state(r#"[1, 1, {"n": 1e400, "m": 1}]"#);
        assert_eq!(s.get("n"), None);
        assert!(s.get_mut("n").is_none());
        assert_eq!(s.iter().count(), 1);
        assert_eq!(json(&s), r#"{"n":1e400,"m":1}"#);
    }
}
