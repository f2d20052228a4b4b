//! Tea Shop: a small server-rendered web shop on axum whose whole state (cart, signed-in
//! user, flash messages, CSRF token) lives in a signed session cookie, or in a server-side
//! store ([`store`]: Redis, PostgreSQL, SQLite) with only the session's id in the cookie.
//!
//! [`app`] builds the router; the `shop` binary serves it on 127.0.0.1, and the tests start
//! it on an ephemeral port.
//!
//! | route               | what it does                                                |
//! |---------------------|-------------------------------------------------------------|
//! | `GET /`             | the products, each with an "Add to cart" form               |
//! | `GET /cart`         | the cart, with "Remove" forms and the total                 |
//! | `POST /cart/add`    | adds `product`; flashes a notice; `303` to `/`              |
//! | `POST /cart/remove` | removes `product`; flashes a notice; `303` to `/cart`       |
//! | `GET /login`        | the sign-in form                                            |
//! | `POST /login`       | signs in (any name, password [`DEMO_PASSWORD`]); `303`      |
//! | `POST /logout`      | invalidates the session; `303` to `/`                       |
//! | `GET /account`      | the user's account; signed out: `303` to `/login?next=…`    |
//! | `POST /account/password` | a new password: the user's other sessions sign out     |
//! | `GET /session`      | the decoded session and the raw cookie, for learning        |
//! | `GET /health`       | `ok`; never touches the session, so never sets a cookie     |
//! | `GET /devices`      | the user's sessions, this one marked (server stores; signed out: `303` to `/login`) |
//! | `POST /devices/sign-out-others` | ends the user's other sessions; `303` to `/devices` |
//! | `GET /events`       | server-sent events until the session is revoked (server stores) |
//!
//! On a cookie session the devices routes answer `404`: a cookie has no registry. Sign-in
//! records the device's address and `User-Agent` for the devices page: the connection's
//! peer, never `X-Forwarded-For` unless [`Settings::trusted_proxies`] names the peer (see
//! [`client_ip`]).
//!
//! Sign-in goes through [`typed_sessions::auth`] ([`users`]): every page checks the
//! session's auth hash, so a password changed in one session signs the others out. Session
//! lifecycle events are logged at `info` ([`users::log_event`]).
//!
//! Every `POST` form carries the session's CSRF token; a missing or wrong token is answered
//! `403 Forbidden` and changes nothing.
//!
//! ```
//! use typed_sessions_examples::shop;
//!
//! let factory = shop::factory(shop::random_secret()).unwrap();
//! let app: axum::Router = shop::app(factory);
//! # drop(app);
//! ```

pub mod actions;
pub mod beaker;
pub mod catalog;
pub mod client_ip;
pub mod devices;
pub mod html;
pub mod pyramid;
pub mod state;
pub mod store;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::header::{COOKIE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use typed_sessions::ServerSessionFactory;
use typed_sessions::axum::{CurrentUser, RequireUser, SessionHandle, SessionLayer};
use typed_sessions::codec::CookieCodec;
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::SessionStore;
use typed_sessions::{
    BuildError, CookieSessionFactory, EncryptedCookieSessionFactory, EncryptionKey, Secret,
    Serializer, SessionError, SignedCookieSessionFactory,
};

use self::actions::{Device, DevicesError, LoginForm, NextQuery, ProductForm, Reply, TokenForm};
use self::client_ip::{TrustedProxies, X_FORWARDED_FOR};
use self::users::{ShopAuth, Users};

/// How many notices of each kind a shop session keeps until a page shows them: the newest
/// 20 (the builder's default, set here to say so).
pub const NOTICES_KEPT: usize = typed_sessions::DEFAULT_FLASH_QUEUE_CAP;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "tea";

/// The shop's session factory: the builder's defaults (a `Secure`, `HttpOnly`,
/// `SameSite=Lax` cookie; over plain HTTP, browsers and curl keep a `Secure` cookie from
/// `http://localhost`, the address the binaries print), a one-hour idle timeout, and a new
/// cookie for a mere read at most once a minute.
///
/// The cookie cannot overflow: each notice queue keeps its newest [`NOTICES_KEPT`], so 200
/// cart adds in a row without a page view in between still fit one cookie (the cart has a
/// line per product); a session that did not fit would be answered `507` with no cookie.
pub fn factory(secret: impl Into<Secret>) -> Result<SignedCookieSessionFactory, BuildError> {
    SignedCookieSessionFactory::builder(secret)
        .events(users::log_event)
        .timeout(Duration::from_secs(3600))
        .reissue_time(Duration::from_secs(60))
        .flash_queue_cap(NOTICES_KEPT)
        .build()
}

/// The shop's factory for sessions in `pyramid_nacl_session`'s encrypted cookie (see
/// [`store`], `SESSION_ENCRYPTION_KEY`): the same options as [`factory`], in `serializer`'s
/// payload (pickle is the Python package's default).
pub fn encrypted_factory(
    key: EncryptionKey,
    serializer: Serializer,
) -> Result<EncryptedCookieSessionFactory, BuildError> {
    EncryptedCookieSessionFactory::builder(key)
        .events(users::log_event)
        .serializer(serializer)
        .timeout(Duration::from_secs(3600))
        .reissue_time(Duration::from_secs(60))
        .flash_queue_cap(NOTICES_KEPT)
        .build()
}

/// The shop's factory for sessions kept in `store` (see [`store`]): the same options as
/// [`factory`]; the idle timeout is also the stored session's expiry.
pub fn server_factory<S: SessionStore>(
    secret: impl Into<Secret>,
    store: S,
) -> Result<ServerSessionFactory<S>, BuildError> {
    ServerSessionFactory::builder(secret, store)
        .events(users::log_event)
        .timeout(Duration::from_secs(3600))
        .reissue_time(Duration::from_secs(60))
        .flash_queue_cap(NOTICES_KEPT)
        .build()
}

/// A factory the shop runs on: the signed cookie ([`factory`]) or a server-side store
/// ([`server_factory`]).
pub trait ShopFactory: SessionFactory {
    /// The session cookie's name, for `/session`.
    fn cookie_name(&self) -> &str;

