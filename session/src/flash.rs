//! What can be flashed: a plain message to the default queue, or a typed message that
//! names its own queue.

use serde_json::Value;

use crate::error::SessionError;

/// A flash message and the queue it goes to.
///
/// Plain values (`&str`, `String`, numbers, `bool`, [`Value`]) go to the default queue
/// `""`, as Pyramid's `session.flash(msg)` does. `#[flash_queue]` enums implement it to
/// route each variant to its own queue.
pub trait Flash {
    /// The queue's name; the session key is [`FLASH_PREFIX`](crate::FLASH_PREFIX) + name.
    fn queue(&self) -> &str;

    /// The message as it is stored in the queue.
    fn into_message(self) -> Result<Value, SessionError>;
}

macro_rules! default_queue {
    ($($ty:ty),* $(,)?) => {$(
        impl Flash for $ty {
            fn queue(&self) -> &str {
                ""
            }

            fn into_message(self) -> Result<Value, SessionError> {
                Ok(Value::from(self))
            }
        }
    )*};
}

default_queue!(&str, String, bool, i32, i64, u32, u64, f64, Value);
