//! The tower layer: gives each request a lazy [`SessionHandle`] and saves what the handlers
//! changed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum_core::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::SharedBackend;
use super::handle::SessionHandle;
use crate::codec::CookieCodec;
use crate::factory::CookieSessionFactory;

/// A tower [`Layer`] that gives every request a lazy [`SessionHandle`] from a
/// [`CookieSessionFactory`], and appends `Set-Cookie` to the response when the factory's
/// save policy says so.
///
/// See the [module docs](super) for what happens on error responses and failed saves.
///
/// ```
/// use axum::Router;
/// use axum::routing::get;
/// use session::SignedCookieSessionFactory;
/// use session::axum::{SessionHandle, SessionLayer};
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
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .layer(SessionLayer::new(factory));
/// ```
pub struct SessionLayer<C> {
    factory: Arc<CookieSessionFactory<C>>,
}

impl<C: CookieCodec> SessionLayer<C> {
    /// A layer that loads and saves sessions with `factory`.
    pub fn new(factory: CookieSessionFactory<C>) -> Self {
        Self::from_arc(Arc::new(factory))
    }

    /// A layer around a factory the app shares with other code (a CLI, a second router).
    pub fn from_arc(factory: Arc<CookieSessionFactory<C>>) -> Self {
        Self { factory }
    }

    /// The factory.
    pub fn factory(&self) -> &Arc<CookieSessionFactory<C>> {
        &self.factory
    }
}

impl<C> Clone for SessionLayer<C> {
    fn clone(&self) -> Self {
        Self {
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<C> fmt::Debug for SessionLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, C: CookieCodec> Layer<S> for SessionLayer<C> {
    type Service = SessionService<S, C>;

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
pub struct SessionService<S, C> {
    inner: S,
    factory: Arc<CookieSessionFactory<C>>,
}

impl<S: Clone, C> Clone for SessionService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for SessionService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, C, B> Service<Request<B>> for SessionService<S, C>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    C: CookieCodec,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let backend: SharedBackend = self.factory.clone();
        let handle = SessionHandle::from_request(backend, request.headers());
        request.extensions_mut().insert(handle.clone());
        ResponseFuture {
            inner: self.inner.call(request),
            handle,
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
        let response = ready!(this.inner.poll(cx))?.into_response();
        Poll::Ready(Ok(save(this.handle, response)))
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// Saves a session the request loaded into its response; see the module docs for the
/// policy on error responses and failed saves.
fn save(handle: &SessionHandle, mut response: Response) -> Response {
    let failed_request = response.status().is_server_error();
    let outcome = handle.with_loaded(|backend, session| {
        if failed_request {
            backend.save_after_error(session, response.headers_mut())
        } else {
            backend.save(session, response.headers_mut())
        }
    });
    match outcome {
        // Never loaded, or saved (or skipped) as the policy says.
        None | Some(Ok(_)) => response,
        Some(Err(err)) if failed_request => {
            tracing::error!(
                error = %err,
                status = %response.status(),
                "session not saved on an error response; the client keeps its previous cookie"
            );
            response
        }
        Some(Err(err)) => {
            tracing::error!(
                error = %err,
                status = %response.status(),
                "session not saved; answering 500 so the client keeps its previous cookie"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