    /// The session registry, for `/devices` and `/events` (server stores only).
    fn devices(self: &Arc<Self>) -> devices::Registry {
        None
    }
}

impl<C: CookieCodec> ShopFactory for CookieSessionFactory<C> {
    fn cookie_name(&self) -> &str {
        CookieSessionFactory::cookie_name(self)
    }
}

impl<S: SessionStore> ShopFactory for ServerSessionFactory<S> {
    fn cookie_name(&self) -> &str {
        ServerSessionFactory::cookie_name(self)
    }

    fn devices(self: &Arc<Self>) -> devices::Registry {
        Some(self.clone())
    }
}

/// A fresh random secret (64 hex characters from 32 random bytes), for a shop started
/// without `SESSION_SECRET`: sessions then end when it restarts.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a shop (axum or actix-web) is set up beyond its sessions.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Sign-in: [`users::auth`] by default.
    pub auth: Arc<ShopAuth>,
    /// The reverse proxies whose `X-Forwarded-For` is believed: none by default, so the
    /// address recorded at sign-in is the connection's peer (see [`client_ip`]). The
    /// binaries read it from `TRUSTED_PROXIES`.
    pub trusted_proxies: TrustedProxies,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auth: users::auth(),
            trusted_proxies: TrustedProxies::none(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    /// For showing the raw cookie on `/session`.
    cookie_name: Arc<str>,
    auth: Arc<ShopAuth>,
    /// For `/devices` and `/events`.
    devices: devices::Registry,
    trusted_proxies: TrustedProxies,
}

/// The shop's router, with its [`SessionLayer`] around every route, signing in through
/// [`users::auth`]. Serve it with [`serve::serve`](crate::serve::serve) (or
/// `into_make_service_with_connect_info::<SocketAddr>()`), which tells it the client's
/// address; otherwise sign-in records none.
pub fn app<F: ShopFactory>(factory: F) -> Router {
    app_with_settings(factory, Settings::default())
}

/// [`app`] with the sign-in `auth`, for tests that change a user's password from outside.
pub fn app_with<F: ShopFactory>(factory: F, auth: Arc<ShopAuth>) -> Router {
    app_with_settings(
        factory,
        Settings {
            auth,
            ..Settings::default()
        },
    )
}

/// [`app`] with `settings`.
pub fn app_with_settings<F: ShopFactory>(factory: F, settings: Settings) -> Router {
    let Settings {
        auth,
        trusted_proxies,
    } = settings;
    let factory = Arc::new(factory);
    let state = AppState {
        cookie_name: factory.cookie_name().into(),
        auth: auth.clone(),
        devices: factory.devices(),
        trusted_proxies,
    };
    Router::new()
        .route("/", get(products))
        .route("/cart", get(cart))
        .route("/cart/add", post(add_to_cart))
        .route("/cart/remove", post(remove_from_cart))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/session", get(show_session))
        .route("/health", get(health))
        .route("/devices", get(devices_page))
        .route("/devices/sign-out-others", post(sign_out_others))
        .route("/events", get(events))
        .with_state(state)
        // For the sign-in extractors (`CurrentUser`, `RequireUser`).
        .layer(Extension(auth))
        .layer(SessionLayer::from_arc(factory))
        // Outside the session layer: it sees the layer's answer to discarded changes.
        .layer(axum::middleware::map_response(explain_conflict))
}

/// The session layer answers a request whose changes were discarded (its session was signed
/// out elsewhere or expired meanwhile) with an empty `409`: the shop explains it.
async fn explain_conflict(response: Response) -> Response {
    if response.status() == StatusCode::CONFLICT {
        (StatusCode::CONFLICT, html::conflict()).into_response()
    } else {
        response
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Page(page) => page.into_response(),
            Reply::SeeOther(to) => Redirect::to(&to).into_response(),
            Reply::Forbidden => (StatusCode::FORBIDDEN, html::forbidden()).into_response(),
            Reply::NotFound(text) => (StatusCode::NOT_FOUND, text).into_response(),
            Reply::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
        }
    }
}

