//! [`Session`]: the dict-like state of one client's session, with Pyramid's `ISession`
//! surface (timestamps, `changed`, `invalidate`, flash queues, CSRF token).

use std::cell::{Cell, OnceCell};
use std::convert::Infallible;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::conflict::{self, Resolve, Watched};
use crate::error::{Rejection, SessionError};
use crate::events::Happened;
use crate::payload::{self, Timestamps};
use crate::reserved::CSRF_KEY;
use crate::state::State;

/// Where a session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadOutcome {
    /// The request had no session cookie: a new session.
    NoCookie,
    /// The cookie loaded.
    Loaded,
    /// The cookie loaded, but it was signed with a fallback secret; the next save re-signs
    /// it with the current one.
    LoadedWithOldSecret,
    /// The cookie was unusable; the request got a new, empty session. For
    /// [`Rejection::TimedOut`], as in Pyramid, the session keeps the cookie's timestamps and
    /// is not new: only its state is dropped.
    Rejected(Rejection),
    /// A server-side session's cookie that carries only a CSRF token: the session held
    /// nothing else, so it has no record and the store was not asked. The session is new
    /// (nothing of it is stored) and keeps the token; see
    /// [`ServerSessionFactory`](crate::ServerSessionFactory)'s "Sessions without a record".
    CookieOnly,
}

/// One client's session: a map of string keys to JSON values, plus Pyramid's session
/// metadata.
///
/// Reading marks the session *accessed* (and due for a new cookie once `reissue_time`
/// has passed since it was last renewed); writing through its methods marks it *changed*,
/// exactly as Pyramid's `manage_accessed` and `manage_changed` do. A changed session is
/// written back by the factory's save.
///
/// ```
/// use serde_json::json;
/// use typed_sessions::Session;
///
/// let mut session = Session::new();
/// session.insert("user", json!({"id": 7}));
/// session.flash("Welcome back").unwrap();
/// assert_eq!(session.get("user"), Some(&json!({"id": 7})));
/// assert_eq!(session.pop_flash("").unwrap(), vec![json!("Welcome back")]);
/// assert!(session.is_dirty());
/// ```
pub struct Session {
    state: State,
    /// As the cookie or record carried them (now, for a new session): `loaded.accessed` is
    /// [`renewed`](Self::renewed).
    loaded: Timestamps,
    accessed: Cell<f64>,
    /// The request's time, read once from the factory's clock.
    now: f64,
    reissue_time: Option<f64>,
    is_new: bool,
    dirty: Cell<bool>,
    outcome: LoadOutcome,
    /// A write that failed where it could not return an error (a guard's drop); the save
    /// reports it instead of writing a cookie.
    failed_write: Option<FailedWrite>,
    /// The ids of a server-side session; `None` for cookie sessions.
    server: Option<Box<ServerIds>>,
    /// What this request did to the session that its save reports as events.
    happened: Happened,
    /// The most messages a flash queue keeps, from the factory.
    flash_queue_cap: Option<usize>,
}

/// What a factory found for a request: everything its [`Session`] is made of except the
/// request's time.
pub(crate) struct Origin {
    pub state: State,
    pub outcome: LoadOutcome,
    /// The timestamps the cookie or record carried; `None` makes a new session, created
    /// now.
    pub kept: Option<Timestamps>,
    /// `None` for a cookie session.
    pub server: Option<ServerIds>,
}

impl Origin {
    /// A new, empty cookie session.
    pub(crate) fn new(outcome: LoadOutcome) -> Self {
        Self {
            state: State::default(),
            outcome,
            kept: None,
            server: None,
        }
    }

    /// A session loaded from a cookie or record carrying `times`; `stale_key` when it was
    /// sealed with a fallback key.
    pub(crate) fn loaded(state: State, times: Timestamps, stale_key: bool) -> Self {
        let outcome = if stale_key {
            LoadOutcome::LoadedWithOldSecret
        } else {
            LoadOutcome::Loaded
        };
        Self {
            state,
            outcome,
            kept: Some(times),
            server: None,
        }
    }
}

