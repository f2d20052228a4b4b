//! The tower layer and axum extractor: Pyramid's `request.session` as a handler argument.
//!
//! Put a [`SessionLayer`] around the router and take a [`SessionHandle`] in any handler or
//! middleware. [`SessionHandle::lock`] gives a [`SessionGuard`] that derefs to the
//! [`Session`]; after the handler, the layer writes `Set-Cookie` when the
//! factory's save policy says so. Enable it with the crate's `axum` feature.
//!
//! ```
//! use axum::Router;
//! use axum::routing::get;
//! use session::SignedCookieSessionFactory;
//! use session::axum::{SessionHandle, SessionLayer};
//! use tower::ServiceExt;
//!
//! async fn visit(session: SessionHandle) -> Result<String, session::SessionError> {
//!     let mut s = session.lock(); // the one line of ceremony
//!     let visits = s.get_as::<u64>("visits")?.unwrap_or(0) + 1;
//!     s.insert("visits", visits);
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! async fn health() -> &'static str {
//!     "ok" // never touches the session: no cookie parsed, none written
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .httponly(true)
//!     .build()?;
//! let app = Router::new()
//!     .route("/", get(visit))
//!     .route("/health", get(health))
//!     .layer(SessionLayer::new(factory));
//!
//! let request = http::Request::get("/").body(axum::body::Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert!(response.headers().contains_key("set-cookie"));
//!
//! let request = http::Request::get("/health").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert!(!response.headers().contains_key("set-cookie"));
//! # Ok(())
//! # }
//! ```
//!
//! # Typed sessions
//!
//! The accessors of a `#[derive(SessionSchema)]` trait and the typed flash methods work on
//! the guard, since it derefs to the session:
//!
//! ```
//! use axum::response::Redirect;
//! use serde::{Deserialize, Serialize};
//! use session::axum::SessionHandle;
//! use session::{SessionError, SessionSchema, flash_queue};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Item {
//!     sku: String,
//! }
//!
//! #[derive(SessionSchema)]
//! struct Shop {
//!     #[session(default)]
//!     cart: Vec<Item>,
//! }
//!
//! #[flash_queue]
//! enum Notice {
//!     Success(String),
//! }
//!
//! async fn add(session: SessionHandle) -> Result<Redirect, SessionError> {
//!     let mut s = session.lock(); // the one line of ceremony
//!     s.cart_mut()?.push(Item { sku: "tea".into() }); // written back when the guard drops
//!     s.flash(Notice::Success("Added tea".into()))?;
//!     Ok(Redirect::to("/"))
//! }
//! # let _: axum::routing::MethodRouter = axum::routing::post(add);
//! ```
//!
//! # What the layer does
//!
//! - **Lazily.** The layer only keeps the request's `Cookie` headers (a reference-counted
//!   copy). The cookie is parsed, its signature checked and the session decoded on the first
//!   [`lock`](SessionHandle::lock); a request whose handlers never lock the session costs
//!   none of that, and gets no `Set-Cookie`.
//! - **One session per request.** The handle lives in the request's extensions, so a
//!   middleware and the handler after it (or several extractors) share one session.
//! - **Saving.** After the inner service answers, a loaded session is saved with
//!   [`CookieSessionFactory::save`]; a `5xx` response counts as Pyramid's failed request
//!   (`request.exception`) and is saved with
//!   [`save_after_error`](CookieSessionFactory::save_after_error): with
//!   `set_on_exception(false)` a `5xx` response never carries a session cookie.
//! - **Save errors.** When the save fails (the cookie would be over
//!   [`MAX_COOKIE_VALUE_LEN`](crate::MAX_COOKIE_VALUE_LEN), or a typed guard could not
//!   write its value back), the reason is logged with `tracing::error!` and the response is
//!   replaced by an empty `500 Internal Server Error` without `Set-Cookie`: the client keeps
//!   its previous cookie, and nothing half-written reaches it. A `5xx` response whose save
//!   fails stays as it was, without the cookie.
//!
//! # Guards and `.await`
//!
//! [`SessionGuard`] holds a [`std::sync::MutexGuard`], which is not `Send`. axum requires
//! handler futures to be `Send`, so a handler that keeps a guard alive across an `.await`
//! does not compile (instead of deadlocking another extractor of the same request at run
//! time). Lock, work, and let the guard go before awaiting: see [`SessionHandle::lock`].

mod handle;
mod layer;

use std::sync::Arc;

use axum_core::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use crate::codec::CookieCodec;
use crate::error::SessionError;
use crate::factory::{CookieSessionFactory, Saved};
use crate::session::Session;

pub use handle::{MissingSessionLayer, SessionGuard, SessionHandle};
pub use layer::{ResponseFuture, SessionLayer, SessionService};

/// What a handle needs from its factory, with the codec erased so that one handle type
/// serves every factory.
pub(crate) trait Backend: Send + Sync + 'static {
    fn load(&self, headers: &HeaderMap) -> Session;
    fn save(&self, session: &Session, response: &mut HeaderMap) -> Result<Saved, SessionError>;
    fn save_after_error(
        &self,
        session: &Session,
        response: &mut HeaderMap,
    ) -> Result<Saved, SessionError>;
}

impl<C: CookieCodec> Backend for CookieSessionFactory<C> {
    fn load(&self, headers: &HeaderMap) -> Session {
        CookieSessionFactory::load(self, headers)
    }

    fn save(&self, session: &Session, response: &mut HeaderMap) -> Result<Saved, SessionError> {
        CookieSessionFactory::save(self, session, response)
    }

    fn save_after_error(
        &self,
        session: &Session,
        response: &mut HeaderMap,
    ) -> Result<Saved, SessionError> {
        CookieSessionFactory::save_after_error(self, session, response)
    }
}

pub(crate) type SharedBackend = Arc<dyn Backend>;

/// A handler may return `Result<_, SessionError>` and use `?` on session calls: the error
/// is logged with `tracing::error!` and answered with an empty `500 Internal Server Error`,
/// so no detail of the session reaches the client.
///
/// ```
/// use axum::response::Redirect;
/// use session::SessionError;
/// use session::axum::SessionHandle;
///
/// async fn add(session: SessionHandle) -> Result<Redirect, SessionError> {
///     let mut s = session.lock();
///     let mut cart: Vec<String> = s.get_as("cart")?.unwrap_or_default();
///     cart.push("tea".to_owned());
///     s.insert_as("cart", &cart)?;
///     s.flash_to("success", "Added tea")?;
///     Ok(Redirect::to("/"))
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::post(add);
/// ```
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session error in a handler");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}
