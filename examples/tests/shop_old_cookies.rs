//! The shop binary, started as the README says (`SESSION_SECRET` fixed), answers every page
//! without a 5xx to cookies of older shapes (a cart line without `qty`, constructed for the
//! example: the shop has always stored one), of the Pyramid app sharing the session, or of
//! plain garbage, and its log names the key each time. Over real HTTP.

mod support;

use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderValue, SET_COOKIE};
use serde_json::{Value, json};
use support::Process;
use typed_sessions_examples::shop;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// The shop binary on a port the system picks, its log piped (see [`Process::stop`]).
fn start_shop() -> Process {
    Process::start(
        Command::new(env!("CARGO_BIN_EXE_shop"))
            .env("SESSION_SECRET", SECRET)
            .env("PORT", "0")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped()),
    )
}

/// The `Cookie` header of a session holding `state`, signed as the shop signs.
fn cookie_for(state: &Value) -> HeaderValue {
    let factory = shop::factory(SECRET).unwrap();
    let headers = typed_sessions::testing::request_with_state(&factory, state).unwrap();
    headers[COOKIE.as_str()].clone()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Visits every page with `cookie`, then adds to the cart and signs out with the CSRF
/// token a page gave; every answer must be 2xx or 3xx. Returns the cart page after the add.
async fn browse(base: &str, cookie: HeaderValue) -> String {
    let client = client();
    let mut cookie = cookie;
    let mut csrf = String::new();
    for path in ["/", "/cart", "/login", "/session"] {
        let response = client
            .get(format!("{base}{path}"))
            .header(COOKIE, cookie.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_success(), "{path} answered {status}");
        if let Some(set) = response.headers().get(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            cookie = HeaderValue::from_str(pair).unwrap();
        }
        let body = response.text().await.unwrap();
        if let Some(token) = body
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            csrf = token.to_owned();
        }
    }
    assert_eq!(csrf.len(), 40, "a CSRF token on the page");
    let added = client
        .post(format!("{base}/cart/add"))
        .header(COOKIE, cookie.clone())
        .form(&[("csrf_token", csrf.as_str()), ("product", "mug")])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let set = added.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = HeaderValue::from_str(set.split(';').next().unwrap()).unwrap();
    let cart = client
        .get(format!("{base}/cart"))
        .header(COOKIE, cookie.clone())
        .send()
        .await
        .unwrap();
    assert!(cart.status().is_success());
    let cart = cart.text().await.unwrap();
    let out = client
        .post(format!("{base}/logout"))
        .header(COOKIE, cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    cart
}

/// One state per case: what the shop must show, and the key its log must name.
async fn case(state: Value, key: &str) -> (String, String) {
    let shop = start_shop();
    let cart = browse(&shop.base, cookie_for(&state)).await;
    let logged = shop.stop();
    assert!(
        logged.contains(&format!("key=\"{key}\"")) || logged.contains(&format!("key={key}")),
        "the log names `{key}`: {logged}"
    );
    (cart, logged)
}

#[tokio::test]
async fn a_cart_line_from_before_qty_is_migrated() {
    let (cart, logged) = case(
        json!({"cart": [{"product": "sencha"}], "user": "ann"}),
        "cart",
    )
    .await;
    assert!(
        cart.contains("id=\"line-sencha\""),
        "the old line is kept: {cart}"
    );
    assert!(cart.contains("id=\"line-mug\""), "{cart}");
    assert!(logged.contains("older shape"), "{logged}");
    assert!(!logged.contains("ERROR"), "{logged}");
}

#[tokio::test]
async fn a_numeric_user_id_from_pyramid_is_migrated() {
    let (cart, _) = case(json!({"user": 42}), "user").await;
    assert!(cart.contains("Signed in as <b>42</b>"), "{cart}");
}

#[tokio::test]
async fn a_cart_no_migration_reads_is_read_as_empty_and_replaced() {
    let (cart, logged) = case(json!({"cart": "junk"}), "cart").await;
    assert!(cart.contains("id=\"line-mug\""), "{cart}");
    assert!(logged.contains("WARN"), "{logged}");
}

#[tokio::test]
async fn a_flash_message_the_enum_cannot_read_is_skipped() {
    let (_, logged) = case(json!({"_f_error": [17]}), "_f_error").await;
    assert!(logged.contains("WARN"), "{logged}");
}
