//! The shop binaries print a URL that works over plain HTTP with their `Secure` cookie:
//! `http://localhost:PORT/`. Each binary is started as the README says; a client with a
//! cookie jar (reqwest's, which like browsers and curl keeps `Secure` cookies from
//! `localhost`) opens the printed URL, gets a `Secure; HttpOnly; SameSite=Lax` cookie,
//! and the jar alone sends it back: a cart filled through it shows the item.

mod support;

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use support::Process;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// Starts `program` on `port`; the URL it printed is the process's `base`.
fn start_shop(program: &str, port: u16) -> Process {
    Process::start(
        Command::new(program)
            .env("SESSION_SECRET", SECRET)
            .env("PORT", port.to_string())
            .env("NO_COLOR", "1")
            .stderr(Stdio::null()),
    )
}

/// A free loopback port, for the actix-web shop (which prints `PORT` as given).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The value of the first hidden `csrf_token` field of `page`.
fn csrf_token(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token on the page")
        .to_owned()
}

/// Opens the printed URL with a cookie jar, checks the cookie's attributes, and fills the
/// cart with the jar alone carrying the session.
async fn shop_through_a_cookie_jar(shop: &Process) {
    let port = shop.base.rsplit(':').next().unwrap();
    assert_eq!(shop.base, format!("http://localhost:{port}"));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // The actix-web binary may still be binding its port when it prints the URL.
    let mut tries = 0;
    let home = loop {
        match client.get(format!("{}/", shop.base)).send().await {
            Ok(home) => break home,
            Err(_) if tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("{}: {err}", shop.base),
        }
    };
    assert_eq!(home.status(), StatusCode::OK);
    let set_cookie = home.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(
            attributes.contains(&attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let token = csrf_token(&home.text().await.unwrap());

    // The jar sends the cookie back over plain HTTP: the CSRF token is accepted...
    let added = client
        .post(format!("{}/cart/add", shop.base))
        .form(&[("csrf_token", token.as_str()), ("product", "mug")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        added.status(),
        StatusCode::SEE_OTHER,
        "the jar did not send the session cookie back to {}",
        shop.base
    );
    // ... and the cart holds the mug.
    let cart = client
        .get(format!("{}/cart", shop.base))
        .send()
        .await
        .unwrap();
    let cart = cart.text().await.unwrap();
    assert!(cart.contains("id=\"line-mug\""), "{cart}");
}

#[tokio::test]
async fn the_axum_shop_prints_a_url_where_its_secure_cookie_works() {
    let shop = start_shop(env!("CARGO_BIN_EXE_shop"), 0);
    shop_through_a_cookie_jar(&shop).await;
}

#[tokio::test]
async fn the_actix_shop_prints_a_url_where_its_secure_cookie_works() {
    let shop = start_shop(env!("CARGO_BIN_EXE_actix_shop"), free_port());
    shop_through_a_cookie_jar(&shop).await;
}
