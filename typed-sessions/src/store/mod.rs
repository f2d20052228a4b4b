//! Server-side sessions: the cookie carries only a signed random id, the state lives in a
//! [`SessionStore`] (the in-memory [`MemoryStore`], Redis or Redis Cluster with the `redis`
//! feature, SQLite with `sqlite`, PostgreSQL with `postgres`, or your own; Redis and
//! PostgreSQL over TLS with `tls`, see [TLS](#tls)). With `redis`, `PyramidRedisStore`
//! shares the sessions of a Pyramid app on `pyramid_session_redis`; with `beaker`,
//! `BeakerStore` those of an app on Beaker (`file`, `ext:redis`, `ext:database`).
//!
//! A [`ServerSessionFactory`](crate::ServerSessionFactory) loads a request's session from its store and saves only what
//! the request changed: the keys it wrote and the keys it removed, in one atomic step. Two
//! concurrent requests of one session that change *different* keys therefore both survive;
//! when both change the *same* key, the last save wins, unless the key is checked (a flash
//! queue, the CSRF token, a field with a conflict policy): then the save also expects that
//! key to hold what the request loaded ([`Commit::expect`]), the store compares in the same
//! atomic step, and the factory merges or rejects what another request wrote meanwhile
//! (see [`StoreError::Conflict`]).
//!
//! What each built-in store makes atomic, the check included:
//!
//! | store | a partial save | with [`Commit::expect`] |
//! |---|---|---|
//! | `MemoryStore` | under the store's lock | compared under the same lock |
//! | `RedisStore` | one Lua script on the session's hash | compared in a second cached script (`EVALSHA`), before its first write |
//! | `RedisStore`, Cluster | the same script, in the session's slot (the registry's index, in another slot, follows) | the same, within the session's slot |
//! | `SqliteStore` | one statement (a trigger) | one `BEGIN IMMEDIATE` transaction: read, compare, the same statement |
//! | `PostgresStore` | one statement, on the session row's lock | one transaction: `SELECT ... FOR UPDATE` of the session row, then one statement that compares and writes |
//! | `PyramidRedisStore`, `BeakerStore` | read, apply, compare-and-set the whole value, retried | compared with the value read, inside the compare-and-set |
//!
//! A save without checked keys runs exactly as it did before checks existed: same script,
//! statement and round trips.
//!
//! ```
//! use http::HeaderMap;
//! use typed_sessions::ServerSessionFactory;
//! use typed_sessions::store::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
//!     .build()?;
//!
//! let mut session = factory.load(&HeaderMap::new()).await?; // no cookie: a new session
//! session.insert("user_id", 7);
//! let mut response = HeaderMap::new();
//! factory.save(&session, &mut response).await?; // the state goes to the store,
//! let set_cookie = response["set-cookie"].to_str()?; // the cookie only carries the id
//!
//! let mut request = HeaderMap::new();
//! request.insert("cookie", set_cookie.split(';').next().unwrap().parse()?);
//! let session = factory.load(&request).await?;
//! assert_eq!(session.get_as::<u64>("user_id")?, Some(7));
//! # Ok(())
//! # }
//! ```
//!
//! # TLS
//!
//! Managed Redis and PostgreSQL services require TLS. With the `tls` feature beside `redis`
//! and/or `postgres` (rustls on ring: no OpenSSL to build or link), the URL asks for it:
//!
//! | store | URL |
//! |---|---|
//! | `RedisStore::connect` | `rediss://user:password@host:port/db` |
//! | `RedisStore::connect_cluster` | `rediss://host:port/`, one per seed node |
//! | `PostgresStore::connect` | `postgres://user:password@host/db?sslmode=verify-full` (or `verify-ca`, `require`), optionally `&sslrootcert=/path/ca.pem` |
//!
//! Certificates are verified against the system's roots, which `rustls-native-certs`
//! reads when a connection opens: the PEM file named by `SSL_CERT_FILE` (or the directory
//! named by `SSL_CERT_DIR`) when set, else the system's store. A provider's public
//! certificate therefore needs nothing more, and a private CA needs only
//! `SSL_CERT_FILE=/path/ca.pem` in the app's environment (a bundle that holds the system's
//! roots as well, if the app also talks to public services). In code, `TlsOptions` names
//! a CA of your own for `RedisStore::connect_with`, `RedisStore::connect_cluster_with`
//! and `PostgresStore::connect_with`:
//!
//! ```no_run
//! # #[cfg(all(feature = "redis", feature = "postgres", feature = "tls"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use typed_sessions::store::{PostgresStore, RedisStore, TlsOptions};
//!
//! let tls = TlsOptions::ca_file("/etc/myapp/ca.pem")?;
//! let redis = RedisStore::connect_with("rediss://default:secret@10.0.0.5:6380/", &tls).await?;
//! let postgres = PostgresStore::connect_with("postgres://app:secret@10.0.0.6/app", &tls).await?;
//! # let _ = (redis, postgres);
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "redis", feature = "postgres", feature = "tls")))]
//! # fn main() {}
//! ```
//!
//! A certificate that does not verify (an unknown CA, a host name the certificate does not
//! name) fails the request as [`StoreError::Unavailable`] (`503`), with a reason that starts
//! `TLS certificate verification failed` and says which; URLs and their passwords appear in
//! no error and no `Debug` output.
//!
//! # Signed in on several devices
//!
//! Every built-in server store but the shared ones (`PyramidRedisStore`, `BeakerStore`)
//! keeps a **registry**: an index of each user's sessions, the user being the JSON string
//! under [`AUTH_USER_KEY`](crate::AUTH_USER_KEY) that sign-in writes. The factory puts the
//! session's user on each [`Commit`] ([`Commit::user`], [`Commit::previous_user`]), so the
//! store changes the index in the same step as the record. On it the factory lists and ends
//! a user's sessions:
//!
//! | call | does |
//! |---|---|
//! | [`sessions_of(user)`](crate::ServerSessionFactory::sessions_of) | the user's live sessions: an opaque [`SessionHandle`] (a SHA-256 of the id, never the id), created, last seen, [`SessionMeta`] |
//! | [`handle_of(&session)`](crate::ServerSessionFactory::handle_of) | the current session's handle, to mark "this device" |
//! | [`revoke(user, &handle)`](crate::ServerSessionFactory::revoke) | ends one |
//! | [`revoke_others(user, &session)`](crate::ServerSessionFactory::revoke_others) | ends all but the current one ("sign out everywhere else") |
//! | [`revoke_all(user)`](crate::ServerSessionFactory::revoke_all) | ends all of them |
//!
//! A revoked session's record and its index entry go; its next request starts signed out.
//! The app records a device with [`SessionMeta`] (IP, user agent), kept under a key of its
//! own ([`SESSION_META_KEY`]) that the store lists without reading the rest of the state.
//!
//! The index never outlives its sessions, and needs no keyspace notifications:
//!
//! - **Memory**: a map from user to ids, under the records' lock.
//! - **Redis**: a sorted set per user (`{prefix}user:{user}`) of session ids scored by
//!   their expiry (Unix ms), changed in the save's Lua script or `MULTI`; listing first
//!   drops the expired scores (`ZREMRANGEBYSCORE`) and the ids whose hash is gone; the set's
//!   TTL is kept at least its longest member's.
//! - **Redis Cluster**: the user's set hashes to another slot than the session (unless the
//!   prefix has a hash tag, `{session}:`, which makes every step one script or `MULTI`
//!   again). What is atomic is each key's change: the record's save, and the index's
//!   `ZADD` (with its TTL) or `ZREM`, run one after the other. A failure between them is
//!   reconciled: an entry whose session is gone (or expired) is dropped by the next
//!   listing, which reads each member's hash; a session missing from its index shows again
//!   at its next save. A revocation deletes the record first, then the entry.
//! - **SQLite, PostgreSQL**: an indexed `user_id` column of the session row, written by
//!   each save's statement or transaction; `migrate` adds it to older tables. Listing
//!   deletes the user's expired rows.
//!
//! A custom store gets [`StoreError::Unsupported`] from the registry's calls until it
//! implements [`SessionStore::user_sessions`] and [`SessionStore::delete_session`].
//!
//! **Renewal rotation.** [`Session::renew_id`](crate::Session::renew_id) moves a session to
//! a new id but leaves the old one as an [`Alias`] for the factory's
//! [`rotation_grace`](crate::Builder::rotation_grace) (30 s): requests in flight with the
//! old cookie load the session and get the new cookie. A change of user in the same
//! request, [`regenerate_id`](crate::Session::regenerate_id) or `invalidate` retires the
//! old id at once. An alias used after its grace logs a warning (a possible theft) and
//! gives a new session.
//!
//! **Events.** Revocations, renewals and late aliases are logged at `tracing` target
//! `typed_sessions::events` with `event = "revoked" | "regenerated" | "alias_reuse"` and
//! `session` = the first 16 hex digits of the id's SHA-256.
//!
//! # Your own store
//!
//! Implement [`SessionStore`] over any database: a store keeps, per session id, the
//! session's `created` and `accessed` times and one JSON text per key. It must apply a
//! [`Commit`] atomically, and on a partial save first check [`Commit::expect`] in the same
//! atomic step: if a key no longer holds what the request loaded, write nothing and answer
//! [`StoreError::Conflict`] with what each such key holds ([`Commit::check`] does it for a
//! [`Record`]). A SQL table `(id, key, json)` plus `(id, created, accessed, expires)` works
//! (the check in the save's transaction, after locking the session's row); so does a
//! key-value store with a compare-and-set. This one keeps records in a `BTreeMap`:
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Mutex;
//!
//! use typed_sessions::store::{Commit, Record, SessionStore, StoreError};
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<BTreeMap<String, Record>>);
//!
//! impl SessionStore for MapStore {
//!     async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
//!         Ok(self.0.lock().unwrap().get(id).cloned())
//!     }
//!
//!     async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
//!         let mut records = self.0.lock().unwrap();
//!         if let Some(old) = &commit.retire {
//!             records.remove(old);
//!         }
//!         if !commit.replace {
//!             let Some(record) = records.get(&commit.id) else {
//!                 return Ok(false); // deleted or expired since the load: drop the changes
//!             };
//!             // Under the same lock as the write: a key another request changed since
//!             // this one loaded it fails the save, for the factory to merge and retry.
//!             commit.check(record)?;
//!         }
//!         let record = records.entry(commit.id.clone()).or_default();
//!         commit.apply_to(record); // on replace, clears the old entries first
//!         Ok(true)
//!     }
//!
//!     async fn delete(&self, id: &str) -> Result<(), StoreError> {
//!         self.0.lock().unwrap().remove(id);
//!         Ok(())
//!     }
//! }
//! # let _ = typed_sessions::ServerSessionFactory::builder(
//! #     "a secret of at least thirty-two bytes", MapStore::default()).build().unwrap();
//! ```
//!
//! (This one never expires records: a real store keeps [`Commit::ttl`].)
//!
//! # Choosing the store at run time
//!
//! [`SessionStore`] is not object safe (its methods are `async fn`), so an app that reads
//! its store from configuration uses [`AnyStore`]: one type for every back end, opened
//! from a URL by [`AnyStore::connect`] (`memory:`, `redis://…`, `redis+cluster://…`,
//! `sqlite://…`, `postgres://…`) or wrapping a store you built, your own included
//! ([`AnyStore::custom`]). One `ServerSessionFactory<AnyStore>`, one router.
//!
//! ```
//! use typed_sessions::ServerSessionFactory;
//! use typed_sessions::store::AnyStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = std::env::var("SESSION_STORE").unwrap_or_else(|_| "memory:".into());
//! let store = AnyStore::connect(&url).await?;
//! let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
//!     .build()?;
//! # let _ = factory;
//! # Ok(())
//! # }
//! ```

