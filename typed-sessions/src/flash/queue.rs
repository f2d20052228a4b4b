//! The untyped flash methods of [`Session`], as Pyramid has them.

use serde_json::Value;

use super::{Flash, flash_key};
use crate::error::SessionError;
use crate::session::Session;

impl Session {
    /// Appends `message` to its queue: the default queue `""` for plain values, the
    /// variant's queue for a `#[flash_queue]` enum.
    ///
    /// A queue keeps at most the factory's
    /// [`flash_queue_cap`](crate::Builder::flash_queue_cap) messages (20 by default): a full
    /// queue drops its oldest message, with a warning naming the queue, so that flash
    /// messages never push a cookie session over its size budget by themselves (a burst of
    /// form posts without a page view in between).
    ///
    /// ```
    /// use typed_sessions::Session;
    ///
    /// let mut session = Session::new(); // the default cap, 20
    /// for n in 0..25 {
    ///     session.flash(format!("added item {n}"))?;
    /// }
    /// let messages = session.pop_flash("")?;
    /// assert_eq!(messages.len(), 20);
    /// assert_eq!(messages[0], "added item 5"); // the five oldest were dropped
    /// # Ok::<(), typed_sessions::SessionError>(())
    /// ```
    ///
    /// An error when the queue's key holds something other than a list (another app wrote
    /// it), or when a typed message cannot be serialized; the session is then unchanged.
    pub fn flash(&mut self, message: impl Flash) -> Result<(), SessionError> {
        let queue = message.queue().to_owned();
        self.push_flash(&queue, message.into_message()?, true)
            .map(drop)
    }

    /// Appends `message` to its queue unless an equal message is already queued (Pyramid's
    /// `allow_duplicate=False`). Returns whether it was added.
    pub fn flash_unique(&mut self, message: impl Flash) -> Result<bool, SessionError> {
        let queue = message.queue().to_owned();
        self.push_flash(&queue, message.into_message()?, false)
    }

    /// Appends `message` to flash queue `queue`.
    pub fn flash_to(&mut self, queue: &str, message: impl Into<Value>) -> Result<(), SessionError> {
        self.push_flash(queue, message.into(), true).map(drop)
    }

    /// Appends `message` to flash queue `queue` unless an equal message is already queued
    /// (Pyramid's `allow_duplicate=False`). Returns whether it was added.
    pub fn flash_unique_to(
        &mut self,
        queue: &str,
        message: impl Into<Value>,
    ) -> Result<bool, SessionError> {
        self.push_flash(queue, message.into(), false)
    }

    /// Removes and returns the messages of flash queue `queue` (empty if there are none).
    /// Marks the session changed, as in Pyramid.
    pub fn pop_flash(&mut self, queue: &str) -> Result<Vec<Value>, SessionError> {
        self.mark_changed();
        let key = flash_key(queue);
        Ok(self.remove_as::<Vec<Value>>(&key)?.unwrap_or_default())
    }

    /// Returns the messages of flash queue `queue` without removing them.
    pub fn peek_flash(&self, queue: &str) -> Result<Vec<Value>, SessionError> {
        Ok(self
            .get_as::<Vec<Value>>(&flash_key(queue))?
            .unwrap_or_default())
    }

    fn push_flash(
        &mut self,
        queue: &str,
        message: Value,
        allow_duplicate: bool,
    ) -> Result<bool, SessionError> {
        let key = flash_key(queue);
        self.watch_builtin(&key);
        self.ensure_flash_list(&key)?;
        self.mark_changed();
        let cap = self.flash_queue_cap();
        let Some(Value::Array(messages)) = self.state_mut().get_mut(&key) else {
            // Only a list whose items serde_json cannot hold as values gets here.
            return Err(SessionError::wrong_type::<Vec<Value>>(
                &key,
                serde::de::Error::custom("the flash queue cannot be decoded"),
            ));
        };
        if !allow_duplicate && messages.contains(&message) {
            return Ok(false);
        }
        messages.push(message);
        if let Some(cap) = cap
            && messages.len() > cap
        {
            let dropped = messages.len() - cap;
            messages.drain(..dropped);
            tracing::warn!(
                queue,
                cap,
                dropped,
                "flash queue full; its oldest message was dropped"
            );
        }
        Ok(true)
    }

    /// Makes sure `key` holds a list, creating an empty one; an error if it holds anything
    /// else, so another app's value is never overwritten.
    fn ensure_flash_list(&mut self, key: &str) -> Result<(), SessionError> {
        let state = self.state_mut();
        match state.get_as::<Vec<serde::de::IgnoredAny>>(key) {
            None => {
                state.insert(key, Value::Array(Vec::new()));
                Ok(())
            }
            Some(Ok(_)) => Ok(()),
            Some(Err(err)) => Err(SessionError::wrong_type::<Vec<Value>>(key, err)),
        }
    }
}
