//! [`ServerSessionFactory`]: a signed session id in the cookie, the state in a store.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use super::builder::{Builder, KeysAndStore};
use super::settings::{Saved, Settings, header_value};
use crate::codec::{CookieCodec, Secret};
use crate::error::{Rejection, SessionError};
use crate::payload::Timestamps;
use crate::reserved::AUTH_USER_KEY;
use crate::session::{LoadOutcome, Origin, ServerIds, Session};
use crate::state::State;
use crate::store::{
    Commit, SessionHandle, SessionInfo, SessionMeta, SessionStore, StoreError, UserSession,
};

/// Server-side sessions, as pyramid_redis_sessions keeps them: the cookie carries only a
/// signed random 256-bit session id, the state lives in store `S` under that id.
///
/// Options, save policy and key rotation are the signed cookie factory's (see
/// [`Builder`]); the idle `timeout` is also the stored record's TTL, renewed whenever the
/// session is saved (which `reissue_time` governs as for cookies).
///
/// - **Loading** is async: it reads the store. A missing, badly signed or unknown id gives
///   a new session under a *new* id (a client never chooses its id). A store that cannot
///   be reached is an error, never an empty session that would overwrite the state.
/// - **Saving** writes only the keys this request wrote and deletes only the keys it
///   removed, in one atomic step, so concurrent requests that change different keys
///   do not lose each other's changes; when two change the same key, the last save wins.
///   A `Set-Cookie` is sent when the id is new (a new session, [`Session::invalidate`],
///   [`Session::regenerate_id`]), when the cookie was signed with a fallback secret, or
///   with `max_age` set (to renew its expiry).
///
/// ```
/// use std::time::Duration;
/// use http::HeaderMap;
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
///     .cookie_name("sid")
///     .timeout(Duration::from_secs(3600)) // idle timeout, and the record's TTL
///     .build()?;
///
/// let mut session = factory.load(&HeaderMap::new()).await?;
/// session.insert("user_id", 7);
/// session.regenerate_id(); // at sign-in, against session fixation
/// let mut response = HeaderMap::new();
/// factory.save(&session, &mut response).await?;
/// assert!(response["set-cookie"].to_str()?.starts_with("sid="));
/// # Ok(())
/// # }
/// ```
pub struct ServerSessionFactory<S> {
    store: S,
    /// Signs the id into the cookie value: the builder's [`SignedCodec`](crate::SignedCodec)
    /// unless [`Builder::id_codec`] gave another.
    codec: Box<dyn CookieCodec>,
    settings: Settings,
    options: ServerOptions,
    /// Wakes the futures of [`revoked`](Self::revoked).
    #[cfg(feature = "live")]
    revocations: crate::store::Revocations,
}

/// The options only a server-side factory has (see [`Builder::vary_cookie`],
/// [`Builder::delete_emptied`] and [`Builder::rotation_grace`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerOptions {
    pub vary_cookie: bool,
    pub delete_emptied: bool,
    pub rotation_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            vary_cookie: false,
            delete_emptied: false,
            rotation_grace: DEFAULT_ROTATION_GRACE,
        }
    }
}

/// The default of [`Builder::rotation_grace`]: long enough for a page's parallel requests,
/// a retried fetch or a slow upload that left with the old cookie to come back (seconds, on
/// a slow mobile link), short enough that a stolen old cookie is of little use; PHP's
/// `session_regenerate_id` guidance suggests "a few seconds to a minute".
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(30);

/// How long a store keeps an alias after a renewal rotation when the factory has no
/// timeout: a use of it after the grace is reported as a possible theft for that long.
const ALIAS_KEPT_WITHOUT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The `tracing` target of the lifecycle events (`event = "revoked"`, ...).
const EVENTS: &str = "typed_sessions::events";

/// What a save must do, computed from the session before any `.await`, so that the save's
/// future holds no borrow of the session (which is not `Sync`).
pub(crate) enum Plan {
    Nothing,
    /// Delete `retire` (if any) and, if the client had a cookie, expire it: the session was
    /// invalidated and nothing was put in it since.
    Retire {
        retire: Option<String>,
        /// Whose index holds `retire`.
        user: Option<String>,
    },
    Commit {
        commit: Commit,
        /// The id's cookie value, when the client needs a (new) cookie.
        cookie: Option<String>,
    },
}

