//! The tower layer: gives each request a [`SessionHandle`] and saves what the handlers
//! changed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum_core::response::{IntoResponse, Response};
use http::Request;
use http::header::SET_COOKIE;
use tower_layer::Layer;
use tower_service::Service;

use super::handle::SessionHandle;
use crate::lifecycle::{Outcome, RequestSession, Saving, SessionFactory};

/// A tower [`Layer`] that gives every request a [`SessionHandle`] from a factory `F` (a
/// [`CookieSessionFactory`](crate::CookieSessionFactory) with any codec, or a
/// [`ServerSessionFactory`](crate::ServerSessionFactory) with any store), and saves
/// the session after the handler: a `Set-Cookie` when the factory's save policy says so,
/// and for server-side sessions the changed keys to the store.
///
/// See the [module docs](super) for what happens on error responses and failed saves.
///
/// ```
/// use axum::Router;
/// use axum::routing::get;
/// use typed_sessions::SignedCookieSessionFactory;
/// use typed_sessions::axum::{SessionHandle, SessionLayer};
///
/// async fn whoami(session: SessionHandle) -> String {
///     let user = session.lock().get_as::<String>("user").ok().flatten();
///     user.unwrap_or_else(|| "anonymous".to_owned())
/// }
///
/// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
///     .set_on_exception(false) // no session cookie on a 5xx response
///     .build()
///     .unwrap();
/// let layer: SessionLayer<SignedCookieSessionFactory> = SessionLayer::new(factory);
/// let app: Router = Router::new().route("/whoami", get(whoami)).layer(layer);
/// ```
pub struct SessionLayer<F> {
    factory: Arc<F>,
}

impl<F: SessionFactory> SessionLayer<F> {
    /// A layer that loads and saves sessions with `factory`.
    pub fn new(factory: F) -> Self {
        Self::from_arc(Arc::new(factory))
    }

    /// A layer around a factory the app shares with other code (a CLI, a second router).
    pub fn from_arc(factory: Arc<F>) -> Self {
        Self { factory }
    }

    /// The factory.
    pub fn factory(&self) -> &Arc<F> {
        &self.factory
    }
}

impl<F> Clone for SessionLayer<F> {
    fn clone(&self) -> Self {
        Self {
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for SessionLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, F> Layer<S> for SessionLayer<F> {
    type Service = SessionService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            factory: Arc::clone(&self.factory),
        }
    }
}

/// The service made by [`SessionLayer`]: puts a [`SessionHandle`] into each request's
/// extensions, calls the inner service, then saves a session the request loaded.
///
/// A request that already carries a handle (an outer `SessionLayer`) gets a new one: the
/// innermost layer's session is the one extractors see and this layer saves.
pub struct SessionService<S, F> {
    inner: S,
    factory: Arc<F>,
}

impl<S: Clone, F> Clone for SessionService<S, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<S: fmt::Debug, F: fmt::Debug> fmt::Debug for SessionService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, F, B> Service<Request<B>> for SessionService<S, F>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    F: SessionFactory,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Not even the `Cookie` headers are read until a handler extracts the handle
        // (`SessionHandle::load`): an untouched session costs two allocations, no lookup.
        let handle = SessionHandle::from(RequestSession::without_cookies(
            Arc::clone(&self.factory) as Arc<dyn SessionFactory>,
        ));
        request.extensions_mut().insert(handle.clone());
        ResponseFuture {
            inner: self.inner.call(request),
            handle,
            saving: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SessionService`]: the inner service's response, with the
    /// session saved into it.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        handle: SessionHandle,
        // The response and its save while a store's save is pending (boxed: a request that
        // never used its session, or a cookie session, never waits here, and the future
        // stays small).
        saving: Option<Box<(Response, Saving)>>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(pending) = this.saving {
            let outcome = ready!(Pin::new(&mut pending.1).poll(cx));
            let (response, _) = *this.saving.take().expect("matched above");
            return Poll::Ready(Ok(respond(response, outcome)));
        }
        let response = ready!(this.inner.poll(cx))?.into_response();
        let Some(mut saving) = this.handle.finish(response.status()) else {
            // The session was never used: the response goes out as it is.
            return Poll::Ready(Ok(response));
        };
        match Pin::new(&mut saving).poll(cx) {
            Poll::Ready(outcome) => Poll::Ready(Ok(respond(response, outcome))),
            Poll::Pending => {
                *this.saving = Some(Box::new((response, saving)));
                Poll::Pending
            }
        }
    }
}

/// The response with what its session's save decided: a `Set-Cookie` (and `Vary`) added,
/// or an empty response of the failure's status instead.
fn respond(mut response: Response, outcome: Outcome) -> Response {
    if let Some(saved) = outcome.noteworthy() {
        // For the app's middleware outside the layer.
        response.extensions_mut().insert(saved);
    }
    let overflow = outcome.overflow();
    let mut response = match outcome {
        Outcome::Keep {
            set_cookie,
            vary,
            more_set_cookies,
            ..
        } => {
            for value in set_cookie.into_iter().chain(more_set_cookies) {
                response.headers_mut().append(SET_COOKIE, value);
            }
            if let Some(value) = vary {
                response.headers_mut().append(http::header::VARY, value);
            }
            response
        }
        Outcome::Replace { status, .. } => status.into_response(),
    };
    if let Some(overflow) = overflow {
        // Why the session was not saved, for the app's middleware outside the layer.
        response.extensions_mut().insert(overflow);
    }
    response
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}
