//! The session's key/value state, kept as the raw JSON text it arrived as until a key is
//! used.
//!
//! A typed read deserializes straight from that text; the untyped API decodes a key to a
//! [`Value`] once, on first use; a save copies untouched keys back byte for byte.

use std::cell::OnceCell;
use std::ops::Range;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::payload::{Key, RawPayload, key_text};

/// The state of one session: keys in insertion order, as a Python `dict` keeps them.
///
/// Sessions hold a few dozen keys at most (the cookie is under 4 KiB), so a vector with a
/// linear search beats a hash map here.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The payload text that `Text::Source` ranges point into.
    source: String,
    slots: Vec<Slot>,
    /// Whether removals are recorded in `removed`: only for server-side sessions, whose
    /// stores delete exactly the removed keys. Cookie sessions rewrite the whole state, so
    /// they skip the bookkeeping (and its allocations).
    track_removed: bool,
    /// Keys removed since the load and not written again, for a store's partial save.
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
}

#[derive(Debug)]
enum Text {
    Source(Range<usize>),
    Owned(Box<str>),
}

impl State {
    pub(crate) fn from_payload(source: String, payload: RawPayload) -> Self {
        let slots = payload
            .entries
            .into_iter()
            .map(|(key, range)| Slot {
                key,
                value: SlotValue::Text {
                    text: Text::Source(range),
                    decoded: OnceCell::new(),
                },
                written: false,
            })
            .collect();
        Self {
            source,
            slots,
            ..Self::default()
        }
    }