mod any;
#[cfg(feature = "beaker")]
mod beaker;
mod conflict;
#[cfg(feature = "live")]
mod live;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod pyramid_redis;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod registry;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(all(feature = "tls", any(feature = "redis", feature = "postgres")))]
mod tls;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

pub use any::{AnyStore, BoxFuture, ConnectError, DynStore};
#[cfg(feature = "beaker")]
pub use beaker::{BeakerStore, MAX_INFLATED};
pub use conflict::{ConcurrentWrite, Expected};
#[cfg(feature = "live")]
#[cfg_attr(docsrs, doc(cfg(feature = "live")))]
pub use live::{ListenTask, Revocations};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use pyramid_redis::{PYRAMID_SESSION_REDIS_SALT, PyramidRedisOptions, PyramidRedisStore};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisConnection, RedisStore};
pub use registry::{Alias, SESSION_META_KEY, SessionHandle, SessionInfo, SessionMeta, UserSession};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::{CleanupTask, InvalidTableName};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
#[cfg(all(feature = "tls", any(feature = "redis", feature = "postgres")))]
pub use tls::TlsOptions;

use crate::error::SessionError;

/// A boxed error from a store's client library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store keeps for one session id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// When the session was created, in Unix seconds.
    pub created: f64,
    /// When the session was last saved or renewed, in Unix seconds: the factory's timeout
    /// and reissue time count from here.
    pub accessed: f64,
    /// Each session key with its value as JSON text. Order is not significant.
    pub entries: Vec<(String, String)>,
}