impl<S: SessionStore> ServerSessionFactory<S> {
    /// The default salt of the id's signature.
    pub const DEFAULT_SALT: &'static str = "session.server-id.";

    /// Starts building a factory that signs ids with `secret` (at least
    /// [`MIN_SECRET_LEN`](crate::MIN_SECRET_LEN) bytes) and keeps sessions in `store`.
    pub fn builder(secret: impl Into<Secret>, store: S) -> Builder<KeysAndStore<S>> {
        Builder::server(secret.into(), store)
    }

    pub(crate) fn new(
        store: S,
        codec: Box<dyn CookieCodec>,
        settings: Settings,
        options: ServerOptions,
    ) -> Self {
        Self {
            store,
            codec,
            settings,
            options,
            #[cfg(feature = "live")]
            revocations: crate::store::Revocations::new(),
        }
    }

    pub(crate) fn set_on_exception(&self) -> bool {
        self.settings.policy.set_on_exception
    }

    pub(crate) fn on_discarded(&self) -> Option<http::StatusCode> {
        self.settings.policy.on_discarded
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.settings.cookie.name
    }

    /// The current time on the factory's clock.
    pub fn now(&self) -> f64 {
        self.settings.clock.now()
    }

    /// Loads the session of a request from its `Cookie` headers and the store.
    ///
    /// A missing or unusable cookie, or an id the store does not know, gives a new, empty
    /// session under a new id; its [`load_outcome`](Session::load_outcome) says why. The
    /// only error is the store's: then there is no session to work on, and the request
    /// should fail (the axum layer answers `503` when the store is unreachable).
    pub async fn load(&self, headers: &HeaderMap) -> Result<Session, StoreError> {
        let value = self.settings.cookie.find(headers);
        self.load_value(value.as_deref()).await
    }

    /// Loads a session from the session cookie's value (`None` when the request has none).
    pub async fn load_value(&self, value: Option<&str>) -> Result<Session, StoreError> {
        let now = self.settings.clock.now();
        let Some(value) = value else {
            let origin = fresh(LoadOutcome::NoCookie, None);
            return Ok(self.settings.session(origin, now));
        };
        let (id, stale_key) = match self.open_id(value) {
            Ok(opened) => opened,
            Err(rejection) => return Ok(self.rejected(now, rejection, None)),
        };
        let mut via_alias = false;
        let (id, record) = match self.store.load(&id).await {
            Ok(Some(record)) => (id, record),
            Ok(None) => match self.follow_alias(&id, now).await? {
                Some((target, record)) => {
                    via_alias = true;
                    (target, record)
                }
                None => return Ok(self.rejected(now, Rejection::UnknownSessionId, None)),
            },
            Err(StoreError::Corrupt { key, reason }) => {
                return Ok(self.corrupt(now, id, &key, &reason));
            }
            Err(err) => return Err(err),
        };
        let times = Timestamps {
            accessed: record.accessed,
            created: record.created,
        };
        if let Some(rejection) = self.settings.policy.refuses(times, now) {
            return Ok(self.rejected(now, rejection, Some(id)));
        }
        if self.settings.policy.timed_out(times, now) {
            // The store's TTL normally removes it first; the factory's clock decides.
            return Ok(self.rejected(now, Rejection::TimedOut, Some(id)));
        }
        let loaded_user = record
            .entries
            .iter()
            .rev()
            .find(|(key, _)| key == AUTH_USER_KEY)
            .and_then(|(_, text)| crate::store::registry::user_of_json(text));
        let mut ids = ServerIds::stored(id);
        ids.loaded_user = loaded_user;
        ids.reissue = via_alias;
        let origin = Origin {
            server: Some(ids),
            ..Origin::loaded(State::from_entries(record.entries), times, stale_key)
        };
        let mut session = self.settings.session(origin, now);
        if via_alias {
            session.mark_to_save();
        }
        Ok(session)
    }

