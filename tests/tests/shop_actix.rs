//! The actix-web Tea Shop over real HTTP, and the cookie it shares with the axum shop: with
//! one secret, a cart filled in one shop shows in the other, both ways.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpServer};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use typed_sessions::actix::SessionMiddleware;
use typed_sessions::codec::SignedCodec;
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::{CookieSessionFactory, HashAlg};
use typed_sessions_examples::{actix_shop, shop};
use typed_sessions_tests::Counting;
use typed_sessions_tests::shop_pages::{Page, client, get};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// Serves the actix shop with `factory` on a thread of its own; its base URL.
fn serve_actix<F: SessionFactory>(factory: F) -> String {
    let middleware = SessionMiddleware::new(factory);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .configure(actix_shop::routes)
                    .wrap(middleware.clone())
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    format!("http://{addr}")
}

/// Serves the axum shop on the test's runtime; its base URL.
async fn serve_axum() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = shop::app(shop::factory(SECRET).unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

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

#[tokio::test]
async fn add_to_cart_flashes_once_and_csrf_guards_every_form() {
    let base = serve_actix(shop::factory(SECRET).unwrap());
    let client = client();

    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.status, StatusCode::OK);
    let set_cookie = home.set_cookie.as_deref().unwrap();
    for attribute in ["; Secure", "; HttpOnly", "; SameSite=Lax"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert_eq!(home.cart_count(), 0);
    let token = home.csrf_token();

    let added = post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "sencha")],
    )
    .await;
    assert_eq!(
        (added.status, added.body.as_str()),
        (StatusCode::SEE_OTHER, "/")
    );
    let after = get(&client, &format!("{base}/")).await;
    assert_eq!(after.flashes(), ["Added Sencha green tea to your cart."]);
    assert_eq!(after.cart_count(), 1);
    assert!(get(&client, &format!("{base}/")).await.flashes().is_empty());

    for form in [
        vec![
            ("csrf_token", "0".repeat(40)),
            ("product", "mug".to_owned()),
        ],
        vec![("product", "mug".to_owned())],
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for path in ["/cart/add", "/cart/remove", "/logout"] {
            let page = post(&client, &format!("{base}{path}"), &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} {form:?}");
            assert_eq!(page.set_cookie, None, "{path} {form:?} wrote a cookie");
        }
    }
    let cart = get(&client, &format!("{base}/cart")).await;
    assert_eq!(cart.cart_count(), 1, "forged forms changed nothing");
    assert!(cart.flashes().is_empty());

    let removed = post(
        &client,
        &format!("{base}/cart/remove"),
        &[("csrf_token", &token), ("product", "sencha")],
    )
    .await;
    assert_eq!(removed.body, "/cart");
    let cart = get(&client, &format!("{base}/cart")).await;
    assert_eq!(cart.flashes(), ["Removed Sencha green tea from your cart."]);
    assert_eq!(cart.cart_count(), 0);
}

#[tokio::test]
async fn login_then_logout_invalidates_the_session() {
    let base = serve_actix(shop::factory(SECRET).unwrap());
    let client = client();
    let token = get(&client, &format!("{base}/login")).await.csrf_token();
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
    assert_eq!(signed_in.body, "/");
    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.flashes(), ["Welcome, ada!"]);
    assert!(home.body.contains("Signed in as <b>ada</b>"));
    let user_token = home.csrf_token();
    assert_ne!(user_token, token, "signing in makes a new token");

    let out = post(
        &client,
        &format!("{base}/logout"),
        &[("csrf_token", &user_token)],
    )
    .await;
    assert_eq!(out.body, "/");
    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.flashes(), ["You are signed out."]);
    assert!(home.body.contains(r#"id="login-link""#));
}

#[tokio::test]
async fn the_health_route_opens_no_cookie_and_sets_none() {
    let opens = Arc::new(AtomicUsize::new(0));
    let codec = Counting {
        inner: SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512),
        opens: Arc::clone(&opens),
    };
    let base = serve_actix(CookieSessionFactory::with_codec(codec).build().unwrap());
    let client = client();
    assert!(get(&client, &format!("{base}/")).await.set_cookie.is_some());
    let opened = opens.load(Ordering::SeqCst);
    for _ in 0..3 {
        let health = get(&client, &format!("{base}/health")).await;
        assert_eq!((health.body.as_str(), health.set_cookie), ("ok", None));
    }
    assert_eq!(
        opens.load(Ordering::SeqCst),
        opened,
        "/health opened a cookie"
    );
    get(&client, &format!("{base}/cart")).await;
    assert_eq!(opens.load(Ordering::SeqCst), opened + 1);
}

#[tokio::test]
async fn one_cookie_serves_both_shops_both_ways() {
    let axum = serve_axum().await;
    let actix = serve_actix(shop::factory(SECRET).unwrap());
    let client = client();

    // Filled on axum, read on actix-web.
    let token = get(&client, &format!("{axum}/")).await.csrf_token();
    post(
        &client,
        &format!("{axum}/cart/add"),
        &[("csrf_token", &token), ("product", "sencha")],
    )
    .await;
    let page = get(&client, &format!("{actix}/cart")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.cart_count(),
        1,
        "the actix shop reads the axum shop's cart"
    );
    assert_eq!(page.flashes(), ["Added Sencha green tea to your cart."]);
    assert!(page.body.contains(r#"id="line-sencha""#));
    assert_eq!(page.csrf_token(), token, "one session, one CSRF token");

    // Filled on actix-web, read on axum.
    post(
        &client,
        &format!("{actix}/cart/add"),
        &[("csrf_token", &token), ("product", "mug")],
    )
    .await;
    let page = get(&client, &format!("{axum}/cart")).await;
    assert_eq!(
        page.cart_count(),
        2,
        "the axum shop reads the actix shop's cart"
    );
    assert_eq!(page.flashes(), ["Added Stoneware mug to your cart."]);
    assert!(page.body.contains(r#"id="line-mug""#));

    // Signed in on one, signed in on the other.
    post(
        &client,
        &format!("{actix}/login"),
        &[
            ("csrf_token", &token),
            ("username", "ada"),
            ("password", shop::DEMO_PASSWORD),
        ],
    )
    .await;
    let page = get(&client, &format!("{axum}/")).await;
    assert!(page.body.contains("Signed in as <b>ada</b>"));
    assert_eq!(page.flashes(), ["Welcome, ada!"]);
}