/// One atomic save, as a [`ServerSessionFactory`](crate::ServerSessionFactory) asks a store
/// to apply it.
///
/// - `replace == false` (the session was loaded from the store under `id`): set the keys
///   in `set`, delete the keys in `remove`, keep every other key, update `accessed` and
///   the TTL. If the store has no record under `id` any more (it expired, or a concurrent
///   request invalidated it), change nothing and return `false`: the changes are dropped
///   rather than resurrecting a partial session.
/// - `replace == true` (a new session, or a new id after `invalidate` / `regenerate_id`):
///   make `id` hold exactly `set` (and `created`, `accessed`, the TTL), and delete the
///   record under `retire` if there is one, in the same atomic step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Commit {
    /// The session id to write.
    pub id: String,
    /// Whether `set` is the whole state (see above).
    pub replace: bool,
    /// A record to delete in the same step (the session's previous id).
    pub retire: Option<String>,
    /// Keys to write, each with its JSON text.
    pub set: Vec<(String, String)>,
    /// Keys to delete.
    pub remove: Vec<String>,
    /// When the session was created, in Unix seconds.
    pub created: f64,
    /// The new `accessed` time, in Unix seconds.
    pub accessed: f64,
    /// How long the record lives after this save without another one (the factory's
    /// timeout); `None`: until deleted.
    pub ttl: Option<Duration>,
    /// The user the session belongs to after this save (the JSON string under
    /// [`AUTH_USER_KEY`](crate::AUTH_USER_KEY)): a store with a registry indexes `id`
    /// under it, in the same atomic step as the save. `None`: signed out.
    pub user: Option<String>,
    /// The user the session belonged to when it was loaded: the index entry of `retire`
    /// (or of `id`, when the user changed) to drop in the same step.
    pub previous_user: Option<String>,
    /// Instead of deleting `retire`, keep it for this long as an [`Alias`] of `id` (a
    /// renewal rotation, see [`Session::renew_id`](crate::Session::renew_id)); `None`:
    /// delete it. A store without aliases may ignore it and delete `retire`.
    pub alias: Option<Duration>,
    /// Keys that must still hold what this request loaded for the commit to apply (only on
    /// a partial save): the changed keys of fields whose schema declares a conflict policy
    /// (`#[session(merge = f)]`, `on_conflict = "reject"`), the flash queues and the CSRF
    /// token. When any holds something else, the store changes nothing and answers
    /// [`StoreError::Conflict`] with what each such key holds now, checked in the same
    /// atomic step as the write ([`Commit::conflicts`] for a store of [`Record`]s); the
    /// factory then resolves each key by its policy and saves again. Empty for every other
    /// key: the last save wins, as in Pyramid.
    pub expect: Vec<Expected>,
}

