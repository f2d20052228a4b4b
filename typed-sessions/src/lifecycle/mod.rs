//! One request's session, whatever the web framework: load it lazily on first use, share
//! it between middleware and handler, decide at the end what the response gets, and map a
//! failure to a status, once. Speaks [`http`] types only; the [`axum`](crate::axum) and
//! [`actix`](crate::actix) adapters move a request's `Cookie` headers in and the
//! response's `Set-Cookie` (or a replacing status) out.
//!
//! The life of a request's session:
//!
//! 1. [`RequestSession::new`] keeps the request's `Cookie` headers, unparsed, and the
//!    factory (any [`SessionFactory`]: a cookie factory with any codec, or a server-side
//!    factory with any store).
//! 2. A server-side session is loaded from its store before a handler sees it:
//!    [`RequestSession::loading`] gives the store's future, the adapter awaits it without
//!    holding anything, and [`RequestSession::put`] keeps the result. A store that fails
//!    is a [`StoreError`] answered with [`StoreError::status`], so no empty session
//!    stands in for the stored one.
//! 3. [`RequestSession::session`] is the session. A cookie session is parsed and its
//!    signature checked on the first call; a request that never calls it costs nothing.
//! 4. [`RequestSession::finish`] takes the response's status and gives a [`Saving`]
//!    future: nothing when the session was never used; otherwise the factory's save policy
//!    (changed, reissue time, invalidated, the old key's cookie re-sealed, and
//!    `set_on_exception` for a `5xx` response). It resolves to an [`Outcome`]: keep the
//!    response and append a `Set-Cookie`, or replace it with an empty response of
//!    [`StoreError::status`] when the save failed, so the client keeps its previous cookie.
//!
//! ```
//! use std::sync::Arc;
//! use http::{HeaderMap, StatusCode};
//! use typed_sessions::SignedCookieSessionFactory;
//! use typed_sessions::lifecycle::{Outcome, RequestSession};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = Arc::new(
//!     SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes").build()?,
//! );
//!
//! // A request that never touches its session: nothing parsed, nothing written.
//! let mut request = RequestSession::new(factory.clone(), &HeaderMap::new());
//! assert!(request.loading().is_none()); // a cookie session loads on first use
//! let outcome = request.finish(StatusCode::OK).await;
//! assert!(matches!(outcome, Outcome::Keep { set_cookie: None, saved: None, .. }));
//!
//! // A request that changes it: a Set-Cookie to append.
//! let mut request = RequestSession::new(factory, &HeaderMap::new());
//! request.session().insert("user_id", 7);
//! let Outcome::Keep { set_cookie: Some(cookie), .. } = request.finish(StatusCode::OK).await else {
//!     panic!("a changed session is saved");
//! };
//! assert!(cookie.to_str()?.starts_with("session="));
//! # Ok(())
//! # }
//! ```
//!
//! Sharing is the adapter's business: axum moves requests between threads, so its handle
//! is an `Arc<Mutex<RequestSession>>`; actix-web runs each request on one thread, so its
//! handle is an `Rc<RefCell<RequestSession>>`.

mod factory;
mod failure;
mod finish;

use std::mem;
use std::sync::Arc;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};

use factory::sealed::Cookies;
pub use factory::{Loading, SessionFactory};
pub use finish::{Outcome, Saving};

#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) use failure::answer;

use crate::session::Session;
#[cfg(doc)]
use crate::store::StoreError;

/// The session of one request, from its `Cookie` headers to its response. See the
/// [module docs](self).
pub struct RequestSession {
    /// `None` for a session made with [`RequestSession::ready`]: never saved.
    factory: Option<Arc<dyn SessionFactory>>,
    slot: Slot,
}

