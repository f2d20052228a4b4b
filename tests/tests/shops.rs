//! Both Tea Shops (axum `shop`, actix-web `actix_shop`) over real HTTP, each on every kind of
//! `SESSION_STORE` (unset: the signed cookie; Redis, SQLite, PostgreSQL), started the way
//! their binaries start them (`shop::store::open` / `shop::store::sessions` +
//! `actix_shop::server`). One scenario, one table of (shop, store): every page answers
//! `200` (`/session` included), the cart is kept across requests, a flash shows once, a
//! wrong CSRF token is refused, sign-in and sign-out work; on a server store the cookie
//! carries only the id, and sign-in moves the session to a new one.
//!
//! Needs `REDIS_URL` and `POSTGRES_URL` (see `store_common`); never skips.

mod store_common;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use typed_sessions_examples::{actix_shop, shop};
use typed_sessions_tests::shop_pages::{Page, bare_client, client, get};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

#[derive(Debug, Clone, Copy)]
enum Shop {
    Axum,
    Actix,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Store {
    Cookie,
    Redis,
    Sqlite,
    Postgres,
}

impl Store {
    /// The `SESSION_STORE` value, and the kind the shop must report.
    fn url(self) -> (Option<String>, &'static str) {
        match self {
            Self::Cookie => (None, "a signed cookie"),
            Self::Redis => (Some(store_common::redis_url()), "Redis"),
            Self::Sqlite => {
                let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join(format!("shops-{}.db", store_common::random_tag()));
                (Some(format!("sqlite://{}", path.display())), "SQLite")
            }
            Self::Postgres => (Some(store_common::postgres_url()), "PostgreSQL"),
        }
    }
}

/// Starts `shop` with `SESSION_STORE=url` on a port the system picks; its base URL and the
/// kind of store it reports. The axum shop runs on the test's runtime, the actix-web shop
/// in an actix-web `System` on a thread of its own (as its binary runs it).
async fn start(shop: Shop, url: Option<String>) -> (String, &'static str) {
    match shop {
        Shop::Axum => {
            let opened = shop::store::open(SECRET, url.as_deref()).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let kind = opened.kind;
            tokio::spawn(async move {
                let _cleanup = opened.cleanup;
                axum::serve(listener, opened.app).await.unwrap()
            });
            (format!("http://{addr}"), kind)
        }
        Shop::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (tell, kind) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let sessions = shop::store::sessions(SECRET, url.as_deref()).await.unwrap();
                    tell.send(sessions.kind).unwrap();
                    let _cleanup = sessions.cleanup;
                    actix_shop::server(sessions.factory, listener)
                        .unwrap()
                        .await
                        .unwrap();
                });
            });
            (format!("http://{addr}"), kind.await.unwrap())
        }
    }
}

/// `POST url` with `form`; the page, with the redirect's target as its body.
async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Page {
    let response = client.post(url).form(form).send().await.unwrap();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let mut page = Page::from(response).await;
    if let Some(location) = location {
        page.body = location;
    }
    page
}

