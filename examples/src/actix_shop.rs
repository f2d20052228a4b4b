//! The Tea Shop on actix-web: the same session schema ([`crate::shop::state`]), flash
//! queue, pages and route logic ([`crate::shop::actions`]) as the axum [`crate::shop`],
//! through
//! [`typed_sessions::actix`]. With the same secret the two shops read and write one session
//! cookie: a cart filled in one shows in the other.
//!
//! | route               | what it does                                          |
//! |---------------------|-------------------------------------------------------|
//! | `GET /`             | the products, each with an "Add to cart" form         |
//! | `GET /cart`         | the cart, with "Remove" forms and the total           |
//! | `POST /cart/add`    | adds `product`; flashes a notice; `303` to `/`        |
//! | `POST /cart/remove` | removes `product`; flashes a notice; `303` to `/cart` |
//! | `GET /login`        | the sign-in form                                      |
//! | `POST /login`       | signs in (any name, password [`crate::shop::DEMO_PASSWORD`]) |
//! | `POST /logout`      | invalidates the session; `303` to `/`                 |
//! | `GET /health`       | `ok`; never touches the session                       |
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use typed_sessions::actix::SessionMiddleware;
//! use typed_sessions_examples::{actix_shop, shop};
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
use typed_sessions::SessionError;
use typed_sessions::actix::SessionHandle;

use crate::shop::actions::{self, LoginForm, ProductForm, Reply, TokenForm};
use crate::shop::html;

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

fn respond(reply: Reply) -> HttpResponse {
    let html = |status: StatusCode, page: maud::Markup| {
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(page.into_string())
    };
    match reply {
        Reply::Page(page) => html(StatusCode::OK, page),
        Reply::SeeOther(to) => HttpResponse::SeeOther()
            .insert_header((LOCATION, to))
            .finish(),
        Reply::Forbidden => html(StatusCode::FORBIDDEN, html::forbidden()),
    }
}

async fn products(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    actions::products(&mut session.lock()).map(respond)
}

async fn cart(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    actions::cart(&mut session.lock()).map(respond)
}

async fn login_form(session: SessionHandle) -> Result<HttpResponse, SessionError> {
    actions::login_form(&mut session.lock()).map(respond)
}

async fn add_to_cart(
    session: SessionHandle,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, SessionError> {
    actions::add_to_cart(&mut session.lock(), &form).map(respond)
}

async fn remove_from_cart(
    session: SessionHandle,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, SessionError> {
    actions::remove_from_cart(&mut session.lock(), &form).map(respond)
}

async fn login(
    session: SessionHandle,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, SessionError> {
    actions::login(&mut session.lock(), &form).map(respond)
}

async fn logout(
    session: SessionHandle,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, SessionError> {
    actions::logout(&mut session.lock(), &form).map(respond)
}

async fn health() -> &'static str {
    "ok"
}
