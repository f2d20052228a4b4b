//! The sign-in extractors: the current user ([`CurrentUser`]) and a route's guard
//! ([`RequireUser`]), over [`Auth`] in the request's extensions.

use std::sync::Arc;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::LOCATION;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::handle::SessionHandle;
use super::rejection::SessionRejection;
use crate::auth::{Auth, AuthBackend, Denied};
use crate::lifecycle::answer;

/// The signed-in user, if any: [`Auth::user`] on the request's session. A session whose
/// user is gone or whose auth hash changed is signed out and extracts as `None`.
///
/// Needs a [`SessionLayer`](super::SessionLayer) and an `Arc<Auth<B>>` in the request's
/// extensions (`.layer(axum::Extension(Arc::new(auth)))`, inside the session layer or
/// outside it).
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use axum::{Extension, Router, routing::get};
/// use typed_sessions::SignedCookieSessionFactory;
/// use typed_sessions::auth::{Auth, AuthBackend, AuthHasher, AuthUser};
/// use typed_sessions::axum::{CurrentUser, RequireUser, SessionLayer};
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
///     format!("{}'s account", user.0) // without a user: 303 to /login?next=/account
/// }
///
/// let secret = "a secret of at least thirty-two bytes";
/// let auth = Auth::new(Users, AuthHasher::new(secret)).redirect_to("/login");
/// let app: Router = Router::new()
///     .route("/", get(home))
///     .route("/account", get(account))
///     .layer(Extension(Arc::new(auth)))
///     .layer(SessionLayer::new(SignedCookieSessionFactory::builder(secret).build().unwrap()));
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
    /// The request's extensions hold no `Arc<Auth<B>>`: a server bug, answered with `500`.
    #[error(
        "no `Arc<Auth<B>>` in the request's extensions; add \
         `.layer(axum::Extension(Arc::new(auth)))` to the router"
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

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Denied(Denied::Unauthorized) => StatusCode::UNAUTHORIZED.into_response(),
            Self::Denied(Denied::Redirect { location }) => match HeaderValue::try_from(location) {
                Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
                Err(err) => {
                    answer(&err, StatusCode::INTERNAL_SERVER_ERROR, "bad login URL").into_response()
                }
            },
            Self::Session(rejection) => rejection.into_response(),
            Self::MissingAuth | Self::Backend(_) => answer(
                &self,
                StatusCode::INTERNAL_SERVER_ERROR,
                "sign-in check failed",
            )
            .into_response(),
        }
    }
}

async fn current<S: Send + Sync, B: AuthBackend>(
    parts: &mut Parts,
    state: &S,
) -> Result<(Option<B::User>, Arc<Auth<B>>), AuthRejection> {
    let auth = parts
        .extensions
        .get::<Arc<Auth<B>>>()
        .cloned()
        .ok_or(AuthRejection::MissingAuth)?;
    let session = SessionHandle::from_request_parts(parts, state).await?;
    let user = auth
        .user_locked(|| session.lock())
        .await
        .map_err(|err| AuthRejection::Backend(Box::new(err)))?;
    Ok((user, auth))
}

impl<S: Send + Sync, B: AuthBackend> FromRequestParts<S> for CurrentUser<B> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let (user, _) = current::<S, B>(parts, state).await?;
        Ok(Self(user))
    }
}

impl<S: Send + Sync, B: AuthBackend> FromRequestParts<S> for RequireUser<B> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        match current::<S, B>(parts, state).await? {
            (Some(user), _) => Ok(Self(user)),
            (None, auth) => {
                let original = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                Err(AuthRejection::Denied(auth.denied(original)))
            }
        }
    }
}
