//! The middleware: gives each request a [`SessionHandle`] and saves what the handlers
//! changed.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{COOKIE, HeaderValue, SET_COOKIE};

use super::handle::SessionHandle;
use crate::lifecycle::{Outcome, RequestSession, SessionFactory};

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
        ready(Ok(SessionService {
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
    #[allow(clippy::type_complexity)]
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // actix-web's header types are `http` 0.2's: the core gets copies of the `Cookie`
        // values, still unparsed.
        let cookies = request
            .headers()
            .get_all(COOKIE)
            .filter_map(|value| http::HeaderValue::from_bytes(value.as_bytes()).ok());
        let factory: Arc<dyn SessionFactory> = self.factory.clone();
        let handle = SessionHandle::from(RequestSession::from_cookies(factory, cookies));
        request.extensions_mut().insert(handle.clone());
        let response = self.service.call(request);
        Box::pin(async move {
            // A handler's error is a response by now (actix-web renders it); an error here
            // comes from an inner middleware and has no response to carry a cookie, so the
            // session is not saved.
            let response = response.await?.map_into_left_body();
            let saving = handle.finish(super::status_from_actix(response.status()));
            let outcome = saving.await;
            let mut response = response;
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
                    for value in set_cookies
                        .filter_map(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
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
            Ok(response)
        })
    }
}
