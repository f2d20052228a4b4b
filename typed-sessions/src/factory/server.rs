//! [`ServerSessionFactory`]: a signed session id in the cookie, the state in a store.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use super::builder::{Builder, KeysAndStore};
use super::settings::{Saved, Settings, header_value};
use crate::codec::{CookieCodec, Secret};
use crate::conflict::{MAX_MERGE_ROUNDS, Resolve, Resolved, Watched};
use crate::error::{Rejection, SessionError};
use crate::events::{self, Event, EventKind, SaveReport, SessionDigest, id_digest};
use crate::payload::Timestamps;
use crate::reserved::{AUTH_USER_KEY, CSRF_KEY};
use crate::session::{LoadOutcome, Origin, ServerIds, Session};
use crate::state::State;
use crate::store::{
    Commit, ConcurrentWrite, Expected, SessionHandle, SessionInfo, SessionMeta, SessionStore,
    StoreError, UserSession,
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
///   do not lose each other's changes. When two change the same key, the key's policy
///   decides ([`crate::store::Commit::expect`]): a schema field with
///   `#[session(merge = f)]` gets the merge of both changes, one with
///   `on_conflict = "reject"` fails the later save with `409 Conflict`, flash queues keep
///   both requests' messages; every other key is last-writer-wins.
///   A `Set-Cookie` is sent when the id is new (a new session, [`Session::invalidate`],
///   [`Session::regenerate_id`]), when the cookie was signed with a fallback secret, or
///   with `max_age` set (to renew its expiry).
///
/// # Sessions without a record
///
/// A session that holds nothing but its CSRF token (an anonymous visitor shown a page with
/// a form) writes no record: its token lives in its cookie instead, so crawlers and
/// attackers cannot fill the store with page views. [`Session::get_csrf_token`] on a
/// session that has no record makes a random token (as always: 40 hex digits) and the save
/// sends a cookie whose signed payload is `csrf-only:` and the token, where other cookies
/// carry an id. Loading that cookie asks the store nothing: the session is new
/// ([`LoadOutcome::CookieOnly`]), empty, and has that token, which
/// [`Session::check_csrf_token`] compares in constant time to the form's. A session that
/// holds nothing at all gets neither a record nor a cookie.
///
/// When the session first holds something else (a cart line, a flash message, a user),
/// its save draws a new random id and writes the record with the token under
/// [`CSRF_KEY`](crate::CSRF_KEY), as Pyramid keeps it: forms rendered before keep
/// working, and a Pyramid app sharing the session reads the token where it looks.
///
/// Why this is safe:
///
/// - *Forgery.* The token is as random as a stored one, and the cookie carrying it is
///   signed like an id cookie (the same codec, secret and constant-time check): a client
///   can present only a token this app gave it. A form's token is checked against the
///   cookie of the request, so one client's token fails in another's session.
/// - *Fixation.* A token cookie never names a record: the first save with data draws a
///   new id, so planting a token cookie in a victim's browser gives the attacker no
///   session to share; sign-in still calls [`Session::regenerate_id`] (and, in the demo
///   shop, makes a new token) as for any session.
/// - *A record that vanished* (expired, revoked, signed out elsewhere) is an id cookie
///   whose id the store does not know: as before it gives a fresh session that writes,
///   if ever, under a new id. The two cases cannot be confused, because a store id never
///   starts with `csrf-only:` (`:` is in no store's id alphabet).
/// - The token cookie carries no time, and needs none: it grants nothing but the right
///   to post forms from the same browser, as long as the browser keeps it.
///
/// One limit: two concurrent requests that each give such a session its first data
/// write two records under two ids, and the browser keeps the cookie of the last
/// response, so the other request's data is not seen again (before, the same happened to
/// two concurrent requests of a client without a cookie).
///
/// Stores whose records a Pyramid app reads (`PyramidRedisStore`, `BeakerStore`) keep
/// every token in a record, as before (see [`SessionStore::csrf_token_in_record`]);
/// [`Builder::recordless_csrf`] chooses either way for any store.
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
    /// Whether a session without a record keeps its CSRF token in the cookie (see the
    /// type's docs): the builder's choice, else the store's.
    token_in_cookie: bool,
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
    /// [`Builder::recordless_csrf`]; `None`: as the store says.
    pub recordless_csrf: Option<bool>,
}

