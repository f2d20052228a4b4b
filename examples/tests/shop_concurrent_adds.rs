//! Concurrent writers to one session lose nothing (#22), over HTTP on the shop binary: one
//! session's cookie is shared by [`CLIENTS`] clients at once (a shopper's tabs, a script),
//! each adding one product [`ADDS`] times; every add is answered `303` (acknowledged) or
//! `409` (not done: the client retries), and the cart ends holding exactly the
//! acknowledged adds: the cart field's merge applies each request's change to what the
//! others saved. On every server store: memory, Redis, Redis Cluster, SQLite, PostgreSQL
//! (and the actix-web shop on memory).
//! Each test prints the adds acknowledged and what the cart holds; one more prints the
//! figure before #22, with a store that checks nothing.
//!
//! Needs `REDIS_URL`, `REDIS_CLUSTER_URLS` and `POSTGRES_URL`; fails, never skips, without.
//! Each test keeps to its own Redis database, SQLite file or PostgreSQL schema.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use support::{
    Process, SHARED_SECRET, cart_count, csrf_token, drop_schema, redis_db_url, start_server, unique,
};
use typed_sessions::store::{Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions_examples::shop;

/// The Redis database of this file's shop (the other test files keep to theirs).
const REDIS_DB: u8 = 10;

/// Clients sharing one session, and how many adds each makes.
const CLIENTS: usize = 16;
const ADDS: usize = 12;

/// The products the clients add, client `i` the `i % 4`th.
const PRODUCTS: [&str; 4] = ["sencha", "earl-grey", "teapot", "mug"];

/// Starts the shop binary `command` (the axum or the actix-web one) on `store`.
fn start(mut command: Command, store: &str) -> Process {
    // Errors only: a merged flash queue over its cap warns, once per add here.
    command.env("SESSION_STORE", store).env("RUST_LOG", "error");
    start_server(command)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a response's session cookie, if it sets one.
fn set_cookie(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get(SET_COOKIE)?.to_str().unwrap();
    Some(header.split(';').next().unwrap().trim().to_owned())
}

/// A stored session with one sencha in its cart: its cookie and CSRF token.
async fn stored_session(base: &str) -> (String, String) {
    let http = client();
    let home = http.get(format!("{base}/")).send().await.unwrap();
    let cookie = set_cookie(&home).expect("the home page sets the CSRF cookie");
    let token = csrf_token(&home.text().await.unwrap());
    let added = http
        .post(format!("{base}/cart/add"))
        .header(COOKIE, &cookie)
        .form(&[("csrf_token", token.as_str()), ("product", "sencha")])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&added).expect("the first add stores the session");
    let home = http
        .get(format!("{base}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let token = csrf_token(&home.text().await.unwrap());
    (cookie, token)
}

/// What [`concurrent_adds`] counted.
struct Outcome {
    /// Adds answered `303`, the first one included.
    acknowledged: usize,
    /// Adds answered `409` and `503`, each tried again.
    conflicts: usize,
    unavailable: usize,
    /// What the cart holds at the end.
    held: u64,
}

/// [`CLIENTS`] clients adding at once on the shop at `base`.
async fn concurrent_adds(base: &str) -> Outcome {
    let (cookie, token) = stored_session(base).await;
    let conflicts = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (url, cookie, token) = (format!("{base}/cart/add"), cookie.clone(), token.clone());
        let (conflicts, unavailable) = (conflicts.clone(), unavailable.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            let product = PRODUCTS[i % PRODUCTS.len()];
            let mut acknowledged = 0;
            while acknowledged < ADDS {
                let answer = http
                    .post(&url)
                    .header(COOKIE, &cookie)
                    .form(&[("csrf_token", token.as_str()), ("product", product)])
                    .send()
                    .await
                    .unwrap();
                match answer.status() {
                    StatusCode::SEE_OTHER => acknowledged += 1,
                    StatusCode::CONFLICT => {
                        assert!(set_cookie(&answer).is_none(), "a 409 sets no cookie");
                        conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    // The store's pool was busy past its timeout (a loaded machine): not
                    // done either, so tried again. Had it written anyway, the cart would
                    // hold more than was acknowledged, and the test fail.
                    StatusCode::SERVICE_UNAVAILABLE => {
                        unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("an add answered {other}: {}", answer.text().await.unwrap()),
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = 1;
    for client in clients {
        acknowledged += client.await.unwrap();
    }
    let cart = client()
        .get(format!("{base}/cart"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(cart.status(), StatusCode::OK);
    Outcome {
        acknowledged,
        conflicts: conflicts.load(Ordering::Relaxed),
        unavailable: unavailable.load(Ordering::Relaxed),
        held: cart_count(&cart.text().await.unwrap()),
    }
}

/// The load on the (axum) shop binary at `store`, named `kind` in what it prints.
async fn every_acknowledged_add_is_in_the_cart(kind: &str, store: &str) {
    let shop = start(Command::new(env!("CARGO_BIN_EXE_shop")), store);
    the_cart_holds_every_acknowledged_add(kind, &shop).await;
}

/// The load on the started `shop`.
async fn the_cart_holds_every_acknowledged_add(kind: &str, shop: &Process) {
    let Outcome {
        acknowledged,
        conflicts,
        unavailable,
        held,
    } = concurrent_adds(&shop.base).await;
    println!(
        "shop over HTTP, {kind}: {acknowledged} adds acknowledged (retried: {conflicts} answered \
         409, {unavailable} 503), the cart holds {held} ({} lost)",
        (acknowledged as u64).saturating_sub(held)
    );
    assert_eq!(acknowledged, CLIENTS * ADDS + 1);
    assert_eq!(
        held, acknowledged as u64,
        "{kind}: the cart holds exactly the acknowledged adds"
    );
}

/// A memory store that drops a save's conflict checks: what every store did before #22,
/// the last save winning whatever the field's policy.
#[derive(Clone, Default)]
struct Unchecked(MemoryStore);

impl SessionStore for Unchecked {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.0.load(id).await
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        let mut commit = commit.clone();
        commit.expect.clear();
        self.0.save(&commit).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.0.delete(id).await
    }
}

/// The figure before #22, for BENCHMARKS.md: the same load on the axum shop in this
/// process, on a memory store without conflict checks. How many adds it loses depends on
/// the scheduling, so the test asserts only what holds either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_conflict_checks_concurrent_adds_are_lost() {
    let factory = shop::server_factory(SHARED_SECRET, Unchecked::default()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, shop::app(factory)).await.unwrap() });
    let Outcome {
        acknowledged,
        conflicts,
        held,
        ..
    } = concurrent_adds(&base).await;
    println!(
        "shop over HTTP, memory without conflict checks (before #22): {acknowledged} adds \
         acknowledged, the cart holds {held} ({} lost)",
        (acknowledged as u64).saturating_sub(held)
    );
    assert_eq!(acknowledged, CLIENTS * ADDS + 1);
    assert_eq!(conflicts, 0, "nothing is checked, so nothing conflicts");
    assert!(held <= acknowledged as u64, "never more than was added");
}

fn redis_cluster_urls() -> String {
    std::env::var("REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
        panic!(
            "REDIS_CLUSTER_URLS is not set: run `export REDIS_CLUSTER_URLS=\"$(scripts/\
             redis-cluster.sh | tail -n 1)\"`{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must start the cluster)"
            } else {
                ""
            }
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_memory_concurrent_adds_lose_nothing() {
    every_acknowledged_add_is_in_the_cart("memory", "memory:").await;
}

/// The actix-web shop shares the actions, so its cart merges too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_memory_the_actix_shops_concurrent_adds_lose_nothing() {
    let shop = start(Command::new(env!("CARGO_BIN_EXE_actix_shop")), "memory:");
    the_cart_holds_every_acknowledged_add("memory, actix-web shop", &shop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_redis_concurrent_adds_lose_nothing() {
    every_acknowledged_add_is_in_the_cart("Redis", &redis_db_url(REDIS_DB)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_redis_cluster_concurrent_adds_lose_nothing() {
    every_acknowledged_add_is_in_the_cart("Redis Cluster", &redis_cluster_urls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_concurrent_adds_lose_nothing() {
    let db = std::env::temp_dir().join(format!("{}.db", unique("shop-concurrent-adds")));
    let url = format!("sqlite://{}", db.display());
    every_acknowledged_add_is_in_the_cart("SQLite", &url).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_concurrent_adds_lose_nothing() {
    let (schema, url) = support::postgres_schema("shop_concurrent_adds").await;
    every_acknowledged_add_is_in_the_cart("PostgreSQL", &url).await;
    drop_schema(&schema).await;
}
