//! The per-request session handle (the axum extractor) and the guard that locks it.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use http::{HeaderMap, StatusCode};

use super::rejection::{MissingSessionLayer, SessionRejection};
use crate::lifecycle::{RequestSession, Saving};
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
/// use typed_sessions::axum::SessionHandle;
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
    /// [`UNTOUCHED`], [`ASKED`] or [`CLOSED`]: the layer's end of a request whose code never
    /// asked for the session reads this one atomic instead of locking.
    state: AtomicU8,
    request: Mutex<RequestSession>,
}

/// No code has asked for the session yet.
const UNTOUCHED: u8 = 0;
/// Some code has locked (or is locking) the session.
const ASKED: u8 = 1;
/// The layer ended the request while the session was untouched: it must not be loaded now.
const CLOSED: u8 = 2;

impl From<RequestSession> for SessionHandle {
    #[inline]
    fn from(request: RequestSession) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: AtomicU8::new(UNTOUCHED),
                request: Mutex::new(request),
            }),
        }
    }
}

impl SessionHandle {
    /// A handle around a ready session, with no layer and no cookie behind it: for calling
    /// handlers directly in unit tests.
    ///
    /// ```
    /// use typed_sessions::Session;
    /// use typed_sessions::axum::SessionHandle;
    ///
    /// let handle = SessionHandle::new(Session::new());
    /// handle.lock().insert("user_id", 7);
    /// assert_eq!(handle.lock().get_as::<u64>("user_id").unwrap(), Some(7));
    /// ```
    pub fn new(session: Session) -> Self {
        Self::from(RequestSession::ready(session))
    }

    /// Locks the session, loading a cookie session from the request's cookie on the first
    /// call. (The extractor gives the handle the request's cookies and loads a server-side
    /// session; a handle taken from the request's extensions by hand must be
    /// [`load`](Self::load)ed with the request's headers first, or it locks an empty
    /// placeholder that is never saved, and an error is logged.)
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
    /// use typed_sessions::axum::SessionHandle;
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
    /// use typed_sessions::axum::SessionHandle;
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
        let Some(mut request) = self.acquire() else {
            panic!(
                "SessionHandle::lock: this thread already holds a SessionGuard of the same \
                 session; drop it first, or pass its `&mut Session` down"
            );
        };
        request.session();
        SessionGuard::new(request, self.key())
    }

    /// Locks the request's session, or `None` when this thread holds it already (locking
    /// would deadlock).
    fn acquire(&self) -> Option<MutexGuard<'_, RequestSession>> {
        let closed = self.shared.state.compare_exchange(
            UNTOUCHED,
            ASKED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) == Err(CLOSED);
        let mut request = match self.shared.request.try_lock() {
            Ok(request) => request,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if HELD.with(|held| held.borrow().contains(&self.key())) {
                    return None;
                }
                self.shared
                    .request
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            }
        };
        if closed {
            // A task that outlived its response: the session is finished, as if the layer
            // had locked it (the lock then hands out a placeholder, and logs why).
            request.close_unused();
        }
        Some(request)
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
        match self.shared.request.try_lock() {
            Ok(request) => request.is_loaded(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().is_loaded(),
            // Someone holds a guard, and guards only exist once the session is loaded.
            Err(TryLockError::WouldBlock) => true,
        }
    }

    /// Reads the session's cookies from `headers` (the request's), and loads a server-side
    /// session from its store, if it is not loaded yet; the extractor calls it. A handle
    /// taken from the request's extensions by hand must be loaded so before it is locked:
    /// the layer leaves the `Cookie` headers unread until then, so a request whose handlers
    /// never ask for the session costs no header lookup. Nothing else to do for a cookie
    /// session (it loads on the first lock) or a handle made with [`new`](Self::new).
    ///
    /// An error when the store fails; the handle stays unloaded, and nothing will be saved.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use http::header::COOKIE;
    /// use typed_sessions::axum::SessionHandle;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = SessionHandle::new(typed_sessions::Session::new());
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, HeaderValue::from_static("session=..."));
    /// handle.load(&headers).await.unwrap(); // a ready session: nothing to read
    /// assert!(handle.is_loaded());
    /// # }
    /// ```
    pub async fn load(&self, headers: &HeaderMap) -> Result<(), StoreError> {
        // The lock ends before the store is awaited.
        let loading = self.acquire().and_then(|mut request| {
            request.read_cookies(headers);
            request.loading()
        });
        if let Some(loading) = loading {
            let session = loading.await?;
            if let Some(mut request) = self.acquire() {
                request.put(session);
            }
        }
        Ok(())
    }

    /// Ends the request: the layer's save step, for a response with `status`; `None` when
    /// there is nothing to save.
    #[inline]
    pub(crate) fn finish(&self, status: StatusCode) -> Option<Saving> {
        let untouched = self.shared.state.compare_exchange(
            UNTOUCHED,
            CLOSED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if untouched.is_ok() {
            return None;
        }
        self.finish_asked(status)
    }

    /// [`finish`](Self::finish) of a session some code asked for.
    fn finish_asked(&self, status: StatusCode) -> Option<Saving> {
        match self.acquire() {
            Some(mut request) => request.finish_used(status),
            None => {
                // Only a guard leaked with `mem::forget` gets here.
                tracing::error!(
                    "session not saved: a SessionGuard of this request was never dropped"
                );
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

/// The locked session of a request, from [`SessionHandle::lock`]; derefs to [`Session`].
///
/// Not `Send`: it cannot be held across an `.await` in an axum handler (see
/// [`SessionHandle::lock`]). Dropping it unlocks the session.
pub struct SessionGuard<'a> {
    request: MutexGuard<'a, RequestSession>,
    key: usize,
}

thread_local! {
    /// The sessions whose guards this thread holds, so that locking one again panics with
    /// a message instead of deadlocking. Guards are not `Send`: each drops on the thread
    /// that made it.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl<'a> SessionGuard<'a> {
    fn new(request: MutexGuard<'a, RequestSession>, key: usize) -> Self {
        HELD.with(|held| held.borrow_mut().push(key));
        Self { request, key }
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

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let handle = parts
            .extensions
            .get::<SessionHandle>()
            .cloned()
            .ok_or(MissingSessionLayer)?;
        handle.load(&parts.headers).await?;
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
        handle.load(&parts.headers).await?;
        Ok(Some(handle))
    }
}
