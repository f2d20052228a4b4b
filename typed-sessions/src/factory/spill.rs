//! [`SpillingSessionFactory`]: a cookie session that moves to a server store while it does not
//! fit its cookie, and back when it fits again.

use std::fmt;

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

use super::cookie::{CookieSessionFactory, SetCookies, Written};
use super::server::{Plan, ServerSessionFactory};
use super::settings::{Saved, find_in};
use crate::codec::CookieCodec;
use crate::error::BuildError;
use crate::events::SaveReport;
use crate::session::Session;
use crate::store::{SessionStore, StoreError};

/// A cookie session that never overflows: kept in its cookie (factory `C`) while it fits,
/// and spilled to a server store (factory `S`) when it does not, the client then carrying
/// only the store's signed id in the server factory's cookie. When a spilled session fits
/// its cookie again, the next save writes the cookie, deletes the record and expires the id
/// cookie. The last of [issue #24's fallbacks](crate::Builder::chunks): a cookie factory
/// that compresses or chunks tries those first, and spills only what still does not fit.
///
/// Both factories keep their own options (the cookie factory's budgets, the server
/// factory's timeout); their cookies must have different names, and they should share
/// their clock and timeout, since a session keeps its times when it moves. Not in Pyramid-compatible
/// mode ([`pyramid_defaults`](crate::Builder::pyramid_defaults) or pickled payloads): a
/// Pyramid app would find a cookie it cannot read.
///
/// ```
/// use http::HeaderMap;
/// use typed_sessions::{ServerSessionFactory, SignedCookieSessionFactory, SpillingSessionFactory};
/// use typed_sessions::store::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = "a secret of at least thirty-two bytes";
/// let cookie = SignedCookieSessionFactory::builder(secret).build()?;
/// let server = ServerSessionFactory::builder(secret, MemoryStore::new())
///     .cookie_name("session-id")
///     .build()?;
/// let factory = SpillingSessionFactory::new(cookie, server)?;
///
/// let mut session = factory.load(&HeaderMap::new()).await?;
/// session.insert("notes", "x".repeat(10_000)); // far over a cookie's 4 KiB
/// let mut response = HeaderMap::new();
/// factory.save(&session, &mut response).await?;
/// let set_cookie = response["set-cookie"].to_str()?;
/// assert!(set_cookie.starts_with("session-id=")); // spilled: the cookie names a record
/// # Ok(())
/// # }
/// ```
pub struct SpillingSessionFactory<C, S> {
    cookie: CookieSessionFactory<C>,
    server: ServerSessionFactory<S>,
}