/// Where a server-side session lives in its store.
#[derive(Debug, Clone)]
pub(crate) struct ServerIds {
    /// The id the next save writes under: the loaded one, or a new one drawn when first
    /// needed (the save of a new or renewed session), so that loading, `invalidate` and
    /// `regenerate_id` never fail, and a session never saved draws no id.
    id: OnceCell<String>,
    /// Whether the store holds a record under `id` (loaded from it): a save then writes
    /// only what changed. Otherwise the save writes the whole state.
    pub stored: bool,
    /// A loaded id that the save deletes: after `invalidate`, `regenerate_id` or a timeout.
    pub retired: Option<String>,
    /// Whether, while the session is not stored, its CSRF token lives in the cookie rather
    /// than in the state (the factory's [`recordless_csrf`](crate::Builder::recordless_csrf)):
    /// a session holding nothing else then needs no record.
    pub token_in_cookie: bool,
    /// That token: the cookie's, or one made by this request.
    pub cookie_token: Option<String>,
    /// Whether the client needs a new cookie for `cookie_token` (made by this request, or
    /// the cookie was signed with a fallback secret).
    pub cookie_token_is_new: bool,
    /// Whether the client must get this id's cookie again: it came with an alias of it.
    pub reissue: bool,
    /// Whether the rename came from `invalidate` (for the lifecycle events).
    pub invalidated: bool,
    /// Whether `retired` may stay a short while as an alias of the new id (only
    /// [`Session::renew_id`] asks it; `invalidate` and `regenerate_id` take it back).
    pub alias: bool,
    /// The user the loaded record named (under [`AUTH_USER_KEY`](crate::AUTH_USER_KEY)):
    /// whose index holds `retired`, or the loaded id.
    pub loaded_user: Option<String>,
    /// The changed keys whose save checks for a concurrent change (see [`crate::conflict`]).
    pub watched: Vec<Watched>,
}

impl ServerIds {
    /// The ids of a session loaded from the store under `id`; `token_in_cookie` as for
    /// [`fresh`](Self::fresh), once `invalidate` or `regenerate_id` leaves no record.
    pub(crate) fn stored(id: String, token_in_cookie: bool) -> Self {
        Self {
            id: OnceCell::from(id),
            stored: true,
            retired: None,
            token_in_cookie,
            cookie_token: None,
            cookie_token_is_new: false,
            alias: false,
            loaded_user: None,
            reissue: false,
            invalidated: false,
            watched: Vec::new(),
        }
    }

    /// The ids of a new session, whose save deletes the record under `retired`; its CSRF
    /// token lives in the cookie when `token_in_cookie`.
    pub(crate) fn fresh(retired: Option<String>, token_in_cookie: bool) -> Self {
        Self {
            id: OnceCell::new(),
            stored: false,
            retired,
            token_in_cookie,
            cookie_token: None,
            cookie_token_is_new: false,
            alias: false,
            loaded_user: None,
            reissue: false,
            invalidated: false,
            watched: Vec::new(),
        }
    }

    /// The ids of a session whose cookie carries only its CSRF token, `token`; `stale` when
    /// the cookie was signed with a fallback secret (the save signs it again).
    pub(crate) fn cookie_only(token: String, stale: bool) -> Self {
        Self {
            cookie_token: Some(token),
            cookie_token_is_new: stale,
            ..Self::fresh(None, true)
        }
    }

    /// Whether the CSRF token lives in the cookie: the session has no record (yet).
    fn keeps_token_in_cookie(&self) -> bool {
        self.token_in_cookie && !self.stored
    }

    /// The id the next save writes under, drawn now with `draw` (the store's
    /// [`new_id`](crate::store::SessionStore::new_id)) if the session has none yet. An error
    /// when the operating system's random source fails.
    pub(crate) fn id(
        &self,
        draw: impl FnOnce() -> Result<String, SessionError>,
    ) -> Result<&str, SessionError> {
        if let Some(id) = self.id.get() {
            return Ok(id);
        }
        let id = draw()?;
        Ok(self.id.get_or_init(|| id))
    }

    /// The id the session has now, if it has one yet.
    pub(crate) fn current(&self) -> Option<&str> {
        self.id.get().map(String::as_str)
    }

