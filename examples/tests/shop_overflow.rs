//! The shop binary on its signed cookie takes 200 cart adds in a row without a page view in
//! between (each queues a flash message), and answers every one without a 5xx; every
//! `Set-Cookie` it writes fits the 4096-byte budget, whole line measured, and the
//! session cookie's `name=value` fits the request's 8 KiB `Cookie` header. Before flash
//! queues were capped, 125 of these 200 answered `500` ("cookie would be 4068 bytes").

mod support;

use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use support::{Process, cart_count, csrf_token};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// The browser's cookies, as the `Set-Cookie` lines left them.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    /// Applies a response's `Set-Cookie` lines, after checking each fits the budget.
    fn apply(&mut self, response: &reqwest::Response) {
        for line in response.headers().get_all(SET_COOKIE) {
            assert!(
                line.len() <= typed_sessions::DEFAULT_SET_COOKIE_BUDGET,
                "a Set-Cookie line of {} bytes",
                line.len()
            );
            let text = line.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !text.contains("Max-Age=0") {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let header = pairs.join("; ");
        assert!(header.len() <= typed_sessions::DEFAULT_COOKIE_HEADER_BUDGET);
        header
    }
}

#[tokio::test]
async fn two_hundred_cart_adds_in_a_row_answer_no_5xx_and_every_cookie_fits() {
    let shop = Process::start(
        Command::new(env!("CARGO_BIN_EXE_shop"))
            .env("SESSION_SECRET", SECRET)
            .env("PORT", "0")
            .env("NO_COLOR", "1")
            .stderr(Stdio::null()),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar = Jar::default();
    let home = client.get(format!("{}/", shop.base)).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    jar.apply(&home);
    let token = csrf_token(&home.text().await.unwrap());
    let products = ["sencha", "earl-grey", "teapot", "mug"];
    let mut set_cookies = 0;
    for n in 0..200 {
        let response = client
            .post(format!("{}/cart/add", shop.base))
            .header(COOKIE, jar.header())
            .form(&[("csrf_token", token.as_str()), ("product", products[n % 4])])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "add {n} answered {}",
            response.status()
        );
        set_cookies += response.headers().get_all(SET_COOKIE).iter().count();
        jar.apply(&response);
    }
    assert!(set_cookies >= 200, "every add wrote the session");
    // The cart holds all 200, and the page shows the newest notices.
    let page = client
        .get(format!("{}/", shop.base))
        .header(COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert_eq!(cart_count(&body), 200);
    let notices = body.matches("role=\"status\"").count();
    assert_eq!(notices, typed_sessions::DEFAULT_FLASH_QUEUE_CAP, "{body}");
}
