//! The shop binary and the Pyramid app of `examples/pyramid_app/app.py` on one Redis, both
//! started here: with `SESSION_STORE=pyramid-session-redis+redis://…` the shop reads and
//! writes the app's `pyramid_session_redis` sessions, so a sign-in and a cart made on one
//! are seen on the other, both ways, over HTTP. In pickle (the package's default) and JSON.
//! And with `SESSION_ENCRYPTION_KEY` the two share `pyramid_nacl_session`'s encrypted cookie.
//!
//! Needs `REDIS_URL` (`scripts/redis.sh`) and Python with pyramid_session_redis
//! (`PYRAMID_PYTHON`, or the venv `scripts/pyenv.sh` makes); fails, never skips, without.

mod support;

use std::process::Command;

use serde_json::json;
use support::{
    Browser, Process as Server, cart_count, csrf_token, python, redis_db_url, start_server,
    workspace,
};

fn redis_url() -> String {
    // Database 7 of the test Redis: the package's keys are bare ids.
    redis_db_url(7)
}

fn start_both(serializer: &str) -> (Server, Server) {
    let mut shop = Command::new(env!("CARGO_BIN_EXE_shop"));
    shop.env(
        "SESSION_STORE",
        format!("pyramid-session-redis+{}", redis_url()),
    )
    .env("SESSION_SERIALIZER", serializer);
    let mut app = Command::new(python());
    app.arg(workspace().join("examples/pyramid_app/app.py"))
        .env("REDIS_URL", redis_url())
        .env("SESSION_SERIALIZER", serializer);
    (start_server(shop), start_server(app))
}

async fn share_a_user_and_a_cart(serializer: &str) {
    let (shop, app) = start_both(serializer);

    // Started on the Pyramid app: its sign-in and cart are the shop's.
    let mut browser = Browser::new("session");
    browser
        .post(format!("{}/login", app.base), &[("username", "ada")])
        .await;
    browser
        .post(format!("{}/cart/add", app.base), &[("product", "sencha")])
        .await;
    let python_cookie = browser.cookie.clone().expect("the app set its cookie");
    let page = browser.get(format!("{}/cart", shop.base)).await;
    assert!(
        page.contains("ada"),
        "the shop shows the app's user: {page}"
    );
    assert_eq!(cart_count(&page), 1);
    assert_eq!(
        browser.cookie.as_ref(),
        Some(&python_cookie),
        "no new cookie"
    );

    // Added on the shop: the app sees it, beside what it wrote.
    let token = csrf_token(&page);
    browser
        .post(
            format!("{}/cart/add", shop.base),
            &[("csrf_token", &token), ("product", "mug")],
        )
        .await;
    assert_eq!(
        browser.pyramid_session(&app).await,
        json!({"user": "ada", "cart": [{"product": "sencha", "qty": 1}, {"product": "mug", "qty": 1}]})
    );
    browser
        .post(format!("{}/cart/add", app.base), &[("product", "mug")])
        .await;
    assert_eq!(cart_count(&browser.get(format!("{}/", shop.base)).await), 3);
    browser.post(format!("{}/logout", app.base), &[]).await;
    assert_eq!(
        browser.cookie, None,
        "the app's sign-out ends the session everywhere"
    );
    let page = browser.get(format!("{}/", shop.base)).await;
    assert!(!page.contains("ada") && cart_count(&page) == 0);
    browser.post(format!("{}/logout", app.base), &[]).await;

    // Started on the shop: its sign-in (a new id) and cart are the app's.
    let mut browser = Browser::new("session");
    let page = browser.get(format!("{}/", shop.base)).await;
    let token = csrf_token(&page);
    browser
        .post(
            format!("{}/cart/add", shop.base),
            &[("csrf_token", &token), ("product", "sencha")],
        )
        .await;
    browser
        .post(
            format!("{}/login", shop.base),
            &[
                ("csrf_token", &token),
                ("username", "grace"),
                ("password", "tea"),
            ],
        )
        .await;
    assert_eq!(
        browser.pyramid_session(&app).await,
        json!({"user": "grace", "cart": [{"product": "sencha", "qty": 1}]})
    );
    browser
        .post(format!("{}/cart/add", app.base), &[("product", "sencha")])
        .await;
    let page = browser.get(format!("{}/cart", shop.base)).await;
    assert!(page.contains("grace"));
    assert_eq!(cart_count(&page), 2);
    browser.post(format!("{}/logout", app.base), &[]).await;
}

#[tokio::test]
async fn the_shop_and_the_pyramid_app_share_sessions_pickled() {
    share_a_user_and_a_cart("pickle").await;
}

#[tokio::test]
async fn the_shop_and_the_pyramid_app_share_sessions_in_json() {
    share_a_user_and_a_cart("json").await;
}

/// The key both sides seal the cookie with, as `pyramid_nacl_session`'s `session.secret`.
const NACL_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The shop with `SESSION_ENCRYPTION_KEY` and the Pyramid app on `pyramid_nacl_session`
/// with the same key: one encrypted cookie, a sign-in and a cart made on either seen on the
/// other. `serializer` is the app's (`pickle`, the package's default, or `json`).
async fn share_an_encrypted_cookie(serializer: &str) {
    let mut shop = Command::new(env!("CARGO_BIN_EXE_shop"));
    shop.env("SESSION_ENCRYPTION_KEY", NACL_KEY)
        .env("SESSION_SERIALIZER", serializer);
    let mut app = Command::new(python());
    app.arg(workspace().join("examples/pyramid_app/app.py"))
        .env("SESSION_ENCRYPTION_KEY", NACL_KEY)
        .env("SESSION_SERIALIZER", serializer);
    let (shop, app) = (start_server(shop), start_server(app));

    // Written by pyramid_nacl_session, read by the shop.
    let mut browser = Browser::new("session");
    browser
        .post(format!("{}/login", app.base), &[("username", "ada")])
        .await;
    browser
        .post(format!("{}/cart/add", app.base), &[("product", "sencha")])
        .await;
    let page = browser.get(format!("{}/cart", shop.base)).await;
    assert!(
        page.contains("ada"),
        "the shop shows the app's user: {page}"
    );
    assert_eq!(cart_count(&page), 1);

    // Written by the shop, read by pyramid_nacl_session.
    let token = csrf_token(&page);
    let before = browser.cookie.clone();
    browser
        .post(
            format!("{}/cart/add", shop.base),
            &[("csrf_token", &token), ("product", "mug")],
        )
        .await;
    assert_ne!(browser.cookie, before, "the shop sealed a new cookie");
    assert_eq!(
        browser.pyramid_session(&app).await,
        json!({"user": "ada", "cart": [{"product": "sencha", "qty": 1}, {"product": "mug", "qty": 1}]})
    );
}

#[tokio::test]
async fn the_shop_and_a_pyramid_nacl_app_share_a_pickled_cookie() {
    share_an_encrypted_cookie("pickle").await;
}

#[tokio::test]
async fn the_shop_and_a_pyramid_nacl_app_share_a_json_cookie() {
    share_an_encrypted_cookie("json").await;
}