    /// Moves the session to a new id; the old record, if any, is deleted on save, or kept
    /// a short while as an alias of the new one when `alias` (and no call asked otherwise).
    fn renew(&mut self, alias: bool) {
        let old = std::mem::take(&mut self.id).into_inner();
        if self.stored && self.retired.is_none() {
            self.retired = old;
            self.alias = alias;
        } else if !alias {
            self.alias = false;
        }
        self.stored = false;
    }
}

#[derive(Debug, Clone)]
struct FailedWrite {
    key: String,
    reason: String,
}

impl Session {
    /// A new, empty session created now, not tied to a factory. Factories create the sessions
    /// of requests; this one is for tests and examples.
    pub fn new() -> Self {
        let origin = Origin::new(LoadOutcome::NoCookie);
        Self::from_origin(origin, crate::clock::system_now(), Some(0.0))
    }

    /// The session of a request at time `now`, made from what its factory found.
    pub(crate) fn from_origin(origin: Origin, now: f64, reissue_time: Option<f64>) -> Self {
        let Origin {
            state,
            outcome,
            kept,
            server,
        } = origin;
        let times = kept.unwrap_or(Timestamps {
            accessed: now,
            created: now,
        });
        // The save re-seals such a cookie with the current key.
        let stale = outcome == LoadOutcome::LoadedWithOldSecret
            || server.as_ref().is_some_and(|ids| ids.cookie_token_is_new);
        Self {
            state,
            loaded: times,
            accessed: Cell::new(times.accessed),
            now,
            reissue_time,
            is_new: kept.is_none(),
            dirty: Cell::new(stale),
            outcome,
            failed_write: None,
            server: server.map(Box::new),
            happened: Happened::default(),
            flash_queue_cap: Some(crate::factory::DEFAULT_FLASH_QUEUE_CAP),
        }
    }

    /// This session with flash queues kept to `cap` messages each.
    pub(crate) fn with_flash_queue_cap(mut self, cap: Option<usize>) -> Self {
        self.flash_queue_cap = cap;
        self
    }

    /// The most messages a flash queue of this session keeps (the factory's
    /// [`flash_queue_cap`](crate::Builder::flash_queue_cap)); `None` for no limit.
    pub fn flash_queue_cap(&self) -> Option<usize> {
        self.flash_queue_cap
    }

    /// A session holding `state`, the text of a JSON object, with the given timestamps, as if
    /// loaded from a cookie: for tools, migrations and tests. The text is kept as it is, so
    /// values the untyped API cannot hold (integers past 64 bits) survive a save.
    ///
    /// ```
    /// use typed_sessions::Session;
    ///
    /// let session = Session::from_json(r#"{"user": 7}"#, 1_700_000_000.0, 1_699_999_000.0).unwrap();
    /// assert_eq!(session.get_as::<u64>("user").unwrap(), Some(7));
    /// assert!(Session::from_json("[1, 2]", 0.0, 0.0).is_err());
    /// ```
    pub fn from_json(state: &str, accessed: f64, created: f64) -> Result<Self, Rejection> {
        Self::from_json_at(state, accessed, created, crate::clock::system_now())
    }

