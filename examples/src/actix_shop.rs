//! The Tea Shop on actix-web: the same session schema ([`shop::state`]), flash queue,
//! pages and CSRF rule as the axum [`shop`], through
//! [`session::actix`]. With the same secret the two shops read and write one session
//! cookie: a cart filled in one shows in the other.
//!
//! | route               | what it does                                          |
//! |---------------------|-------------------------------------------------------|
//! | `GET /`             | the products, each with an "Add to cart" form         |
//! | `GET /cart`         | the cart, with "Remove" forms and the total           |
//! | `POST /cart/add`    | adds `product`; flashes a notice; `303` to `/`        |
//! | `POST /cart/remove` | removes `product`; flashes a notice; `303` to `/cart` |
//! | `GET /login`        | the sign-in form                                      |
//! | `POST /login`       | signs in (any name, password [`shop::DEMO_PASSWORD`]) |
//! | `POST /logout`      | invalidates the session; `303` to `/`                 |
//! | `GET /health`       | `ok`; never touches the session                       |
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use session::actix::SessionMiddleware;
//! use session_examples::{actix_shop, shop};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let middleware = SessionMiddleware::new(shop::factory(shop::random_secret()).unwrap());
//! HttpServer::new(move || App::new().configure(actix_shop::routes).wrap(middleware.clone()))
//!     .bind(("127.0.0.1", 3001))?
//!     .run()
//!     .await
//! # });
//! ```

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, LOCATION};
use actix_web::{HttpResponse, web};
use maud::Markup;
use serde::Deserialize;
use session::actix::SessionHandle;
use session::{FlashExt, Session, SessionError};

use crate::shop::html::{self, Chrome};
use crate::shop::state::{CartLine, Notice, ShopSessionExt};
use crate::shop::{self, catalog};

/// The longest user name the shop accepts, in characters (as the axum shop).
const MAX_USER_NAME: usize = 40;

/// Registers the shop's routes: `App::new().configure(routes).wrap(middleware)`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(products))
        .route("/cart", web::get().to(cart))
        .route("/cart/add", web::post().to(add_to_cart))
        .route("/cart/remove", web::post().to(remove_from_cart))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/health", web::get().to(health));
}

/// What every page shows; takes this page's notices out of the session.
fn chrome(s: &mut Session) -> Result<Chrome, SessionError> {
    Ok(Chrome {
        user: s.user()?,
        cart_items: s.cart()?.iter().map(|line| u64::from(line.qty)).sum(),
        notices: s.pop_flashes()?,
        csrf_token: s.get_csrf_token()?,
    })
}

fn page(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(markup.into_string())
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

fn forbidden() -> HttpResponse {
    HttpResponse::build(StatusCode::FORBIDDEN)
        .content_type(ContentType::html())
        .body(html::forbidden().into_string())
}

async fn products(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    Ok(page(html::products(&chrome(&mut s)?)))
}

async fn cart(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    let lines = s.cart()?;
    Ok(page(html::cart(&chrome(&mut s)?, &lines)))
}

async fn login_form(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    Ok(page(html::login(&chrome(&mut s)?)))
}

async fn health() -> &'static str {
    "ok"
}

#[derive(Debug, Deserialize)]
struct ProductForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    product: String,
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

async fn add_to_cart(
    session: SessionHandle,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(forbidden());
    }
    let notice = match catalog::find(&form.product) {
        Some(product) => {
            // The guard writes the cart back and marks the session changed when it drops.
            let mut cart = s.cart_mut()?;
            match cart.iter_mut().find(|line| line.product == product.id) {
                Some(line) => line.qty = line.qty.saturating_add(1),
                None => cart.push(CartLine {
                    product: product.id.to_owned(),
                    qty: 1,
                }),
            }
            Notice::Success(format!("Added {} to your cart.", product.name))
        }
        None => Notice::Error("That product is not for sale.".to_owned()),
    };
    s.flash(notice)?;
    Ok(see_other("/"))
}

async fn remove_from_cart(
    session: SessionHandle,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(forbidden());
    }
    let removed = {
        let mut cart = s.cart_mut()?;
        let before = cart.len();
        cart.retain(|line| line.product != form.product);
        cart.len() < before
    };
    let notice = match (removed, catalog::find(&form.product)) {
        (true, Some(product)) => {
            Notice::Success(format!("Removed {} from your cart.", product.name))
        }
        (true, None) => Notice::Success("Removed it from your cart.".to_owned()),
        (false, _) => Notice::Error("That was not in your cart.".to_owned()),
    };
    s.flash(notice)?;
    Ok(see_other("/cart"))
}

async fn login(
    session: SessionHandle,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(forbidden());
    }
    let name = form.username.trim();
    if name.is_empty()
        || name.chars().count() > MAX_USER_NAME
        || form.password != shop::DEMO_PASSWORD
    {
        s.flash(Notice::Error("Wrong name or password.".to_owned()))?;
        return Ok(see_other("/login"));
    }
    // A signed-in session gets a token no anonymous page has seen.
    s.new_csrf_token()?;
    s.set_user(Some(name.to_owned()))?;
    s.flash(Notice::Success(format!("Welcome, {name}!")))?;
    Ok(see_other("/"))
}

async fn logout(
    session: SessionHandle,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, SessionError> {
    let mut s = session.lock();
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(forbidden());
    }
    // Drops the user, the cart and the CSRF token; the cookie is replaced.
    s.invalidate();
    s.flash(Notice::Success("You are signed out.".to_owned()))?;
    Ok(see_other("/"))
}