/// What a correctly signed cookie value names.
enum Opened {
    /// The id of a record; whether signed with a fallback secret.
    Id(String, bool),
    /// No record: only the CSRF token of a session that held nothing else.
    Token(String, bool),
}

/// How a cookie that carries only a CSRF token starts its signed payload. No store's id does
/// (`:` is in no id alphabet: hex, URL-safe base64), so it cannot name a record.
const TOKEN_MARK: &[u8] = b"csrf-only:";

/// Whether `token` has the shape of a token from [`Session::new_csrf_token`].
fn is_csrf_token(token: &[u8]) -> bool {
    token.len() == 40 && token.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            vary_cookie: false,
            delete_emptied: false,
            rotation_grace: DEFAULT_ROTATION_GRACE,
            recordless_csrf: None,
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

/// What a save must do, computed from the session before any `.await`, so that the save's
/// future holds no borrow of the session (which is not `Sync`).
#[expect(
    clippy::large_enum_variant,
    reason = "one plan lives on the stack for the length of one save; boxing the commit \
              would add an allocation to every save"
)]
pub(crate) enum Plan {
    Nothing,
    /// Delete `retire` (if any) and, if the client had a cookie, expire it: the session was
    /// invalidated and nothing was put in it since.
    Retire {
        retire: Option<String>,
        /// The cookie value carrying only the session's new CSRF token: sent instead of
        /// expiring the cookie (see the type's docs on sessions without a record).
        token_cookie: Option<String>,
        /// Whose index holds `retire`.
        user: Option<String>,
    },
    Commit {
        commit: Commit,
        /// The id's cookie value, when the client needs a (new) cookie.
        cookie: Option<String>,
        /// How to resolve each key of `commit.expect`, in its order, and the flash queue
        /// cap a merged queue keeps.
        policies: Policies,
    },
}

/// The conflict policies of a commit's checked keys (see [`crate::conflict`]).
pub(crate) struct Policies {
    resolve: Vec<Resolve>,
    queue_cap: Option<usize>,
}

/// The checked keys of a partial save: each watched key this request changed, with what it
/// loaded. A watched key whose text is back to what was loaded leaves the commit, since
/// writing it would undo another request's change for nothing.
fn checked_keys(
    watched: &[Watched],
    set: &mut Vec<(String, String)>,
    remove: &mut Vec<String>,
) -> (Vec<Expected>, Vec<Resolve>) {
    let mut expect = Vec::new();
    let mut resolve = Vec::new();
    for watch in watched {
        let ours = match set.iter().position(|(key, _)| *key == *watch.key) {
            Some(i) => Some(i),
            None if remove.iter().any(|key| *key == *watch.key) => None,
            None => continue, // not changed after all
        };
        let unchanged = match ours {
            Some(i) => watch.base.as_deref() == Some(set[i].1.as_str()),
            None => watch.base.is_none(),
        };
        if unchanged {
            set.retain(|(key, _)| *key != *watch.key);
            remove.retain(|key| *key != *watch.key);
            continue;
        }
        expect.push(Expected::new(&*watch.key, watch.base.clone()));
        resolve.push(watch.resolve);
    }
    (expect, resolve)
}