    /// For an id the store has no record under: the record it is an alias of, when a
    /// renewal rotation left one and its grace has not run out. An alias used later is
    /// reported as a possible theft (the old cookie replayed after the user moved on).
    async fn follow_alias(
        &self,
        id: &str,
        now: f64,
    ) -> Result<Option<(String, crate::store::Record)>, StoreError> {
        let Some(alias) = self.store.load_alias(id).await? else {
            return Ok(None);
        };
        if now - alias.at > self.options.rotation_grace.as_secs_f64() {
            let session = id_digest(id);
            tracing::warn!(
                target: EVENTS,
                event = "alias_reuse",
                session = %session,
                after_secs = now - alias.at,
                "a session id retired by a renewal rotation was used after its grace:                  possibly a stolen cookie; the request starts a new session"
            );
            return Ok(None);
        }
        Ok(self
            .store
            .load(&alias.target)
            .await?
            .map(|record| (alias.target, record)))
    }

    /// A new session under a new id, for a cookie that names no usable session.
    fn rejected(&self, now: f64, rejection: Rejection, retire: Option<String>) -> Session {
        self.settings.log_rejection(rejection);
        let origin = fresh(LoadOutcome::Rejected(rejection), retire);
        self.settings.session(origin, now)
    }

    /// A new session under a new id for a cookie whose record cannot be read: logged as an
    /// error naming the store and a hash of the id (never the id, which is a credential);
    /// the first save deletes the unreadable record, so the session does not fail again.
    fn corrupt(&self, now: f64, id: String, key: &str, reason: &str) -> Session {
        tracing::error!(
            store = std::any::type_name::<S>(),
            id_sha256 = %id_digest(&id),
            key,
            reason,
            "unreadable session record; the request starts a new session and its first save \
             deletes the record"
        );
        let origin = fresh(LoadOutcome::Rejected(Rejection::CorruptRecord), Some(id));
        self.settings.session(origin, now)
    }

    /// The id a cookie value carries, and whether it was signed with a fallback secret.
    fn open_id(&self, value: &str) -> Result<(String, bool), Rejection> {
        let opened = self.codec.open(value)?;
        if !self.store.accepts_id(&opened.payload) {
            return Err(Rejection::BadSessionId);
        }
        let id = String::from_utf8(opened.payload).map_err(|_| Rejection::BadSessionId)?;
        Ok((id, opened.stale_key))
    }

    /// Saves what the request changed to the store and, when the client needs a new
    /// cookie, appends `Set-Cookie` to the response (see the type's docs).
    ///
    /// Returns [`Saved::Written`] when the store was written, [`Saved::Unchanged`] when
    /// the session needed no save, and [`Saved::Discarded`] (with a warning logged) when
    /// its record was deleted (by a concurrent `invalidate`) or expired since the load: its
    /// changes are then dropped, not written as a partial session. On error nothing is
    /// appended, so the client keeps its cookie.
    ///
    /// The future does not borrow the session: it can be saved from a `Send` task while
    /// the session is gone.
    pub fn save<'a>(
        &'a self,
        session: &Session,
        response: &'a mut HeaderMap,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send + use<'a, S> {
        let plan = self.plan(session);
        async move { self.execute(plan?, response).await }
    }

    /// [`save`](Self::save) for the response of a failed request: skipped when the
    /// factory has `set_on_exception(false)`.
    pub fn save_after_error<'a>(
        &'a self,
        session: &Session,
        response: &'a mut HeaderMap,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send + use<'a, S> {
        let plan = if self.settings.policy.set_on_exception {
            self.plan(session)
        } else {
            Ok(Plan::Nothing)
        };
        let skipped = !self.settings.policy.set_on_exception;
        async move {
            if skipped {
                return Ok(Saved::SkippedOnError);
            }
            self.execute(plan?, response).await
        }
    }