impl Commit {
    /// Applies `set`, `remove`, `created` (on replace) and `accessed` to a record held in
    /// memory: a helper for stores that keep [`Record`]s as they are (see the module
    /// docs).
    ///
    /// Linear in the sizes of the record and the commit: a session of thousands of keys
    /// saves as fast per key as a small one.
    pub fn apply_to(&self, record: &mut Record) {
        if self.replace {
            record.entries.clear();
            record.created = self.created;
        }
        if !self.remove.is_empty() {
            let remove: HashSet<&str> = self.remove.iter().map(String::as_str).collect();
            record
                .entries
                .retain(|(key, _)| !remove.contains(key.as_str()));
        }
        if !self.set.is_empty() {
            // Each key's text to write; a key set twice writes its last text.
            let mut pending: HashMap<&str, &str> = self
                .set
                .iter()
                .map(|(key, text)| (key.as_str(), text.as_str()))
                .collect();
            for (key, text) in &mut record.entries {
                if let Some(new) = pending.remove(key.as_str()) {
                    new.clone_into(text);
                }
            }
            for (key, _) in &self.set {
                if let Some(text) = pending.remove(key.as_str()) {
                    record.entries.push((key.clone(), text.to_owned()));
                }
            }
        }
        record.accessed = self.accessed;
    }
}

