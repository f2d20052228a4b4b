//! Typed flash queues: the [`FlashQueue`] trait that `#[flash_queue]` implements, the
//! [`FlashExt`] reads on [`Session`], and the helpers the generated code calls.

use serde_json::Value;

use super::{Flash, flash_key};
use crate::error::SessionError;
use crate::session::Session;
use crate::typed::OnWrongType;

/// A `#[flash_queue]` enum: each variant is a flash queue, and its payload is the message.
///
/// Implemented by the attribute macro, together with [`Flash`] (which routes a value to its
/// variant's queue). Read the queues back with the [`FlashExt`] methods on [`Session`].
pub trait FlashQueue: Flash + Sized {
    /// The queue names, in variant order.
    const QUEUES: &'static [&'static str];

    /// What the typed reads do with a queued message that does not decode as its variant
    /// (`#[flash_queue(on_wrong_type = "error" | "skip")]`): fail, or skip it with a
    /// `tracing::warn!` naming the queue (the default).
    const ON_WRONG_TYPE: OnWrongType = OnWrongType::Ignore;

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
/// A queued message that does not decode as its queue's variant (an older deploy or
/// another app wrote it) is handled as `N`'s [`ON_WRONG_TYPE`](FlashQueue::ON_WRONG_TYPE)
/// says, and is never dropped without a log line:
///
/// - [`OnWrongType::Ignore`] (the default): it is skipped with a `tracing::warn!` naming the
///   queue's key; the `pop_*` methods remove it with its queue.
/// - [`OnWrongType::Error`]: the call returns the error and, for the `pop_*` methods, leaves
///   every queue as it was. Drain such a queue with the untyped [`Session::pop_flash`].
pub trait FlashExt: sealed::Sealed {
    /// The messages of all of `N`'s queues, in variant order, without removing them.
    fn peek_flashes<N: FlashQueue>(&self) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of all of `N`'s queues, in variant order. On error
    /// nothing is removed. Marks the session changed when a queue was there.
    fn pop_flashes<N: FlashQueue>(&mut self) -> Result<Vec<N>, SessionError>;

    /// The messages of one of `N`'s queues, without removing them.
    ///
    /// [`SessionError::UnknownFlashQueue`] when `queue` is not one of
    /// [`N::QUEUES`](FlashQueue::QUEUES) (a queue name taken from a request, say).
    fn peek_flashes_from<N: FlashQueue>(&self, queue: &str) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of one of `N`'s queues. On error nothing is
    /// removed. Marks the session changed when the queue was there.
    ///
    /// [`SessionError::UnknownFlashQueue`] when `queue` is not one of
    /// [`N::QUEUES`](FlashQueue::QUEUES).
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
        check_queue::<N>(queue)?;
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

fn check_queue<N: FlashQueue>(queue: &str) -> Result<(), SessionError> {
    if N::QUEUES.contains(&queue) {
        return Ok(());
    }
    Err(SessionError::UnknownFlashQueue {
        queue: queue.to_owned(),
        flash_type: std::any::type_name::<N>(),
        queues: N::QUEUES,
    })
}

/// Appends the messages of `queue` to `out`, decoded; an undecodable one is an error or
/// skipped, as `N::ON_WRONG_TYPE` says.
fn decode_queue<N: FlashQueue>(
    session: &Session,
    queue: &str,
    out: &mut Vec<N>,
) -> Result<(), SessionError> {
    let messages = match session.peek_flash(queue) {
        Ok(messages) => messages,
        Err(err) => return skip_or_fail::<N>(err, "the queue is not a list; it is skipped"),
    };
    for message in messages {
        match N::from_message(queue, message) {
            Ok(decoded) => out.push(decoded),
            Err(err) => skip_or_fail::<N>(err, "a flash message does not decode; it is skipped")?,
        }
    }
    Ok(())
}

fn skip_or_fail<N: FlashQueue>(err: SessionError, why: &str) -> Result<(), SessionError> {
    match N::ON_WRONG_TYPE {
        OnWrongType::Error => Err(err),
        OnWrongType::Ignore => {
            tracing::warn!(
                key = err.key().unwrap_or_default(),
                flash_type = std::any::type_name::<N>(),
                error = %err,
                "{why}"
            );
            Ok(())
        }
    }
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
    fn unknown_queue_names_are_errors_naming_the_queues() {
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
        let mut session = Session::new();
        let Err(err) = session.peek_flashes_from::<N>("nope") else {
            panic!("an unknown queue read as a queue");
        };
        assert!(
            matches!(err, SessionError::UnknownFlashQueue { ref queue, .. } if queue == "nope")
        );
        assert!(err.to_string().contains("[\"a\"]"), "{err}");
        assert!(session.pop_flashes_from::<N>("nope").is_err());
        assert!(!session.is_dirty());
    }
}
