//! What the load servers (`load_server` on axum, `actix_load_server` on actix-web) keep in
//! the session, so that `bench/wrk.sh` and `bench/wrk-frameworks.sh` measure the same work.

use serde::{Deserialize, Serialize};
use typed_sessions::{Session, SessionSchema};

/// One line of the load session's cart.
#[derive(Serialize, Deserialize)]
pub struct Line {
    sku: String,
    name: String,
    qty: u32,
    price_cents: u64,
}

/// The load session: a user, a counter and a cart.
#[derive(SessionSchema)]
#[allow(dead_code)] // read through the generated accessors only
pub struct LoadSession {
    user_id: Option<u64>,
    #[session(default)]
    views: u64,
    #[session(default)]
    cart: Vec<Line>,
}

/// A ~1 KiB session: a user, a counter, a CSRF token, a flash and a cart of 12 lines.
pub fn one_kib_session() -> Session {
    let mut session = Session::new();
    session.set_user_id(Some(48_213)).unwrap();
    session.set_views(0).unwrap();
    session.insert("_csrft_", "0123456789abcdef0123456789abcdef01234567");
    session.flash_to("success", "Welcome back!").unwrap();
    let cart = (0..12)
        .map(|i| Line {
            sku: format!("SKU-{i:05}"),
            name: format!("Product number {i}"),
            qty: 1,
            price_cents: 199 + i,
        })
        .collect();
    session.set_cart(cart).unwrap();
    session
}