impl<C: CookieCodec, S: SessionStore> SpillingSessionFactory<C, S> {
    /// Keeps sessions in `cookie` while they fit, in `server` while they do not.
    ///
    /// [`BuildError::SpillCookieName`] when the server factory's cookie name is the cookie
    /// factory's or one of its chunks' (`name.1`, `name.2`, ...);
    /// [`BuildError::NotInPyramidMode`] when the cookie factory is Pyramid-compatible.
    pub fn new(
        cookie: CookieSessionFactory<C>,
        server: ServerSessionFactory<S>,
    ) -> Result<Self, BuildError> {
        if cookie.is_pyramid_compatible() {
            return Err(BuildError::NotInPyramidMode { option: "spill" });
        }
        let name = server.cookie_name();
        let base = cookie.cookie_name();
        let is_chunk = name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()));
        if name == base || is_chunk {
            return Err(BuildError::SpillCookieName {
                name: name.to_owned(),
            });
        }
        Ok(Self { cookie, server })
    }

    /// The cookie factory.
    pub fn cookie_factory(&self) -> &CookieSessionFactory<C> {
        &self.cookie
    }

    /// The server factory, where spilled sessions live.
    pub fn server_factory(&self) -> &ServerSessionFactory<S> {
        &self.server
    }

    /// Whether the request carries the server factory's id cookie.
    pub(crate) fn names_a_record(&self, headers: &HeaderMap) -> bool {
        find_in(headers, self.server.cookie_name()).is_some()
    }

    /// The request's session: from the store when its cookie names a spilled record that
    /// is still there, else from its cookie.
    pub async fn load(&self, headers: &HeaderMap) -> Result<Session, StoreError> {
        if self.names_a_record(headers) {
            let session = self.server.load(headers).await?;
            if !session.is_new() || find_in(headers, self.cookie.cookie_name()).is_none() {
                return Ok(session);
            }
        }
        Ok(self.cookie.load(headers))
    }

    /// Saves `session`: into its cookie if it fits (moving a spilled session back), else
    /// into the store. On error nothing is appended.
    pub async fn save(
        &self,
        session: &Session,
        response: &mut HeaderMap,
    ) -> Result<Saved, StoreError> {
        let step = self.plan(session, false)?;
        let (saved, first, vary, rest) = self.execute(step).await?;
        for header in first.into_iter().chain(rest) {
            response.append(SET_COOKIE, header);
        }
        if let Some(vary) = vary {
            response.append(http::header::VARY, vary);
        }
        Ok(saved)
    }

    /// What saving `session` takes, decided before any `.await`.
    pub(crate) fn plan(&self, session: &Session, failed_request: bool) -> Result<Step, StoreError> {
        let spilled = session.server_ids().is_some();
        let in_cookie = if failed_request {
            self.cookie.save_value_after_error(session)
        } else {
            self.cookie.save_value(session)
        };
        match in_cookie {
            Ok((saved, set_cookies)) if !spilled => Ok(Step::Cookie(saved, set_cookies)),
            Ok((_, None)) => Ok(Step::Cookie(Saved::Unchanged, None)),
            Ok((saved, Some(set_cookies))) => {
                // It fits again: back to the cookie, and the record goes.
                let ids = session.server_ids().expect("spilled");
                let mut ids_to_delete: Vec<String> = ids.retired.iter().cloned().collect();
                if ids.stored
                    && let Some(id) = ids.current()
                {
                    ids_to_delete.push(id.to_owned());
                }
                Ok(Step::Unspill {
                    saved,
                    set_cookies,
                    delete: ids_to_delete,
                    user: ids.loaded_user.clone(),
                    expire: self.server.removal()?,
                })
            }
            Err(err) if err.overflow().is_some() => {
                if failed_request && !self.server.set_on_exception() {
                    return Ok(Step::Cookie(Saved::SkippedOnError, None));
                }
                let (plan, report) = self.server.plan_reported(session)?;
                let expire = if spilled {
                    Vec::new()
                } else {
                    tracing::info!(
                        cookie = %self.cookie.cookie_name(),
                        overflow = %err,
                        "session does not fit its cookie; moved to the server store"
                    );
                    self.cookie.removals(0)?
                };
                Ok(Step::Server {
                    plan: Box::new(plan),
                    report,
                    expire,
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Carries out a [`Step`]: the save's outcome, its first `Set-Cookie`, its `Vary` and its
    /// other `Set-Cookie`s.
    pub(crate) async fn execute(&self, step: Step) -> Result<Written, StoreError> {
        match step {
            Step::Cookie(saved, set_cookies) => Ok(SetCookies::written(saved, set_cookies)),
            Step::Unspill {
                saved,
                set_cookies,
                delete,
                user,
                expire,
            } => {
                for id in &delete {
                    self.server
                        .store()
                        .delete_session(id, user.as_deref())
                        .await?;
                }
                let mut rest = set_cookies.rest;
                rest.push(expire);
                Ok((saved, Some(set_cookies.first), None, rest))
            }
            Step::Server {
                plan,
                report,
                expire,
            } => {
                let mut headers = HeaderMap::new();
                let saved = self
                    .server
                    .execute_reported(*plan, report, &mut headers)
                    .await?;
                let mut set_cookies = headers.get_all(SET_COOKIE).iter().cloned();
                let first = set_cookies.next();
                let mut rest: Vec<HeaderValue> = set_cookies.collect();
                if saved == Saved::Written {
                    rest.extend(expire);
                }
                Ok((saved, first, headers.remove(http::header::VARY), rest))
            }
        }
    }
}

/// What a save of a [`SpillingSessionFactory`] does.
pub(crate) enum Step {
    /// The session fits (or stays) in its cookie.
    Cookie(Saved, Option<SetCookies>),
    /// A spilled session fits its cookie again: write it, delete the records, expire the
    /// id cookie.
    Unspill {
        saved: Saved,
        set_cookies: SetCookies,
        delete: Vec<String>,
        user: Option<String>,
        expire: HeaderValue,
    },
    /// The session goes to (or stays in) the store; `expire` removes the cookie it had.
    Server {
        /// Boxed: the rare path, and a plan is large.
        plan: Box<Plan>,
        report: Option<SaveReport>,
        expire: Vec<HeaderValue>,
    },
}

impl<C: fmt::Debug, S: fmt::Debug> fmt::Debug for SpillingSessionFactory<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillingSessionFactory")
            .field("cookie", &self.cookie)
            .field("server", &self.server)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::store::MemoryStore;
    use crate::{SignedCookieSessionFactory, codec::SignedCodec};

    const SECRET: &str = "a secret of at least thirty-two bytes";

    fn factory(store: &MemoryStore) -> SpillingSessionFactory<SignedCodec, MemoryStore> {
        let cookie = SignedCookieSessionFactory::builder(SECRET)
            .reissue_time(None)
            .build()
            .unwrap();
        let server = ServerSessionFactory::builder(SECRET, store.clone())
            .cookie_name("session-id")
            .reissue_time(None)
            .build()
            .unwrap();
        SpillingSessionFactory::new(cookie, server).unwrap()
    }

    /// The `Set-Cookie` lines of a response, and the request a browser would send next.
    fn next_request(response: &HeaderMap, before: &HeaderMap) -> (Vec<String>, HeaderMap) {
        let lines: Vec<String> = response
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let mut jar: Vec<(String, String)> = before
            .get_all(http::header::COOKIE)
            .iter()
            .flat_map(|v| {
                v.to_str()
                    .unwrap()
                    .split("; ")
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|pair| {
                let (n, v) = pair.split_once('=')?;
                Some((n.to_owned(), v.to_owned()))
            })
            .collect();
        for line in &lines {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            if !line.contains("Max-Age=0") {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
        let mut request = HeaderMap::new();
        if !jar.is_empty() {
            let header: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request.insert(http::header::COOKIE, header.join("; ").parse().unwrap());
        }
        (lines, request)
    }

    #[tokio::test]
    async fn a_session_spills_when_it_grows_and_comes_back_when_it_shrinks() {
        let store = MemoryStore::new();
        let factory = factory(&store);

        // Small: in the cookie, nothing stored.
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", "ada");
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let (lines, request) = next_request(&response, &HeaderMap::new());
        assert!(lines[0].starts_with("session="), "{lines:?}");
        assert_eq!(store.len(), 0);

        // Too big for a cookie: spilled, the session cookie expired.
        let mut session = factory.load(&request).await.unwrap();
        session.insert("notes", "x".repeat(10_000));
        let mut response = HeaderMap::new();
        assert_eq!(
            factory.save(&session, &mut response).await.unwrap(),
            Saved::Written
        );
        let (lines, request) = next_request(&response, &request);
        assert!(
            lines.iter().any(|l| l.starts_with("session-id=")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("session=;") && l.contains("Max-Age=0")),
            "{lines:?}"
        );
        assert_eq!(store.len(), 1);
        let session = factory.load(&request).await.unwrap();
        assert_eq!(
            session.get_as::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
        assert_eq!(
            session.get_as::<String>("notes").unwrap().map(|n| n.len()),
            Some(10_000)
        );

        // A change that keeps it big stays in the store.
        let mut session = factory.load(&request).await.unwrap();
        session.insert("page", 2);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let (_, request) = next_request(&response, &request);
        assert_eq!(store.len(), 1);
        assert_eq!(
            factory
                .load(&request)
                .await
                .unwrap()
                .get_as::<u32>("page")
                .unwrap(),
            Some(2)
        );

        // Shrunk: back in the cookie, the record deleted, the id cookie expired.
        let mut session = factory.load(&request).await.unwrap();
        session.remove("notes");
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let (lines, request) = next_request(&response, &request);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("session-id=;") && l.contains("Max-Age=0")),
            "{lines:?}"
        );
        assert_eq!(store.len(), 0);
        let session = factory.load(&request).await.unwrap();
        assert_eq!(
            session.get_as::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
        assert_eq!(session.get_as::<u32>("page").unwrap(), Some(2));
        assert!(!session.contains_key("notes"));
    }

    #[tokio::test]
    async fn an_id_cookie_whose_record_is_gone_falls_back_to_the_session_cookie() {
        let store = MemoryStore::new();
        let factory = factory(&store);
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", "ada");
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let (_, mut request) = next_request(&response, &HeaderMap::new());
        let cookie = request[http::header::COOKIE].to_str().unwrap().to_owned();
        // A made-up id cookie beside it: no record, so the session cookie is read.
        request.insert(
            http::header::COOKIE,
            format!("{cookie}; session-id=forged").parse().unwrap(),
        );
        let session = factory.load(&request).await.unwrap();
        assert_eq!(
            session.get_as::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
    }

    #[test]
    fn the_two_cookies_must_have_different_names_and_no_pyramid_mode() {
        let store = MemoryStore::new();
        let server = |name: &str| {
            ServerSessionFactory::builder(SECRET, store.clone())
                .cookie_name(name)
                .build()
                .unwrap()
        };
        let cookie = || SignedCookieSessionFactory::builder(SECRET).build().unwrap();
        for name in ["session", "session.1", "session.12"] {
            let err = SpillingSessionFactory::new(cookie(), server(name)).unwrap_err();
            assert_eq!(err, BuildError::SpillCookieName { name: name.into() });
        }
        assert!(SpillingSessionFactory::new(cookie(), server("session.id")).is_ok());
        let pyramid = SignedCookieSessionFactory::builder(SECRET)
            .pyramid_defaults()
            .build()
            .unwrap();
        let err = SpillingSessionFactory::new(pyramid, server("session-id")).unwrap_err();
        assert_eq!(err, BuildError::NotInPyramidMode { option: "spill" });
    }
}
