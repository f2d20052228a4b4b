//! The per-request session handle (the axum extractor) and the guard that locks it.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::{Backend, Engine};
use crate::session::Session;
use crate::store::StoreError;

/// The session of one request: a cheap, `Send + Clone` handle. A cookie session is loaded
/// from the request's cookie the first time it is [locked](Self::lock); a server-side
/// session is loaded from its store when the handle is extracted (loading is async, and a
/// handler that does not take the handle costs no store round trip).
///
/// Take it as a handler argument under a [`SessionLayer`](super::SessionLayer); every
/// extraction in the same request (a middleware, the handler, `Option<SessionHandle>`)
/// gets a clone of the same handle, so they all see one session. Without the layer, the
/// extraction fails with [`SessionRejection::MissingLayer`] (a `500`), and
/// `Option<SessionHandle>` extracts as `None`. When the store cannot be reached, it fails
/// with [`SessionRejection::Store`] (a `503`, the reason logged).
///
/// ```
/// use axum::extract::Request;
/// use axum::middleware::Next;
/// use axum::response::Response;
/// use session::axum::SessionHandle;
///
/// /// A middleware that counts requests in the session the handler also sees.
/// async fn count(session: SessionHandle, request: Request, next: Next) -> Response {
///     {
///         let mut s = session.lock();
///         let seen = s.get_as::<u64>("seen").ok().flatten().unwrap_or(0);
///         s.insert("seen", seen + 1);
///     } // the guard goes before the `.await`
///     next.run(request).await
/// }
///
/// async fn show(session: SessionHandle) -> String {
///     let seen = session.lock().get_as::<u64>("seen").ok().flatten();
///     format!("seen {seen:?} times")
/// }
/// # let _ = axum::Router::<()>::new()
/// #     .route("/", axum::routing::get(show))
/// #     .layer(axum::middleware::from_fn(count));
/// ```
#[derive(Clone)]
pub struct SessionHandle {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` for a handle made around a ready session (tests).
    backend: Option<Backend>,
    /// Locked before its server-side session was loaded (not through the extractor): the
    /// placeholder session it got is never saved, so it cannot overwrite the store.
    detached: AtomicBool,
    /// The request's `Cookie` headers, kept unparsed until the first lock: the first one
    /// inline (a request has one), any others in a vector, which a request that has one
    /// never allocates.
    cookies: (Option<HeaderValue>, Vec<HeaderValue>),
    /// `None` until the first lock loads it.
    session: Mutex<Option<Session>>,
}

impl SessionHandle {
    pub(crate) fn from_request(backend: Backend, headers: &HeaderMap) -> Self {
        // Cloning a header value shares its bytes; nothing is parsed here.
        let mut values = headers.get_all(COOKIE).iter().cloned();
        let cookies = (values.next(), values.collect());
        Self {
            shared: Arc::new(Shared {
                backend: Some(backend),
                detached: AtomicBool::new(false),
                cookies,
                session: Mutex::new(None),
            }),
        }
    }

    /// A handle around a ready session, with no layer and no cookie behind it: for calling
    /// handlers directly in unit tests.
    ///
    /// ```
    /// use session::Session;
    /// use session::axum::SessionHandle;
    ///
    /// let handle = SessionHandle::new(Session::new());
    /// handle.lock().insert("user_id", 7);
    /// assert_eq!(handle.lock().get_as::<u64>("user_id").unwrap(), Some(7));
    /// ```
    pub fn new(session: Session) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend: None,
                detached: AtomicBool::new(false),
                cookies: (None, Vec::new()),
                session: Mutex::new(Some(session)),
            }),
        }
    }

    /// Locks the session, loading a cookie session from the request's cookie on the first
    /// call. (A server-side session is already loaded by the extractor; a handle taken from
    /// the request's extensions by hand must be [`load`](Self::load)ed first, or it locks
    /// an empty placeholder that is never saved, and an error is logged.)
    ///
    /// The guard derefs to [`Session`], so the dict API, flash messages, the CSRF token and
    /// the accessors of a `#[derive(SessionSchema)]` trait all work on it. Changes are
    /// saved by the layer after the handler returns.
    ///
    /// Hold one guard at a time and drop it before any `.await`. The guard is not `Send`,
    /// so holding it across an `.await` in an axum handler is a compile error. The lock is
    /// a plain [`std::sync::Mutex`]: another thread's `lock` waits for the guard to drop.
    /// A guard left poisoned by a panic is recovered, not propagated.
    ///
    /// # Panics
    ///
    /// When this thread already holds a guard of the same request's session (a helper that
    /// locks, called with a guard alive): that would otherwise deadlock. Pass the guard's
    /// `&mut Session` down instead.
    ///
    /// This does not compile, because the guard lives across the `.await`:
    ///
    /// ```compile_fail,E0277
    /// use session::axum::SessionHandle;
    ///
    /// fn require_send<T: Send>(_: T) {}
    ///
    /// async fn handler(session: SessionHandle) {
    ///     let mut s = session.lock();
    ///     s.insert("step", 1);
    ///     std::future::ready(()).await; // `s` is still alive here
    ///     s.insert("step", 2);
    /// }
    ///
    /// fn check(session: SessionHandle) {
    ///     require_send(handler(session));
    /// }
    /// ```
    ///
    /// This does, because the guard ends before the `.await`:
    ///
    /// ```
    /// use session::axum::SessionHandle;
    ///
    /// fn require_send<T: Send>(_: T) {}
    ///
    /// async fn handler(session: SessionHandle) {
    ///     {
    ///         let mut s = session.lock();
    ///         s.insert("step", 1);
    ///     }
    ///     std::future::ready(()).await;
    ///     session.lock().insert("step", 2);
    /// }
    ///
    /// fn check(session: SessionHandle) {
    ///     require_send(handler(session));
    /// }
    /// ```
    pub fn lock(&self) -> SessionGuard<'_> {
        let Some(mut slot) = self.acquire() else {
            panic!(
                "SessionHandle::lock: this thread already holds a SessionGuard of the same \
                 session; drop it first, or pass its `&mut Session` down"
            );
        };
        if slot.is_none() {
            *slot = Some(self.shared.load());
        }
        SessionGuard::new(slot, self.key())
    }

    /// Locks the slot, or `None` when this thread holds it already (locking would
    /// deadlock).
    fn acquire(&self) -> Option<MutexGuard<'_, Option<Session>>> {
        match self.shared.session.try_lock() {
            Ok(slot) => Some(slot),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => {
                if HELD.with(|held| held.borrow().contains(&self.key())) {
                    return None;
                }
                Some(
                    self.shared
                        .session
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                )
            }
        }
    }

    /// Identifies the shared session in [`HELD`].
    fn key(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Whether the session has been loaded: some code in this request locked it.
    ///
    /// Never blocks, so it is safe to call (and to `Debug`-print the handle) while a guard
    /// is held.
    pub fn is_loaded(&self) -> bool {
        match self.shared.session.try_lock() {
            Ok(slot) => slot.is_some(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().is_some(),
            // Someone holds a guard, and guards only exist once the session is loaded.
            Err(TryLockError::WouldBlock) => true,
        }
    }

    /// Loads a server-side session from its store, if it is not loaded yet; the extractor
    /// calls it. Nothing to do for a cookie session (it loads on the first lock) or a
    /// handle made with [`new`](Self::new).
    ///
    /// An error when the store fails; the handle stays unloaded, and nothing will be saved.
    pub async fn load(&self) -> Result<(), StoreError> {
        let Some(Backend(Engine::Store(backend))) = &self.shared.backend else {
            return Ok(());
        };
        if self.is_loaded() {
            return Ok(());
        }
        let session = backend.load(self.shared.cookie_headers()).await?;
        let mut slot = self
            .shared
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Another extractor of this request may have loaded it meanwhile: keep that one.
        if slot.is_none() {
            *slot = Some(session);
        }
        Ok(())
    }

    /// Takes the session out if it was loaded; the layer's save step.
    pub(crate) fn take_loaded(&self) -> Option<(Engine, Session)> {
        let Backend(engine) = self.shared.backend.as_ref()?;
        let Some(mut slot) = self.acquire() else {
            // Only a guard leaked with `mem::forget` gets here.
            tracing::error!("session not saved: a SessionGuard of this request was never dropped");
            return None;
        };
        if self.shared.detached.load(Ordering::Relaxed) {
            return None;
        }
        slot.take().map(|session| (engine.clone(), session))
    }
}

impl Shared {
    fn load(&self) -> Session {
        match self.backend.as_ref() {
            Some(Backend(Engine::Cookie(backend))) => backend.load(&self.cookie_headers()),
            Some(Backend(Engine::Store(_))) => {
                tracing::error!(
                    "SessionHandle::lock before the server-side session was loaded: take the \
                     handle as an extractor, or call `SessionHandle::load().await` first; this \
                     request gets an empty session that is not saved"
                );
                self.detached.store(true, Ordering::Relaxed);
                Session::new()
            }
            None => unreachable!("a handle without a backend is made with its session"),
        }
    }

    fn cookie_headers(&self) -> HeaderMap {
        let (first, rest) = &self.cookies;
        let mut headers = HeaderMap::with_capacity(1 + rest.len());
        for value in first.iter().chain(rest) {
            headers.append(COOKIE, value.clone());
        }
        headers
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

/// The locked session of a request, from [`SessionHandle::lock`]; derefs to [`Session`].
///
/// Not `Send`: it cannot be held across an `.await` in an axum handler (see
/// [`SessionHandle::lock`]). Dropping it unlocks the session.
pub struct SessionGuard<'a> {
    slot: MutexGuard<'a, Option<Session>>,
    key: usize,
}

thread_local! {
    /// The sessions whose guards this thread holds, so that locking one again panics with
    /// a message instead of deadlocking. Guards are not `Send`: each drops on the thread
    /// that made it.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl<'a> SessionGuard<'a> {
    fn new(slot: MutexGuard<'a, Option<Session>>, key: usize) -> Self {
        HELD.with(|held| held.borrow_mut().push(key));
        Self { slot, key }
    }
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        // `try_with`: a guard may drop while the thread's locals are being torn down.
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(at) = held.iter().rposition(|key| *key == self.key) {
                held.swap_remove(at);
            }
        });
    }
}

