//! Both Tea Shops sign in through `typed_sessions::auth`, over real HTTP, on the signed
//! cookie and on a server-side store: `/account` needs a user (a redirect to `/login` with
//! `next`, followed after sign-in), and a password changed in one session signs the user's
//! other session out on its next request, while the first stays signed in.

use std::net::TcpListener;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use typed_sessions::store::MemoryStore;
use typed_sessions_examples::shop::ShopFactory;
use typed_sessions_examples::{actix_shop, shop};
use typed_sessions_tests::shop_pages::{Page, client, get};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

#[derive(Debug, Clone, Copy)]
enum Shop {
    Axum,
    Actix,
}

async fn serve<F: ShopFactory>(shop: Shop, factory: F) -> String {
    match shop {
        Shop::Axum => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = shop::app(factory);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            format!("http://{addr}")
        }
        Shop::Actix => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    actix_shop::server_with(factory, listener)
                        .unwrap()
                        .await
                        .unwrap();
                });
            });
            format!("http://{addr}")
        }
    }
}

/// A form post; a redirect's `Location` in place of the body.
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

async fn sign_in(client: &reqwest::Client, base: &str, next: &str) -> Page {
    let token = get(client, &format!("{base}/login")).await.csrf_token();
    post(
        client,
        &format!("{base}/login"),
        &[
            ("csrf_token", &token),
            ("username", "ada"),
            ("password", shop::DEMO_PASSWORD),
            ("next", next),
        ],
    )
    .await
}

async fn scenario(shop: Shop, base: String) {
    let (first, second) = (client(), client());

    // `/account` needs a user: to the sign-in page, and back once signed in.
    let account = first.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::SEE_OTHER, "{shop:?}");
    assert_eq!(account.headers()[LOCATION], "/login?next=%2Faccount");
    let form = get(&first, &format!("{base}/login?next=%2Faccount")).await;
    assert!(
        form.body.contains(r#"name="next" value="/account""#),
        "{shop:?}: {}",
        form.body
    );
    let signed_in = sign_in(&first, &base, "/account").await;
    assert_eq!(signed_in.body, "/account", "{shop:?}");
    // A `next` off the site goes home instead.
    assert_eq!(
        sign_in(&second, &base, "//evil.example/").await.body,
        "/",
        "{shop:?}"
    );
    for client in [&first, &second] {
        let page = get(client, &format!("{base}/")).await;
        assert!(page.body.contains("Signed in as <b>ada</b>"), "{shop:?}");
    }

    // The first changes the password: the second is signed out, the first is not.
    let page = get(&first, &format!("{base}/account")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"id="change-password""#), "{shop:?}");
    let changed = post(
        &first,
        &format!("{base}/account/password"),
        &[("csrf_token", &page.csrf_token())],
    )
    .await;
    assert_eq!(changed.body, "/account", "{shop:?}");
    let page = get(&first, &format!("{base}/account")).await;
    assert_eq!(page.status, StatusCode::OK, "{shop:?}: still signed in");
    assert_eq!(
        page.flashes(),
        ["Password changed: your other sessions are signed out."]
    );

    let page = get(&second, &format!("{base}/")).await;
    assert!(
        page.body.contains(r#"id="login-link""#),
        "{shop:?}: signed out: {}",
        page.body
    );
    assert!(!page.body.contains("Signed in as"), "{shop:?}");
    let account = second.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::SEE_OTHER, "{shop:?}");

    // A wrong CSRF token changes no password.
    let refused = post(
        &first,
        &format!("{base}/account/password"),
        &[("csrf_token", "wrong")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = get(&first, &format!("{base}/")).await;
    assert!(page.body.contains("Signed in as <b>ada</b>"), "{shop:?}");
}

#[tokio::test]
async fn the_axum_shop_signs_in_and_a_password_change_signs_out_the_others() {
    let base = serve(Shop::Axum, shop::factory(SECRET).unwrap()).await;
    scenario(Shop::Axum, base).await;
    let store = shop::server_factory(SECRET, MemoryStore::new()).unwrap();
    scenario(Shop::Axum, serve(Shop::Axum, store).await).await;
}

#[tokio::test]
async fn the_actix_shop_signs_in_and_a_password_change_signs_out_the_others() {
    let base = serve(Shop::Actix, shop::factory(SECRET).unwrap()).await;
    scenario(Shop::Actix, base).await;
    let store = shop::server_factory(SECRET, MemoryStore::new()).unwrap();
    scenario(Shop::Actix, serve(Shop::Actix, store).await).await;
}