    /// For the test kit: a commit that writes `session`'s whole state as a new record under
    /// a new id, and the cookie value naming that id.
    #[cfg(feature = "testing")]
    pub(crate) fn mint(&self, session: &Session) -> Result<(Commit, String), SessionError> {
        let id = crate::random::session_id()?;
        let set = session
            .state()
            .entries_json(true)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?
            .into_iter()
            .map(|(key, text)| (key.to_owned(), text.into_owned()))
            .collect();
        let cookie = self.codec.seal(id.as_bytes())?;
        let commit = Commit {
            id,
            replace: true,
            retire: None,
            set,
            remove: Vec::new(),
            created: session.created(),
            accessed: session.accessed(),
            ttl: self.settings.policy.timeout.map(Duration::from_secs_f64),
            user: session
                .state()
                .get_as::<String>(AUTH_USER_KEY)
                .and_then(Result::ok),
            previous_user: None,
            alias: None,
        };
        Ok((commit, cookie))
    }

    /// The session cookie's value in request headers, if any (for the test kit).
    #[cfg(feature = "testing")]
    pub(crate) fn find_cookie(&self, headers: &HeaderMap) -> Option<String> {
        self.settings
            .cookie
            .find(headers)
            .map(|value| value.into_owned())
    }

    /// What saving `session` takes; see [`Plan`].
    pub(crate) fn plan(&self, session: &Session) -> Result<Plan, StoreError> {
        if let Some(err) = session.failed_write() {
            return Err(err.into());
        }
        if !session.is_dirty() {
            return Ok(Plan::Nothing);
        }
        // A session made without this factory (`Session::new()`) is saved as a new one.
        let (id, stored, retire, keep_alias, previous_user, reissue) = match session.server_ids() {
            Some(ids) => (
                ids.id(|| self.store.new_id())?.to_owned(),
                ids.stored,
                ids.retired.clone(),
                ids.alias,
                ids.loaded_user.clone(),
                ids.reissue,
            ),
            None => (self.store.new_id()?, false, None, false, None, false),
        };
        let state = session.state();
        if stored && self.options.delete_emptied && state.len() == 0 {
            // Emptied by this request: the record goes, as with `invalidate`.
            return Ok(Plan::Retire {
                retire: Some(id),
                user: previous_user,
            });
        }
        let user = state.get_as::<String>(AUTH_USER_KEY).and_then(Result::ok);
        let set: Vec<(String, String)> = state
            .entries_json(!stored)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?
            .into_iter()
            .map(|(key, text)| (key.to_owned(), text.into_owned()))
            .collect();
        if !stored && set.is_empty() {
            // Nothing to keep under a new id: only the old record goes.
            return Ok(Plan::Retire {
                retire,
                user: previous_user,
            });
        }
        let remove = if stored {
            state.removed().into_iter().map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        let stale = session.load_outcome() == LoadOutcome::LoadedWithOldSecret;
        let cookie = if !stored || stale || reissue || self.settings.cookie.max_age.is_some() {
            Some(self.codec.seal(id.as_bytes())?)
        } else {
            None
        };
        let ttl = self.settings.policy.timeout.map(Duration::from_secs_f64);
        // A renewal keeps the old id as an alias only if the request did not change who is
        // signed in: the alias must never reach a new sign-in (session fixation).
        let alias = (keep_alias && retire.is_some() && user == previous_user).then(|| {
            ttl.unwrap_or(ALIAS_KEPT_WITHOUT_TIMEOUT)
                .max(self.options.rotation_grace)
        });
        let commit = Commit {
            id,
            replace: !stored,
            retire,
            set,
            remove,
            created: session.created(),
            accessed: session.accessed(),
            ttl,
            user,
            previous_user,
            alias,
        };
        Ok(Plan::Commit { commit, cookie })
    }

    /// Carries out a [`Plan`].
    pub(crate) async fn execute(
        &self,
        plan: Plan,
        response: &mut HeaderMap,
    ) -> Result<Saved, StoreError> {
        match plan {
            Plan::Nothing => Ok(Saved::Unchanged),
            Plan::Retire { retire, user } => {
                let Some(retire) = retire else {
                    return Ok(Saved::Unchanged);
                };
                self.store.delete_session(&retire, user.as_deref()).await?;
                let mut cookie = self.settings.cookie(String::new());
                cookie.make_removal();
                response.append(SET_COOKIE, header_value(&cookie)?);
                Ok(Saved::Written)
            }
            Plan::Commit { commit, cookie } => {
                // Formatted before the write, so a bad header cannot follow a done write.
                let header = match cookie {
                    Some(value) => Some(header_value(&self.settings.cookie(value))?),
                    None => None,
                };
                if !self.store.save(&commit).await? {
                    tracing::warn!(
                        cookie = %self.settings.cookie.name,
                        "session changes discarded: its record was deleted or expired since \
                         the load"
                    );
                    return Ok(Saved::Discarded);
                }
                if let Some(old) = &commit.retire {
                    tracing::info!(
                        target: EVENTS,
                        event = "regenerated",
                        session = %id_digest(&commit.id),
                        previous = %id_digest(old),
                        alias = commit.alias.is_some(),
                        "session moved to a new id"
                    );
                }
                if let Some(header) = header {
                    response.append(SET_COOKIE, header);
                    if self.options.vary_cookie {
                        response.append(VARY, HeaderValue::from_static("Cookie"));
                    }
                }
                Ok(Saved::Written)
            }
        }
    }
}

/// The session registry: a user's sessions across devices (see [the store's
/// docs](crate::store#signed-in-on-several-devices)).
impl<S: SessionStore> ServerSessionFactory<S> {
    /// The live sessions of `user` (the id sign-in stored under
    /// [`AUTH_USER_KEY`](crate::AUTH_USER_KEY)), oldest first. Each names its session by an
    /// opaque [`SessionHandle`], never its id. [`StoreError::Unsupported`] for a store
    /// without a registry.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use typed_sessions::{AUTH_USER_KEY, ServerSessionFactory};
    /// use typed_sessions::store::{MemoryStore, SessionMeta};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new()).await?;
    /// session.regenerate_id();
    /// session.insert(AUTH_USER_KEY, "alice");
    /// SessionMeta::new().ip("203.0.113.7").store(&mut session);
    /// factory.save(&session, &mut HeaderMap::new()).await?;
    ///
    /// let sessions = factory.sessions_of("alice").await?;
    /// assert_eq!(sessions.len(), 1);
    /// assert_eq!(sessions[0].meta.ip.as_deref(), Some("203.0.113.7"));
    /// assert_eq!(Some(&sessions[0].handle), factory.handle_of(&session).as_ref());
    /// assert_eq!(factory.revoke_all("alice").await?, 1);
    /// assert!(factory.sessions_of("alice").await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sessions_of(&self, user: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let mut sessions: Vec<SessionInfo> = self
            .store
            .user_sessions(user)
            .await?
            .into_iter()
            .map(|found| SessionInfo {
                handle: SessionHandle::of(&found.id),
                created: found.created,
                last_seen: found.accessed,
                meta: found
                    .meta
                    .as_deref()
                    .and_then(SessionMeta::from_json)
                    .unwrap_or_default(),
            })
            .collect();
        sessions.sort_by(|a, b| a.created.total_cmp(&b.created));
        Ok(sessions)
    }

