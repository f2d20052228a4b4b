//! Reading the shops' pages over HTTP, for the tests of the axum and actix-web shops: a
//! browser-like client, and a page's status, `Set-Cookie`, CSRF token, flashes and cart
//! count.

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;

/// A browser-like client: keeps cookies (per host, as browsers do), shows redirects
/// instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client with no cookie jar, for sending hand-made `Cookie` headers.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A response of a shop, read whole.
pub struct Page {
    pub status: StatusCode,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Page {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        Self {
            status,
            set_cookie,
            body,
        }
    }

    /// The value of the first hidden `csrf_token` field.
    pub fn csrf_token(&self) -> String {
        csrf_token(&self.body)
    }

    /// The texts of the flash messages the page shows, in order.
    pub fn flashes(&self) -> Vec<&str> {
        self.body
            .match_indices(r#"<p class="flash "#)
            .map(|(at, _)| {
                let rest = &self.body[at..];
                let start = rest.find('>').unwrap() + 1;
                let end = rest.find("</p>").unwrap();
                &rest[start..end]
            })
            .collect()
    }

    /// The number in the header's cart link.
    pub fn cart_count(&self) -> u64 {
        cart_count(&self.body)
    }
}

/// The value of the first hidden `csrf_token` field of a page's HTML.
pub fn csrf_token(body: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = body.find(marker).expect("the page has a form") + marker.len();
    let end = start + body[start..].find('"').unwrap();
    body[start..end].to_owned()
}

/// The number in the cart link of a page's HTML.
pub fn cart_count(body: &str) -> u64 {
    let marker = r#"<span id="cart-count">"#;
    let start = body.find(marker).unwrap() + marker.len();
    let end = start + body[start..].find('<').unwrap();
    body[start..end].parse().unwrap()
}

/// `GET url`, read whole.
pub async fn get(client: &reqwest::Client, url: &str) -> Page {
    Page::from(client.get(url).send().await.unwrap()).await
}
