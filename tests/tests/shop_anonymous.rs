//! The shop's anonymous pages write nothing to a server store (#21): 200 cookieless page
//! views leave 0 records, counted in the store itself, on Redis, SQLite, PostgreSQL and
//! memory. The CSRF token of one of those pages still passes (its session's first post
//! writes exactly one record), and a token of another page view, or a made-up one, fails.
//!
//! Needs `REDIS_URL` and `POSTGRES_URL` (see `store_redis.rs`); without them those tests
//! fail, never skip. Each test keeps to keys, tables and files of its own.

mod store_common;

use std::future::Future;
use std::pin::Pin;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::net::TcpListener;
use typed_sessions::store::{AnyStore, MemoryStore};
use typed_sessions_examples::shop;
use typed_sessions_tests::shop_pages::{Page, bare_client};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// How many records the store under test holds.
type Count = Box<dyn Fn() -> Pin<Box<dyn Future<Output = usize> + Send>> + Send + Sync>;

/// Serves `app` on 127.0.0.1 at a port the system picks; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The `name=value` of a response's session cookie.
fn cookie_pair(page: &Page) -> String {
    let header = page.set_cookie.as_deref().expect("a session cookie");
    header.split(';').next().unwrap().to_owned()
}

async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> Page {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let page = Page::from(request.send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.body);
    page
}

async fn add_to_cart(
    client: &reqwest::Client,
    base: &str,
    cookie: Option<&str>,
    token: &str,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{base}/cart/add"))
        .form(&[("csrf_token", token), ("product", "sencha")]);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// The scenario, on the shop served at `base` whose store `count` counts.
async fn anonymous_pages_write_no_records(base: &str, count: Count) {
    let client = bare_client();
    assert_eq!(count().await, 0, "the store starts empty");
    // Every page reads the token; "/" and "/login" show it in a form.
    let pages = ["/", "/cart", "/login", "/session"];
    let with_forms = ["/", "/login"];
    let mut views = Vec::new();
    for n in 0..200 {
        let path = pages[n % pages.len()];
        let page = get(&client, &format!("{base}{path}"), None).await;
        // The token must come back with the form: the page sets a cookie that carries it.
        let cookie = cookie_pair(&page);
        if with_forms.contains(&path) {
            views.push((cookie, page.csrf_token()));
        }
    }
    let records = count().await;
    eprintln!("200 cookieless page views: {records} records");
    assert_eq!(records, 0, "200 cookieless page views wrote records");

    // Back with its cookie, a visitor is shown the same token and gets no new cookie.
    let (cookie, token) = views[7].clone();
    for path in pages {
        let page = get(&client, &format!("{base}{path}"), Some(&cookie)).await;
        if with_forms.contains(&path) {
            assert_eq!(page.csrf_token(), token, "{path}");
        }
        assert_eq!(page.set_cookie, None, "{path}");
    }
    assert_eq!(count().await, 0);

    // A token from another page view, a made-up one, or none at all: refused, nothing
    // written.
    let (_, other_token) = &views[8];
    assert_ne!(other_token, &token);
    for forged in [other_token.as_str(), &"0".repeat(40), ""] {
        let response = add_to_cart(&client, base, Some(&cookie), forged).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{forged:?}");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
    let response = add_to_cart(&client, base, None, &token).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a token without its cookie"
    );
    assert_eq!(count().await, 0);

    // The page's own token: the cart add passes and writes one record.
    let response = add_to_cart(&client, base, Some(&cookie), &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = Page::from(response).await;
    let stored = cookie_pair(&page);
    assert_eq!(count().await, 1, "the first post writes the session");
    let home = get(&client, &format!("{base}/"), Some(&stored)).await;
    assert_eq!(home.cart_count(), 1);
    let flashes = home.flashes();
    assert!(
        flashes.len() == 1 && flashes[0].starts_with("Added "),
        "{flashes:?}"
    );
    assert_eq!(home.csrf_token(), token, "the token moved into the record");
    let response = add_to_cart(&client, base, Some(&stored), &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The old token-only cookie, replayed, names no record and writes none.
    let replay = get(&client, &format!("{base}/cart"), Some(&cookie)).await;
    assert_eq!(replay.cart_count(), 0);
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn memory() {
    let store = MemoryStore::new();
    let base = serve(shop::app(
        shop::server_factory(SECRET, AnyStore::Memory(store.clone())).unwrap(),
    ))
    .await;
    let count: Count = Box::new(move || {
        let store = store.clone();
        Box::pin(async move { store.len() })
    });
    anonymous_pages_write_no_records(&base, count).await;
}

#[tokio::test]
async fn redis() {
    // The shop's factory on the shop's store type, under a prefix of this test's own.
    let prefix = format!("shop-anonymous-test:{}:", store_common::random_tag());
    let store = store_common::redis_store()
        .await
        .with_prefix(prefix.clone());
    let conn = store.connection().clone();
    let base = serve(shop::app(
        shop::server_factory(SECRET, AnyStore::Redis(store)).unwrap(),
    ))
    .await;
    let count: Count = Box::new(move || {
        let (mut conn, pattern) = (conn.clone(), format!("{prefix}*"));
        Box::pin(async move {
            let mut keys: Vec<String> = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                keys.extend(batch);
                if next == 0 {
                    break keys.len();
                }
                cursor = next;
            }
        })
    });
    anonymous_pages_write_no_records(&base, count).await;
}

#[tokio::test]
async fn sqlite() {
    // As the shop binary opens it: `SESSION_STORE=sqlite://…`.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shop-anonymous-{}.db", store_common::random_tag()));
    let url = format!("sqlite://{}", path.display());
    let shop = shop::store::open(SECRET, Some(&url)).await.unwrap();
    assert_eq!(shop.kind, "SQLite");
    let base = serve(shop.app).await;
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=ro"))
        .await
        .unwrap();
    let count: Count = Box::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM sessions")
                .fetch_one(&pool)
                .await
                .unwrap();
            usize::try_from(n).unwrap()
        })
    });
    anonymous_pages_write_no_records(&base, count).await;
    drop(shop.cleanup);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn postgres() {
    let store = store_common::postgres_store().await;
    let table = store.table_name().to_owned();
    let pool = store.pool().clone();
    let base = serve(shop::app(
        shop::server_factory(SECRET, AnyStore::Postgres(store)).unwrap(),
    ))
    .await;
    let count: Count = {
        let pool = pool.clone();
        let table = table.clone();
        Box::new(move || {
            let (pool, table) = (pool.clone(), table.clone());
            Box::pin(async move {
                let (n,): (i64,) =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                usize::try_from(n).unwrap()
            })
        })
    };
    anonymous_pages_write_no_records(&base, count).await;
    for suffix in ["_entries", ""] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}{suffix}")))
            .execute(&pool)
            .await
            .unwrap();
    }
}
