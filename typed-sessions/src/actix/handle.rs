//! The per-request session handle (the actix-web extractor), the guard that borrows it, and
//! why an extraction can fail.

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::lifecycle::{Loading, RequestSession, Saving, SessionFactory, answer};
use crate::session::Session;
use crate::store::StoreError;

/// The session of one request: a cheap `Clone` handle, shared by every extraction in the
/// request. A cookie session is loaded from the request's cookie the first time it is
/// [locked](Self::lock); a server-side session is loaded from its store when the handle is
/// extracted.
///
/// Take it as a handler argument under a [`SessionMiddleware`](super::SessionMiddleware).
/// Without the middleware, the extraction fails with [`SessionRejection::MissingMiddleware`]
/// (a `500`); when the store cannot be reached, with [`SessionRejection::Store`] (a `503`,
/// the reason logged). (actix-web's `Option<SessionHandle>` turns either into `None`.)
///
/// Not `Send`: it lives on the worker thread that handles the request (see the
/// [module docs](super) for why it is an `Rc<RefCell<..>>`).
///
/// ```
/// use actix_web::HttpResponse;
/// use typed_sessions::actix::SessionHandle;
///
/// async fn whoami(session: SessionHandle) -> HttpResponse {
///     let user = session.lock().get_as::<String>("user").ok().flatten();
///     HttpResponse::Ok().body(user.unwrap_or_else(|| "anonymous".to_owned()))
/// }
/// # let _ = actix_web::web::get().to(whoami);
/// ```
#[derive(Clone)]
pub struct SessionHandle {
    shared: Rc<Shared>,
}

/// What a request's handles share.
struct Shared {
    request: RefCell<RequestSession>,
    /// The request's `Cookie` values as actix-web gave them (`http` 0.2's header values,
    /// which share the request's bytes), until the session is first used: only then are
    /// they copied into the `http` 1 values the lifecycle reads.
    cookies: Cell<Option<ActixCookies>>,
}

/// A request's `Cookie` header values, unconverted: the first inline, any others in a
/// vector that a request with one never allocates.
struct ActixCookies {
    first: actix_web::http::header::HeaderValue,
    rest: Vec<actix_web::http::header::HeaderValue>,
}

impl From<RequestSession> for SessionHandle {
    fn from(request: RequestSession) -> Self {
        Self {
            shared: Rc::new(Shared {
                request: RefCell::new(request),
                cookies: Cell::new(None),
            }),
        }
    }
}

impl SessionHandle {
    /// The handle of a request with these `Cookie` values, to be loaded by `factory` when
    /// it is first used; the values are converted then.
    pub(crate) fn deferred<'a>(
        factory: Arc<dyn SessionFactory>,
        cookies: impl IntoIterator<Item = &'a actix_web::http::header::HeaderValue>,
    ) -> Self {
        let mut values = cookies.into_iter();
        let cookies = values.next().map(|first| ActixCookies {
            first: first.clone(),
            rest: values.cloned().collect(),
        });
        Self {
            shared: Rc::new(Shared {
                request: RefCell::new(RequestSession::from_cookies(factory, None)),
                cookies: Cell::new(cookies),
            }),
        }
    }

    /// The request's session, its `Cookie` values converted on the first call; `None` while
    /// a guard is alive.
    fn request(&self) -> Option<RefMut<'_, RequestSession>> {
        let mut request = self.shared.request.try_borrow_mut().ok()?;
        if let Some(cookies) = self.shared.cookies.take() {
            // A value `http` 1 refuses cannot be a session cookie either: left out.
            request.set_cookies(
                std::iter::once(&cookies.first)
                    .chain(&cookies.rest)
                    .filter_map(|value| http::HeaderValue::from_bytes(value.as_bytes()).ok()),
            );
        }
        Some(request)
    }

    /// A handle around a ready session, with no middleware and no cookie behind it: for
    /// calling handlers directly in unit tests.
    ///
    /// ```
    /// use typed_sessions::Session;
    /// use typed_sessions::actix::SessionHandle;
    ///
    /// let handle = SessionHandle::new(Session::new());
    /// handle.lock().insert("user_id", 7);
    /// assert_eq!(handle.lock().get_as::<u64>("user_id").unwrap(), Some(7));
    /// ```
    pub fn new(session: Session) -> Self {
        Self::from(RequestSession::ready(session))
    }

    /// Borrows the session, loading a cookie session from the request's cookie on the first
    /// call. The guard derefs to [`Session`]: the dict API, flash messages, the CSRF token
    /// and the accessors of a `#[derive(SessionSchema)]` trait all work on it. Changes are
    /// saved by the middleware after the handler returns.
    ///
    /// # Panics
    ///
    /// When a guard of the same request's session is alive (a helper that locks, called
    /// with a guard in hand): pass the guard's `&mut Session` down instead.
    ///
    /// ```should_panic
    /// use typed_sessions::Session;
    /// use typed_sessions::actix::SessionHandle;
    ///
    /// let handle = SessionHandle::new(Session::new());
    /// let first = handle.lock();
    /// let second = handle.lock(); // panics: `first` is alive
    /// ```
    pub fn lock(&self) -> SessionGuard<'_> {
        let Some(mut request) = self.request() else {
            panic!(
                "SessionHandle::lock: a SessionGuard of the same session is alive; drop it \
                 first, or pass its `&mut Session` down"
            );
        };
        request.session();
        SessionGuard { request }
    }

    /// Whether the session has been loaded: some code in this request locked it.
    pub fn is_loaded(&self) -> bool {
        // A guard only exists once the session is loaded.
        self.shared
            .request
            .try_borrow()
            .map_or(true, |request| request.is_loaded())
    }

    /// Loads a server-side session from its store, if it is not loaded yet; the extractor
    /// calls it. Nothing to do for a cookie session (it loads on the first lock).
    pub async fn load(&self) -> Result<(), StoreError> {
        let loading = self.loading();
        if let Some(loading) = loading {
            self.put(loading.await?);
        }
        Ok(())
    }

    fn loading(&self) -> Option<Loading> {
        self.request()?.loading()
    }

    fn put(&self, session: Session) {
        if let Ok(mut request) = self.shared.request.try_borrow_mut() {
            request.put(session);
        }
    }

    /// Ends the request: the middleware's save step, for a response with `status`; `None`
    /// when there is nothing to save.
    pub(crate) fn finish(&self, status: http::StatusCode) -> Option<Saving> {
        match self.shared.request.try_borrow_mut() {
            Ok(mut request) => request.finish_used(status),
            Err(_) => {
                // Only a guard kept past the handler (leaked, or moved into a task) gets here.
                tracing::error!("session not saved: a SessionGuard of this request is still alive");
                None
            }
        }
    }
}

