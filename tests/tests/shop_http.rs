//! The shop demo over real HTTP: the app on an ephemeral loopback port, driven by a
//! cookie-keeping client that does not follow redirects (so each step is checked).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use typed_sessions_tests::Counting;
use typed_sessions_tests::shop_pages::{Page, bare_client, client, get};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tokio::net::TcpListener;
use typed_sessions::codec::SignedCodec;
use typed_sessions::{CookieSessionFactory, HashAlg};
use typed_sessions_examples::shop;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// Starts `app` on 127.0.0.1 at a port the system picks; returns its base URL. The server
/// ends with the test's runtime.
async fn serve(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn start() -> String {
    serve(shop::app(shop::factory(SECRET).unwrap())).await
}

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client.post(url).form(form).send().await.unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn add_to_cart_redirects_and_the_flash_shows_once() {
    let base = start().await;
    let client = client();

    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(home.status, StatusCode::OK);
    // The first page stores the CSRF token in a new session, in a safe cookie.
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
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), "/");
    assert!(added.headers().contains_key(SET_COOKIE));

    let after = get(&client, &format!("{base}/")).await;
    assert_eq!(after.flashes(), ["Added Sencha green tea to your cart."]);
    assert_eq!(after.cart_count(), 1);

    let reload = get(&client, &format!("{base}/")).await;
    assert!(reload.flashes().is_empty(), "the flash is shown once");
    assert_eq!(reload.cart_count(), 1);

    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "sencha")],
    )
    .await;
    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "mug")],
    )
    .await;
    let cart = get(&client, &format!("{base}/cart")).await;
    assert_eq!(cart.cart_count(), 3);
    assert!(cart.body.contains(r#"id="line-sencha""#));
    assert!(cart.body.contains(r#"<td class="qty">2</td>"#));
    assert!(
        cart.body
            .contains(r#"<th class="num" id="total">$29.00</th>"#)
    );
    assert_eq!(
        cart.flashes().len(),
        2,
        "both notices wait for the next page"
    );

    let removed = post(
        &client,
        &format!("{base}/cart/remove"),
        &[("csrf_token", &token), ("product", "sencha")],
    )
    .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&removed), "/cart");
    let cart = get(&client, &format!("{base}/cart")).await;
    assert_eq!(cart.flashes(), ["Removed Sencha green tea from your cart."]);
    assert_eq!(cart.cart_count(), 1);
    assert!(!cart.body.contains(r#"id="line-sencha""#));
}

#[tokio::test]
async fn an_unknown_product_is_an_error_flash() {
    let base = start().await;
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();

    let response = post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "<script>")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = get(&client, &format!("{base}/")).await;
    assert_eq!(page.flashes(), ["That product is not for sale."]);
    assert!(page.body.contains(r#"class="flash error""#));
    assert_eq!(page.cart_count(), 0);
}

#[tokio::test]
async fn a_csrf_failure_is_403_and_changes_nothing() {
    let base = start().await;
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();
    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "teapot")],
    )
    .await;
    // The first page shows (and removes) the "Added" flash.
    assert_eq!(get(&client, &format!("{base}/")).await.flashes().len(), 1);
    let before = get(&client, &format!("{base}/session")).await;

    let forged = [
        vec![("csrf_token", "0".repeat(40)), ("product", "mug".into())],
        vec![("product", "mug".into())],
        vec![
            ("csrf_token", token[..39].to_owned()),
            ("product", "mug".into()),
        ],
    ];
    for form in &forged {
        for path in ["/cart/add", "/cart/remove"] {
            let response = client
                .post(format!("{base}{path}"))
                .form(form)
                .send()
                .await
                .unwrap();
            let page = Page::from(response).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} {form:?}");
            assert_eq!(page.set_cookie, None, "{path} {form:?} wrote a cookie");
            assert!(page.body.contains("nothing was changed"));
        }
    }
    let response = post(
        &client,
        &format!("{base}/login"),
        &[
            ("csrf_token", "nope"),
            ("username", "mallory"),
            ("password", shop::DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let after = get(&client, &format!("{base}/session")).await;
    let state = |page: &Page| {
        let start = page.body.find(r#"<pre id="state">"#).unwrap();
        let end = start + page.body[start..].find("</pre>").unwrap();
        page.body[start..end].to_owned()
    };
    assert_eq!(state(&after), state(&before), "the session is unchanged");
    assert!(after.flashes().is_empty());
    assert_eq!(after.cart_count(), 1);
    assert!(!after.body.contains("mallory"));
}

#[tokio::test]
async fn a_tampered_cookie_gives_a_fresh_session_not_a_500() {
    let base = start().await;
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();
    let added = post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "mug")],
    )
    .await;
    let set_cookie = added.headers()[SET_COOKIE].to_str().unwrap();
    let pair = set_cookie.split(';').next().unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "session");

    // Flip one character in the middle of the signed payload.
    let mut bytes = value.as_bytes().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();

    let bare = bare_client();
    for cookie in [
        format!("session={tampered}"),
        "session=%%%not-base64".to_owned(),
        "session=".to_owned(),
        format!("session={}", &value[..value.len() / 3]),
    ] {
        let response = bare
            .get(format!("{base}/session"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        let page = Page::from(response).await;
        assert_eq!(page.status, StatusCode::OK, "{cookie}");
        assert_eq!(page.cart_count(), 0, "{cookie}");
        assert!(page.body.contains("was rejected"), "{cookie}");
        assert!(
            page.set_cookie.is_some(),
            "a fresh session replaces the bad cookie"
        );
    }

    // The untampered cookie still works.
    let response = bare
        .get(format!("{base}/cart"))
        .header(COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(Page::from(response).await.cart_count(), 1);
}

#[tokio::test]
async fn an_untouched_route_sets_no_cookie_and_opens_none() {
    let opens = Arc::new(AtomicUsize::new(0));
    let codec = Counting {
        inner: SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512),
        opens: Arc::clone(&opens),
    };
    let factory = CookieSessionFactory::with_codec(codec).build().unwrap();
    let base = serve(shop::app(factory)).await;
    let client = client();

    let health = get(&client, &format!("{base}/health")).await;
    assert_eq!(health.body, "ok");
    assert_eq!(health.set_cookie, None);

    let home = get(&client, &format!("{base}/")).await;
    assert!(home.set_cookie.is_some());
    let opened = opens.load(Ordering::SeqCst);

    // Now the client sends a session cookie; the health check still ignores it.
    for _ in 0..3 {
        let health = get(&client, &format!("{base}/health")).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.set_cookie, None);
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
async fn login_then_logout_invalidates_the_session() {
    let base = start().await;
    let client = client();
    let home = get(&client, &format!("{base}/login")).await;
    assert!(home.body.contains(r#"id="login-link""#));
    let anonymous_token = home.csrf_token();

    let wrong = post(
        &client,
        &format!("{base}/login"),
        &[
            ("csrf_token", &anonymous_token),
            ("username", "ada"),
            ("password", "guess"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&wrong), "/login");
    let page = get(&client, &format!("{base}/login")).await;
    assert_eq!(page.flashes(), ["Wrong name or password."]);
    assert!(!page.body.contains(r#"id="user""#));

    let right = post(
        &client,
        &format!("{base}/login"),
        &[
            ("csrf_token", &anonymous_token),
            ("username", " ada "),
            ("password", shop::DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/");
    let page = get(&client, &format!("{base}/")).await;
    assert_eq!(page.flashes(), ["Welcome, ada!"]);
    assert!(page.body.contains("Signed in as <b>ada</b>"));
    let user_token = page.csrf_token();
    assert_ne!(user_token, anonymous_token, "signing in makes a new token");

    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &user_token), ("product", "earl-grey")],
    )
    .await;
    let session_page = get(&client, &format!("{base}/session")).await;
    assert!(
        session_page
            .body
            .contains("&quot;user&quot;: &quot;ada&quot;")
    );
    assert!(session_page.body.contains("earl-grey"));

    // The pre-login token no longer signs anything.
    let stale = post(
        &client,
        &format!("{base}/logout"),
        &[("csrf_token", &anonymous_token)],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);

    let out = post(
        &client,
        &format!("{base}/logout"),
        &[("csrf_token", &user_token)],
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/");
    let page = get(&client, &format!("{base}/")).await;
    assert_eq!(page.flashes(), ["You are signed out."]);
    assert!(page.body.contains(r#"id="login-link""#));
    assert_eq!(page.cart_count(), 0, "the cart went with the session");
    assert_ne!(page.csrf_token(), user_token, "the token went too");

    let replay = post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &user_token), ("product", "mug")],
    )
    .await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_session_page_shows_the_decoded_session_and_the_cookie() {
    let base = start().await;
    let client = client();
    let token = get(&client, &format!("{base}/")).await.csrf_token();
    post(
        &client,
        &format!("{base}/cart/add"),
        &[("csrf_token", &token), ("product", "teapot")],
    )
    .await;

    let page = get(&client, &format!("{base}/session")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("from your cookie"));
    assert!(page.body.contains("&quot;_csrft_&quot;"));
    assert!(
        page.body
            .contains("&quot;product&quot;: &quot;teapot&quot;")
    );
    // The flash is in the session as decoded, and shown (and removed) by this page.
    assert!(page.body.contains("&quot;_f_success&quot;"));
    assert_eq!(page.flashes(), ["Added Cast-iron teapot to your cart."]);
    assert!(
        !page
            .body
            .contains(r#"<pre id="cookie" class="wrap">(none)"#)
    );
}

/// User names that are markup, each with the form the pages must show it in. The first is
/// short; the second is at the shop's 40-character cap and ends in an entity, which must
/// show as written, so its `&` is escaped too.
const HOSTILE_NAMES: [(&str, &str); 2] = [
    (
        r#"<img src=x onerror="window.__pwned=1">"#,
        "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;",
    ),
    (
        r#""><script>window.__pwned=1</script>&amp;"#,
        "&quot;&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;&amp;amp;",
    ),
];

/// Signs in as `name` with the demo password; returns the response to the form's `POST`.
async fn sign_in(client: &reqwest::Client, base: &str, name: &str) -> reqwest::Response {
    let token = get(client, &format!("{base}/login")).await.csrf_token();
    post(
        client,
        &format!("{base}/login"),
        &[
            ("csrf_token", &token),
            ("username", name),
            ("password", shop::DEMO_PASSWORD),
        ],
    )
    .await
}

#[tokio::test]
async fn a_hostile_user_name_is_escaped_on_every_page() {
    let base = start().await;
    assert_eq!(HOSTILE_NAMES[1].0.chars().count(), 40, "at the cap");
    for (name, escaped) in HOSTILE_NAMES {
        let client = client();
        let signed_in = sign_in(&client, &base, name).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(location(&signed_in), "/", "{name} was refused");
        let home = get(&client, &format!("{base}/")).await;
        assert_eq!(home.flashes(), [format!("Welcome, {escaped}!")]);
        // A cart line, so the cart page shows its table too.
        post(
            &client,
            &format!("{base}/cart/add"),
            &[("csrf_token", &home.csrf_token()), ("product", "mug")],
        )
        .await;

        let mut pages = vec![("/", home)];
        for path in ["/cart", "/login", "/session"] {
            pages.push((path, get(&client, &format!("{base}{path}")).await));
        }
        for (path, page) in &pages {
            assert_eq!(page.status, StatusCode::OK, "{path}");
            assert!(
                page.body
                    .contains(&format!("Signed in as <b>{escaped}</b>")),
                "{path} does not show {name} escaped:\n{}",
                page.body
            );
            for raw in [name, "<script", "<img"] {
                assert!(
                    !page.body.contains(raw),
                    "{path} holds `{raw}` unescaped:\n{}",
                    page.body
                );
            }
        }
        // `/session` shows the name inside the state's JSON, where `"` is `\"`.
        let in_json = escaped.replace("&quot;", r"\&quot;");
        let state = &pages[3].1.body;
        assert!(
            state.contains(&format!("&quot;user&quot;: &quot;{in_json}&quot;")),
            "{state}"
        );
    }

    // One character more than the cap is refused, and the name is not shown.
    let client = client();
    let too_long = format!("{}x", HOSTILE_NAMES[1].0);
    let refused = sign_in(&client, &base, &too_long).await;
    assert_eq!(location(&refused), "/login");
    let page = get(&client, &format!("{base}/login")).await;
    assert_eq!(page.flashes(), ["Wrong name or password."]);
    assert!(!page.body.contains(r#"id="user""#));
    assert!(!page.body.contains("<script"));
}
