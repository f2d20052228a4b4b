//! A server for load tests with `wrk` (see `bench/wrk.sh`): the same small JSON response
//! with and without the session layer, next to the shop demo.
//!
//! - `GET /load/plain`: no session layer at all.
//! - `GET /load/untouched`: under the session layer, never touches the session.
//! - `GET /load/session`: under the layer, reads the user id and bumps a counter in a ~1 KiB
//!   session, so every response carries a new cookie.
//! - `GET /load/crypto`: no session layer; the crypto floor of `/load/session`, what no
//!   design can avoid: base64-decode the same cookie, verify its HMAC-SHA512, sign the same
//!   payload again and send it back in the same `Set-Cookie` header. No JSON is parsed.
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
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha512;
use tokio::net::TcpListener;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::{LoadOutcome, SessionError};
use typed_sessions_examples::load::{LoadSessionExt, one_kib_session};
use typed_sessions_examples::shop;

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

/// `/load/crypto`: verify the session cookie and sign its payload again, with the HMAC key the
/// factory derives (Pyramid's salt, then the secret), into the `Set-Cookie` the layer writes
/// (the shop factory's attributes).
fn crypto(key: &Hmac<Sha512>, request: &HeaderMap) -> Result<(HeaderMap, Json<Value>), StatusCode> {
    let value = request
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("session="))
        .next_back()
        .ok_or(StatusCode::BAD_REQUEST)?;
    let mut raw = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    if raw.len() < 64 {
        return Err(StatusCode::BAD_REQUEST);
    }
    let (tag, payload) = raw.split_at(64);
    let mut mac = key.clone();
    mac.update(payload);
    mac.verify_slice(tag).map_err(|_| StatusCode::BAD_REQUEST)?;
    let mut mac = key.clone();
    mac.update(payload);
    let signed = mac.finalize().into_bytes();
    raw[..64].copy_from_slice(&signed);
    // The header text sized once and the base64 written straight into it.
    const ATTRIBUTES: &str = "; HttpOnly; SameSite=Lax; Path=/";
    let mut header = String::with_capacity(8 + raw.len().div_ceil(3) * 4 + ATTRIBUTES.len());
    header.push_str("session=");
    URL_SAFE_NO_PAD.encode_string(&raw, &mut header);
    header.push_str(ATTRIBUTES);
    let mut response = HeaderMap::new();
    response.append(
        SET_COOKIE,
        HeaderValue::try_from(header).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
    );
    Ok((response, body(None, 0)))
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
    let shop = shop::app(shop::factory(secret.clone()).expect("a random secret is long enough"));
    let key = Hmac::<Sha512>::new_from_slice(format!("pyramid.session.{secret}").as_bytes())
        .expect("HMAC takes keys of any length");
    let app = Router::new()
        .route("/load/plain", get(plain))
        .route(
            "/load/crypto",
            get(move |headers: HeaderMap| std::future::ready(crypto(&key, &headers))),
        )
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
