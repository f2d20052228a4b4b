//! The shop on server-side stores over real HTTP (`shop::store::open`, what
//! `SESSION_STORE` selects): on SQLite (a temporary file), on a real PostgreSQL (needs
//! `POSTGRES_URL`, see `store_postgres.rs`) and on a Redis over TLS (`store_tls.rs`). The cart survives between requests, the cookie
//! carries only the signed id, sign-in gives a new id and sign-out ends the session.

mod store_common;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::net::TcpListener;
use typed_sessions_examples::shop;
use typed_sessions_tests::shop_pages::{cart_count, client, csrf_token};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// Starts the shop on the store at `url`; returns its base URL and the cleanup task.
async fn start(url: &str) -> (String, shop::store::Shop) {
    let mut opened = shop::store::open(SECRET, Some(url)).await.unwrap();
    let app = std::mem::replace(&mut opened.app, axum::Router::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), opened)
}

/// The `name=value` of a response's `Set-Cookie`.
fn set_cookie(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get(SET_COOKIE)?.to_str().unwrap();
    Some(header.split(';').next().unwrap().to_owned())
}

async fn page(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Cart, sign-in, sign-out on the shop at `base`.
async fn shop_keeps_its_session_on_the_server(base: &str) {
    let client = client();
    let first = client.get(format!("{base}/")).send().await.unwrap();
    let cookie = set_cookie(&first).expect("a new session");
    // The signed id only: 64 hex characters signed with HMAC-SHA512, in base64.
    assert!(cookie.len() < 200, "{cookie}");
    let token = csrf_token(&first.text().await.unwrap());

    for product in ["sencha", "mug"] {
        let added = client
            .post(format!("{base}/cart/add"))
            .form(&[("csrf_token", token.as_str()), ("product", product)])
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        assert!(set_cookie(&added).is_none(), "same id: no new cookie");
    }
    assert_eq!(cart_count(&page(&client, &format!("{base}/")).await), 2);

    // Another client with the same cookie sees the same cart: the state is on the server.
    let other = reqwest::Client::new();
    let body = other
        .get(format!("{base}/cart"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(cart_count(&body), 2);

    let signed_in = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ada"),
            ("password", shop::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let user_cookie = set_cookie(&signed_in).expect("a new id at sign-in");
    assert_ne!(user_cookie, cookie);
    let home = page(&client, &format!("{base}/")).await;
    assert!(home.contains("Signed in as <b>ada</b>"));
    assert_eq!(cart_count(&home), 2, "the cart moved to the new id");
    let body = other
        .get(format!("{base}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(cart_count(&body), 0, "the pre-sign-in id opens nothing");

    let user_token = csrf_token(&home);
    let out = client
        .post(format!("{base}/logout"))
        .form(&[("csrf_token", user_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let home = page(&client, &format!("{base}/")).await;
    assert!(home.contains("You are signed out."));
    assert_eq!(cart_count(&home), 0);
    let body = other
        .get(format!("{base}/"))
        .header(COOKIE, &user_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !body.contains("Signed in as"),
        "the signed-out id opens nothing"
    );
    assert_eq!(cart_count(&body), 0);
}

#[tokio::test]
async fn the_shop_on_sqlite() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shop-{}.db", store_common::random_tag()));
    let (base, opened) = start(&format!("sqlite://{}", path.display())).await;
    assert_eq!(opened.kind, "SQLite");
    assert!(opened.cleanup.is_some());
    shop_keeps_its_session_on_the_server(&base).await;
}

#[tokio::test]
async fn the_shop_on_postgres() {
    let (base, opened) = start(&store_common::postgres_url()).await;
    assert_eq!(opened.kind, "PostgreSQL");
    shop_keeps_its_session_on_the_server(&base).await;
}

/// The shop on a Redis that speaks only TLS, configured as an operator would with no code:
/// `SESSION_STORE=rediss://127.0.0.1:6391/` and `SSL_CERT_FILE` naming the private CA (the
/// test CA of `scripts/tls-certs.sh`; needs `REDIS_TLS_URL` and `TLS_CA`, see
/// `store_tls.rs`). In a child process, whose environment has both from its start, as the
/// shop binary's would.
#[tokio::test]
async fn the_shop_on_redis_over_tls_with_ssl_cert_file() {
    if store_common::rerun_with_env(
        "the_shop_on_redis_over_tls_with_ssl_cert_file",
        &[
            ("SESSION_STORE", &store_common::redis_tls_url()),
            ("SSL_CERT_FILE", &store_common::tls_ca()),
        ],
    ) {
        return;
    }
    let url = std::env::var("SESSION_STORE").unwrap();
    assert!(url.starts_with("rediss://"), "{url}");
    let (base, opened) = start(&url).await;
    assert_eq!(opened.kind, "Redis");
    shop_keeps_its_session_on_the_server(&base).await;
}

#[tokio::test]
async fn an_unknown_store_is_refused_without_echoing_the_url() {
    let err = shop::store::open(SECRET, Some("mysql://root:hunter2@db/shop"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`mysql`"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let cookie = shop::store::open(SECRET, None).await.unwrap();
    assert_eq!(cookie.kind, "a signed cookie");
}
