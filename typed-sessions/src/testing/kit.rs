//! [`TestFactory`]: the test kit on every factory, cookie or store. For a
//! [`ServerSessionFactory`] minting writes the record into the store and returns the cookie
//! naming it, and reading back loads from the store, so its methods are async; on a cookie
//! factory they are ready at once.

use std::future::{Future, ready};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

use super::{cookie_header, response_session, session_with_state};
use crate::codec::CookieCodec;
use crate::error::SessionError;
use crate::factory::{CookieSessionFactory, ServerSessionFactory};
use crate::session::Session;
use crate::store::{Commit, SessionStore, StoreError};
use crate::typed::SessionSchema;

/// A factory the test kit mints and reads sessions with: every [`CookieSessionFactory`]
/// (signed, encrypted, your own codec) and every [`ServerSessionFactory`] (memory, Redis,
/// SQL, [`AnyStore`](crate::store::AnyStore), your own store). Write an app's tests once,
/// generic over `F: TestFactory`, and run them on each factory the app can be configured
/// with.
///
/// - `cookie_for*` mints: the `Cookie` header of a browser holding a session. For a server
///   factory the session's record is written into the store first, under a new id.
/// - [`read_back`](Self::read_back) is the session a response's `Set-Cookie` gives the
///   client; [`read_next`](Self::read_next) is the session the client's next request
///   loads (the response's cookie, or else the request's: a server-side session that was
///   saved in place sends no new cookie).
///
/// ```
/// use http::HeaderMap;
/// use serde_json::json;
/// use typed_sessions::testing::{self, TestFactory};
/// use typed_sessions::{FlashExt, ServerSessionFactory, SessionSchema, flash_queue};
/// use typed_sessions::store::MemoryStore;
///
/// #[derive(SessionSchema)]
/// pub struct Shop {
///     #[session(default)]
///     cart: Vec<String>,
/// }
///
/// #[flash_queue]
/// #[derive(Debug, PartialEq)]
/// pub enum Notice {
///     Success(String),
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store.clone())
///     .build()?;
///
/// // A user whose cart holds tea: the record is in the store, the cookie names it.
/// let mut request = HeaderMap::new();
/// request.insert("cookie", factory.cookie_for_state(&json!({"cart": ["tea"]})).await?);
/// assert_eq!(store.len(), 1);
///
/// // The handler under test (here inline): reads, changes, flashes, saves.
/// let mut session = factory.load(&request).await?;
/// session.cart_mut()?.push("mug".into());
/// session.flash(Notice::Success("Added mug".into()))?;
/// let mut response = HeaderMap::new();
/// factory.save(&session, &mut response).await?;
///
/// // Saved in place: no new cookie, so the next request loads the request's.
/// assert!(factory.read_back(&response).await?.is_none());
/// let next = factory.read_next(&request, &response).await?.expect("a session");
/// assert_eq!(next.cart()?, ["tea", "mug"]);
/// testing::assert_flashes(&next, &[Notice::Success("Added mug".into())]);
/// # Ok(())
/// # }
/// ```
pub trait TestFactory {
    /// The `Cookie` header (`name=value`) of a browser holding `session`. For a server
    /// factory, writes `session`'s whole state into the store as a new record (with the
    /// factory's timeout as its TTL) and names it.
    fn cookie_for(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send;

    /// [`cookie_for`](Self::cookie_for) a session holding `state` (a JSON object), created
    /// and accessed at the factory's current time; an error when `state` is not an object.
    fn cookie_for_state(
        &self,
        state: &serde_json::Value,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send;

    /// [`cookie_for`](Self::cookie_for) a session holding the fields of `value`, a
    /// [`SessionSchema`] struct.
    fn cookie_for_schema<T: SessionSchema>(
        &self,
        value: &T,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send;

    /// The session that `response`'s `Set-Cookie` gives the client, loaded as its next
    /// request would load it (from the store, for a server factory); `None` when the
    /// response sets no cookie of the factory's name, or only removes it.
    fn read_back(
        &self,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// The session the client's next request loads after `request` got `response`: by the
    /// response's cookie if it sets one, else by the request's; `None` when the response
    /// removes the cookie, or neither carries one.
    fn read_next(
        &self,
        request: &HeaderMap,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
}

/// What a response's `Set-Cookie` does to the cookie `name`.
enum Sets {
    /// Nothing: the client keeps what it had.
    Nothing,
    /// Removes it (an empty value).
    Removal,
    /// Sets this value.
    Value(String),
}

fn set_cookie_of(response: &HeaderMap, name: &str) -> Sets {
    let last = response
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .filter_map(|header| cookie::Cookie::parse(header).ok())
        .rfind(|cookie| cookie.name() == name);
    match last {
        None => Sets::Nothing,
        Some(cookie) if cookie.value().is_empty() => Sets::Removal,
        Some(cookie) => Sets::Value(cookie.value().to_owned()),
    }
}

/// A session made of `value`'s fields on top of `base` (a new session at the factory's
/// time).
fn with_schema<T: SessionSchema>(mut base: Session, value: &T) -> Result<Session, SessionError> {
    value.store(&mut base)?;
    Ok(base)
}

impl<C: CookieCodec> TestFactory for CookieSessionFactory<C> {
    fn cookie_for(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        ready(cookie_header(self, session).map_err(StoreError::from))
    }

    fn cookie_for_state(
        &self,
        state: &serde_json::Value,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        let header = session_with_state(self, state).and_then(|s| cookie_header(self, &s));
        ready(header.map_err(StoreError::from))
    }

    fn cookie_for_schema<T: SessionSchema>(
        &self,
        value: &T,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        let header = session_with_state(self, &serde_json::json!({}))
            .and_then(|base| with_schema(base, value))
            .and_then(|s| cookie_header(self, &s));
        ready(header.map_err(StoreError::from))
    }

    fn read_back(
        &self,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send {
        ready(Ok(response_session(self, response)))
    }

    fn read_next(
        &self,
        request: &HeaderMap,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send {
        // Loaded from every cookie, so that a chunked session reads back whole.
        let next = match set_cookie_of(response, self.cookie_name()) {
            Sets::Value(_) => response_session(self, response),
            Sets::Removal => None,
            Sets::Nothing => self.find_cookie(request).map(|_| self.load(request)),
        };
        ready(Ok(next))
    }
}

impl<S: SessionStore> TestFactory for ServerSessionFactory<S> {
    fn cookie_for(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        write(self, self.mint(session))
    }

    fn cookie_for_state(
        &self,
        state: &serde_json::Value,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        let minted = server_session_with_state(self, state).and_then(|s| self.mint(&s));
        write(self, minted)
    }

    fn cookie_for_schema<T: SessionSchema>(
        &self,
        value: &T,
    ) -> impl Future<Output = Result<HeaderValue, StoreError>> + Send {
        let minted = server_session_with_state(self, &serde_json::json!({}))
            .and_then(|base| with_schema(base, value))
            .and_then(|s| self.mint(&s));
        write(self, minted)
    }

    fn read_back(
        &self,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send {
        let sets = set_cookie_of(response, self.cookie_name());
        async move {
            match sets {
                Sets::Value(value) => Ok(Some(self.load_value(Some(&value)).await?)),
                Sets::Nothing | Sets::Removal => Ok(None),
            }
        }
    }

    fn read_next(
        &self,
        request: &HeaderMap,
        response: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send {
        let value = match set_cookie_of(response, self.cookie_name()) {
            Sets::Value(value) => Some(value),
            Sets::Removal => None,
            Sets::Nothing => self.find_cookie(request),
        };
        async move {
            match value {
                Some(value) => Ok(Some(self.load_value(Some(&value)).await?)),
                None => Ok(None),
            }
        }
    }
}

/// Writes a minted record into the store; the `Cookie` header naming it.
async fn write<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    minted: Result<(Commit, String), SessionError>,
) -> Result<HeaderValue, StoreError> {
    let (commit, value) = minted?;
    // A commit that replaces always writes (`false` is only for partial saves).
    factory.store().save(&commit).await?;
    HeaderValue::try_from(format!("{}={value}", factory.cookie_name()))
        .map_err(|_| SessionError::InvalidCookieValue.into())
}

/// [`session_with_state`] at a server factory's time.
fn server_session_with_state<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    state: &serde_json::Value,
) -> Result<Session, SessionError> {
    super::state_session(state, factory.now())
}
