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
//! | `GET /account`      | the user's account; signed out: `303` to `/login?next=…` |
//! | `POST /account/password` | a new password: the user's other sessions sign out |
//! | `GET /session`      | the decoded session and the raw cookie, for learning  |
//! | `GET /health`       | `ok`; never touches the session                       |
//! | `GET /devices`      | the user's sessions, this one marked (server stores; signed out: `303` to `/login`) |
//! | `POST /devices/sign-out-others` | ends the user's other sessions; `303` to `/devices` |
//! | `GET /events`       | server-sent events until the session is revoked (server stores) |
//!
//! The devices routes share the axum shop's logic ([`actions::devices_page`],
//! [`actions::sign_out_others`], [`actions::revocation`]); on a cookie session they answer
//! `404`. Sign-in records the client's address as the axum shop does: the connection's peer
//! (`peer_addr`), never `X-Forwarded-For` unless [`Settings::trusted_proxies`] names the
//! peer.
//!
//! [`server`] serves it on a listener with the factory [`crate::shop::store::sessions`]
//! opened, as the `actix_shop` binary does:
//!
//! ```no_run
//! use typed_sessions_examples::{actix_shop, shop};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let sessions = shop::store::sessions(shop::random_secret(), Some("sqlite://shop.db")).await.unwrap();
//! let listener = std::net::TcpListener::bind("127.0.0.1:3001")?;
//! actix_shop::server(sessions.factory, listener)?.await
//! # });
//! ```

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, ContentType, LOCATION, USER_AGENT};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use typed_sessions::SessionError;
use typed_sessions::actix::{CurrentUser, RequireUser, SessionHandle, SessionMiddleware};

use crate::shop::actions::{
    self, Device, DevicesError, LoginForm, NextQuery, ProductForm, Reply, TokenForm,
};
use crate::shop::client_ip::{TrustedProxies, X_FORWARDED_FOR};
use crate::shop::store::Factory;
use crate::shop::users::{ShopAuth, Users};
use crate::shop::{Settings, ShopFactory, devices, html};

/// The shop on `listener` with the sessions `factory` chose, on two workers; await the
/// [`Server`] inside an actix-web [`System`](actix_web::rt::System).
pub fn server(factory: Factory, listener: TcpListener) -> std::io::Result<Server> {
    server_with_settings(factory, Settings::default(), listener)
}

/// [`server`] with `settings` (the binary's, with `TRUSTED_PROXIES`).
pub fn server_with_settings(
    factory: Factory,
    settings: Settings,
    listener: TcpListener,
) -> std::io::Result<Server> {
    match factory {
        Factory::Cookie(factory) => serve_factory(factory, settings, listener),
        Factory::Encrypted(factory) => serve_factory(factory, settings, listener),
        Factory::Store(factory) => serve_factory(factory, settings, listener),
        Factory::Pyramid(factory) => serve_factory(factory, settings, listener),
        Factory::Beaker(factory) => serve_factory(factory, settings, listener),
    }
}

/// [`server`] for any factory the shop runs on, signing in through
/// [`users::auth`](crate::shop::users::auth).
pub fn server_with<F: ShopFactory>(factory: F, listener: TcpListener) -> std::io::Result<Server> {
    serve_factory(factory, Settings::default(), listener)
}

/// [`server_with`] with the sign-in `auth`, for tests that change a user's password from
/// outside.
pub fn server_with_auth<F: ShopFactory>(
    factory: F,
    auth: Arc<ShopAuth>,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let settings = Settings {
        auth,
        ..Settings::default()
    };
    serve_factory(factory, settings, listener)
}

/// [`server_with`] with `settings`.
pub fn serve_factory<F: ShopFactory>(
    factory: F,
    settings: Settings,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let factory = Arc::new(factory);
    let middleware = SessionMiddleware::from_arc(factory.clone());
    Ok(HttpServer::new(move || {
        App::new()
            .configure(routes(&factory, &settings))
            .wrap(middleware.clone())
            // The last `wrap` is the outermost: it sees the session's answer to discarded
            // changes.
            .wrap(from_fn(explain_conflict))
    })
    .workers(2)
    .listen(listener)?
    .run())
}

/// The session middleware answers a request whose changes were discarded (its session was
/// signed out elsewhere or expired meanwhile) with an empty `409`: the shop explains it, as
/// the axum shop does.
async fn explain_conflict(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(request).await?;
    if response.status() != StatusCode::CONFLICT {
        return Ok(response.map_into_boxed_body());
    }
    let (request, _) = response.into_parts();
    let page = page_response(StatusCode::CONFLICT, html::conflict());
    Ok(ServiceResponse::new(request, page).map_into_boxed_body())
}

/// What the routes need beside the session and the sign-in.
struct ShopData {
    /// The session cookie's name, for `/session`.
    cookie_name: Arc<str>,
    /// For `/devices`.
    devices: devices::Registry,
    trusted_proxies: TrustedProxies,
}

/// The shop's routes for `factory`, set up with `settings` (its app data included: the
/// sign-in extractors find the [`ShopAuth`] there):
/// `App::new().configure(routes(&factory, &settings)).wrap(SessionMiddleware::from_arc(factory))`.
pub fn routes<F: ShopFactory>(
    factory: &Arc<F>,
    settings: &Settings,
) -> impl FnOnce(&mut web::ServiceConfig) + use<F> {
    let data = web::Data::new(ShopData {
        cookie_name: factory.cookie_name().into(),
        devices: factory.devices(),
        trusted_proxies: settings.trusted_proxies.clone(),
    });
    let auth = web::Data::from(settings.auth.clone());
    move |config| {
        config
            .app_data(data)
            .app_data(auth)
            .route("/", web::get().to(products))
            .route("/cart", web::get().to(cart))
            .route("/cart/add", web::post().to(add_to_cart))
            .route("/cart/remove", web::post().to(remove_from_cart))
            .route("/login", web::get().to(login_form))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/account", web::get().to(account))
            .route("/account/password", web::post().to(change_password))
            .route("/session", web::get().to(show_session))
            .route("/health", web::get().to(health))
            .route("/devices", web::get().to(devices_page))
            .route("/devices/sign-out-others", web::post().to(sign_out_others))
            .route("/events", web::get().to(events));
    }
}

