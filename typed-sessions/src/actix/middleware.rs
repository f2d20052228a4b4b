//! The middleware: gives each request a [`SessionHandle`] and saves what the handlers
//! changed.

use std::fmt;
use std::future::{self, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{COOKIE, HeaderValue, SET_COOKIE};

use super::handle::SessionHandle;
use crate::lifecycle::{Outcome, Saving, SessionFactory};

/// An actix-web middleware (a [`Transform`]) that gives every request a [`SessionHandle`]
/// from a factory `F` (a [`CookieSessionFactory`](crate::CookieSessionFactory) with any
/// codec, or a [`ServerSessionFactory`](crate::ServerSessionFactory) with any
/// store), and saves the session after the handler. Register it with `App::wrap`; see the
/// [module docs](super) for the policy on error responses and failed saves.
///
/// ```
/// use actix_web::{App, web};
/// use typed_sessions::actix::{SessionHandle, SessionMiddleware};
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::MemoryStore;
///
/// async fn sign_in(session: SessionHandle) -> &'static str {
///     let mut s = session.lock();
///     s.insert("user_id", 7);
///     s.regenerate_id(); // a new id at sign-in, against session fixation
///     "welcome"
/// }
///
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
///     .build()
///     .unwrap();
/// let middleware = SessionMiddleware::new(factory);
/// // In `HttpServer::new(move || ..)`, clone it into each worker's app.
/// let app = App::new()
///     .wrap(middleware.clone())
///     .route("/sign-in", web::post().to(sign_in));
/// # drop(app);
/// ```
pub struct SessionMiddleware<F> {
    factory: Arc<F>,
}

impl<F: SessionFactory> SessionMiddleware<F> {
    /// A middleware that loads and saves sessions with `factory`.
    pub fn new(factory: F) -> Self {
        Self::from_arc(Arc::new(factory))
    }

    /// A middleware around a factory the app shares with other code.
    pub fn from_arc(factory: Arc<F>) -> Self {
        Self { factory }
    }

    /// The factory.
    pub fn factory(&self) -> &Arc<F> {
        &self.factory
    }
}

impl<F> Clone for SessionMiddleware<F> {
    fn clone(&self) -> Self {
        Self {
            factory: Arc::clone(&self.factory),
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for SessionMiddleware<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("factory", &self.factory)
            .finish()
    }
}

impl<S, B, F> Transform<S, ServiceRequest> for SessionMiddleware<F>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    F: SessionFactory,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S, F>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(SessionService {
            service: Rc::new(service),
            factory: Arc::clone(&self.factory),
        }))
    }
}

/// The service made by [`SessionMiddleware`]: puts a [`SessionHandle`] into each request's
/// extensions, calls the inner service, then saves a session the request loaded.
pub struct SessionService<S, F> {
    service: Rc<S>,
    factory: Arc<F>,
}

impl<S, F> fmt::Debug for SessionService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S, B, F> Service<ServiceRequest> for SessionService<S, F>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    F: SessionFactory,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // The `Cookie` values are kept as actix-web's (`http` 0.2's) header values, shared,
        // and copied into `http` 1's only when a handler uses the session.
        let handle = SessionHandle::deferred(
            Arc::clone(&self.factory) as Arc<dyn SessionFactory>,
            request.headers().get_all(COOKIE),
        );
        request.extensions_mut().insert(handle.clone());
        ResponseFuture {
            inner: self.service.call(request),
            handle,
            saving: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SessionService`]: the inner service's response, with the
    /// session saved into it.
    pub struct ResponseFuture<Fut, B> {
        #[pin]
        inner: Fut,
        handle: SessionHandle,
        // The response and its save while a store's save is pending (boxed: a request that
        // never used its session, or a cookie session, never waits here, and the future
        // stays small).
        saving: Option<Box<(ServiceResponse<B>, Saving)>>,
    }
}

impl<Fut, B> Future for ResponseFuture<Fut, B>
where
    Fut: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(pending) = this.saving {
            let outcome = ready!(Pin::new(&mut pending.1).poll(cx));
            let (response, _) = *this.saving.take().expect("matched above");
            return Poll::Ready(Ok(respond(response, outcome)));
        }
        // A handler's error is a response by now (actix-web renders it); an error here
        // comes from an inner middleware and has no response to carry a cookie, so the
        // session is not saved.
        let response = ready!(this.inner.poll(cx))?;
        let Some(mut saving) = this
            .handle
            .finish(super::status_from_actix(response.status()))
        else {
            // The session was never used: the response goes out as it is.
            return Poll::Ready(Ok(response.map_into_left_body()));
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

impl<Fut, B> fmt::Debug for ResponseFuture<Fut, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// The response with what its session's save decided: a `Set-Cookie` (and `Vary`) added,
/// or an empty response of the failure's status instead.
fn respond<B>(response: ServiceResponse<B>, outcome: Outcome) -> ServiceResponse<EitherBody<B>> {
    let mut response = response.map_into_left_body();
    if let Some(saved) = outcome.noteworthy() {
        // For the app's middleware outside this one.
        response.response_mut().extensions_mut().insert(saved);
    }
    let overflow = outcome.overflow();
    let mut response = match outcome {
        Outcome::Keep {
            set_cookie,
            vary,
            more_set_cookies,
            ..
        } => {
            let set_cookies = set_cookie.into_iter().chain(more_set_cookies);
            for value in
                set_cookies.filter_map(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
            {
                response.headers_mut().append(SET_COOKIE, value);
            }
            if let Some(value) =
                vary.and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
            {
                response
                    .headers_mut()
                    .append(actix_web::http::header::VARY, value);
            }
            response
        }
        Outcome::Replace { status, .. } => {
            let (request, _) = response.into_parts();
            let replacement = HttpResponse::new(super::status(status));
            ServiceResponse::new(request, replacement).map_into_right_body()
        }
    };
    if let Some(overflow) = overflow {
        // Why the session was not saved, for the app's middleware outside this one.
        response.response_mut().extensions_mut().insert(overflow);
    }
    response
}