    /// [`from_json`](Self::from_json) for a request at `now` on a factory's clock (the test
    /// kit's sessions, whose factory may run on a manual clock).
    pub(crate) fn from_json_at(
        state: &str,
        accessed: f64,
        created: f64,
        now: f64,
    ) -> Result<Self, Rejection> {
        let times = Timestamps { accessed, created };
        let text = payload::write(times, state.len(), |out| {
            out.extend_from_slice(state.as_bytes());
            Ok::<(), Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
        let text = String::from_utf8(text).map_err(|_| Rejection::NotUtf8)?;
        let parsed = payload::parse(&text)?;
        // Not `parsed.times`: those are read back from their printed form.
        let origin = Origin::loaded(State::from_payload(text, parsed), times, false);
        Ok(Self::from_origin(origin, now, None))
    }

    /// A session holding `state`, a pickled `dict` whose keys are all `str` (as
    /// [`pickle::loads`](crate::pickle::loads) read it), with the given timestamps, as if
    /// loaded from a cookie: for stores and tools that share sessions with a Python app that
    /// pickles them. Each key keeps its pickled value until written, so
    /// [`state_pickle`](Self::state_pickle) gives untouched keys back as they were.
    ///
    /// ```
    /// use typed_sessions::Session;
    /// use typed_sessions::pickle::{self, Value};
    ///
    /// // `pickle.dumps({"pair": (1, "a")}, 4)` in CPython.
    /// let state = pickle::loads(b"\x80\x04\x95\x13\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x04pair\x94K\x01\x8c\x01a\x94\x86\x94s.")?;
    /// let mut session = Session::from_pickle(state.clone(), 1_700_000_000.0, 1_699_999_000.0)?;
    /// assert_eq!(session.get_as::<(u8, String)>("pair")?, Some((1, "a".to_owned())));
    /// session.insert("user", 7);
    /// let Value::Dict(items) = session.state_pickle()? else { unreachable!() };
    /// assert_eq!(items[0], (Value::from("pair"), Value::Tuple(vec![Value::Int(1), Value::from("a")])));
    /// assert_eq!(items[1], (Value::from("user"), Value::Int(7)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pickle(
        state: crate::pickle::Value,
        accessed: f64,
        created: f64,
    ) -> Result<Self, Rejection> {
        let entries = payload::pickled::state_entries(state)?;
        let times = Timestamps { accessed, created };
        let origin = Origin::loaded(State::from_pickle(entries, false), times, false);
        Ok(Self::from_origin(origin, crate::clock::system_now(), None))
    }

    /// The state as a pickled `dict`, as a pickling factory saves it: keys loaded from a
    /// pickle as they were (or, changed through their JSON view, as changed when JSON holds
    /// them exactly), keys written from Rust converted from their JSON. An error names a key
    /// that cannot be saved so (a tuple changed through its JSON view, a number beyond
    /// `f64`). Does not mark the session accessed.
    pub fn state_pickle(&self) -> Result<crate::pickle::Value, SessionError> {
        let entries = self
            .state
            .entries_pickle(true)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?;
        Ok(crate::pickle::Value::Dict(
            entries
                .into_iter()
                .map(|(key, value)| (crate::pickle::Value::from(key), value))
                .collect(),
        ))
    }

    /// The state as the text of a JSON object, for inspection: untouched values appear byte
    /// for byte as they arrived. Unlike the dict API, this does not mark the session
    /// accessed.
    pub fn state_json(&self) -> Result<String, SessionError> {
        let mut out = Vec::with_capacity(self.state.json_len_hint());
        self.state
            .write_json(&mut out)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?;
        Ok(String::from_utf8(out).expect("serde_json and the payload parser only produce UTF-8"))
    }

    /// When the session was created, in Unix seconds.
    pub fn created(&self) -> f64 {
        self.loaded.created
    }

    /// When the session was last accessed, in Unix seconds (whole seconds once this request
    /// has read or written it, as in Pyramid).
    pub fn accessed(&self) -> f64 {
        self.accessed.get()
    }

    /// When the client's cookie was last issued, in Unix seconds: the `accessed` time it
    /// carried. Timeout and reissue count from here.
    pub fn renewed(&self) -> f64 {
        self.loaded.accessed
    }

    /// Whether this session is new (not loaded from a cookie). Pyramid's `new`.
    pub fn is_new(&self) -> bool {
        self.is_new
    }

    /// Where the session came from, and why a cookie was rejected if one was.
    pub fn load_outcome(&self) -> LoadOutcome {
        self.outcome
    }

    /// Whether the next save writes a cookie: the session changed, or it was read after its
    /// reissue time, or its cookie was signed with a fallback secret.
    pub fn is_dirty(&self) -> bool {
        self.dirty.get()
    }

    /// Marks the session changed, so the next save writes it. Only needed after changing a
    /// value in a way the session cannot see; its own methods and the typed guards mark it.
    ///
    /// A server-side session does not know which key changed, so its next save writes every
    /// key (instead of only those written through the session's methods).
    pub fn changed(&mut self) {
        self.dirty.set(true);
        if self.server.is_some() {
            self.state.mark_all_written();
        }
    }

    /// Empties the session and marks it changed, so the next save replaces the client's
    /// cookie with an empty session. As in Pyramid, `created` is kept.
    ///
    /// On a server-side session ([`ServerSessionFactory`](crate::ServerSessionFactory))
    /// the save also deletes the stored state and moves the session to a new id: the old
    /// id is dead even if a copy of the cookie is replayed. Keys inserted after
    /// `invalidate` (a "signed out" flash message) are saved under the new id.
    pub fn invalidate(&mut self) {
        self.happened.invalidated = true;
        self.clear();
        if let Some(server) = &mut self.server {
            server.renew(false);
            server.invalidated = true;
            // The CSRF token goes with the rest: the next one is new.
            server.cookie_token = None;
            server.cookie_token_is_new = false;
        }
    }

    /// Keeps the state but moves the session to a new id: call it when a user signs in (or
    /// gains privileges), against session fixation, where an attacker plants a known
    /// session id in the victim's browser before the victim signs in.
    ///
    /// On a server-side session the next save writes the whole state under a fresh random
    /// id, deletes the old record in the same atomic step and sends the new id's cookie.
    /// A cookie session has no id to fixate (the cookie is the state), so there it only
    /// marks the session changed: the next save issues a new cookie.
    ///
    /// ```
    /// use typed_sessions::Session;
    ///
    /// let mut session = Session::new();
    /// session.insert("user_id", 7);
    /// session.regenerate_id();
    /// assert!(session.is_dirty());
    /// assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(7));
    /// ```
    pub fn regenerate_id(&mut self) {
        self.happened.regenerated = true;
        self.mark_changed();
        if let Some(server) = &mut self.server {
            server.renew(false);
        }
    }

    /// A *renewal* rotation: moves the session to a new id, as
    /// [`regenerate_id`](Self::regenerate_id) does, but lets the old id stay valid for the
    /// factory's rotation grace ([`Builder::rotation_grace`](crate::Builder::rotation_grace),
    /// 30 s by default) as an alias of the new one. Requests already in flight with the old
    /// cookie (a page's parallel fetches, a slow upload) then keep the session and get the new
    /// cookie, instead of being signed out. For periodic rotation (OWASP's "renewal
    /// timeout"); at sign-in and any change of privilege use `regenerate_id`, which retires
    /// the old id at once.
    ///
    /// The alias never reaches a changed sign-in: when the request also changes the session's
    /// user ([`AUTH_USER_KEY`](crate::AUTH_USER_KEY)), or calls `regenerate_id` or
    /// `invalidate` too, the old id is retired at once. An alias used after its grace is
    /// logged as a possible theft (a warning and the `alias_reuse` event) and gives a new,
    /// empty session. A store without aliases (a custom one) retires the old id at once.
    /// A cookie session has no id: there it only marks the session changed.
    pub fn renew_id(&mut self) {
        self.happened.regenerated = true;
        self.mark_changed();
        if let Some(server) = &mut self.server {
            server.renew(true);
        }
    }

    /// Checks `key` for a concurrent change at the save, resolved by `resolve` (see
    /// [`crate::conflict`]); called before the key is first written or removed, while the
    /// state still has its loaded text. Only a server-side session loaded from its store
    /// has anything to check; a key written before it was watched (through the untyped API)
    /// has lost its loaded text and stays last-writer-wins.
    pub(crate) fn watch(&mut self, key: &str, resolve: Resolve) {
        let Some(server) = self.server.as_deref_mut().filter(|server| server.stored) else {
            return;
        };
        if let Some(watched) = server.watched.iter_mut().find(|w| &*w.key == key) {
            watched.resolve = resolve;
            return;
        }
        match self.state.loaded_text(key) {
            Some(base) => server.watched.push(Watched {
                key: key.into(),
                resolve,
                base,
            }),
            None => tracing::debug!(
                key,
                "session key written before its conflict policy applied; the last save wins"
            ),
        }
    }

    /// [`watch`](Self::watch) for the keys the crate writes itself (flash queues, the CSRF
    /// token).
    pub(crate) fn watch_builtin(&mut self, key: &str) {
        if self.server.is_some()
            && let Some(resolve) = conflict::builtin(key)
        {
            self.watch(key, resolve);
        }
    }

    /// Pyramid's `manage_accessed`: records the access, and asks for a new cookie when the
    /// client's one is older than the reissue time.
    pub(crate) fn mark_accessed(&self) {
        let now = self.now.floor();
        self.accessed.set(now);
        if let Some(reissue) = self.reissue_time
            && now - self.renewed() > reissue
        {
            self.dirty.set(true);
        }
    }

    /// Pyramid's `manage_changed`.
    /// Marks the session to be saved (for a session loaded through an alias: its save
    /// sends the new id's cookie).
    pub(crate) fn mark_to_save(&mut self) {
        self.dirty.set(true);
    }

    pub(crate) fn mark_changed(&mut self) {
        self.accessed.set(self.now.floor());
        self.dirty.set(true);
    }

    /// The value of `key`, decoded once on first use.
    ///
    /// A value that is valid JSON but cannot be held as a [`Value`] (a number beyond the
    /// range of `f64`) reads as `None` here and is logged; it is still saved unchanged and
    /// [`get_as`](Self::get_as) reports it as an error.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.mark_accessed();
        self.state.get(key)
    }

