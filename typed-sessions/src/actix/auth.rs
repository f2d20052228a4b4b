//! The sign-in extractors: the current user ([`CurrentUser`]) and a route's guard
//! ([`RequireUser`]), over [`Auth`] in the app's data.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::handle::{SessionHandle, SessionRejection};
use crate::auth::{Auth, AuthBackend, Denied};
use crate::lifecycle::answer;

/// The signed-in user, if any: [`Auth::user`] on the request's session. A session whose
/// user is gone or whose auth hash changed is signed out and extracts as `None`.
///
/// Needs a [`SessionMiddleware`](super::SessionMiddleware) and the [`Auth`] as app data
/// (`.app_data(web::Data::new(auth))`).
///
/// ```
/// use std::convert::Infallible;
/// use actix_web::{App, web};
/// use typed_sessions::auth::{Auth, AuthBackend, AuthHasher, AuthUser};
/// use typed_sessions::actix::{CurrentUser, RequireUser};
///
/// struct User(String);
/// impl AuthUser for User {
///     fn id(&self) -> String { self.0.clone() }
///     fn session_auth_hash(&self) -> &[u8] { b"password version 1" }
/// }
/// struct Users;
/// impl AuthBackend for Users {
///     type User = User;
///     type Error = Infallible;
///     async fn get_user(&self, id: &str) -> Result<Option<User>, Infallible> {
///         Ok(Some(User(id.to_owned())))
///     }
/// }
///
/// async fn home(CurrentUser(user): CurrentUser<Users>) -> String {
///     user.map_or("hello, stranger".to_owned(), |user| format!("hello, {}", user.0))
/// }
///
/// async fn account(RequireUser(user): RequireUser<Users>) -> String {
///     format!("{}'s account", user.0) // without a user: 401
/// }
///
/// let auth = web::Data::new(Auth::new(Users, AuthHasher::new("a secret of at least thirty-two bytes")));
/// let _app = App::new()
///     .app_data(auth)
///     .route("/", web::get().to(home))
///     .route("/account", web::get().to(account));
/// ```
pub struct CurrentUser<B: AuthBackend>(pub Option<B::User>);

/// The signed-in user, for a route that needs one: without one, the extraction answers as
/// the [`Auth`] says (`401`, or `303` to its sign-in page with the request's path and
/// query as `next`). See [`CurrentUser`] for what it needs and an example.
pub struct RequireUser<B: AuthBackend>(pub B::User);

/// Why a [`CurrentUser`] or [`RequireUser`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No user is signed in and the route needs one: `401`, or `303` to the sign-in page.
    #[error("no user is signed in")]
    Denied(Denied),
    /// The app has no `web::Data<Auth<B>>`: a server bug, answered with `500`.
    #[error(
        "no `web::Data<Auth<B>>` in the app's data; add `.app_data(web::Data::new(auth))` \
         to the app"
    )]
    MissingAuth,
    /// The session could not be extracted.
    #[error(transparent)]
    Session(#[from] SessionRejection),
    /// The backend failed to load the user: `500`, the error logged; the session stays
    /// signed in.
    #[error("the signed-in user could not be loaded: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            Self::Denied(Denied::Unauthorized) => StatusCode::UNAUTHORIZED,
            Self::Denied(Denied::Redirect { .. }) => StatusCode::SEE_OTHER,
            Self::Session(rejection) => rejection.status_code(),
            Self::MissingAuth | Self::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Denied(Denied::Unauthorized) => HttpResponse::Unauthorized().finish(),
            Self::Denied(Denied::Redirect { location }) => HttpResponse::SeeOther()
                .insert_header((LOCATION, location.as_str()))
                .finish(),
            Self::Session(rejection) => rejection.error_response(),
            Self::MissingAuth | Self::Backend(_) => HttpResponse::new(super::status(answer(
                self,
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "sign-in check failed",
            ))),
        }
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

async fn current<B: AuthBackend>(
    auth: Option<web::Data<Auth<B>>>,
    handle: Option<SessionHandle>,
) -> Result<(Option<B::User>, web::Data<Auth<B>>), AuthRejection> {
    let auth = auth.ok_or(AuthRejection::MissingAuth)?;
    let session = handle.ok_or(SessionRejection::MissingMiddleware)?;
    session.load().await.map_err(SessionRejection::from)?;
    let user = auth
        .user_locked(|| session.lock())
        .await
        .map_err(|err| AuthRejection::Backend(Box::new(err)))?;
    Ok((user, auth))
}

fn parts<B: AuthBackend>(
    request: &HttpRequest,
) -> (Option<web::Data<Auth<B>>>, Option<SessionHandle>) {
    (
        request.app_data::<web::Data<Auth<B>>>().cloned(),
        request.extensions().get::<SessionHandle>().cloned(),
    )
}

impl<B: AuthBackend> FromRequest for CurrentUser<B> {
    type Error = AuthRejection;
    type Future = LocalBoxFuture<Result<Self, AuthRejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (auth, handle) = parts::<B>(request);
        Box::pin(async move {
            let (user, _) = current(auth, handle).await?;
            Ok(Self(user))
        })
    }
}

impl<B: AuthBackend> FromRequest for RequireUser<B> {
    type Error = AuthRejection;
    type Future = LocalBoxFuture<Result<Self, AuthRejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (auth, handle) = parts::<B>(request);
        let original = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        Box::pin(async move {
            match current(auth, handle).await? {
                (Some(user), _) => Ok(Self(user)),
                (None, auth) => Err(AuthRejection::Denied(auth.denied(&original))),
            }
        })
    }
}