    /// A state loaded from a store: `(key, JSON text)` pairs, kept as text until used, with
    /// removals recorded. The text is not checked here: a value that is not JSON is an
    /// error naming its key when it is read as a type, and is saved back as it was.
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let slots = entries
            .into_iter()
            .map(|(key, text)| Slot {
                key: Key::Owned(key.into_boxed_str()),
                value: SlotValue::Text {
                    text: Text::Owned(text.into_boxed_str()),
                    decoded: OnceCell::new(),
                },
                written: false,
            })
            .collect();
        Self {
            slots,
            track_removed: true,
            ..Self::default()
        }
    }

    /// An empty state that records removals, for a new server-side session.
    pub(crate) fn tracked() -> Self {
        Self {
            track_removed: true,
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn key<'a>(&'a self, slot: &'a Slot) -> &'a str {
        key_text(&self.source, &slot.key)
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.slots.iter().position(|slot| self.key(slot) == key)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub(crate) fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.slots.iter().map(|slot| self.key(slot))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.slots
            .iter()
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
        let slot = &self.slots[self.position(key)?];
        self.decode(&slot.value)
    }

    /// Deserializes a key straight from its text, without building a `Value`.
    pub(crate) fn get_as<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let slot = &self.slots[self.position(key)?];
        Some(match &slot.value {
            SlotValue::Text { text, decoded } => match decoded.get() {
                Some(Some(value)) => T::deserialize(value),
                _ => serde_json::from_str(self.text(text)),
            },
            SlotValue::Value(value) => T::deserialize(value),
        })
    }

    /// A mutable `Value` for the key, decoding it first. `None` when the key is missing or
    /// cannot be held as a `Value`.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let index = self.position(key)?;
        self.make_value(index)
    }

    fn make_value(&mut self, index: usize) -> Option<&mut Value> {
        self.slots[index].written = true;
        if let SlotValue::Text { .. } = self.slots[index].value {
            let value = self.decode(&self.slots[index].value)?.clone();
            self.slots[index].value = SlotValue::Value(value);
        }
        match &mut self.slots[index].value {
            SlotValue::Value(value) => Some(value),
            SlotValue::Text { .. } => None,
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
                text: Text::Owned(text.into_boxed_str()),
                decoded: OnceCell::new(),
            },
        );
        Ok(())
    }

    fn put(&mut self, key: &str, value: SlotValue) -> Option<SlotValue> {
        match self.position(key) {
            Some(index) => {
                self.slots[index].written = true;
                Some(std::mem::replace(&mut self.slots[index].value, value))
            }
            None => {
                if self.track_removed {
                    self.removed.retain(|removed| **removed != *key);
                }
                self.slots.push(Slot {
                    key: Key::Owned(key.into()),
                    value,
                    written: true,
                });
                None
            }
        }
    }

    /// Takes the slot at `index` out, recording its key as removed when tracking.
    fn remove_at(&mut self, index: usize) -> Slot {
        let slot = self.slots.remove(index);
        if self.track_removed {
            let key = self.key(&slot).into();
            self.removed.push(key);
        }
        slot
    }

    fn take_value(&self, value: SlotValue) -> Option<Value> {
        match value {
            SlotValue::Value(value) => Some(value),
            SlotValue::Text { text, decoded } => match decoded.into_inner() {
                Some(value) => value,
                None => serde_json::from_str(self.text(&text)).ok(),
            },
        }
    }

    /// Removes a key: `None` when it is missing, `Some(None)` when its value cannot be held
    /// as a [`Value`] (a number beyond `f64`).
    pub(crate) fn remove(&mut self, key: &str) -> Option<Option<Value>> {
        let index = self.position(key)?;
        let slot = self.remove_at(index);
        Some(self.take_value(slot.value))
    }

    /// Removes a key only if its value deserializes as `T`; a value of another type stays.
    pub(crate) fn remove_as<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let result = self.get_as::<T>(key)?;
        if result.is_ok() {
            let index = self.position(key)?;
            self.remove_at(index);
        }
        Some(result)
    }

    pub(crate) fn clear(&mut self) {
        if self.track_removed {
            let keys: Vec<Box<str>> = self.keys().map(Into::into).collect();
            self.removed.extend(keys);
        }
        self.slots.clear();
        self.source.clear();
    }

    /// Marks every key written, so a partial save writes them all (after
    /// [`Session::changed`](crate::Session::changed), which says "something changed" without
    /// saying what).
    pub(crate) fn mark_all_written(&mut self) {
        for slot in &mut self.slots {
            slot.written = true;
        }
    }

    /// Whether a key was written since the load.
    #[cfg(test)]
    fn is_written(&self, key: &str) -> bool {
        self.position(key).is_some_and(|i| self.slots[i].written)
    }

    /// The keys removed since the load and not written again.
    pub(crate) fn removed(&self) -> &[Box<str>] {
        &self.removed
    }

    /// Each key with its JSON text: all keys (`all`), or only those written since the load.
    /// Undecoded values are lent as they are; values changed through the untyped API are
    /// serialized. An error names the key that cannot be serialized.
    pub(crate) fn entries_json(
        &self,
        all: bool,
    ) -> Result<Vec<KeyedJson<'_>>, (String, serde_json::Error)> {
        let mut out = Vec::new();
        for slot in self.slots.iter().filter(|slot| all || slot.written) {
            let text = match &slot.value {
                SlotValue::Text { text, .. } => std::borrow::Cow::Borrowed(self.text(text)),
                SlotValue::Value(value) => std::borrow::Cow::Owned(
                    serde_json::to_string(value).map_err(|e| (self.key(slot).to_owned(), e))?,
                ),
            };
            out.push((self.key(slot), text));
        }
        Ok(out)
    }

    /// Writes the state as a JSON object, copying undecoded values as they are.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), (String, serde_json::Error)> {
        out.push(b'{');
        for (i, slot) in self.slots.iter().enumerate() {
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
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// An upper estimate of the JSON length, to size the output buffer once.
    pub(crate) fn json_len_hint(&self) -> usize {
        self.source.len() + 16 * self.slots.len() + 2
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
        assert_eq!(s.removed(), [Box::from("c")]);
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

    #[test]
    fn out_of_range_number_is_skipped_by_untyped_reads_but_saved() {
        let mut s = state(r#"[1, 1, {"n": 1e400, "m": 1}]"#);
        assert_eq!(s.get("n"), None);
        assert!(s.get_mut("n").is_none());
        assert_eq!(s.iter().count(), 1);
        assert_eq!(json(&s), r#"{"n":1e400,"m":1}"#);
    }
}
