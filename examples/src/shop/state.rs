//! What the shop keeps in the session: a typed schema and a typed flash queue.
//!
//! `#[derive(SessionSchema)]` on [`ShopSession`] generates the `ShopSessionExt` trait, whose
//! accessors (`cart()`, `cart_mut()`, `user()`, `set_user(..)`) work on a `Session` and on
//! the locked handle of a request alike. `#[flash_queue]` on [`Notice`] makes each variant
//! a flash queue, read back typed with [`FlashExt::pop_flashes`](typed_sessions::FlashExt).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use typed_sessions::{SessionSchema, flash_queue};

/// The shop's session keys and their types.
///
/// Stored as plain JSON under `cart` and `user`, so a Pyramid app sharing the secret reads
/// them as `request.session["cart"]` and `request.session["user"]`.
///
/// This is the set-up a real app should copy so that no deploy locks a user out: sessions
/// outlive the code that wrote them. A stored value that does not decode is first given to
/// the field's migration (an older cart shape, and the shape the Pyramid app writes); what no
/// migration reads is read as missing, with a warning naming the key (`on_wrong_type =
/// "missing"`, the default, spelt out here for readers). `fixtures/sessions/` holds a
/// session of each such shape (constructed for the example: see its README), and a test
/// checks that all of them still load.
#[derive(Debug, SessionSchema)]
#[session(on_wrong_type = "missing")]
pub struct ShopSession {
    /// The cart, one line per product; empty when the session has none.
    #[session(default, migrate = migrations::cart_v1)]
    pub cart: Vec<CartLine>,
    /// The signed-in user's name.
    #[session(migrate = migrations::user_from_pyramid)]
    pub user: Option<String>,
}

/// How the shop reads the shapes older code stored.
pub mod migrations {
    use super::{CartLine, Deserialize, Value};

    /// A cart line of an older shape, without a quantity (`{"product": "sencha"}`): one of
    /// each. The shop itself has stored `qty` since its first version; this shape stands
    /// for what an app's earlier release wrote, to show a migration at work.
    pub fn cart_v1(stored: Value) -> Result<Vec<CartLine>, serde_json::Error> {
        #[derive(Deserialize)]
        struct LineV1 {
            product: String,
        }
        let lines: Vec<LineV1> = serde_json::from_value(stored)?;
        Ok(lines
            .into_iter()
            .map(|line| CartLine {
                product: line.product,
                qty: 1,
            })
            .collect())
    }

    /// The Pyramid app that shares the session stores the signed-in user as a numeric id
    /// (`{"user": 42}`); the shop shows it as that number.
    pub fn user_from_pyramid(stored: Value) -> Result<Option<String>, &'static str> {
        match stored {
            Value::Number(id) if id.is_u64() => Ok(Some(id.to_string())),
            _ => Err("neither a user name nor a numeric user id"),
        }
    }
}

/// One product in the cart and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// A [`Product::id`](super::catalog::Product::id).
    pub product: String,
    /// How many; at least 1.
    pub qty: u32,
}

/// A message shown once, on the next page the shopper sees. A queued message that does not
/// decode (another app queued it) is skipped with a warning, never a failed page.
#[flash_queue(on_wrong_type = "skip")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Something worked: flash queue `success`.
    Success(String),
    /// Something did not: flash queue `error`.
    Error(String),
}