/// The `name=value` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// `GET base + path` with a hand-made `Cookie` header.
async fn get_with(base: &str, path: &str, cookie: &str) -> Page {
    let response = bare_client()
        .get(format!("{base}{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    Page::from(response).await
}

/// The scenario, on one shop and one store.
async fn the_shop_works(shop: Shop, store: Store) {
    let (url, expected_kind) = store.url();
    let (base, kind) = start(shop, url).await;
    assert_eq!(kind, expected_kind, "{shop:?} on {store:?}");
    let client = client();

    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.status, StatusCode::OK);
    let first_cookie = pair(home.set_cookie.as_deref().expect("a new session"));
    assert!(home.set_cookie.as_deref().unwrap().contains("HttpOnly"));
    if store != Store::Cookie {
        // The signed id only: 64 hex characters signed with HMAC-SHA512, in base64.
        assert!(first_cookie.len() < 200, "{first_cookie}");
    }
    let token = home.csrf_token();
    for path in ["/", "/cart", "/login", "/session", "/health"] {
        let page = get(&client, &format!("{base}{path}")).await;
        assert_eq!(page.status, StatusCode::OK, "{shop:?} on {store:?}: {path}");
    }

    // The cart, kept across requests; its notice shown once.
    // The cookie of the session's record (the first page's, on the signed cookie).
    let mut id_cookie = first_cookie.clone();
    for (n, product) in ["sencha", "mug", "sencha"].into_iter().enumerate() {
        let added = post(
            &client,
            &format!("{base}/cart/add"),
            &[("csrf_token", &token), ("product", product)],
        )
        .await;
        assert_eq!(
            (added.status, added.body.as_str()),
            (StatusCode::SEE_OTHER, "/")
        );
        if store != Store::Cookie {
            // The pages held only the CSRF token, kept in the cookie: the first add writes
            // the record, under an id of its own; the next ones keep it.
            assert_eq!(
                added.set_cookie.is_some(),
                n == 0,
                "#{n}: a cookie for the new id only"
            );
            if let Some(set_cookie) = &added.set_cookie {
                id_cookie = pair(set_cookie);
            }
        }
    }
    let cart = get(&client, &format!("{base}/cart")).await;
    assert_eq!(cart.cart_count(), 3);
    assert!(cart.body.contains(r#"<td class="qty">2</td>"#));
    assert_eq!(
        cart.flashes(),
        [
            "Added Sencha green tea to your cart.",
            "Added Stoneware mug to your cart.",
            "Added Sencha green tea to your cart."
        ]
    );
    let again = get(&client, &format!("{base}/cart")).await;
    assert!(again.flashes().is_empty(), "a flash shows once");
    assert_eq!(again.cart_count(), 3);

    // The session page shows the decoded session.
    let page = get(&client, &format!("{base}/session")).await;
    assert!(page.body.contains("from your cookie"), "{}", page.body);
    assert!(
        page.body
            .contains("&quot;product&quot;: &quot;sencha&quot;")
    );
    if store == Store::Cookie {
        assert!(
            !page
                .body
                .contains(r#"<pre id="cookie" class="wrap">(none)"#)
        );
    } else {
        let id_value = id_cookie.split_once('=').unwrap().1;
        assert!(page.body.contains(id_value), "the raw cookie is shown");
    }

    // A wrong or missing token changes nothing.
    for form in [
        vec![
            ("csrf_token", "0".repeat(40)),
            ("product", "mug".to_owned()),
        ],
        vec![("product", "mug".to_owned())],
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for path in ["/cart/add", "/cart/remove", "/login", "/logout"] {
            let page = post(&client, &format!("{base}{path}"), &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} {form:?}");
            assert_eq!(page.set_cookie, None, "{path} {form:?} wrote a cookie");
        }
    }
    assert_eq!(get(&client, &format!("{base}/cart")).await.cart_count(), 3);

    if store != Store::Cookie {
        // Another client with the same cookie sees the same cart: the state is on the server.
        assert_eq!(get_with(&base, "/cart", &id_cookie).await.cart_count(), 3);
    }

    // Sign-in: a new token and, on a server store, a new id.
    let signed_in = post(
        &client,
        &format!("{base}/login"),
        &[
            ("csrf_token", &token),
            ("username", "ada"),
            ("password", shop::DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (signed_in.status, signed_in.body.as_str()),
        (StatusCode::SEE_OTHER, "/")
    );
    let user_cookie = pair(
        signed_in
            .set_cookie
            .as_deref()
            .expect("a new cookie at sign-in"),
    );
    let home = get(&client, &format!("{base}/")).await;
    assert!(home.body.contains("Signed in as <b>ada</b>"));
    assert_eq!(home.flashes(), ["Welcome, ada!"]);
    assert_eq!(home.cart_count(), 3, "the cart is kept at sign-in");
    let user_token = home.csrf_token();
    assert_ne!(user_token, token, "signing in makes a new token");
    if store != Store::Cookie {
        assert_ne!(user_cookie, id_cookie);
        let old = get_with(&base, "/", &id_cookie).await;
        assert_eq!(old.cart_count(), 0, "the pre-sign-in id opens nothing");
    }

    // Sign-out ends the session.
    let out = post(
        &client,
        &format!("{base}/logout"),
        &[("csrf_token", &user_token)],
    )
    .await;
    assert_eq!(
        (out.status, out.body.as_str()),
        (StatusCode::SEE_OTHER, "/")
    );
    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.flashes(), ["You are signed out."]);
    assert_eq!(home.cart_count(), 0);
    assert!(home.body.contains(r#"id="login-link""#));
    if store != Store::Cookie {
        let old = get_with(&base, "/", &user_cookie).await;
        assert!(
            !old.body.contains("Signed in as"),
            "the signed-out id opens nothing"
        );
        assert_eq!(old.cart_count(), 0);
    }
}

/// One test per (shop, store).
macro_rules! shops {
    ($($name:ident: $shop:ident on $store:ident,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                the_shop_works(Shop::$shop, Store::$store).await;
            }
        )*
    };
}

shops! {
    axum_on_the_signed_cookie: Axum on Cookie,
    axum_on_redis: Axum on Redis,
    axum_on_sqlite: Axum on Sqlite,
    axum_on_postgres: Axum on Postgres,
    actix_on_the_signed_cookie: Actix on Cookie,
    actix_on_redis: Actix on Redis,
    actix_on_sqlite: Actix on Sqlite,
    actix_on_postgres: Actix on Postgres,
}

#[tokio::test]
async fn an_unknown_store_is_refused_without_echoing_the_url() {
    let err = shop::store::sessions(SECRET, Some("mysql://root:hunter2@db/shop"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`mysql`"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // A blank value is the signed cookie, as unset.
    let sessions = shop::store::sessions(SECRET, Some("  ")).await.unwrap();
    assert_eq!(sessions.kind, "a signed cookie");
}

#[tokio::test]
async fn the_memory_store_is_a_choice_too() {
    let (base, kind) = start(Shop::Actix, Some("memory:".into())).await;
    assert_eq!(kind, "memory");
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();
    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "mug")],
    )
    .await;
    assert_eq!(get(&client, &format!("{base}/cart")).await.cart_count(), 1);
}

/// Both shops keep their session on a Redis reached over TLS with no code: only
/// `SESSION_STORE=rediss://…` and `SSL_CERT_FILE` naming the private CA (the test CA of
/// `scripts/tls-certs.sh`; needs `REDIS_TLS_URL` and `TLS_CA`, see `store_tls.rs`). In a
/// child process, whose environment has both from its start, as a shop binary's would.
#[tokio::test]
async fn both_shops_on_redis_over_tls_with_ssl_cert_file() {
    if store_common::rerun_with_env(
        "both_shops_on_redis_over_tls_with_ssl_cert_file",
        &[
            ("SESSION_STORE", &store_common::redis_tls_url()),
            ("SSL_CERT_FILE", &store_common::tls_ca()),
        ],
    ) {
        return;
    }
    let url = std::env::var("SESSION_STORE").unwrap();
    assert!(url.starts_with("rediss://"), "{url}");
    for shop in [Shop::Axum, Shop::Actix] {
        let (base, kind) = start(shop, Some(url.clone())).await;
        assert_eq!(kind, "Redis", "{shop:?}");
        let client = client();
        let token = get(&client, &format!("{base}/")).await.csrf_token();
        post(
            &client,
            &format!("{base}/cart/add"),
            &[("csrf_token", &token), ("product", "mug")],
        )
        .await;
        assert_eq!(
            get(&client, &format!("{base}/cart")).await.cart_count(),
            1,
            "{shop:?}: the cart is kept over TLS"
        );
    }
}