impl fmt::Debug for SessionHandle {
    /// Says whether the session is loaded; never shows cookies or values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

/// The borrowed session of a request, from [`SessionHandle::lock`]; derefs to [`Session`].
/// Dropping it gives the session back.
pub struct SessionGuard<'a> {
    request: RefMut<'a, RequestSession>,
}

impl Deref for SessionGuard<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.request
            .loaded()
            .expect("`lock` loads the session first")
    }
}

impl DerefMut for SessionGuard<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.request
            .loaded_mut()
            .expect("`lock` loads the session first")
    }
}

impl fmt::Debug for SessionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Why a [`SessionHandle`] could not be extracted. Answered with an empty `500` (or `503`)
/// and a log line; the client sees no detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request did not pass through a [`SessionMiddleware`](super::SessionMiddleware):
    /// a server bug, answered with `500` and logged.
    #[error(
        "typed_sessions::actix::SessionHandle was extracted from a request that did not pass \
         through a SessionMiddleware; add `.wrap(SessionMiddleware::new(factory))` to the app"
    )]
    MissingMiddleware,
    /// The session store failed: answered with [`StoreError::status`] (`503 Service
    /// Unavailable` when it cannot be reached, `500` otherwise), the reason logged. No
    /// session was made, so nothing can overwrite the stored one.
    #[error("the session could not be loaded: {0}")]
    Store(#[from] StoreError),
}

impl SessionRejection {
    /// `500` for a missing middleware (a server bug); the store's status otherwise.
    fn status(&self) -> http::StatusCode {
        match self {
            Self::MissingMiddleware => http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(err) => err.status(),
        }
    }
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        super::status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        let status = match self {
            Self::MissingMiddleware => answer(self, self.status(), "no session"),
            Self::Store(err) => answer(err, self.status(), "session not loaded"),
        };
        HttpResponse::new(super::status(status))
    }
}

impl FromRequest for SessionHandle {
    type Error = SessionRejection;
    type Future = Extract;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Extract {
        let handle = request.extensions().get::<SessionHandle>().cloned();
        let loading = handle.as_ref().and_then(SessionHandle::loading);
        Extract { handle, loading }
    }
}

/// The future of a [`SessionHandle`] extraction: ready at once, unless a server-side
/// session must be loaded from its store.
pub struct Extract {
    handle: Option<SessionHandle>,
    loading: Option<Loading>,
}

impl Future for Extract {
    type Output = Result<SessionHandle, SessionRejection>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(loading) = self.loading.as_mut() {
            let loaded = ready!(Pin::new(loading).poll(cx));
            self.loading = None;
            let handle = self.handle.as_ref().expect("loading comes with a handle");
            handle.put(loaded?);
        }
        Poll::Ready(
            self.handle
                .take()
                .ok_or(SessionRejection::MissingMiddleware),
        )
    }
}

impl fmt::Debug for Extract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extract")
            .field("loading", &self.loading.is_some())
            .finish_non_exhaustive()
    }
}
