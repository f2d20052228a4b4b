//! A server for load tests with `wrk` (see `bench/wrk.sh`): the same small JSON response
//! with and without the session layer, next to the shop demo.
//!
//! - `GET /load/plain`: no session layer at all.
//! - `GET /load/untouched`: under the session layer, never touches the session.
//! - `GET /load/session`: under the layer, reads the user id and bumps a counter in a ~1 KiB
//!   session, so every response carries a new cookie.
//! - `GET /load/outcomes`: how the sessions of `/load/session` loaded so far, as JSON
//!   `{"loaded": N, "no_cookie": N, "rejected": N}`: a load test fails on any rejected
//!   cookie, which would otherwise pass as a `200` with a fresh session.
//! - everything else: the shop demo.
//!
//! Prints `COOKIE=<value>` (a 1 KiB session) and `LISTENING=<port>` on stdout, then serves
//! on 127.0.0.1 until killed. `PORT` picks the port (default: any free one).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use session::axum::{SessionHandle, SessionLayer};
use session::{LoadOutcome, Session, SessionError, SessionSchema};
use session_examples::shop;
use tokio::net::TcpListener;

#[derive(Serialize, Deserialize)]
struct Line {
    sku: String,
    name: String,
    qty: u32,
    price_cents: u64,
}

#[derive(SessionSchema)]
#[allow(dead_code)] // read through the generated accessors only
struct LoadSession {
    user_id: Option<u64>,
    #[session(default)]
    views: u64,
    #[session(default)]
    cart: Vec<Line>,
}

fn body(user: Option<u64>, views: u64) -> Json<Value> {
    Json(json!({"ok": true, "user": user, "views": views}))
}

async fn plain() -> Json<Value> {
    body(None, 0)
}

async fn untouched() -> Json<Value> {
    body(None, 0)
}

/// How the sessions of `/load/session` loaded: with the client's cookie, without one, or
/// with a cookie that was refused.
static LOADED: AtomicU64 = AtomicU64::new(0);
static NO_COOKIE: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);

async fn outcomes() -> Json<Value> {
    Json(json!({
        "loaded": LOADED.load(Ordering::Relaxed),
        "no_cookie": NO_COOKIE.load(Ordering::Relaxed),
        "rejected": REJECTED.load(Ordering::Relaxed),
    }))
}

async fn with_session(session: SessionHandle) -> Result<Json<Value>, SessionError> {
    let mut s = session.lock();
    let counter = match s.load_outcome() {
        LoadOutcome::Loaded | LoadOutcome::LoadedWithOldSecret => &LOADED,
        LoadOutcome::NoCookie => &NO_COOKIE,
        _ => &REJECTED,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let user = s.user_id()?;
    let mut views = s.views_mut()?;
    *views += 1;
    let views = *views;
    Ok(body(user, views))
}

/// A ~1 KiB session: a user, a counter, a CSRF token, a flash and a cart of 12 lines.
fn one_kib_session() -> Session {
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let secret = shop::random_secret();
    let factory = shop::factory(secret.clone()).expect("a random secret is long enough");
    println!(
        "COOKIE={}",
        factory.encode(&one_kib_session()).expect("1 KiB fits")
    );

    let with_layer = Router::new()
        .route("/load/untouched", get(untouched))
        .route("/load/session", get(with_session))
        .layer(SessionLayer::new(factory));
    let shop = shop::app(shop::factory(secret).expect("a random secret is long enough"));
    let app = Router::new()
        .route("/load/plain", get(plain))
        .route("/load/outcomes", get(outcomes))
        .merge(with_layer)
        .merge(shop);

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .expect("the port is free");
    println!("LISTENING={}", listener.local_addr().expect("bound").port());
    axum::serve(listener, app)
        .await
        .expect("serves until killed");
}