    /// The handle of `session` (as [`sessions_of`](Self::sessions_of) names it): of a
    /// loaded session, or of a new one once saved; `None` for a new session not saved yet
    /// (or given a new id by this request and not saved yet), and for a cookie session.
    pub fn handle_of(&self, session: &Session) -> Option<SessionHandle> {
        session.server_ids()?.current().map(SessionHandle::of)
    }

    /// Ends the session of `user` that `handle` names: its record and its index entry go,
    /// and its next request starts signed out. Returns whether there was such a session.
    pub async fn revoke(&self, user: &str, handle: &SessionHandle) -> Result<bool, StoreError> {
        let found = self.store.user_sessions(user).await?;
        let Some(session) = found.iter().find(|s| SessionHandle::of(&s.id) == *handle) else {
            return Ok(false);
        };
        self.revoke_ids(user, std::slice::from_ref(session)).await?;
        Ok(true)
    }

    /// Ends every session of `user` but `current` ("sign out everywhere else"); returns how
    /// many it ended.
    pub async fn revoke_others(&self, user: &str, current: &Session) -> Result<usize, StoreError> {
        let keep = self.handle_of(current);
        let others: Vec<UserSession> = self
            .store
            .user_sessions(user)
            .await?
            .into_iter()
            .filter(|s| keep.as_ref() != Some(&SessionHandle::of(&s.id)))
            .collect();
        self.revoke_ids(user, &others).await?;
        Ok(others.len())
    }