    /// The value of `key` deserialized straight from its JSON as `T`.
    ///
    /// `Ok(None)` when the key is missing; an error naming the key and `T` when the stored
    /// value is not a `T` (the value stays as it was).
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.mark_accessed();
        match self.state.get_as::<T>(key) {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(value)),
            Some(Err(err)) => Err(SessionError::wrong_type::<T>(key, err)),
        }
    }

    /// A mutable reference to the value of `key`; marks the session changed.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.watch_builtin(key);
        self.mark_changed();
        self.state.get_mut(key)
    }

    /// Whether the session has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.mark_accessed();
        self.state.contains_key(key)
    }

    /// Sets `key` to `value`, returning the previous value. Marks the session changed.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl Into<Value>) -> Option<Value> {
        self.watch_builtin(key.as_ref());
        self.mark_changed();
        self.state.insert(key.as_ref(), value.into())
    }

    /// Serializes `value` and sets `key` to it. Marks the session changed.
    ///
    /// An error names the key when `value` cannot be JSON; the session is then unchanged.
    pub fn insert_as<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        self.watch_builtin(key);
        self.state
            .insert_as(key, value)
            .map_err(|err| SessionError::unserializable(key, err))?;
        self.mark_changed();
        Ok(())
    }

    /// Removes `key`, returning its value. Marks the session changed when the key was there;
    /// a missing key changes nothing (where Pyramid's `del` raises `KeyError`).
    ///
    /// A present value that cannot be held as a [`Value`] (a number beyond `f64`) is removed
    /// and reads as `None`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.mark_accessed();
        self.watch_builtin(key);
        let removed = self.state.remove(key)?;
        self.mark_changed();
        removed
    }

    /// Removes `key` and returns its value as `T`. A value that is not a `T` is an error and
    /// stays in the session. Marks the session changed when it removes something.
    pub fn remove_as<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, SessionError> {
        self.mark_accessed();
        self.watch_builtin(key);
        match self.state.remove_as::<T>(key) {
            None => Ok(None),
            Some(Ok(value)) => {
                self.mark_changed();
                Ok(Some(value))
            }
            Some(Err(err)) => Err(SessionError::wrong_type::<T>(key, err)),
        }
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.mark_accessed();
        self.state.keys()
    }

    /// The values, in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.iter().map(|(_, value)| value)
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.mark_accessed();
        self.state.iter()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.mark_accessed();
        self.state.len()
    }

    /// Whether the session has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key. Marks the session changed.
    pub fn clear(&mut self) {
        self.mark_changed();
        self.state.clear();
    }

    /// The entry for `key`, for in-place insert-or-update. Marks the session changed, as
    /// Pyramid's `setdefault` does.
    pub fn entry(&mut self, key: impl Into<String>) -> Entry<'_> {
        let key = key.into();
        self.watch_builtin(&key);
        self.mark_changed();
        Entry { session: self, key }
    }

    /// Makes, stores and returns a new CSRF token: 40 hex characters from 20 random bytes.
    ///
    /// The token is stored under [`CSRF_KEY`], as in Pyramid, except in a server-side
    /// session that has no record yet: there it lives in the cookie until the session holds
    /// something else (see [`ServerSessionFactory`](crate::ServerSessionFactory)'s
    /// "Sessions without a record").
    ///
    /// An error ([`SessionError::RandomSource`]) only when the operating system's random
    /// source fails; the session is then unchanged.
    ///
    /// ```
    /// let mut session = typed_sessions::Session::new();
    /// let token = session.new_csrf_token()?;
    /// assert_eq!(token.len(), 40);
    /// assert!(session.check_csrf_token(&token));
    /// # Ok::<(), typed_sessions::SessionError>(())
    /// ```
    pub fn new_csrf_token(&mut self) -> Result<String, SessionError> {
        let token = crate::random::hex_token::<20>()?;
        if let Some(server) = self.cookie_token_holder() {
            server.cookie_token = Some(token.clone());
            server.cookie_token_is_new = true;
            self.mark_changed();
        } else {
            self.insert(CSRF_KEY, token.clone());
        }
        Ok(token)
    }

    /// Where a new CSRF token goes when not in the state: a server-side session with no
    /// record, whose state holds no token of its own (one put there by the app stays
    /// authoritative).
    fn cookie_token_holder(&mut self) -> Option<&mut ServerIds> {
        if self.state.contains_key(CSRF_KEY) {
            return None;
        }
        self.server
            .as_deref_mut()
            .filter(|server| server.keeps_token_in_cookie())
    }

    /// The CSRF token a server-side session without a record keeps in its cookie.
    fn cookie_token(&self) -> Option<&str> {
        let server = self.server.as_deref()?;
        if !server.keeps_token_in_cookie() {
            return None;
        }
        server.cookie_token.as_deref()
    }

    /// The session's CSRF token, made and stored first if it has none.
    ///
    /// An error ([`SessionError::RandomSource`]) only when a token must be made and the
    /// operating system's random source fails: a handler returning `Result<_, SessionError>`
    /// writes `session.get_csrf_token()?`.
    pub fn get_csrf_token(&mut self) -> Result<String, SessionError> {
        match self.get_as::<String>(CSRF_KEY) {
            Ok(Some(token)) => Ok(token),
            Ok(None) => match self.cookie_token() {
                Some(token) => Ok(token.to_owned()),
                None => self.new_csrf_token(),
            },
            Err(err) => {
                tracing::debug!(error = %err, "replacing a CSRF token that is not a string");
                self.new_csrf_token()
            }
        }
    }

    /// Whether `candidate` equals the session's CSRF token, compared in constant time.
    /// `false` when the session has no token.
    pub fn check_csrf_token(&self, candidate: &str) -> bool {
        let matches = |token: &str| bool::from(token.as_bytes().ct_eq(candidate.as_bytes()));
        match self.get_as::<String>(CSRF_KEY) {
            Ok(Some(token)) => matches(&token),
            Ok(None) => self.cookie_token().is_some_and(matches),
            Err(_) => false,
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    pub(crate) fn record_failed_write(&mut self, key: &str, reason: String) {
        if self.failed_write.is_none() {
            self.failed_write = Some(FailedWrite {
                key: key.to_owned(),
                reason,
            });
        }
    }

    /// The error a save returns instead of writing, when a guard failed to write its value
    /// back.
    pub(crate) fn failed_write(&self) -> Option<SessionError> {
        self.failed_write
            .as_ref()
            .map(|failed| SessionError::Unserializable {
                key: failed.key.clone(),
                source: serde::ser::Error::custom(&failed.reason),
            })
    }

    /// The ids of a server-side session; `None` for a cookie session.
    pub(crate) fn server_ids(&self) -> Option<&ServerIds> {
        self.server.as_deref()
    }

    /// What this request did that its save reports as events.
    pub(crate) fn happened(&self) -> Happened {
        self.happened
    }

    /// Invalidates the session because its sign-in no longer holds (`reason`): its save
    /// reports `revoked` before `invalidated`.
    pub(crate) fn revoke(&mut self, reason: &'static str) {
        self.happened.revoked = Some(reason);
        self.invalidate();
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Session {
    /// Shows metadata and key names, not values: values are user data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("created", &self.created())
            .field("accessed", &self.accessed())
            .field("renewed", &self.renewed())
            .field("is_new", &self.is_new)
            .field("dirty", &self.dirty.get())
            .field("outcome", &self.outcome)
            .field("keys", &self.state.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A key's place in the session, from [`Session::entry`].
pub struct Entry<'a> {
    session: &'a mut Session,
    key: String,
}

impl<'a> Entry<'a> {
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, after inserting `default` if the key was missing.
    pub fn or_insert(self, default: impl Into<Value>) -> &'a mut Value {
        self.or_insert_with(|| default.into())
    }

    /// The value, after inserting `default()` if the key was missing.
    ///
    /// A present value that cannot be held as a [`Value`] (a number beyond `f64`) is
    /// replaced, with a warning logged.
    pub fn or_insert_with(self, default: impl FnOnce() -> Value) -> &'a mut Value {
        let state = &mut self.session.state;
        if state.get_mut(&self.key).is_none() {
            if state.contains_key(&self.key) {
                tracing::warn!(key = %self.key, "replacing a session value that cannot be decoded");
            }
            state.insert(&self.key, default());
        }
        state.get_mut(&self.key).expect("inserted above")
    }

    /// Applies `f` to the value if the key is present.
    pub fn and_modify(self, f: impl FnOnce(&mut Value)) -> Self {
        if let Some(value) = self.session.state.get_mut(&self.key) {
            f(value);
        }
        self
    }
}

impl<K: AsRef<str>, V: Into<Value>> Extend<(K, V)> for Session {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.mark_changed();
        for (key, value) in iter {
            self.state.insert(key.as_ref(), value.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn removing_a_missing_key_changes_nothing() {
        let mut session = Session::from_json(r#"{"a": 1}"#, 1.0, 1.0).unwrap();
        assert_eq!(session.remove("missing"), None);
        assert!(!session.is_dirty());
        assert_eq!(session.remove("a"), Some(json!(1)));
        assert!(session.is_dirty());
        assert!(session.is_empty());
    }

    #[test]
    fn removing_a_value_beyond_f64_changes_the_session() {
        let mut session = Session::from_json(r#"{"n": 1e400}"#, 1.0, 1.0).unwrap();
        assert_eq!(session.remove("n"), None);
        assert!(session.is_dirty());
        assert!(!session.contains_key("n"));
    }

    #[test]
    fn a_failing_random_source_makes_csrf_tokens_errors_not_panics() {
        let mut session = Session::from_json(r#"{"a": 1}"#, 1.0, 1.0).unwrap();
        {
            let _failing = crate::random::failing::start();
            let err = session.new_csrf_token().unwrap_err();
            assert!(matches!(err, SessionError::RandomSource { .. }), "{err}");
            assert!(err.to_string().contains("random source"), "{err}");
            assert!(session.get_csrf_token().is_err());
            assert!(!session.contains_key(CSRF_KEY), "no token stored");
            assert!(!session.is_dirty(), "nothing changed");
        }
        let token = session.get_csrf_token().unwrap();
        let _failing = crate::random::failing::start();
        assert_eq!(
            session.get_csrf_token().unwrap(),
            token,
            "a stored token needs no randomness"
        );
    }

    #[test]
    fn from_json_keeps_the_exact_timestamps() {
        let session = Session::from_json("{}", 1_700_000_000.123_456_7, 1.5).unwrap();
        assert_eq!(session.accessed(), 1_700_000_000.123_456_7);
        assert_eq!(session.renewed(), 1_700_000_000.123_456_7);
        assert_eq!(session.created(), 1.5);
        assert!(!session.is_new());
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    }
}
