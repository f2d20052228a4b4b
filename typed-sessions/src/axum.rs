//! The tower layer and axum extractor: Pyramid's `request.session` as a handler argument.
//!
//! Put a [`SessionLayer`] around the router and take a [`SessionHandle`] in any handler or
//! middleware. [`SessionHandle::lock`] gives a [`SessionGuard`] that derefs to the
//! [`Session`](crate::Session); after the handler, the layer writes `Set-Cookie` when the
//! factory's save policy says so. Enable it with the crate's `axum` feature.
//!
//! ```
//! use axum::Router;
//! use axum::routing::get;
//! use typed_sessions::SignedCookieSessionFactory;
//! use typed_sessions::axum::{SessionHandle, SessionLayer};
//! use tower::ServiceExt;
//!
//! async fn visit(session: SessionHandle) -> Result<String, typed_sessions::SessionError> {
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
//! use typed_sessions::axum::SessionHandle;
//! use typed_sessions::{SessionError, SessionSchema, flash_queue};
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
//! # Server-side sessions
//!
//! The same layer takes a [`ServerSessionFactory`](crate::ServerSessionFactory) (the state in a store, the cookie only
//! carrying a signed id), and handlers do not change:
//!
//! ```
//! use axum::Router;
//! use axum::routing::get;
//! use typed_sessions::axum::{SessionHandle, SessionLayer};
//! use typed_sessions::ServerSessionFactory;
//! use typed_sessions::store::MemoryStore;
//! use tower::ServiceExt;
//!
//! async fn visit(session: SessionHandle) -> Result<String, typed_sessions::SessionError> {
//!     let mut s = session.lock();
//!     let visits = s.get_as::<u64>("visits")?.unwrap_or(0) + 1;
//!     s.insert("visits", visits); // only this key is written back to the store
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! async fn sign_in(session: SessionHandle) -> &'static str {
//!     let mut s = session.lock();
//!     s.insert("user_id", 7);
//!     s.regenerate_id(); // a new id at sign-in, against session fixation
//!     "welcome"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `RedisStore::connect(url).await?` with the `redis` feature, or your own store.
//! let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
//!     .build()?;
//! let app = Router::new()
//!     .route("/", get(visit))
//!     .route("/sign-in", get(sign_in))
//!     .layer(SessionLayer::new(factory));
//!
//! let request = http::Request::get("/").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert!(response.headers().contains_key("set-cookie")); // the new session's id
//! # Ok(())
//! # }
//! ```
//!
//! # What the layer does
//!
//! - **Lazily.** The layer reads nothing of the request: the extractor keeps its `Cookie`
//!   headers (a reference-counted copy), as Pyramid reads `request.cookies` when
//!   `request.session` is first used. A cookie session's cookie is parsed, its signature
//!   checked and the session decoded on the first [`lock`](SessionHandle::lock); a
//!   server-side session is loaded
//!   from its store when a handler or middleware extracts the [`SessionHandle`] (loading
//!   is async, locking is not). A request whose handlers never take the session costs none
//!   of that (no store round trip), and gets no `Set-Cookie`.
//! - **One session per request.** The handle lives in the request's extensions, so a
//!   middleware and the handler after it (or several extractors) share one session.
//! - **Saving.** After the inner service answers, a loaded session is saved with
//!   [`CookieSessionFactory::save`](crate::CookieSessionFactory::save); a `5xx` response counts as Pyramid's failed request
//!   (`request.exception`) and is saved with
//!   [`save_after_error`](crate::CookieSessionFactory::save_after_error): with
//!   `set_on_exception(false)` a `5xx` response never carries a session cookie. A
//!   server-side session is saved to its store the same way, writing only the keys the
//!   request changed ([`ServerSessionFactory::save`](crate::ServerSessionFactory::save)).
//! - **Store failures.** When the store cannot be reached while loading, the extraction
//!   fails with [`SessionRejection::Store`]: the reason is logged and the request answered
//!   with `503 Service Unavailable` (other store errors: `500`). No empty session stands
//!   in, so nothing can overwrite the stored state.
//! - **Save errors.** When the save fails (the cookie would be over
//!   [`MAX_COOKIE_VALUE_LEN`](crate::MAX_COOKIE_VALUE_LEN), a typed guard could not
//!   write its value back, the store cannot be reached), the reason is logged with
//!   `tracing::error!` and the response is replaced by an empty `500 Internal Server
//!   Error` (`503` for an unreachable store) without `Set-Cookie`: the client keeps its
//!   previous cookie, and nothing half-written reaches it. A `5xx` response whose save
//!   fails stays as it was, without the cookie.
//!
//! - **Discarded changes.** When a server-side save finds the session's record gone (a
//!   concurrent sign-out deleted it, or it expired), the changes are discarded, a warning
//!   is logged, and the response carries [`Saved::Discarded`](crate::Saved::Discarded) in
//!   its extensions for a middleware outside the layer to see (any save outcome that is
//!   news to the app does: [`Outcome::noteworthy`](crate::lifecycle::Outcome::noteworthy)).
//!
//! All of that is the framework-neutral [`lifecycle`](crate::lifecycle), which the
//! actix-web adapter shares; the status of a failure is [`StoreError::status`].
//!
//! # Guards and `.await`
//!
//! [`SessionGuard`] holds a [`std::sync::MutexGuard`], which is not `Send`. axum requires
//! handler futures to be `Send`, so a handler that keeps a guard alive across an `.await`
//! does not compile (instead of deadlocking another extractor of the same request at run
//! time). Lock, work, and let the guard go before awaiting: see [`SessionHandle::lock`].

mod auth;
mod handle;
mod layer;
mod rejection;

use axum_core::response::{IntoResponse, Response};

use crate::error::SessionError;
use crate::lifecycle::answer;
use crate::store::StoreError;

pub use auth::{AuthRejection, CurrentUser, RequireUser};
pub use handle::{SessionGuard, SessionHandle};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use rejection::{MissingSessionLayer, SessionRejection};

/// A handler may return `Result<_, SessionError>` and use `?` on session calls: the error
/// is logged with `tracing::error!` and answered with an empty `500 Internal Server Error`,
/// so no detail of the session reaches the client.
///
/// ```
/// use axum::response::Redirect;
/// use typed_sessions::SessionError;
/// use typed_sessions::axum::SessionHandle;
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
        answer(&self, self.status(), "session error in a handler").into_response()
    }
}

/// A handler may return `Result<_, StoreError>` (calling a
/// [`ServerSessionFactory`](crate::ServerSessionFactory) itself): the error is
/// logged with `tracing::error!` and answered with an empty response of
/// [`StoreError::status`]: `503 Service Unavailable` when the store cannot be reached,
/// `500 Internal Server Error` otherwise.
impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        answer(&self, self.status(), "session error in a handler").into_response()
    }
}