    /// Ends every session of `user` ("sign out everywhere"); returns how many it ended.
    pub async fn revoke_all(&self, user: &str) -> Result<usize, StoreError> {
        let all = self.store.user_sessions(user).await?;
        self.revoke_ids(user, &all).await?;
        Ok(all.len())
    }

    /// A future that completes when `session` is revoked (feature `live`): by this factory
    /// at once, by another process once [`listen_for_revocations`](Self::listen_for_revocations)
    /// runs here. For a live response (server-sent events, a WebSocket) to end with its
    /// session. `None` for a session not in the store yet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use http::HeaderMap;
    /// use typed_sessions::{AUTH_USER_KEY, ServerSessionFactory};
    /// use typed_sessions::store::MemoryStore;
    ///
    /// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new()).await?;
    /// session.insert(AUTH_USER_KEY, "alice");
    /// factory.save(&session, &mut HeaderMap::new()).await?;
    /// let ended = factory.revoked(&session).unwrap();
    /// factory.revoke_all("alice").await?;
    /// ended.await; // an event stream would end here
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "live")]
    pub fn revoked(&self, session: &Session) -> Option<impl Future<Output = ()> + Send + 'static> {
        Some(self.revocations.revoked(self.handle_of(session)?))
    }

    /// Starts the task that hears revocations made by other processes on this store
    /// (feature `live`; Redis pub/sub from a [`RedisStore::connect`](crate::store::RedisStore::connect)
    /// store, PostgreSQL `LISTEN`), so that [`revoked`](Self::revoked) completes for them too.
    /// Keep the task: dropping it stops listening. Call it inside a tokio runtime;
    /// [`StoreError::Unsupported`] on a store that cannot (memory: one process).
    ///
    /// A revocation published while the listener reconnects is not heard live (the
    /// session's next request is still signed out).
    #[cfg(feature = "live")]
    pub async fn listen_for_revocations(&self) -> Result<crate::store::ListenTask, StoreError> {
        self.store.listen_revoked(self.revocations.clone()).await
    }

    async fn revoke_ids(&self, user: &str, sessions: &[UserSession]) -> Result<(), StoreError> {
        for session in sessions {
            self.store.delete_session(&session.id, Some(user)).await?;
            #[cfg(feature = "live")]
            {
                let handle = SessionHandle::of(&session.id);
                self.revocations.notify(&handle);
                if let Err(err) = self.store.publish_revoked(&handle).await {
                    // The session is revoked (its record is gone); only other processes'
                    // live responses miss it.
                    tracing::warn!(error = %err, "publishing a revocation failed");
                }
            }
            tracing::info!(
                target: EVENTS,
                event = "revoked",
                session = %id_digest(&session.id),
                "session revoked"
            );
        }
        Ok(())
    }
}

/// The first 16 hex digits of the SHA-256 of a session id: enough to find one session's log
/// lines, nothing to sign in with.
fn id_digest(id: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::random::to_hex(&Sha256::digest(id.as_bytes())[..8])
}

/// A new, empty session under a fresh id (drawn when it is first saved); the first save
/// deletes the record of `retired`.
fn fresh(outcome: LoadOutcome, retired: Option<String>) -> Origin {
    Origin {
        state: State::tracked(),
        server: Some(ServerIds::fresh(retired)),
        ..Origin::new(outcome)
    }
}

impl<S: fmt::Debug> fmt::Debug for ServerSessionFactory<S> {
    /// Shows the cookie options, policy and store, never the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings
            .debug_struct(f, "ServerSessionFactory")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::random::failing;
    use crate::store::MemoryStore;

