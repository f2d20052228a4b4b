//! The shops never acknowledge a change they did not keep: a cart add whose session record
//! is deleted while the request runs (a sign-out in another tab, an expiry) is answered
//! `409` with a page that says so, not `303` and "Added to your cart". Over HTTP, on a
//! server store whose record vanishes between the request's load and its save, for the axum
//! and the actix-web shop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use tokio::net::TcpListener;
use typed_sessions::store::{Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions_examples::{actix_shop, shop};
use typed_sessions_tests::shop_pages::{client, get};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// A memory store that, while `vanish` is set, deletes a session's record just before a
/// save reaches it: what a concurrent sign-out does.
#[derive(Clone, Default)]
struct Vanishing {
    inner: MemoryStore,
    vanish: Arc<AtomicBool>,
}

impl SessionStore for Vanishing {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        if self.vanish.load(Ordering::SeqCst) {
            self.inner.delete(&commit.id).await?;
        }
        self.inner.save(commit).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

/// The axum shop on `store`; its base URL.
async fn axum_shop(store: Vanishing) -> String {
    let app = shop::app(shop::server_factory(SECRET, store).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The actix-web shop on `store`, in an actix-web `System` on a thread of its own; its base
/// URL.
fn actix_shop(store: Vanishing) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let factory = shop::server_factory(SECRET, store).unwrap();
            actix_shop::server_with(factory, listener)
                .unwrap()
                .await
                .unwrap();
        });
    });
    base
}

async fn a_cart_add_whose_session_vanished_is_answered_409_not_done(base: &str, store: &Vanishing) {
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();
    let added = client
        .post(format!("{base}/cart/add"))
        .form(&[("product", "sencha"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        added.status(),
        StatusCode::SEE_OTHER,
        "a kept change is done"
    );

    store.vanish.store(true, Ordering::SeqCst);
    let lost = client
        .post(format!("{base}/cart/add"))
        .form(&[("product", "genmaicha"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), StatusCode::CONFLICT);
    assert!(lost.headers().get("set-cookie").is_none());
    let body = lost.text().await.unwrap();
    assert!(body.contains("Your session changed"), "{body}");
    assert!(!body.contains("Added"), "{body}");
}

#[tokio::test]
async fn the_axum_shop_answers_409_to_a_change_it_did_not_keep() {
    let store = Vanishing::default();
    let base = axum_shop(store.clone()).await;
    a_cart_add_whose_session_vanished_is_answered_409_not_done(&base, &store).await;
}

#[tokio::test]
async fn the_actix_shop_answers_409_to_a_change_it_did_not_keep() {
    let store = Vanishing::default();
    let base = actix_shop(store.clone());
    a_cart_add_whose_session_vanished_is_answered_409_not_done(&base, &store).await;
}
