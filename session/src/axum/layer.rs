//! The tower layer: gives each request a [`SessionHandle`] and saves what the handlers
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

use super::handle::SessionHandle;
use super::{BoxFuture, Engine, LayerFactory, SessionEngine};

/// A tower [`Layer`] that gives every request a [`SessionHandle`] from a factory (a
/// [`CookieSessionFactory`](crate::CookieSessionFactory) or a
/// [`ServerSessionFactory`](crate::store::ServerSessionFactory)), and saves the session
/// after the handler: a `Set-Cookie` when the factory's save policy says so, and for
/// server-side sessions the changed keys to the store.
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
pub struct SessionLayer<E: SessionEngine> {
    factory: Arc<E::Factory>,
}

impl<E: SessionEngine> SessionLayer<E> {
    /// A layer that loads and saves sessions with `factory`.
    pub fn new<F>(factory: F) -> Self
    where
        F: LayerFactory<Engine = E>,
        E: SessionEngine<Factory = F>,
    {
        Self::from_arc(Arc::new(factory))
    }

    /// A layer around a factory the app shares with other code (a CLI, a second router).
    pub fn from_arc<F>(factory: Arc<F>) -> Self
    where
        F: LayerFactory<Engine = E>,
        E: SessionEngine<Factory = F>,
    {
        Self { factory }
    }

    /// The factory.
    pub fn factory(&self) -> &Arc<E::Factory> {
        &self.factory
    }
}

impl<E: SessionEngine> Clone for SessionLayer<E> {
    fn clone(&self) -> Self {
        Self {
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<E: SessionEngine> fmt::Debug for SessionLayer<E>
where
    E::Factory: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, E: SessionEngine> Layer<S> for SessionLayer<E> {
    type Service = SessionService<S, E>;

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
pub struct SessionService<S, E: SessionEngine> {
    inner: S,
    factory: Arc<E::Factory>,
}

impl<S: Clone, E: SessionEngine> Clone for SessionService<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<S: fmt::Debug, E: SessionEngine> fmt::Debug for SessionService<S, E>
where
    E::Factory: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, E, B> Service<Request<B>> for SessionService<S, E>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    E: SessionEngine,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let backend = E::backend(&self.factory);
        let handle = SessionHandle::from_request(backend, request.headers());
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
        // A server-side session's save, once the inner response is there.
        saving: Option<BoxFuture<'static, Response>>,
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
        if let Some(saving) = this.saving.as_mut() {
            return saving.as_mut().poll(cx).map(Ok);
        }
        let response = ready!(this.inner.poll(cx))?.into_response();
        match save(this.handle, response) {
            Ok(response) => Poll::Ready(Ok(response)),
            Err(mut saving) => {
                let polled = saving.as_mut().poll(cx).map(Ok);
                *this.saving = Some(saving);
                polled
            }
        }
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
/// policy on error responses and failed saves. A server-side session's save is a future
/// (`Err`), to be polled to the response.
fn save(
    handle: &SessionHandle,
    mut response: Response,
) -> Result<Response, BoxFuture<'static, Response>> {
    let failed_request = response.status().is_server_error();
    let Some((backend, session)) = handle.take_loaded() else {
        return Ok(response);
    };
    let backend = match backend {
        Engine::Store(backend) => return Err(backend.save(session, failed_request, response)),
        Engine::Cookie(backend) => backend,
    };
    let outcome = if failed_request {
        backend.save_after_error(&session, response.headers_mut())
    } else {
        backend.save(&session, response.headers_mut())
    };
    Ok(match outcome {
        Ok(_) => response,
        Err(err) if failed_request => {
            tracing::error!(
                error = %err,
                status = %response.status(),
                "session not saved on an error response; the client keeps its previous cookie"
            );
            response
        }
        Err(err) => {
            tracing::error!(
                error = %err,
                status = %response.status(),
                "session not saved; answering 500 so the client keeps its previous cookie"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    })
}
