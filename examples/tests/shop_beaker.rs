//! The shop binary and the Pyramid app of `examples/pyramid_app/beaker_app.py` on one
//! Beaker back end, both started here with the same `SESSION_STORE=beaker+…`: the shop reads
//! and writes the app's Beaker sessions, so a sign-in and a cart made on one are seen on the
//! other, both ways, over HTTP. On `file` (pickle and JSON) and `ext:redis`.
//!
//! Needs `REDIS_URL` (`scripts/redis.sh`) and Python with Beaker and pyramid_beaker
//! (`PYRAMID_PYTHON`, or the venv `scripts/pyenv.sh` makes); fails, never skips, without.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::{
    Browser, COOKIES_SEEN, Process as Server, cart_count, csrf_token, python, redis_db_url,
    start_server, workspace,
};

fn redis_url() -> String {
    // Database 8 of the test Redis: Beaker's keys are `beaker_cache:…`.
    redis_db_url(8)
}

fn start_both(store: &str, serializer: &str) -> (Server, Server) {
    let mut shop = Command::new(env!("CARGO_BIN_EXE_shop"));
    // A timeout on both sides, so that no key outlives the test (Beaker's TTL: 720 s).
    shop.env("SESSION_STORE", store)
        .env("SESSION_SERIALIZER", serializer)
        .env("SESSION_TIMEOUT", "600");
    let mut app = Command::new(python());
    app.arg(workspace().join("examples/pyramid_app/beaker_app.py"))
        .env("SESSION_STORE", store)
        .env("SESSION_SERIALIZER", serializer)
        .env("SESSION_TIMEOUT", "600");
    (start_server(shop), start_server(app))
}

async fn share_a_user_and_a_cart(store: &str, serializer: &str) {
    let (shop, app) = start_both(store, serializer);

    // Started on the Pyramid app: its sign-in and cart are the shop's.
    let mut browser = Browser::new("beaker.session.id");
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
    assert_ne!(
        browser.cookie.as_ref(),
        Some(&python_cookie),
        "the app's sign-out gives a new, empty session"
    );
    let page = browser.get(format!("{}/", shop.base)).await;
    assert!(!page.contains("ada") && cart_count(&page) == 0);
    browser.post(format!("{}/logout", app.base), &[]).await;

    // Started on the shop: its sign-in (a new id) and cart are the app's.
    let mut browser = Browser::new("beaker.session.id");
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

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("shop-beaker-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_shop_and_the_pyramid_app_share_beaker_files_pickled() {
    let dir = TempDir::new("pickle");
    share_a_user_and_a_cart(&format!("beaker+file://{}", dir.0.display()), "pickle").await;
}

#[tokio::test]
async fn the_shop_and_the_pyramid_app_share_beaker_files_in_json() {
    let dir = TempDir::new("json");
    share_a_user_and_a_cart(&format!("beaker+file://{}", dir.0.display()), "json").await;
}

#[tokio::test]
async fn the_shop_and_the_pyramid_app_share_beaker_redis() {
    share_a_user_and_a_cart(&format!("beaker+{}", redis_url()), "pickle").await;
    use typed_sessions::Serializer;
    use typed_sessions::store::{BeakerStore, SessionStore};
    let store = BeakerStore::redis(&redis_url(), Serializer::Pickle)
        .await
        .unwrap();
    let seen = std::mem::take(&mut *COOKIES_SEEN.lock().unwrap());
    for id in seen.iter().filter_map(|cookie| cookie.get(40..)) {
        store.delete(id).await.unwrap();
    }
}
