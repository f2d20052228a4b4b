//! The check a partial save makes so that two requests changing one key do not silently
//! overwrite each other: what the request loaded under each key it changed
//! ([`Expected`], on [`Commit::expect`]), and what a store answers when another request
//! changed it meanwhile ([`ConcurrentWrite`], in [`StoreError::Conflict`]).

use std::fmt;

use super::{Commit, Record, StoreError};

/// A key whose stored text must still be what the request loaded for a [`Commit`] to
/// apply: a key of a field whose schema declares a conflict policy (see
/// [`Commit::expect`]).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Expected {
    /// The session key.
    pub key: String,
    /// Its JSON text when the request loaded the session; `None`: the key was absent.
    pub loaded: Option<String>,
}

impl Expected {
    /// `key` must still hold `loaded` (`None`: must still be absent).
    pub fn new(key: impl Into<String>, loaded: Option<String>) -> Self {
        Self {
            key: key.into(),
            loaded,
        }
    }
}

impl fmt::Debug for Expected {
    /// The key and the text's length, never the text: it may be a CSRF token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expected")
            .field("key", &self.key)
            .field("loaded_len", &self.loaded.as_ref().map(String::len))
            .finish()
    }
}

/// A key that another request changed since this one loaded the session: what the store
/// holds under it now.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ConcurrentWrite {
    /// The session key.
    pub key: String,
    /// Its JSON text in the store now; `None`: the other request removed it.
    pub current: Option<String>,
}

impl ConcurrentWrite {
    /// `key` holds `current` in the store (`None`: it is absent).
    pub fn new(key: impl Into<String>, current: Option<String>) -> Self {
        Self {
            key: key.into(),
            current,
        }
    }
}

impl fmt::Debug for ConcurrentWrite {
    /// The key and the text's length, never the text: it may be a CSRF token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentWrite")
            .field("key", &self.key)
            .field("current_len", &self.current.as_ref().map(String::len))
            .finish()
    }
}

/// The message of [`StoreError::Conflict`]: the keys, never their values.
pub(crate) fn describe(keys: &[ConcurrentWrite]) -> String {
    let names: Vec<String> = keys.iter().map(|k| format!("`{}`", k.key)).collect();
    format!(
        "session key{} {} changed by another request since this one loaded the session",
        if keys.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}

impl Commit {
    /// The keys of [`expect`](Self::expect) whose text in `record` is no longer what the
    /// request loaded, with what `record` holds: a helper for stores that keep
    /// [`Record`]s in memory, which apply the commit only when this is empty.
    pub fn conflicts(&self, record: &Record) -> Vec<ConcurrentWrite> {
        self.expect
            .iter()
            .filter_map(|expected| {
                let current = record
                    .entries
                    .iter()
                    .rev()
                    .find(|(key, _)| *key == expected.key)
                    .map(|(_, text)| text);
                (current != expected.loaded.as_ref())
                    .then(|| ConcurrentWrite::new(&expected.key, current.cloned()))
            })
            .collect()
    }

    /// [`conflicts`](Self::conflicts) as a result: `Err(StoreError::Conflict)` when there
    /// are any.
    pub fn check(&self, record: &Record) -> Result<(), StoreError> {
        let keys = self.conflicts(record);
        if keys.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Conflict { keys })
        }
    }
}
