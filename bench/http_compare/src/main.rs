//! One app on several session engines, for `bench/http-compare.sh`: the same routes and the
//! same state on our session layer and on the peers' own middleware, so that wrk measures
//! what each engine costs a request.
//!
//! `peer_server <engine>` serves on 127.0.0.1 (one thread for axum, one actix-web worker)
//! and prints `LISTENING=<port>`; Redis engines read `REDIS_URL`. Engines:
//! `axum-tower-memory`, `axum-tower-redis`, `axum-ours-memory`, `axum-ours-redis`,
//! `axum-ours-signed`; `actix-their-signed`, `actix-their-private`, `actix-their-redis`,
//! `actix-ours-signed`, `actix-ours-encrypted`, `actix-ours-redis`.
//!
//! - `GET /plain`: under the session layer, never touches the session.
//! - `GET /read`: reads the user id, the counter and the 12-line cart; writes nothing.
//! - `GET /bump`: reads the user id and the counter, and saves the counter plus one.
//! - `GET /seed`: writes a fresh ~1 KiB state (a user, a counter at 0, the cart) and sets
//!   its cookie, which the script then sends on every timed request.
//!
//! Every engine answers each route with the same bytes (the script checks it), and the
//! session cookie is called `session` everywhere, as `bench/wrk-session.lua` expects.

mod actix_app;
mod axum_app;

use std::net::{Ipv4Addr, TcpListener};

use serde::{Deserialize, Serialize};
use typed_sessions::SessionSchema;

/// The cookie name of every engine.
const COOKIE_NAME: &str = "session";
/// Long enough for every engine's key derivation (actix-web's `Key` wants 64 bytes).
const SECRET: &[u8; 64] = b"http-compare: one secret for every engine, sixty-four bytes long";
const SEED_USER: u64 = 48_213;

/// One line of the cart, as in `examples/src/load.rs`.
#[derive(Serialize, Deserialize)]
pub struct Line {
    sku: String,
    name: String,
    qty: u32,
    price_cents: u64,
}

/// The state, under the same keys for every engine (the peers read them one by one).
#[derive(SessionSchema)]
#[allow(dead_code)] // read through the generated accessors only
pub struct State {
    user_id: Option<u64>,
    #[session(default)]
    views: u64,
    #[session(default)]
    cart: Vec<Line>,
}

fn seed_cart() -> Vec<Line> {
    (0..12)
        .map(|i| Line {
            sku: format!("SKU-{i:05}"),
            name: format!("Product number {i}"),
            qty: 1,
            price_cents: 199 + i,
        })
        .collect()
}

const PLAIN_BODY: &str = "plain";
const SEED_BODY: &str = "seeded";

fn read_body(user: Option<u64>, views: u64, cart: &[Line]) -> String {
    format!(
        "user {} views {views} cart {}",
        user.unwrap_or(0),
        cart.len()
    )
}

fn bump_body(user: Option<u64>, views: u64) -> String {
    format!("user {} views {views}", user.unwrap_or(0))
}

fn main() -> std::io::Result<()> {
    let engine = std::env::args()
        .nth(1)
        .expect("usage: peer_server <engine> (see the crate's docs)");
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    if let Some(engine) = engine.strip_prefix("axum-") {
        axum_app::serve(engine, listener, &redis_url, port)
    } else if let Some(engine) = engine.strip_prefix("actix-") {
        actix_app::serve(engine, listener, &redis_url, port)
    } else {
        panic!("unknown engine {engine}: it starts with axum- or actix-")
    }
}
