//! What the devices page and the event stream need of a server-side factory: its session
//! registry and its live revocations, object safe so that the router holds one whatever the
//! store (a cookie factory has none).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use typed_sessions::store::{SessionHandle, SessionInfo, SessionStore, StoreError};
use typed_sessions::{ServerSessionFactory, Session};

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A factory's registry, for the shop's handlers.
pub trait Devices: Send + Sync + 'static {
    /// The handle of the request's session.
    fn handle_of(&self, session: &Session) -> Option<SessionHandle>;

    /// `user`'s sessions, each with whether it is `current`.
    fn list<'a>(
        &'a self,
        user: &'a str,
        current: Option<SessionHandle>,
    ) -> BoxFuture<'a, Result<Vec<(SessionInfo, bool)>, StoreError>>;

    /// Revokes every session of `user` but `current`; how many.
    fn sign_out_others<'a>(
        &'a self,
        user: &'a str,
        current: Option<SessionHandle>,
    ) -> BoxFuture<'a, Result<usize, StoreError>>;

    /// A future that completes when the session is revoked.
    fn revoked(&self, session: &Session) -> Option<BoxFuture<'static, ()>>;
}

impl<S: SessionStore> Devices for ServerSessionFactory<S> {
    fn handle_of(&self, session: &Session) -> Option<SessionHandle> {
        ServerSessionFactory::handle_of(self, session)
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
        current: Option<SessionHandle>,
    ) -> BoxFuture<'a, Result<Vec<(SessionInfo, bool)>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .sessions_of(user)
                .await?
                .into_iter()
                .map(|info| {
                    let here = current.as_ref() == Some(&info.handle);
                    (info, here)
                })
                .collect())
        })
    }

    fn sign_out_others<'a>(
        &'a self,
        user: &'a str,
        current: Option<SessionHandle>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move {
            let mut ended = 0;
            for info in self.sessions_of(user).await? {
                if current.as_ref() != Some(&info.handle) && self.revoke(user, &info.handle).await?
                {
                    ended += 1;
                }
            }
            Ok(ended)
        })
    }

    fn revoked(&self, session: &Session) -> Option<BoxFuture<'static, ()>> {
        ServerSessionFactory::revoked(self, session)
            .map(|ended| Box::pin(ended) as BoxFuture<'static, ()>)
    }
}

/// The name of the event `GET /events` sends at once.
pub const GREETING_EVENT: &str = "ping";

/// The data of the event `GET /events` sends at once.
pub const GREETING_DATA: &str = "signed in";

/// The `GET /events` stream: one greeting event at once (`greeting`, in the framework's
/// type: axum's `Event`, actix-web's bytes), then nothing until the session is revoked,
/// when the stream ends (and with it the response).
pub struct UntilRevoked<T> {
    greeting: Option<T>,
    revoked: BoxFuture<'static, ()>,
}

impl<T> UntilRevoked<T> {
    /// The stream of a session whose revocation is `revoked`.
    pub fn new(greeting: T, revoked: BoxFuture<'static, ()>) -> Self {
        Self {
            greeting: Some(greeting),
            revoked,
        }
    }
}

impl<T: Unpin> futures_core::Stream for UntilRevoked<T> {
    type Item = Result<T, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(greeting) = self.greeting.take() {
            return Poll::Ready(Some(Ok(greeting)));
        }
        self.revoked.as_mut().poll(cx).map(|()| None)
    }
}

/// The registry of the shop's factory, if it has one.
pub type Registry = Option<Arc<dyn Devices>>;