impl IntoResponse for DevicesError {
    fn into_response(self) -> Response {
        match self {
            DevicesError::Session(err) => err.into_response(),
            DevicesError::Store(err) => err.into_response(),
        }
    }
}

// The pages take `CurrentUser`: it checks the session's sign-in (its auth hash against the
// user's password version) and signs a stale one out before the page shows the user.

async fn products(_: CurrentUser<Users>, session: SessionHandle) -> Result<Reply, SessionError> {
    actions::products(&mut session.lock())
}

async fn cart(_: CurrentUser<Users>, session: SessionHandle) -> Result<Reply, SessionError> {
    actions::cart(&mut session.lock())
}

async fn login_form(
    _: CurrentUser<Users>,
    session: SessionHandle,
    Query(query): Query<NextQuery>,
) -> Result<Reply, SessionError> {
    actions::login_form(&mut session.lock(), query.next.as_deref())
}

async fn account(
    RequireUser(user): RequireUser<Users>,
    session: SessionHandle,
) -> Result<Reply, SessionError> {
    actions::account(&mut session.lock(), &user)
}

async fn change_password(
    State(app): State<AppState>,
    RequireUser(user): RequireUser<Users>,
    session: SessionHandle,
    Form(form): Form<TokenForm>,
) -> Result<Reply, SessionError> {
    actions::change_password(&mut session.lock(), &form, &app.auth, &user)
}

async fn add_to_cart(
    session: SessionHandle,
    Form(form): Form<ProductForm>,
) -> Result<Reply, SessionError> {
    actions::add_to_cart(&mut session.lock(), &form)
}

async fn remove_from_cart(
    session: SessionHandle,
    Form(form): Form<ProductForm>,
) -> Result<Reply, SessionError> {
    actions::remove_from_cart(&mut session.lock(), &form)
}

async fn login(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    session: SessionHandle,
    Form(form): Form<LoginForm>,
) -> Result<Reply, SessionError> {
    let forwarded_for = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .map(|line| line.to_str().unwrap_or(""));
    let device = Device {
        ip: app.trusted_proxies.client_ip(
            peer.map(|Extension(ConnectInfo(addr))| addr.ip()),
            forwarded_for,
        ),
        user_agent: headers.get(USER_AGENT).and_then(|v| v.to_str().ok()),
    };
    actions::login(&mut session.lock(), &form, &app.auth, device)
}

/// `GET /devices`: the signed-in user's sessions.
async fn devices_page(
    State(app): State<AppState>,
    session: SessionHandle,
) -> Result<Reply, DevicesError> {
    actions::devices_page(app.devices.as_deref(), || session.lock()).await
}

/// `POST /devices/sign-out-others`: ends the user's other sessions.
async fn sign_out_others(
    State(app): State<AppState>,
    session: SessionHandle,
    Form(form): Form<TokenForm>,
) -> Result<Reply, DevicesError> {
    actions::sign_out_others(app.devices.as_deref(), || session.lock(), &form).await
}

/// `GET /events`: server-sent events that end when the session is revoked; `401` when
/// nobody is signed in.
async fn events(State(app): State<AppState>, session: SessionHandle) -> Response {
    let revocation = actions::revocation(app.devices.as_deref(), &mut session.lock());
    match revocation {
        Ok(Ok(revoked)) => {
            let greeting = axum::response::sse::Event::default()
                .event(devices::GREETING_EVENT)
                .data(devices::GREETING_DATA);
            axum::response::sse::Sse::new(devices::UntilRevoked::new(greeting, revoked))
                .into_response()
        }
        Ok(Err(reply)) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn logout(
    State(app): State<AppState>,
    session: SessionHandle,
    Form(form): Form<TokenForm>,
) -> Result<Reply, SessionError> {
    actions::logout(&mut session.lock(), &form, &app.auth)
}

/// `GET /session`: the decoded session and the raw cookie, for learning.
async fn show_session(
    _: CurrentUser<Users>,
    State(app): State<AppState>,
    headers: HeaderMap,
    session: SessionHandle,
) -> Result<Reply, SessionError> {
    let cookies = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok());
    actions::show_session(&mut session.lock(), cookies, &app.cookie_name)
}

async fn health() -> &'static str {
    "ok"
}