    fn factory(store: MemoryStore) -> ServerSessionFactory<MemoryStore> {
        ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
            .reissue_time(None)
            .build()
            .unwrap()
    }

    fn is_random_source(err: &StoreError) -> bool {
        matches!(err, StoreError::Session(SessionError::RandomSource { .. }))
    }

    /// Without the OS's random source no new id can be drawn: a save that needs one is an
    /// error that writes nothing, and everything that needs none still works.
    #[tokio::test]
    async fn a_failing_random_source_fails_the_saves_that_need_an_id_and_only_those() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user_id", 7);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let cookie = response["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut request = HeaderMap::new();
        request.insert("cookie", cookie.parse().unwrap());

        let _failing = failing::start();
        // Loading draws no id, not even for a new session.
        let mut fresh = factory.load(&HeaderMap::new()).await.unwrap();
        fresh.insert("x", 1);
        let mut response = HeaderMap::new();
        let err = factory.save(&fresh, &mut response).await.unwrap_err();
        assert!(is_random_source(&err), "{err}");
        assert!(response.is_empty());
        assert_eq!(store.len(), 1, "nothing stored");

        // A loaded session keeps its id: its changes save.
        let mut loaded = factory.load(&request).await.unwrap();
        loaded.insert("user_id", 8);
        let mut response = HeaderMap::new();
        assert_eq!(
            factory.save(&loaded, &mut response).await.unwrap(),
            Saved::Written
        );

