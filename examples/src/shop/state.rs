//! What the shop keeps in the session: a typed schema and a typed flash queue.
//!
//! `#[derive(SessionSchema)]` on [`ShopSession`] generates the `ShopSessionExt` trait, whose
//! accessors (`cart()`, `cart_mut()`, `user()`, `set_user(..)`) work on a `Session` and on
//! the locked handle of a request alike. `#[flash_queue]` on [`Notice`] makes each variant
//! a flash queue, read back typed with [`FlashExt::pop_flashes`](session::FlashExt).

use serde::{Deserialize, Serialize};
use session::{SessionSchema, flash_queue};

/// The shop's session keys and their types.
///
/// Stored as plain JSON under `cart` and `user`, so a Pyramid app sharing the secret reads
/// them as `request.session["cart"]` and `request.session["user"]`.
#[derive(Debug, SessionSchema)]
pub struct ShopSession {
    /// The cart, one line per product; empty when the session has none.
    #[session(default)]
    pub cart: Vec<CartLine>,
    /// The signed-in user's name.
    pub user: Option<String>,
}

/// One product in the cart and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// A [`Product::id`](super::catalog::Product::id).
    pub product: String,
    /// How many; at least 1.
    pub qty: u32,
}

/// A message shown once, on the next page the shopper sees.
#[flash_queue]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Something worked: flash queue `success`.
    Success(String),
    /// Something did not: flash queue `error`.
    Error(String),
}
