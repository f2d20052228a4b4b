//! The actix-web 4 middleware and extractor: Pyramid's `request.session` as a handler
//! argument. Enable it with the crate's `actix` feature.
//!
//! Wrap the app in a [`SessionMiddleware`] and take a [`SessionHandle`] in any handler;
//! [`SessionHandle::lock`] gives a [`SessionGuard`] that derefs to the
//! [`Session`](crate::Session). After the handler, the middleware writes `Set-Cookie`
//! when the factory's save policy says so. It runs the same framework-neutral
//! [`lifecycle`](crate::lifecycle) as the [`axum`](crate::axum) adapter, so the guarantees
//! are the same:
//!
//! - **Lazy.** A request whose handler never locks its session parses no cookie, checks no
//!   signature, and gets no `Set-Cookie`; a server-side session is loaded from its store
//!   only when a handler extracts the handle.
//! - **One session per request**, shared by every extraction and by middleware that reads
//!   the handle from the request's extensions.
//! - **Saving.** A `5xx` response counts as Pyramid's failed request: with
//!   `set_on_exception(false)` it gets no cookie. An error a handler returns is a response
//!   by the time the middleware sees it (actix-web renders it), so it is saved the same
//!   way; an error from a middleware inside this one passes through unsaved.
//! - **Failures** answer with [`StoreError::status`] and an empty body, the reason logged:
//!   a save that fails (too large, a guard that could not write back) is a `500` without
//!   `Set-Cookie`, so the client keeps its old cookie; a store that cannot be reached is a
//!   `503`, on load and on save.
//! - **Discarded changes** (a server-side record gone before the save) put
//!   [`Saved::Discarded`](crate::Saved::Discarded) into the response's extensions, for an
//!   outer middleware ([`Outcome::noteworthy`](crate::lifecycle::Outcome::noteworthy)).
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use typed_sessions::SignedCookieSessionFactory;
//! use typed_sessions::actix::{SessionHandle, SessionMiddleware};
//!
//! async fn visit(session: SessionHandle) -> Result<String, typed_sessions::SessionError> {
//!     let mut s = session.lock(); // the one line of ceremony
//!     let visits = s.get_as::<u64>("visits")?.unwrap_or(0) + 1;
//!     s.insert("visits", visits);
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! async fn health() -> HttpResponse {
//!     HttpResponse::Ok().body("ok") // never touches the session: no cookie parsed or written
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .build()
//!     .unwrap();
//! let middleware = SessionMiddleware::new(factory);
//! let app = test::init_service(
//!     App::new()
//!         .wrap(middleware.clone()) // cheap: the factory is shared
//!         .route("/", web::get().to(visit))
//!         .route("/health", web::get().to(health)),
//! )
//! .await;
//!
//! let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert!(response.headers().contains_key("set-cookie"));
//! let response = test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
//! assert!(!response.headers().contains_key("set-cookie"));
//! # });
//! ```
//!
//! With `HttpServer`, build the middleware once, outside the app factory closure, and
//! clone it in: every worker then shares one factory (and, for a server-side factory, one
//! store connection).
//!
//! # Typed sessions
//!
//! The accessors of a `#[derive(SessionSchema)]` trait, their `_mut` guards and the typed
//! flash methods work on the guard, as in axum:
//!
//! ```
//! use actix_web::HttpResponse;
//! use serde::{Deserialize, Serialize};
//! use typed_sessions::actix::SessionHandle;
//! use typed_sessions::{FlashExt, SessionError, SessionSchema, flash_queue};
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
//! async fn add(session: SessionHandle) -> Result<HttpResponse, SessionError> {
//!     let mut s = session.lock();
//!     s.cart_mut()?.push(Item { sku: "tea".into() }); // written back when the guard drops
//!     s.flash(Notice::Success("Added tea".into()))?;
//!     Ok(HttpResponse::SeeOther().insert_header(("location", "/")).finish())
//! }
//! # let _ = actix_web::web::post().to(add);
//! ```
//!
//! # Why a `RefCell` and not a `Mutex`
//!
//! actix-web runs each worker on a single-threaded runtime: a request is handled on one
//! thread from start to end, its extensions need not be `Send`, and neither do handler
//! futures. So the handle is an `Rc<RefCell<..>>`: no atomics, no lock to wait for. It
//! is not `Send` and cannot leave the worker's thread (the axum handle, which can, is an
//! `Arc<Mutex<..>>`).
//!
//! The same model changes one rule: actix-web does not ask handler futures to be `Send`,
//! so a guard held across an `.await` compiles. Nothing else of the request runs while the
//! handler waits, so that is harmless; but locking the session again while a guard is alive
//! (a helper that locks, a `join!` of two futures that both lock) panics with a message,
//! where a `Mutex` would deadlock. Lock, work, and let the guard go.

mod auth;
mod handle;
mod middleware;

use actix_web::{HttpResponse, ResponseError};

use crate::error::SessionError;
use crate::lifecycle::answer;
use crate::store::StoreError;

pub use auth::{AuthRejection, CurrentUser, RequireUser};
pub use handle::{Extract, SessionGuard, SessionHandle, SessionRejection};
pub use middleware::{ResponseFuture, SessionMiddleware, SessionService};

/// `http` 1's status as actix-web's (which uses `http` 0.2).
fn status(status: http::StatusCode) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// actix-web's status as `http` 1's.
fn status_from_actix(status: actix_web::http::StatusCode) -> http::StatusCode {
    http::StatusCode::from_u16(status.as_u16()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// A handler may return `Result<_, SessionError>` and use `?` on session calls: the error
/// is logged with `tracing::error!` and answered with an empty `500 Internal Server Error`,
/// so no detail of the session reaches the client.
impl ResponseError for SessionError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::new(status(answer(
            self,
            self.status(),
            "session error in a handler",
        )))
    }
}

/// A handler may return `Result<_, StoreError>`: the error is logged with
/// `tracing::error!` and answered with an empty response of [`StoreError::status`] (`503`
/// when the store cannot be reached, `500` otherwise).
impl ResponseError for StoreError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::new(status(answer(
            self,
            self.status(),
            "session error in a handler",
        )))
    }
}