/// Where the session is. Boxed: a request that never uses its session makes, moves and
/// drops only this slot, not a whole `Session`.
enum Slot {
    /// Not used yet, and the request's cookies not read yet: an adapter that reads them
    /// late ([`RequestSession::without_cookies`]) has still to give them.
    #[cfg_attr(
        not(feature = "axum"),
        expect(dead_code, reason = "only axum reads late")
    )]
    Unread,
    /// Not used yet: the request's `Cookie` headers, kept unparsed until it is.
    Unloaded(Cookies),
    Loaded(Box<Session>),
    /// Used when it could not be loaded (a server-side session before its store answered,
    /// or after the save): an empty placeholder that is never saved, so it cannot
    /// overwrite the stored state.
    Detached(Box<Session>),
    /// Handed to the save.
    Finished,
}

impl RequestSession {
    /// The session of a request with headers `headers` (only its `Cookie` headers are
    /// kept), to be loaded by `factory` when it is first used.
    pub fn new(factory: Arc<dyn SessionFactory>, headers: &HeaderMap) -> Self {
        Self::from_cookies(factory, headers.get_all(COOKIE).iter().cloned())
    }

    /// [`new`](Self::new) from the values of the request's `Cookie` headers, for a
    /// framework whose header types are not [`http`]'s.
    pub fn from_cookies(
        factory: Arc<dyn SessionFactory>,
        cookies: impl IntoIterator<Item = HeaderValue>,
    ) -> Self {
        Self {
            factory: Some(factory),
            slot: Slot::Unloaded(Cookies::new(cookies)),
        }
    }

    /// [`new`](Self::new) before the request's `Cookie` headers are read: the adapter gives
    /// them with [`read_cookies`](Self::read_cookies) when a handler first asks for the
    /// session (as Pyramid reads `request.cookies` when `request.session` is first used),
    /// so a request that never does pays for no header lookup. Used before that, it is an
    /// empty session that is never saved, and an error is logged.
    #[cfg(feature = "axum")]
    #[inline]
    pub(crate) fn without_cookies(factory: Arc<dyn SessionFactory>) -> Self {
        Self {
            factory: Some(factory),
            slot: Slot::Unread,
        }
    }

    /// Keeps the `Cookie` headers of `headers`, unless this session has its cookies
    /// already (an earlier extraction in the same request: the first one stays).
    #[cfg(feature = "axum")]
    pub(crate) fn read_cookies(&mut self, headers: &HeaderMap) {
        if matches!(self.slot, Slot::Unread) {
            self.slot = Slot::Unloaded(Cookies::new(headers.get_all(COOKIE).iter().cloned()));
        }
    }

    /// A loaded session with no factory and no cookie behind it, never saved: for calling
    /// handlers directly in tests.
    pub fn ready(session: Session) -> Self {
        Self {
            factory: None,
            slot: Slot::Loaded(Box::new(session)),
        }
    }

    /// Whether the session has been loaded (or a placeholder made): some code in this
    /// request used it.
    pub fn is_loaded(&self) -> bool {
        matches!(self.slot, Slot::Loaded(_) | Slot::Detached(_))
    }

    /// The session, loading a cookie session from the request's cookie on the first call.
    ///
    /// A server-side session must have been [loaded](Self::loading) first; otherwise (and
    /// after [`finish`](Self::finish)) this logs an error and gives an empty placeholder
    /// that is never saved.
    pub fn session(&mut self) -> &mut Session {
        if !self.is_loaded() {
            self.slot = self.load_now();
        }
        match &mut self.slot {
            Slot::Loaded(session) | Slot::Detached(session) => session,
            Slot::Unread | Slot::Unloaded(_) | Slot::Finished => unreachable!("loaded above"),
        }
    }

    /// The session if it is loaded, without loading it.
    pub fn loaded(&self) -> Option<&Session> {
        match &self.slot {
            Slot::Loaded(session) | Slot::Detached(session) => Some(session),
            Slot::Unread | Slot::Unloaded(_) | Slot::Finished => None,
        }
    }

    /// [`loaded`](Self::loaded), mutably.
    pub fn loaded_mut(&mut self) -> Option<&mut Session> {
        match &mut self.slot {
            Slot::Loaded(session) | Slot::Detached(session) => Some(session),
            Slot::Unread | Slot::Unloaded(_) | Slot::Finished => None,
        }
    }

