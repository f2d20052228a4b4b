//! Flash messages, Pyramid's `session.flash(msg, queue)`: each queue is a JSON list under
//! the session key `"_f_" + queue`.
//!
//! Plain values go through the untyped methods on [`Session`] (`flash`, `flash_to`,
//! `pop_flash`, `peek_flash`); a `#[flash_queue]` enum ([`FlashQueue`]) routes each variant
//! to its own queue and reads them back typed ([`FlashExt`]).

mod queue;
mod typed;

use serde_json::Value;

use crate::error::SessionError;
use crate::reserved::FLASH_PREFIX;

pub(crate) use typed::codegen;
pub use typed::{FlashExt, FlashQueue};

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

/// The session key of flash queue `queue`.
pub(crate) fn flash_key(queue: &str) -> String {
    [FLASH_PREFIX, queue].concat()
}