/// Where server-side sessions live. Implement it to keep sessions in your own database;
/// see the [module docs](self) for a worked example.
///
/// The futures must be `Send` (a web server moves requests between threads). `async fn`
/// in the impl is fine when what it holds across `.await` is `Send`.
pub trait SessionStore: Send + Sync + 'static {
    /// The record under `id`, or `None` when there is none (never created, expired or
    /// deleted).
    fn load(&self, id: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Applies a [`Commit`] atomically. Returns `false` when a partial save
    /// (`replace == false`) found no record under its id and so changed nothing: the
    /// factory then reports [`Saved::Discarded`](crate::Saved::Discarded).
    fn save(&self, commit: &Commit) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes the record under `id`, if any.
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A new random session id, for a new session or a renamed one. The default is 256
    /// random bits as 64 lowercase hex characters; a store sharing its records with another
    /// program draws that program's ids (the `pyramid_session_redis` store: 48 random bytes
    /// in URL-safe base64). An error only when the operating system's random source fails.
    fn new_id(&self) -> Result<String, SessionError> {
        crate::random::session_id()
    }

    /// Whether a session's CSRF token must always be kept in its record (under
    /// [`CSRF_KEY`](crate::CSRF_KEY)), even when the session holds nothing else. `false` by
    /// default: such a session then has no record at all, its token travels in its signed
    /// cookie (see [`ServerSessionFactory`](crate::ServerSessionFactory)'s "Sessions without
    /// a record"). `true` for a store whose records another program reads, as Pyramid's
    /// sessions (`PyramidRedisStore`, `BeakerStore`): that program looks for the token in
    /// the record, and would not understand a cookie that carries it.
    fn csrf_token_in_record(&self) -> bool {
        false
    }

    /// Whether `id`, the payload of a correctly signed cookie, has the shape of this store's
    /// ids (by default: of [`new_id`](Self::new_id)'s). A cookie whose id is refused gives a
    /// new session without the store being asked.
    fn accepts_id(&self, id: &[u8]) -> bool {
        crate::random::is_session_id(id)
    }

    /// The live sessions of `user` (see [the registry](self#signed-in-on-several-devices)),
    /// pruning the index entries of sessions that expired. The default: the store has no
    /// registry, [`StoreError::Unsupported`].
    fn user_sessions(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<UserSession>, StoreError>> + Send {
        let _ = user;
        async {
            Err(StoreError::Unsupported {
                what: "the session registry",
            })
        }
    }

    /// Deletes the record under `id` and its entry in `user`'s index, in one step. The
    /// default (a store without a registry) deletes the record.
    fn delete_session(
        &self,
        id: &str,
        user: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = user;
        self.delete(id)
    }

    /// The [`Alias`] a renewal rotation left under `id`, if any (see [`Commit::alias`]).
    /// The default: `None` (the store deletes retired ids at once).
    fn load_alias(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Alias>, StoreError>> + Send {
        let _ = id;
        async { Ok(None) }
    }

    /// Tells the other processes on this store that `handle`'s session was revoked (feature
    /// `live`; Redis `PUBLISH`, PostgreSQL `NOTIFY`). The default: nothing (one process).
    #[cfg(feature = "live")]
    fn publish_revoked(
        &self,
        handle: &SessionHandle,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = handle;
        async { Ok(()) }
    }

    /// Starts a task that hears the other processes' revocations and tells `into` (feature
    /// `live`). The default: [`StoreError::Unsupported`].
    #[cfg(feature = "live")]
    fn listen_revoked(
        &self,
        into: Revocations,
    ) -> impl Future<Output = Result<ListenTask, StoreError>> + Send {
        let _ = into;
        async {
            Err(StoreError::Unsupported {
                what: "revocations from other processes",
            })
        }
    }
}

/// A store failed, or a session could not be saved. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (connection refused or dropped, timeout). Through the
    /// axum and actix-web adapters the request gets `503 Service Unavailable`.
    #[error("the session store is unavailable: {reason}")]
    Unavailable {
        /// What the client library said.
        reason: String,
        /// The client library's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The store holds data for this session that cannot be read (a key or value that is
    /// not UTF-8, a timestamp that is not a number). The data is left as it is.
    #[error("session key `{key}` in the store cannot be read: {reason}")]
    Corrupt {
        /// The session key (or metadata field) involved.
        key: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// The store answered with an error.
    #[error("the session store failed: {reason}")]
    Backend {
        /// What the client library said.
        reason: String,
        /// The client library's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The session itself cannot be saved (a value that cannot be JSON); see
    /// [`SessionError`].
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Another request changed keys of this session since this one loaded it, and this
    /// save's policy for them is to fail (`on_conflict = "reject"`) or their merge kept
    /// failing: nothing was written. Answered with `409 Conflict` and no `Set-Cookie`; the
    /// client may retry. A store answers it with what each key holds now, for the factory
    /// to merge (see [`Commit::expect`]).
    #[error("{}", conflict::describe(keys))]
    Conflict {
        /// The keys, with what the store holds under each.
        keys: Vec<ConcurrentWrite>,
    },
    /// The store does not have this capability (a custom store without a registry, or
    /// one shared with another program such as `PyramidRedisStore` and `BeakerStore`).
    #[error("this session store does not support {what}")]
    Unsupported {
        /// What it lacks.
        what: &'static str,
    },
}

impl StoreError {
    /// An unreachable store, with the client library's error.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self::Unavailable {
            reason: source.to_string(),
            source: Some(source),
        }
    }

    /// A store that answered with an error, with the client library's error.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self::Backend {
            reason: source.to_string(),
            source: Some(source),
        }
    }

    /// Whether the store could not be reached: answered with `503` (see [`status`](Self::status)).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(replace: bool, set: &[(&str, &str)], remove: &[&str]) -> Commit {
        Commit {
            id: "id".into(),
            replace,
            retire: None,
            set: set.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
            remove: remove.iter().map(|&k| k.into()).collect(),
            created: 1.0,
            accessed: 2.0,
            ttl: None,
            user: None,
            previous_user: None,
            alias: None,
            expect: Vec::new(),
        }
    }

    #[test]
    fn apply_to_sets_removes_and_replaces() {
        let mut record = Record {
            created: 0.0,
            accessed: 0.0,
            entries: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        };
        commit(
            false,
            &[("b", "20"), ("c", "3"), ("d", "4"), ("c", "30")],
            &["a"],
        )
        .apply_to(&mut record);
        let entries: Vec<(&str, &str)> = record
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(entries, [("b", "20"), ("c", "30"), ("d", "4")]);
        assert_eq!((record.created, record.accessed), (0.0, 2.0));

        commit(true, &[("z", "0")], &[]).apply_to(&mut record);
        assert_eq!(record.entries, [("z".to_owned(), "0".to_owned())]);
        assert_eq!(record.created, 1.0);
    }
}