    fn load_now(&self) -> Slot {
        let placeholder = |why: &str| {
            tracing::error!("{why}; this request gets an empty session that is not saved");
            Slot::Detached(Box::default())
        };
        let cookies = match &self.slot {
            Slot::Unloaded(cookies) => cookies,
            Slot::Finished => {
                return placeholder("a session was used after its response was saved");
            }
            Slot::Unread => {
                return placeholder(
                    "a session was used before its request's cookies were read: take the \
                     handle as an extractor, or await its `load(request.headers())` first",
                );
            }
            Slot::Loaded(_) | Slot::Detached(_) => unreachable!("only called unloaded"),
        };
        let factory = self
            .factory
            .as_ref()
            .expect("a session without factory is ready");
        match factory.load_now(cookies) {
            Some(session) => Slot::Loaded(Box::new(session)),
            None => placeholder(
                "a server-side session was used before it was loaded: take the handle as an \
                 extractor, or await its `load()` first",
            ),
        }
    }

    /// The store's load, when the session is server-side and not loaded yet: await it
    /// without holding this `RequestSession` locked, then [`put`](Self::put) the session.
    /// `None` when there is nothing to wait for (loaded, or a cookie session, which loads
    /// on first use).
    pub fn loading(&self) -> Option<Loading> {
        match (&self.slot, &self.factory) {
            (Slot::Unloaded(cookies), Some(factory)) => Arc::clone(factory).load_later(cookies),
            _ => None,
        }
    }

    /// Keeps the session a [`Loading`] gave, unless the session was loaded meanwhile
    /// (another extractor of the same request): then the first one stays.
    pub fn put(&mut self, session: Session) {
        if matches!(self.slot, Slot::Unloaded(_)) {
            self.slot = Slot::Loaded(Box::new(session));
        }
    }

    /// Ends the request: takes the session out and saves it as the factory's policy says
    /// for a response with status `status`. Resolves at once for a cookie session; a
    /// server-side save waits for the store. Nothing to do for a session never loaded.
    pub fn finish(&mut self, status: StatusCode) -> Saving {
        self.finish_used(status).unwrap_or_else(Saving::nothing)
    }

    /// [`finish`](Self::finish), or `None` when there is nothing to save (the session was
    /// never used): the adapters' fast path for a request that never touched its session.
    pub(crate) fn finish_used(&mut self, status: StatusCode) -> Option<Saving> {
        if self.close_unused() {
            // Checked first so the untouched request moves no session around.
            return None;
        }
        let session = match mem::replace(&mut self.slot, Slot::Finished) {
            Slot::Loaded(session) => session,
            Slot::Unread | Slot::Unloaded(_) | Slot::Detached(_) | Slot::Finished => {
                return None;
            }
        };
        let factory = self.factory.as_ref()?;
        Some(Arc::clone(factory).save(*session, status.is_server_error(), status))
    }

    /// Ends the request of a session no code used: using it later gives a placeholder
    /// that is never saved. Whether it was unused (a used session is left as it is).
    pub(crate) fn close_unused(&mut self) -> bool {
        let unused = matches!(self.slot, Slot::Unread | Slot::Unloaded(_));
        if unused {
            self.slot = Slot::Finished;
        }
        unused
    }

    /// Replaces the request's `Cookie` headers before the session is first used: for an
    /// adapter that converts its framework's header values only when a handler needs them.
    #[cfg(feature = "actix")]
    pub(crate) fn set_cookies(&mut self, cookies: impl IntoIterator<Item = HeaderValue>) {
        if matches!(self.slot, Slot::Unread | Slot::Unloaded(_)) {
            self.slot = Slot::Unloaded(Cookies::new(cookies));
        }
    }
}

impl std::fmt::Debug for RequestSession {
    /// Says whether the session is loaded; never shows cookies or values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSession")
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}