        // `invalidate` and `regenerate_id` need a new id: the save fails, the old record
        // stays.
        for renew in [Session::invalidate, Session::regenerate_id] {
            let mut session = factory.load(&request).await.unwrap();
            renew(&mut session);
            session.insert("after", true);
            let mut response = HeaderMap::new();
            let err = factory.save(&session, &mut response).await.unwrap_err();
            assert!(is_random_source(&err), "{err}");
            assert!(response.is_empty());
        }
        let session = factory.load(&request).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
        assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(8));
    }

    /// With [`Builder::id_codec`] the ids are signed by that codec (here Beaker's hex
    /// signature), not the builder's secret, which is then not checked either.
    #[tokio::test]
    async fn an_id_codec_signs_ids_in_place_of_the_secret() {
        use crate::codec::{BeakerIdCodec, CookieCodec};
        let store = MemoryStore::new();
        let codec = BeakerIdCodec::new("the other program's secret").unwrap();
        let factory = ServerSessionFactory::builder(Secret::from_bytes(Vec::new()), store)
            .id_codec(codec.clone())
            .build()
            .unwrap();
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("x", 1);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let header = response["set-cookie"].to_str().unwrap();
        let value = header
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("session=");
        let id = codec.open(value).unwrap().payload;
        assert_eq!(value.len(), 40 + id.len());
        let loaded = factory.load_value(Some(value)).await.unwrap();
        assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
        assert_eq!(loaded.get_as::<u64>("x").unwrap(), Some(1));
        // The same id under another signer's signature is refused.
        let other = BeakerIdCodec::new("another secret").unwrap();
        let forged = other.seal(&id).unwrap();
        let refused = factory.load_value(Some(&forged)).await.unwrap();
        assert_eq!(
            refused.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature)
        );
    }

    /// The id drawn for a new session is drawn once: saving it twice writes one record.
    #[tokio::test]
    async fn a_new_session_keeps_the_id_its_first_save_drew() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("x", 1);
        let (mut first, mut second) = (HeaderMap::new(), HeaderMap::new());
        factory.save(&session, &mut first).await.unwrap();
        factory.save(&session, &mut second).await.unwrap();
        assert_eq!(first["set-cookie"], second["set-cookie"]);
        assert_eq!(store.len(), 1);
    }

    fn cookie_of(response: &HeaderMap) -> HeaderMap {
        let value = response["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let mut request = HeaderMap::new();
        request.insert("cookie", value.parse().unwrap());
        request
    }

    /// `delete_emptied`: a stored session whose last key goes is deleted and its cookie
    /// expired; without it the empty record stays.
    #[tokio::test]
    async fn delete_emptied_deletes_a_session_emptied_by_a_request() {
        for delete in [true, false] {
            let store = MemoryStore::new();
            let factory = ServerSessionFactory::builder(
                "a secret of at least thirty-two bytes",
                store.clone(),
            )
            .delete_emptied(delete)
            .build()
            .unwrap();
            let mut session = factory.load(&HeaderMap::new()).await.unwrap();
            session.insert("user", 7);
            let mut response = HeaderMap::new();
            factory.save(&session, &mut response).await.unwrap();
            let request = cookie_of(&response);

            let mut session = factory.load(&request).await.unwrap();
            session.remove("user");
            let mut response = HeaderMap::new();
            assert_eq!(
                factory.save(&session, &mut response).await.unwrap(),
                Saved::Written
            );
            assert_eq!(
                store.len(),
                usize::from(!delete),
                "delete_emptied({delete})"
            );
            let removal = response
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                removal.as_deref().is_some_and(|v| v.contains("Max-Age=0")),
                delete,
                "{removal:?}"
            );
        }
    }

    /// `vary_cookie`: `Vary: Cookie` with every `Set-Cookie` of a session, never without
    /// one, and carried through the lifecycle's outcome.
    #[tokio::test]
    async fn vary_cookie_goes_with_each_set_cookie() {
        let factory = std::sync::Arc::new(
            ServerSessionFactory::builder(
                "a secret of at least thirty-two bytes",
                MemoryStore::new(),
            )
            .vary_cookie(true)
            .build()
            .unwrap(),
        );
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", 7);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        assert_eq!(response["vary"], "Cookie");
        let request = cookie_of(&response);
        let mut session = factory.load(&request).await.unwrap();
        session.insert("user", 8);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        assert!(response.is_empty(), "no new cookie, no Vary: {response:?}");

        let mut request = crate::lifecycle::RequestSession::new(factory, &HeaderMap::new());
        let loaded = request.loading().unwrap().await.unwrap();
        request.put(loaded);
        request.session().insert("x", 1);
        let outcome = request.finish(http::StatusCode::OK).await;
        assert!(
            matches!(&outcome, crate::lifecycle::Outcome::Keep { set_cookie: Some(_), vary: Some(vary), .. } if vary == "Cookie"),
            "{outcome:?}"
        );
    }

    /// A store that draws and checks its own ids: the factory uses them.
    #[derive(Clone, Default)]
    struct OwnIds(MemoryStore);

    impl SessionStore for OwnIds {
        async fn load(&self, id: &str) -> Result<Option<crate::store::Record>, StoreError> {
            self.0.load(id).await
        }
        async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
            self.0.save(commit).await
        }
        async fn delete(&self, id: &str) -> Result<(), StoreError> {
            self.0.delete(id).await
        }
        fn new_id(&self) -> Result<String, SessionError> {
            Ok(format!("own-{}", crate::random::hex_token::<8>()?))
        }
        fn accepts_id(&self, id: &[u8]) -> bool {
            id.starts_with(b"own-")
        }
    }

    #[tokio::test]
    async fn a_store_chooses_and_checks_its_ids() {
        let store = OwnIds::default();
        let factory =
            ServerSessionFactory::builder("a secret of at least thirty-two bytes", store.clone())
                .build()
                .unwrap();
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", 7);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let request = cookie_of(&response);
        let session = factory.load(&request).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
        assert_eq!(
            session
                .server_ids()
                .unwrap()
                .id(|| unreachable!())
                .unwrap()
                .len(),
            20
        );

        // A correctly signed id of the default shape is not this store's.
        let other = ServerSessionFactory::builder(
            "a secret of at least thirty-two bytes",
            MemoryStore::new(),
        )
        .build()
        .unwrap();
        let mut session = other.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", 7);
        let mut response = HeaderMap::new();
        other.save(&session, &mut response).await.unwrap();
        let session = factory.load(&cookie_of(&response)).await.unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSessionId)
        );
    }
}
