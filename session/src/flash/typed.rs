//! Typed flash queues: the [`FlashQueue`] trait that `#[flash_queue]` implements, the
//! [`FlashExt`] reads on [`Session`], and the helpers the generated code calls.

use serde_json::Value;

use super::{Flash, flash_key};
use crate::error::SessionError;
use crate::session::Session;

/// A `#[flash_queue]` enum: each variant is a flash queue, and its payload is the message.
///
/// Implemented by the attribute macro, together with [`Flash`] (which routes a value to its
/// variant's queue). Read the queues back with the [`FlashExt`] methods on [`Session`].
pub trait FlashQueue: Flash + Sized {
    /// The queue names, in variant order.
    const QUEUES: &'static [&'static str];

    /// Decodes a message taken from `queue` as the variant of that queue.
    ///
    /// A [`SessionError::WrongType`] naming the queue's key and the variant when the message
    /// does not decode (another app put something else in the queue), or when `queue` is
    /// not one of [`QUEUES`](Self::QUEUES).
    fn from_message(queue: &str, message: Value) -> Result<Self, SessionError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Session {}
}

/// Typed flash reads on a [`Session`], for a [`FlashQueue`] enum `N`.
///
/// Writing needs nothing extra: [`Session::flash`] and [`Session::flash_unique`] take a
/// `#[flash_queue]` value and append it to its variant's queue.
///
/// A queued message that does not decode as its queue's variant (another app wrote it)
/// is never dropped: the call returns the error and, for the `pop_*` methods, leaves every
/// queue as it was. Drain such a queue with the untyped [`Session::pop_flash`].
pub trait FlashExt: sealed::Sealed {
    /// The messages of all of `N`'s queues, in variant order, without removing them.
    fn peek_flashes<N: FlashQueue>(&self) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of all of `N`'s queues, in variant order. On error
    /// nothing is removed. Marks the session changed when a queue was there.
    fn pop_flashes<N: FlashQueue>(&mut self) -> Result<Vec<N>, SessionError>;

    /// The messages of one of `N`'s queues, without removing them.
    ///
    /// # Panics
    ///
    /// When `queue` is not one of [`N::QUEUES`](FlashQueue::QUEUES): a misspelt queue name
    /// is a bug, not an empty queue.
    fn peek_flashes_from<N: FlashQueue>(&self, queue: &str) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of one of `N`'s queues. On error nothing is
    /// removed. Marks the session changed when the queue was there.
    ///
    /// # Panics
    ///
    /// When `queue` is not one of [`N::QUEUES`](FlashQueue::QUEUES).
    fn pop_flashes_from<N: FlashQueue>(&mut self, queue: &str) -> Result<Vec<N>, SessionError>;
}

impl FlashExt for Session {
    fn peek_flashes<N: FlashQueue>(&self) -> Result<Vec<N>, SessionError> {
        let mut out = Vec::new();
        for queue in N::QUEUES {
            decode_queue(self, queue, &mut out)?;
        }
        Ok(out)
    }

    fn pop_flashes<N: FlashQueue>(&mut self) -> Result<Vec<N>, SessionError> {
        let out = self.peek_flashes()?;
        for queue in N::QUEUES {
            self.remove(&flash_key(queue));
        }
        Ok(out)
    }

    fn peek_flashes_from<N: FlashQueue>(&self, queue: &str) -> Result<Vec<N>, SessionError> {
        assert_queue::<N>(queue);
        let mut out = Vec::new();
        decode_queue(self, queue, &mut out)?;
        Ok(out)
    }

    fn pop_flashes_from<N: FlashQueue>(&mut self, queue: &str) -> Result<Vec<N>, SessionError> {
        let out = self.peek_flashes_from(queue)?;
        self.remove(&flash_key(queue));
        Ok(out)
    }
}

fn assert_queue<N: FlashQueue>(queue: &str) {
    assert!(
        N::QUEUES.contains(&queue),
        "`{queue}` is not a queue of `{}`; its queues are {:?}",
        std::any::type_name::<N>(),
        N::QUEUES,
    );
}

fn decode_queue<N: FlashQueue>(
    session: &Session,
    queue: &str,
    out: &mut Vec<N>,
) -> Result<(), SessionError> {
    for message in session.peek_flash(queue)? {
        out.push(N::from_message(queue, message)?);
    }
    Ok(())
}

/// What `#[flash_queue]`'s generated code calls, through `__private`.
pub(crate) mod codegen {
    use serde::de;
    use serde_json::Value;

    use super::flash_key;
    use crate::error::SessionError;

    /// A struct variant's message: the JSON object `build` fills in.
    pub fn object_message(
        queue: &str,
        build: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<(), serde_json::Error>,
    ) -> Result<Value, SessionError> {
        let mut object = serde_json::Map::new();
        match build(&mut object) {
            Ok(()) => Ok(Value::Object(object)),
            Err(err) => Err(SessionError::unserializable(&flash_key(queue), err)),
        }
    }

    /// A message that failed to serialize, naming its queue's key.
    pub fn unserializable_message(queue: &str, err: serde_json::Error) -> SessionError {
        SessionError::unserializable(&flash_key(queue), err)
    }

    /// A newtype variant decoded from a message of `queue`, or the error naming the queue's
    /// key and the variant `expected` (`"Notice::Success"`).
    pub fn decode<N>(
        queue: &str,
        expected: &'static str,
        decoded: Result<N, serde_json::Error>,
    ) -> Result<N, SessionError> {
        decoded.map_err(|err| wrong_message(queue, expected, err))
    }

    /// Decodes a struct variant's message: a JSON object whose members `decode` takes.
    pub fn decode_object<N>(
        queue: &str,
        expected: &'static str,
        message: Value,
        decode: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<N, serde_json::Error>,
    ) -> Result<N, SessionError> {
        let result = match message {
            Value::Object(mut object) => decode(&mut object),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        };
        result.map_err(|err| wrong_message(queue, expected, err))
    }

    /// `from_message` for a queue the enum does not have.
    pub fn unknown_queue(queue: &str, expected: &'static str) -> SessionError {
        wrong_message(
            queue,
            expected,
            de::Error::custom(format_args!("`{queue}` is not a queue of `{expected}`")),
        )
    }

    fn wrong_message(
        queue: &str,
        expected: &'static str,
        source: serde_json::Error,
    ) -> SessionError {
        SessionError::WrongType {
            key: flash_key(queue),
            expected,
            source,
        }
    }

    fn unexpected(value: &Value) -> de::Unexpected<'_> {
        match value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Number(_) => de::Unexpected::Other("a number"),
            Value::String(s) => de::Unexpected::Str(s),
            Value::Array(_) => de::Unexpected::Seq,
            Value::Object(_) => de::Unexpected::Map,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "`nope` is not a queue of")]
    fn unknown_queue_names_panic() {
        struct N;
        impl Flash for N {
            fn queue(&self) -> &str {
                "a"
            }
            fn into_message(self) -> Result<Value, SessionError> {
                Ok(Value::Null)
            }
        }
        impl FlashQueue for N {
            const QUEUES: &'static [&'static str] = &["a"];
            fn from_message(_: &str, _: Value) -> Result<Self, SessionError> {
                Ok(N)
            }
        }
        let _ = Session::new().peek_flashes_from::<N>("nope");
    }
}