impl Deref for SessionGuard<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.slot.as_ref().expect("`lock` loads the session first")
    }
}

impl DerefMut for SessionGuard<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.slot.as_mut().expect("`lock` loads the session first")
    }
}

impl fmt::Debug for SessionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The rejection of a [`SessionHandle`] extracted from a request that did not pass through
/// a [`SessionLayer`](super::SessionLayer): a server bug, answered with `500` and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    const MESSAGE: &str = "session::axum::SessionHandle was extracted from a request that did \
                           not pass through a SessionLayer; add \
                           `.layer(SessionLayer::new(factory))` to the router";
}

impl fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{}", Self::MESSAGE);
        (StatusCode::INTERNAL_SERVER_ERROR, Self::MESSAGE).into_response()
    }
}

/// Why a [`SessionHandle`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request did not pass through a [`SessionLayer`](super::SessionLayer): a server
    /// bug, answered with `500` and logged.
    #[error(transparent)]
    MissingLayer(#[from] MissingSessionLayer),
    /// The session store failed: answered with `503 Service Unavailable` when it cannot be
    /// reached, `500` otherwise, the reason logged. No session was made, so nothing can
    /// overwrite the stored one.
    #[error("the session could not be loaded: {0}")]
    Store(#[from] StoreError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer(missing) => missing.into_response(),
            Self::Store(err) => {
                let status = if err.is_unavailable() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                tracing::error!(error = %err, "session not loaded; answering {status}");
                status.into_response()
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let handle = parts
            .extensions
            .get::<SessionHandle>()
            .cloned()
            .ok_or(MissingSessionLayer)?;
        handle.load().await?;
        Ok(handle)
    }
}

/// `Option<SessionHandle>`: `None` when the request did not pass through a
/// [`SessionLayer`](super::SessionLayer), for code that works with or without sessions.
/// A store that fails is still a rejection.
impl<S: Send + Sync> OptionalFromRequestParts<S> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(handle) = parts.extensions.get::<SessionHandle>().cloned() else {
            return Ok(None);
        };
        handle.load().await?;
        Ok(Some(handle))
    }
}
