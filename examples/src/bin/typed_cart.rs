//! The typed layer end to end: a `#[derive(SessionSchema)]` struct, its write-back guard and
//! a `#[flash_queue]` enum, across four requests that carry the session in a signed cookie.
//!
//! ```text
//! cargo run -p typed-sessions-examples --bin typed_cart
//! ```
//!
//! Each request loads the session from the cookie the previous response set, runs a
//! "handler", and saves. The output shows which responses set a cookie: only those whose
//! handler changed something.

use std::error::Error;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use typed_sessions::{
    FlashExt, Saved, Session, SessionError, SessionSchema, SignedCookieSessionFactory, flash_queue,
};

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    qty: u32,
}

/// The shop's keys in the session. `ShopExt` (generated) has the accessors.
#[derive(Debug, SessionSchema)]
struct Shop {
    #[session(default)]
    cart: Vec<Line>,
    user_id: Option<u64>,
}

/// Messages for the next page, in Pyramid's flash queues `success` and `error`.
#[flash_queue]
#[derive(Debug)]
enum Notice {
    Success(String),
    #[flash(queue = "error")]
    Failure {
        code: u16,
        text: String,
    },
}

/// `POST /cart/add`: the guard writes the cart back and marks the session changed.
fn add(session: &mut Session, sku: &str) -> Result<(), SessionError> {
    let mut cart = session.cart_mut()?;
    match cart.iter_mut().find(|line| line.sku == sku) {
        Some(line) => line.qty += 1,
        None => cart.push(Line {
            sku: sku.to_owned(),
            qty: 1,
        }),
    }
    drop(cart);
    session.flash(Notice::Success(format!("Added {sku}")))
}

/// `GET /cart`: shows the pending notices (taking them changes the session) and the cart.
fn show(session: &mut Session) -> Result<(), SessionError> {
    for notice in session.pop_flashes::<Notice>()? {
        println!("    notice: {notice:?}");
    }
    // A guard that is only read leaves the session as it was.
    let cart = session.cart_mut()?;
    println!("    cart: {:?}", *cart);
    Ok(())
}

/// `GET /cart` again: nothing to pop, the cart only read: no cookie.
fn browse(session: &mut Session) -> Result<(), SessionError> {
    println!("    cart: {:?}", session.cart()?);
    println!("    user: {:?}", session.user_id()?);
    Ok(())
}

/// `POST /checkout`: needs a signed-in user; flashes a structured error otherwise.
fn checkout(session: &mut Session) -> Result<(), SessionError> {
    match session.user_id()? {
        Some(user) => {
            let shop = Shop::load(session)?;
            println!("    user {user} bought {:?}", shop.cart);
            session.remove_cart();
        }
        None => session.flash(Notice::Failure {
            code: 401,
            text: "Sign in to check out".into(),
        })?,
    }
    // What a Pyramid view sharing the secret would get from pop_flash('error'):
    let queued = serde_json::Value::from(session.peek_flash("error")?);
    println!("    Pyramid sees _f_error = {queued}");
    Ok(())
}

/// Runs one request: loads the session from `cookie`, runs `handler`, saves, and returns the
/// cookie the browser holds afterwards.
fn request(
    factory: &SignedCookieSessionFactory,
    name: &str,
    cookie: Option<String>,
    handler: impl FnOnce(&mut Session) -> Result<(), SessionError>,
) -> Result<Option<String>, Box<dyn Error>> {
    println!("{name}");
    let mut headers = HeaderMap::new();
    if let Some(cookie) = &cookie {
        headers.insert("cookie", cookie.parse()?);
    }
    let mut session = factory.load(&headers);
    handler(&mut session)?;

    let mut response = HeaderMap::new();
    match factory.save(&session, &mut response)? {
        Saved::Written => {
            let set_cookie = response["set-cookie"].to_str()?;
            println!("    -> Set-Cookie ({} bytes)", set_cookie.len());
            Ok(set_cookie.split(';').next().map(str::to_owned))
        }
        _ => {
            println!("    -> no Set-Cookie");
            Ok(cookie)
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let factory = SignedCookieSessionFactory::builder("typed_cart demo secret, not for production")
        // Reissue a merely-read cookie only once a minute has passed.
        .reissue_time(Duration::from_secs(60))
        .build()?;

    let cookie = request(&factory, "POST /cart/add sku=tea", None, |s| add(s, "tea"))?;
    let cookie = request(&factory, "POST /cart/add sku=tea", cookie, |s| {
        add(s, "tea")
    })?;
    let cookie = request(&factory, "GET /cart", cookie, show)?;
    let cookie = request(&factory, "GET /cart", cookie, browse)?;
    let cookie = request(&factory, "POST /checkout", cookie, checkout)?;
    let cookie = request(&factory, "GET /cart", cookie, show)?;
    let cookie = request(&factory, "POST /login", cookie, |s| s.set_user_id(Some(7)))?;
    request(&factory, "POST /checkout", cookie, checkout)?;
    Ok(())
}