fn respond(reply: Reply) -> HttpResponse {
    match reply {
        Reply::Page(page) => page_response(StatusCode::OK, page),
        Reply::SeeOther(to) => HttpResponse::SeeOther()
            .insert_header((LOCATION, to.as_ref()))
            .finish(),
        Reply::Forbidden => page_response(StatusCode::FORBIDDEN, html::forbidden()),
        Reply::NotFound(text) => HttpResponse::NotFound()
            .content_type(ContentType::plaintext())
            .body(text),
        Reply::Unauthorized => HttpResponse::Unauthorized().finish(),
    }
}

/// As the session's and the store's own errors answer (logged; an empty `500` or `503`).
impl ResponseError for DevicesError {
    fn status_code(&self) -> StatusCode {
        match self {
            DevicesError::Session(err) => err.status_code(),
            DevicesError::Store(err) => err.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            DevicesError::Session(err) => err.error_response(),
            DevicesError::Store(err) => err.error_response(),
        }
    }
}

/// A page of the shop with `status`.
fn page_response(status: StatusCode, page: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page.into_string())
}

// The pages take `CurrentUser`: it checks the session's sign-in (its auth hash against the
// user's password version) and signs a stale one out before the page shows the user.

async fn products(
    _: CurrentUser<Users>,
    session: SessionHandle,
) -> Result<HttpResponse, SessionError> {
    actions::products(&mut session.lock()).map(respond)
}

async fn cart(_: CurrentUser<Users>, session: SessionHandle) -> Result<HttpResponse, SessionError> {
    actions::cart(&mut session.lock()).map(respond)
}

async fn login_form(
    _: CurrentUser<Users>,
    session: SessionHandle,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, SessionError> {
    actions::login_form(&mut session.lock(), query.next.as_deref()).map(respond)
}

async fn account(
    RequireUser(user): RequireUser<Users>,
    session: SessionHandle,
) -> Result<HttpResponse, SessionError> {
    actions::account(&mut session.lock(), &user).map(respond)
}

async fn change_password(
    auth: web::Data<ShopAuth>,
    RequireUser(user): RequireUser<Users>,
    session: SessionHandle,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, SessionError> {
    actions::change_password(&mut session.lock(), &form, &auth, &user).map(respond)
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
    shop: web::Data<ShopData>,
    auth: web::Data<ShopAuth>,
    request: HttpRequest,
    session: SessionHandle,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, SessionError> {
    let headers = request.headers();
    let forwarded_for = headers
        .get_all(X_FORWARDED_FOR)
        .map(|line| line.to_str().unwrap_or(""));
    let device = Device {
        ip: shop
            .trusted_proxies
            .client_ip(request.peer_addr().map(|addr| addr.ip()), forwarded_for),
        user_agent: headers.get(USER_AGENT).and_then(|v| v.to_str().ok()),
    };
    actions::login(&mut session.lock(), &form, &auth, device).map(respond)
}

/// `GET /devices`: the signed-in user's sessions.
async fn devices_page(
    shop: web::Data<ShopData>,
    session: SessionHandle,
) -> Result<HttpResponse, DevicesError> {
    actions::devices_page(shop.devices.as_deref(), || session.lock())
        .await
        .map(respond)
}

/// `POST /devices/sign-out-others`: ends the user's other sessions.
async fn sign_out_others(
    shop: web::Data<ShopData>,
    session: SessionHandle,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, DevicesError> {
    actions::sign_out_others(shop.devices.as_deref(), || session.lock(), &form)
        .await
        .map(respond)
}

/// `GET /events`: server-sent events that end when the session is revoked, as the axum
/// shop's; `401` when nobody is signed in.
async fn events(
    shop: web::Data<ShopData>,
    session: SessionHandle,
) -> Result<HttpResponse, SessionError> {
    let revocation = actions::revocation(shop.devices.as_deref(), &mut session.lock())?;
    Ok(match revocation {
        Ok(revoked) => {
            let greeting = format!(
                "event: {}\ndata: {}\n\n",
                devices::GREETING_EVENT,
                devices::GREETING_DATA
            );
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .insert_header((CACHE_CONTROL, "no-cache"))
                .streaming(devices::UntilRevoked::new(
                    web::Bytes::from(greeting),
                    revoked,
                ))
        }
        Err(reply) => respond(reply),
    })
}

async fn logout(
    auth: web::Data<ShopAuth>,
    session: SessionHandle,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, SessionError> {
    actions::logout(&mut session.lock(), &form, &auth).map(respond)
}

async fn show_session(
    _: CurrentUser<Users>,
    request: HttpRequest,
    shop: web::Data<ShopData>,
    session: SessionHandle,
) -> Result<HttpResponse, SessionError> {
    let cookies = request
        .headers()
        .get_all(COOKIE)
        .filter_map(|value| value.to_str().ok());
    actions::show_session(&mut session.lock(), cookies, &shop.cookie_name).map(respond)
}

async fn health() -> &'static str {
    "ok"
}