/// Resolves a store's [`StoreError::Conflict`] into the next attempt: each conflicting key
/// by its policy, against what the store holds now, which the next attempt expects. The
/// base of a retry's merge is what the previous attempt expected, and "ours" what it
/// wrote: this request's change carried onto the store's latest.
fn resolve_conflicts(
    commit: &mut Commit,
    policies: &Policies,
    keys: Vec<ConcurrentWrite>,
) -> Result<(), StoreError> {
    let mut rejected = Vec::new();
    for changed in keys {
        let Some(i) = commit.expect.iter().position(|e| e.key == changed.key) else {
            // A store answered a key it was not asked about: nothing to resolve it by.
            rejected.push(changed);
            continue;
        };
        let ours = commit
            .set
            .iter()
            .find(|(key, _)| *key == changed.key)
            .map(|(_, text)| text.as_str());
        let resolved = policies.resolve[i].resolve(
            &changed.key,
            commit.expect[i].loaded.as_deref(),
            ours,
            changed.current.as_deref(),
            policies.queue_cap,
        )?;
        match resolved {
            Resolved::Reject => rejected.push(changed),
            Resolved::Write(text) => {
                commit.set.retain(|(key, _)| *key != changed.key);
                commit.remove.retain(|key| *key != changed.key);
                match text {
                    Some(text) => commit.set.push((changed.key.clone(), text)),
                    None => commit.remove.push(changed.key.clone()),
                }
                tracing::debug!(key = %changed.key, "merged a session key another request changed");
                commit.expect[i].loaded = changed.current;
            }
        }
    }
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Conflict { keys: rejected })
    }
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
        let token_in_cookie = options
            .recordless_csrf
            .unwrap_or_else(|| !store.csrf_token_in_record());
        Self {
            store,
            token_in_cookie,
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

    /// The `Set-Cookie` header that expires the id cookie.
    pub(crate) fn removal(&self) -> Result<HeaderValue, SessionError> {
        let mut cookie = self.settings.cookie(String::new());
        cookie.make_removal();
        header_value(&cookie)
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
        let session = self.open_session(value).await?;
        if !events::heard(self.settings.events()) {
            return Ok(session);
        }
        let ids = session.server_ids();
        let id = ids.and_then(|ids| ids.current().or(ids.retired.as_deref()));
        events::loaded(
            self.settings.events(),
            session.load_outcome(),
            id.map(id_digest),
        );
        Ok(session)
    }

    /// [`load_value`](Self::load_value), before its event.
    async fn open_session(&self, value: Option<&str>) -> Result<Session, StoreError> {
        let now = self.settings.clock.now();
        let Some(value) = value else {
            let origin = fresh(LoadOutcome::NoCookie, None, self.token_in_cookie);
            return Ok(self.settings.session(origin, now));
        };
        let (id, stale_key) = match self.open_id(value) {
            Ok(Opened::Id(id, stale_key)) => (id, stale_key),
            Ok(Opened::Token(token, stale_key)) => {
                // Nothing is stored: the store is not asked.
                let origin = Origin {
                    state: State::tracked(),
                    server: Some(ServerIds::cookie_only(token, stale_key)),
                    ..Origin::new(LoadOutcome::CookieOnly)
                };
                return Ok(self.settings.session(origin, now));
            }
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
        let state = State::from_entries(record.entries);
        if self.settings.revoked(&state) {
            return Ok(self.rejected(now, Rejection::Revoked, Some(id)));
        }
        let mut ids = ServerIds::stored(id, self.token_in_cookie);
        ids.loaded_user = loaded_user;
        ids.reissue = via_alias;
        let origin = Origin {
            server: Some(ids),
            ..Origin::loaded(state, times, stale_key)
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
            tracing::warn!(
                session = %id_digest(id),
                after_secs = now - alias.at,
                "a session id retired by a renewal rotation was used after its grace: \
                 possibly a stolen cookie; the request starts a new session"
            );
            events::emit(
                self.settings.events(),
                Event::new(EventKind::AliasReuse, Some(SessionDigest::of(id)))
                    .with_reason("used after the rotation grace"),
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
        let origin = fresh(
            LoadOutcome::Rejected(rejection),
            retire,
            self.token_in_cookie,
        );
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
        let origin = fresh(
            LoadOutcome::Rejected(Rejection::CorruptRecord),
            Some(id),
            self.token_in_cookie,
        );
        self.settings.session(origin, now)
    }

    /// The id (or the lone CSRF token) a cookie value carries, and whether it was signed
    /// with a fallback secret.
    fn open_id(&self, value: &str) -> Result<Opened, Rejection> {
        let opened = self.codec.open(value)?;
        if let Some(token) = opened.payload.strip_prefix(TOKEN_MARK) {
            // A factory that keeps every token in a record issues no such cookie.
            if !self.token_in_cookie || !is_csrf_token(token) {
                return Err(Rejection::BadSessionId);
            }
            let token = String::from_utf8(token.to_vec()).map_err(|_| Rejection::BadSessionId)?;
            return Ok(Opened::Token(token, opened.stale_key));
        }
        if !self.store.accepts_id(&opened.payload) {
            return Err(Rejection::BadSessionId);
        }
        let id = String::from_utf8(opened.payload).map_err(|_| Rejection::BadSessionId)?;
        Ok(Opened::Id(id, opened.stale_key))
    }

    /// The cookie value of a session that holds only its CSRF token, `token`.
    fn seal_token(&self, token: &str) -> Result<String, SessionError> {
        let mut payload = Vec::with_capacity(TOKEN_MARK.len() + token.len());
        payload.extend_from_slice(TOKEN_MARK);
        payload.extend_from_slice(token.as_bytes());
        self.codec.seal(&payload)
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
        let planned = self.plan_reported(session);
        async move {
            let (plan, report) = planned?;
            self.execute_reported(plan, report, response).await
        }
    }

    /// [`save`](Self::save) for the response of a failed request: skipped when the
    /// factory has `set_on_exception(false)`.
    pub fn save_after_error<'a>(
        &'a self,
        session: &Session,
        response: &'a mut HeaderMap,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send + use<'a, S> {
        let skipped = !self.settings.policy.set_on_exception;
        let planned = if skipped {
            Ok((Plan::Nothing, None))
        } else {
            self.plan_reported(session)
        };
        async move {
            if skipped {
                return Ok(Saved::SkippedOnError);
            }
            let (plan, report) = planned?;
            self.execute_reported(plan, report, response).await
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
            expect: Vec::new(),
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

    /// [`plan`](Self::plan), and the events its execution reports (`None` when the save
    /// has nothing to do).
    pub(crate) fn plan_reported(
        &self,
        session: &Session,
    ) -> Result<(Plan, Option<SaveReport>), StoreError> {
        let plan = self.plan(session)?;
        if matches!(plan, Plan::Nothing) || !events::heard(self.settings.events()) {
            return Ok((plan, None));
        }
        let old = session
            .server_ids()
            .and_then(|ids| ids.retired.as_deref())
            .map(id_digest);
        let new = match &plan {
            Plan::Commit { commit, .. } => Some(id_digest(&commit.id)),
            Plan::Nothing | Plan::Retire { .. } => None,
        };
        let writes_state = new.is_some();
        Ok((plan, Some(SaveReport::of(session, old, new, writes_state))))
    }

    /// [`execute`](Self::execute), then the events of `report`.
    pub(crate) async fn execute_reported(
        &self,
        plan: Plan,
        report: Option<SaveReport>,
        response: &mut HeaderMap,
    ) -> Result<Saved, StoreError> {
        let saved = self.execute(plan, response).await?;
        if let Some(report) = report {
            report.emit(self.settings.events(), saved);
        }
        Ok(saved)
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
                token_cookie: None,
                user: previous_user,
            });
        }
        let user = state.get_as::<String>(AUTH_USER_KEY).and_then(Result::ok);
        let mut set: Vec<(String, String)> = state
            .entries_json(!stored)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?
            .into_iter()
            .map(|(key, text)| (key.to_owned(), text.into_owned()))
            .collect();
        // A session without a record keeps its CSRF token in the cookie (see the type's
        // docs); `None` otherwise.
        let cookie_token = session
            .server_ids()
            .filter(|ids| ids.token_in_cookie && !ids.stored)
            .and_then(|ids| Some((ids.cookie_token.as_deref()?, ids.cookie_token_is_new)));
        if !stored && set.is_empty() {
            // Nothing to keep under a new id: only the old record goes, and the client gets
            // the cookie of its token if it has none yet.
            let token_cookie = match cookie_token {
                Some((token, true)) => Some(self.seal_token(token)?),
                _ => None,
            };
            if retire.is_none() && token_cookie.is_none() {
                return Ok(Plan::Nothing);
            }
            return Ok(Plan::Retire {
                retire,
                token_cookie,
                user: previous_user,
            });
        }
        if let Some((token, _)) = cookie_token
            && !set.iter().any(|(key, _)| key == CSRF_KEY)
        {
            // The session now holds something: its token joins the record, where a Pyramid
            // app sharing the session finds it too.
            let text = serde_json::to_string(token)
                .map_err(|err| SessionError::unserializable(CSRF_KEY, err))?;
            set.push((CSRF_KEY.to_owned(), text));
        }
        let mut remove = if stored {
            state.removed().into_iter().map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        let (expect, resolve) = match session.server_ids() {
            Some(ids) if stored && !ids.watched.is_empty() => {
                checked_keys(&ids.watched, &mut set, &mut remove)
            }
            _ => (Vec::new(), Vec::new()),
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
            expect,
        };
        let policies = Policies {
            resolve,
            queue_cap: session.flash_queue_cap(),
        };
        Ok(Plan::Commit {
            commit,
            cookie,
            policies,
        })
    }

    /// Carries out a [`Plan`].
    pub(crate) async fn execute(
        &self,
        plan: Plan,
        response: &mut HeaderMap,
    ) -> Result<Saved, StoreError> {
        match plan {
            Plan::Nothing => Ok(Saved::Unchanged),
            Plan::Retire {
                retire,
                token_cookie,
                user,
            } => {
                let header = match token_cookie {
                    Some(value) => Some(header_value(&self.settings.cookie(value))?),
                    None => None,
                };
                if let Some(retire) = retire {
                    self.store.delete_session(&retire, user.as_deref()).await?;
                } else if header.is_none() {
                    return Ok(Saved::Unchanged);
                }
                let header = match header {
                    Some(header) => header,
                    None => {
                        let mut cookie = self.settings.cookie(String::new());
                        cookie.make_removal();
                        header_value(&cookie)?
                    }
                };
                response.append(SET_COOKIE, header);
                if self.options.vary_cookie {
                    response.append(VARY, HeaderValue::from_static("Cookie"));
                }
                Ok(Saved::Written)
            }
            Plan::Commit {
                mut commit,
                cookie,
                policies,
            } => {
                // Formatted before the write, so a bad header cannot follow a done write.
                let header = match cookie {
                    Some(value) => Some(header_value(&self.settings.cookie(value))?),
                    None => None,
                };
                let mut rounds = 0;
                let saved = loop {
                    match self.store.save(&commit).await {
                        Err(StoreError::Conflict { keys }) if rounds < MAX_MERGE_ROUNDS => {
                            rounds += 1;
                            resolve_conflicts(&mut commit, &policies, keys)?;
                        }
                        result => break result?,
                    }
                };
                if !saved {
                    tracing::warn!(
                        cookie = %self.settings.cookie.name,
                        "session changes discarded: its record was deleted or expired since \
                         the load"
                    );
                    return Ok(Saved::Discarded);
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
            events::emit(
                self.settings.events(),
                Event::new(EventKind::Revoked, Some(SessionDigest::of(&session.id)))
                    .with_reason("revoked through the registry"),
            );
        }
        Ok(())
    }
}

/// A new, empty session under a fresh id (drawn when it is first saved); the first save
/// deletes the record of `retired`. Its CSRF token lives in the cookie when
/// `token_in_cookie`, until it holds something else.
fn fresh(outcome: LoadOutcome, retired: Option<String>, token_in_cookie: bool) -> Origin {
    Origin {
        state: State::tracked(),
        server: Some(ServerIds::fresh(retired, token_in_cookie)),
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

    /// Revocations through the registry and a renewal alias used after its grace reach the
    /// app's hook (and its counters), not only the log.
    #[tokio::test]
    async fn registry_events_reach_the_apps_hook() {
        use crate::events::EventCounters;
        use std::sync::Arc;

        let counters = Arc::new(EventCounters::default());
        let clock = crate::clock::ManualClock::new(1_000_000.0);
        let factory = ServerSessionFactory::builder(
            "a secret of at least thirty-two bytes",
            MemoryStore::new(),
        )
        .events(counters.clone())
        .clock(clock.clone())
        .reissue_time(None)
        .build()
        .unwrap();
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert(crate::AUTH_USER_KEY, "alice");
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let old_cookie = cookie_of(&response);

        // A renewal rotation, then the old cookie after the grace.
        let mut session = factory.load(&old_cookie).await.unwrap();
        session.renew_id();
        factory.save(&session, &mut HeaderMap::new()).await.unwrap();
        assert_eq!(counters.get(EventKind::Regenerated), 1);
        clock.advance(DEFAULT_ROTATION_GRACE.as_secs_f64() + 1.0);
        let replayed = factory.load(&old_cookie).await.unwrap();
        assert!(replayed.is_new());
        assert_eq!(counters.get(EventKind::AliasReuse), 1);

        assert_eq!(factory.revoke_all("alice").await.unwrap(), 1);
        assert_eq!(counters.get(EventKind::Revoked), 1);
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

    const SECRET: &str = "a secret of at least thirty-two bytes";

    fn token_cookie_value(response: &HeaderMap) -> String {
        let header = response["set-cookie"].to_str().unwrap();
        let pair = header.split(';').next().unwrap();
        pair.strip_prefix("session=").unwrap().to_owned()
    }

    /// The record's `_csrft_`, decoded.
    async fn stored_token(store: &MemoryStore, id: &str) -> Option<String> {
        let record = store.load(id).await.unwrap()?;
        let (_, text) = record.entries.iter().find(|(key, _)| key == CSRF_KEY)?;
        serde_json::from_str(text).ok()
    }

    fn loaded_id(session: &Session) -> String {
        session
            .server_ids()
            .unwrap()
            .id(|| unreachable!("a stored session has its id"))
            .unwrap()
            .to_owned()
    }

    /// An anonymous page view with a form: the token goes in the cookie, nothing in the
    /// store; the next request of that cookie asks the store nothing and has the same token.
    /// When the session gets data, its record holds the token, under a new id.
    #[tokio::test]
    async fn a_session_holding_only_its_csrf_token_has_no_record() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        let token = session.get_csrf_token().unwrap();
        assert_eq!(token.len(), 40);
        assert!(session.check_csrf_token(&token));
        let mut response = HeaderMap::new();
        assert_eq!(
            factory.save(&session, &mut response).await.unwrap(),
            Saved::Written
        );
        assert_eq!(store.len(), 0, "no record for a token");
        let value = token_cookie_value(&response);
        assert!(
            !value.contains(&token),
            "the cookie is signed, not the bare token"
        );

        let request = cookie_of(&response);
        let mut session = factory.load(&request).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::CookieOnly);
        assert!(session.is_new());
        assert!(session.is_empty());
        assert!(session.check_csrf_token(&token));
        assert!(!session.check_csrf_token(&token[..39]));
        assert!(!session.check_csrf_token(&"0".repeat(40)));
        assert!(!session.check_csrf_token(""));
        assert_eq!(session.get_csrf_token().unwrap(), token);
        let mut response = HeaderMap::new();
        assert_eq!(
            factory.save(&session, &mut response).await.unwrap(),
            Saved::Unchanged
        );
        assert!(
            response.is_empty(),
            "the client has its cookie: {response:?}"
        );
        assert_eq!(store.len(), 0);

        // Data: a record under a new id, holding the token.
        let mut session = factory.load(&request).await.unwrap();
        session.insert("cart", serde_json::json!(["tea"]));
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        assert_eq!(store.len(), 1);
        let request = cookie_of(&response);
        let session = factory.load(&request).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
        let id = loaded_id(&session);
        assert_eq!(stored_token(&store, &id).await.as_deref(), Some(&*token));
        assert!(
            session.check_csrf_token(&token),
            "forms shown before still post"
        );
        assert_eq!(
            session.get_as::<Vec<String>>("cart").unwrap(),
            Some(vec!["tea".to_owned()])
        );
        // The token cookie, replayed, still names no record.
        let replay = {
            let mut headers = HeaderMap::new();
            headers.insert("cookie", format!("session={value}").parse().unwrap());
            factory.load(&headers).await.unwrap()
        };
        assert_eq!(replay.load_outcome(), LoadOutcome::CookieOnly);
        assert!(replay.is_empty());
    }

    /// A session that holds nothing, even after writing and removing a key, gets neither a
    /// record nor a cookie.
    #[tokio::test]
    async fn a_session_holding_nothing_gets_no_record_and_no_cookie() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        for touch in [false, true] {
            let mut session = factory.load(&HeaderMap::new()).await.unwrap();
            let _ = session.get("cart");
            if touch {
                session.insert("x", 1);
                session.remove("x");
                assert!(session.is_dirty());
            }
            let mut response = HeaderMap::new();
            assert_eq!(
                factory.save(&session, &mut response).await.unwrap(),
                Saved::Unchanged
            );
            assert!(response.is_empty(), "{response:?}");
        }
        assert_eq!(store.len(), 0);
    }

    /// A token cookie signed with another secret, one whose token is malformed, and one
    /// given to a factory that keeps tokens in records are all refused.
    #[tokio::test]
    async fn token_cookies_are_checked() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let other =
            ServerSessionFactory::builder("another secret of thirty-two bytes!!", store.clone())
                .build()
                .unwrap();
        let mut session = other.load(&HeaderMap::new()).await.unwrap();
        session.get_csrf_token().unwrap();
        let mut response = HeaderMap::new();
        other.save(&session, &mut response).await.unwrap();
        let forged = factory.load(&cookie_of(&response)).await.unwrap();
        assert_eq!(
            forged.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature)
        );

        let malformed = factory.seal_token("not forty hex digits").unwrap();
        let session = factory.load_value(Some(&malformed)).await.unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSessionId)
        );

        let in_records = ServerSessionFactory::builder(SECRET, store.clone())
            .recordless_csrf(false)
            .build()
            .unwrap();
        let sealed = factory.seal_token(&"a".repeat(40)).unwrap();
        let session = in_records.load_value(Some(&sealed)).await.unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSessionId)
        );
        assert_eq!(store.len(), 0);
    }

    /// With `recordless_csrf(false)` a token is kept in a record, as in Pyramid.
    #[tokio::test]
    async fn recordless_csrf_false_keeps_tokens_in_records() {
        let store = MemoryStore::new();
        let factory = ServerSessionFactory::builder(SECRET, store.clone())
            .recordless_csrf(false)
            .build()
            .unwrap();
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        let token = session.get_csrf_token().unwrap();
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        assert_eq!(store.len(), 1);
        let session = factory.load(&cookie_of(&response)).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
        assert_eq!(
            stored_token(&store, &loaded_id(&session)).await.as_deref(),
            Some(&*token)
        );
    }

    /// A record that vanished is not a token cookie: the id cookie gives a fresh session,
    /// and when it writes again it does so under a new id.
    #[tokio::test]
    async fn a_vanished_record_starts_a_session_under_a_new_id() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("user", 7);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let request = cookie_of(&response);
        let old_id = loaded_id(&factory.load(&request).await.unwrap());
        store.delete(&old_id).await.unwrap();

        let mut session = factory.load(&request).await.unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::UnknownSessionId)
        );
        let token = session.get_csrf_token().unwrap();
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        assert_eq!(store.len(), 0);
        let request = cookie_of(&response);
        let mut session = factory.load(&request).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::CookieOnly);
        session.insert("user", 8);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let session = factory.load(&cookie_of(&response)).await.unwrap();
        let new_id = loaded_id(&session);
        assert_ne!(new_id, old_id);
        assert!(session.check_csrf_token(&token));
        assert_eq!(store.len(), 1);
    }

    /// Signing out (`invalidate`) of a stored session deletes its record; a page shown
    /// after it needs a new token and no record.
    #[tokio::test]
    async fn invalidate_then_a_token_deletes_the_record_and_keeps_none() {
        let store = MemoryStore::new();
        let factory = factory(store.clone());
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        let old_token = session.get_csrf_token().unwrap();
        session.insert("user", 7);
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let request = cookie_of(&response);
        assert_eq!(store.len(), 1);

        let mut session = factory.load(&request).await.unwrap();
        session.invalidate();
        let token = session.get_csrf_token().unwrap();
        assert_ne!(token, old_token);
        let mut response = HeaderMap::new();
        assert_eq!(
            factory.save(&session, &mut response).await.unwrap(),
            Saved::Written
        );
        assert_eq!(store.len(), 0, "the record is deleted, none written");
        let session = factory.load(&cookie_of(&response)).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::CookieOnly);
        assert!(session.check_csrf_token(&token));
        assert!(!session.check_csrf_token(&old_token));
    }

    /// A token cookie signed with a fallback secret loads, and its save signs it again.
    #[tokio::test]
    async fn a_token_cookie_under_an_old_secret_is_signed_again() {
        let store = MemoryStore::new();
        let old = factory(store.clone());
        let mut session = old.load(&HeaderMap::new()).await.unwrap();
        let token = session.get_csrf_token().unwrap();
        let mut response = HeaderMap::new();
        old.save(&session, &mut response).await.unwrap();
        let new =
            ServerSessionFactory::builder("the next secret, thirty-two bytes long", store.clone())
                .fallback_secret(SECRET)
                .build()
                .unwrap();
        let session = new.load(&cookie_of(&response)).await.unwrap();
        assert_eq!(session.load_outcome(), LoadOutcome::CookieOnly);
        assert!(session.check_csrf_token(&token));
        let mut response = HeaderMap::new();
        assert_eq!(
            new.save(&session, &mut response).await.unwrap(),
            Saved::Written
        );
        let session = factory(store.clone())
            .load(&cookie_of(&response))
            .await
            .unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature),
            "signed with the new secret, not the old"
        );
        assert_eq!(store.len(), 0);
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
