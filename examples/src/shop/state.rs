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
    /// The cart, one line per product; empty when the session has none. Two requests that
    /// change it at once (two tabs adding) both count: [`merge_cart`] applies each one's
    /// change to what the other saved.
    #[session(default, migrate = migrations::cart_v1, merge = merge_cart)]
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

/// The cart's three-way merge, for a save whose cart another request changed since this one
/// loaded it: this request's change (`ours` − `base`, per product) applied to what the store
/// holds now (`theirs`). A quantity never goes below 0, and a line at 0 goes; products keep
/// the store's order, and products new to it follow in this request's.
///
/// ```
/// use typed_sessions_examples::shop::state::{CartLine, merge_cart};
///
/// let line = |product: &str, qty| CartLine { product: product.into(), qty };
/// // Both tabs loaded one sencha; this one added a sencha, the other a matcha.
/// let merged = merge_cart(
///     vec![line("sencha", 1)],
///     vec![line("sencha", 2)],
///     vec![line("sencha", 1), line("matcha", 1)],
/// );
/// assert_eq!(merged, [line("sencha", 2), line("matcha", 1)]);
/// ```
pub fn merge_cart(
    base: Vec<CartLine>,
    ours: Vec<CartLine>,
    theirs: Vec<CartLine>,
) -> Vec<CartLine> {
    fn qty(lines: &[CartLine], product: &str) -> i64 {
        lines
            .iter()
            .filter(|line| line.product == product)
            .map(|line| i64::from(line.qty))
            .sum()
    }
    let change = |product: &str| qty(&ours, product) - qty(&base, product);
    let mut merged = theirs;
    for line in ours.iter().chain(&base) {
        if !merged.iter().any(|kept| kept.product == line.product) {
            merged.push(CartLine {
                product: line.product.clone(),
                qty: 0,
            });
        }
    }
    for line in &mut merged {
        let qty = i64::from(line.qty) + change(&line.product);
        line.qty = u32::try_from(qty.max(0)).unwrap_or(u32::MAX);
    }
    merged.retain(|line| line.qty > 0);
    merged
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cart(lines: &[(&str, u32)]) -> Vec<CartLine> {
        lines
            .iter()
            .map(|&(product, qty)| CartLine {
                product: product.to_owned(),
                qty,
            })
            .collect()
    }

    fn merge(base: &[(&str, u32)], ours: &[(&str, u32)], theirs: &[(&str, u32)]) -> Vec<CartLine> {
        merge_cart(cart(base), cart(ours), cart(theirs))
    }

    #[test]
    fn both_requests_adds_count() {
        assert_eq!(
            merge(&[("sencha", 1)], &[("sencha", 2)], &[("sencha", 3)]),
            cart(&[("sencha", 4)])
        );
        assert_eq!(
            merge(&[], &[("sencha", 1)], &[("matcha", 1)]),
            cart(&[("matcha", 1), ("sencha", 1)])
        );
    }

    #[test]
    fn a_removed_line_goes_and_never_below_zero() {
        // This request removed its sencha line while the other added one more: one stays.
        assert_eq!(
            merge(&[("sencha", 2)], &[], &[("sencha", 3)]),
            cart(&[("sencha", 1)])
        );
        // The other removed the line (or checked out) meanwhile: our removal leaves none,
        // not a negative.
        assert_eq!(merge(&[("sencha", 2)], &[], &[]), cart(&[]));
        assert_eq!(
            merge(&[("sencha", 2)], &[("sencha", 1)], &[("matcha", 1)]),
            cart(&[("matcha", 1)])
        );
    }

    #[test]
    fn what_this_request_left_alone_is_the_stores() {
        assert_eq!(
            merge(
                &[("sencha", 1), ("matcha", 1)],
                &[("sencha", 1), ("matcha", 2)],
                &[("genmaicha", 5)]
            ),
            cart(&[("genmaicha", 5), ("matcha", 1)])
        );
    }
}
