//! [`AnyStore`]: one store type for every back end, chosen at run time (from a URL in the
//! app's configuration), so an app builds its router once.
//!
//! [`SessionStore`] uses `async fn`, which is fast and simple but not object safe: a
//! `Box<dyn SessionStore>` cannot exist. [`AnyStore`] is an enum of the built-in stores
//! (each behind its feature) plus [`AnyStore::Custom`], which holds any [`SessionStore`]
//! behind [`DynStore`], a boxed-future twin of the trait that every store implements. Every
//! variant hands a [`Commit`] to its store unchanged, so partial saves stay partial.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::time::Duration;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use super::CleanupTask;
#[cfg(feature = "postgres")]
use super::PostgresStore;
#[cfg(feature = "sqlite")]
use super::SqliteStore;
use super::{Alias, Commit, MemoryStore, Record, SessionStore, StoreError, UserSession};
#[cfg(feature = "redis")]
use super::{RedisConnection, RedisStore};
use crate::error::SessionError;

/// A boxed, `Send` future borrowing `'a`: what [`DynStore`]'s methods return.
///
/// ```
/// use typed_sessions::store::{BoxFuture, StoreError};
///
/// let nothing: BoxFuture<'static, Result<(), StoreError>> = Box::pin(async { Ok(()) });
/// # drop(nothing);
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`SessionStore`] with boxed futures, so that it can be a trait object
/// (`Arc<dyn DynStore>`). Every [`SessionStore`] implements it; you never do.
///
/// ```
/// use std::sync::Arc;
/// use typed_sessions::store::{DynStore, MemoryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), typed_sessions::store::StoreError> {
/// let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
/// assert_eq!(store.load_boxed("no-such-id").await?, None);
/// # Ok(())
/// # }
/// ```
pub trait DynStore: Send + Sync + 'static {
    /// [`SessionStore::load`], boxed.
    fn load_boxed<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;

    /// [`SessionStore::save`], boxed.
    fn save_boxed<'a>(&'a self, commit: &'a Commit) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// [`SessionStore::delete`], boxed.
    fn delete_boxed<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`SessionStore::new_id`]: the store's own id format.
    fn new_id_dyn(&self) -> Result<String, SessionError>;

    /// [`SessionStore::accepts_id`].
    fn accepts_id_dyn(&self, id: &[u8]) -> bool;

    /// [`SessionStore::csrf_token_in_record`].
    fn csrf_token_in_record_dyn(&self) -> bool;

    /// [`SessionStore::user_sessions`], boxed.
    fn user_sessions_boxed<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>>;

    /// [`SessionStore::delete_session`], boxed.
    fn delete_session_boxed<'a>(
        &'a self,
        id: &'a str,
        user: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`SessionStore::load_alias`], boxed.
    fn load_alias_boxed<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Alias>, StoreError>>;

    /// [`SessionStore::publish_revoked`], boxed.
    #[cfg(feature = "live")]
    fn publish_revoked_boxed<'a>(
        &'a self,
        handle: &'a super::SessionHandle,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`SessionStore::listen_revoked`], boxed.
    #[cfg(feature = "live")]
    fn listen_revoked_boxed(
        &self,
        into: super::Revocations,
    ) -> BoxFuture<'_, Result<super::ListenTask, StoreError>>;
}

impl<S: SessionStore> DynStore for S {
    fn load_boxed<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(self.load(id))
    }

    fn save_boxed<'a>(&'a self, commit: &'a Commit) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.save(commit))
    }

    fn delete_boxed<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(id))
    }

    fn new_id_dyn(&self) -> Result<String, SessionError> {
        self.new_id()
    }

    fn accepts_id_dyn(&self, id: &[u8]) -> bool {
        self.accepts_id(id)
    }

    fn csrf_token_in_record_dyn(&self) -> bool {
        self.csrf_token_in_record()
    }

    fn user_sessions_boxed<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        Box::pin(self.user_sessions(user))
    }

    fn delete_session_boxed<'a>(
        &'a self,
        id: &'a str,
        user: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete_session(id, user))
    }

    fn load_alias_boxed<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Alias>, StoreError>> {
        Box::pin(self.load_alias(id))
    }

    #[cfg(feature = "live")]
    fn publish_revoked_boxed<'a>(
        &'a self,
        handle: &'a super::SessionHandle,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.publish_revoked(handle))
    }

    #[cfg(feature = "live")]
    fn listen_revoked_boxed(
        &self,
        into: super::Revocations,
    ) -> BoxFuture<'_, Result<super::ListenTask, StoreError>> {
        Box::pin(self.listen_revoked(into))
    }
}

/// Any session store, chosen at run time: give a
/// [`ServerSessionFactory<AnyStore>`](crate::ServerSessionFactory) to your one router
/// whatever store the configuration names. [`AnyStore::connect`] reads a URL; the `From`
/// impls and [`AnyStore::custom`] wrap a store you built yourself.
///
/// The built-in stores are matched, not boxed (a load or save through `AnyStore` costs one
/// `match` more than through the store itself); [`Custom`](Self::Custom) boxes each
/// future. Clones share the same store.
///
/// ```
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::AnyStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // e.g. std::env::var("SESSION_STORE"): "redis://10.0.0.5/", "sqlite://sessions.db", ...
/// let url = "memory:";
/// let store = AnyStore::connect(url).await?;
/// assert_eq!(store.kind(), "memory");
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
///     .httponly(true)
///     .build()?;
/// # let _ = factory;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// [`MemoryStore`].
    Memory(MemoryStore),
    /// [`RedisStore`], on one server or a cluster.
    #[cfg(feature = "redis")]
    Redis(RedisStore),
    /// [`SqliteStore`].
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// [`PostgresStore`].
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
    /// Your own store (see [`AnyStore::custom`]).
    Custom(Arc<dyn DynStore>),
}

/// Why [`AnyStore::connect`] cannot open a store. Its text never quotes the URL: only the
/// scheme, which holds no password.
///
/// ```
/// use typed_sessions::store::{AnyStore, ConnectError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// match AnyStore::connect("mongodb://app:s3cret@db/sessions").await {
///     Err(ConnectError::UnsupportedScheme { scheme }) => assert_eq!(scheme, "mongodb"),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL's scheme names no store this build knows.
    #[error(
        "unsupported session store `{scheme}`: expected a URL starting with {}",
        SCHEMES
    )]
    UnsupportedScheme {
        /// The scheme (the text before the first `:`), or `(none)` when the URL has none.
        scheme: String,
    },
    /// The scheme names a store whose crate feature is off in this build.
    #[error("session store `{scheme}:` needs feature `{feature}` of typed-sessions")]
    FeatureDisabled {
        /// The scheme.
        scheme: &'static str,
        /// The feature to enable.
        feature: &'static str,
    },
    /// The store refused the URL, or could not be reached or prepared.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The schemes [`AnyStore::connect`] reads, for its error text.
const SCHEMES: &str = "`memory:`, `redis://`, `rediss://`, `redis+cluster://`, \
                       `rediss+cluster://`, `sqlite:`, `postgres://` or `postgresql://`";

/// How many characters of a scheme an error may show.
const MAX_SCHEME_LEN: usize = 32;

impl AnyStore {
    /// Opens the store a URL names, as an app reads it from its configuration:
    ///
    /// | URL | store |
    /// |---|---|
    /// | `memory:` | a new [`MemoryStore`] |
    /// | `redis://host:port/db`, `rediss://…` (TLS, if the redis crate has it) | [`RedisStore::connect`] (lazy) |
    /// | `redis+cluster://host:port/`, or a comma list `redis://a:7000/,redis://b:7000/` | [`RedisStore::connect_cluster`] on those seed nodes |
    /// | `sqlite://path/to/file.db`, `sqlite::memory:` | [`SqliteStore::connect`], then [`migrate`](SqliteStore::migrate) |
    /// | `postgres://user:password@host/db`, `postgresql://…` | [`PostgresStore::connect`], then [`migrate`](PostgresStore::migrate) |
    ///
    /// Each store gets its defaults (Redis key prefix `session:`, SQL table `sessions`).
    /// For other options build the store yourself and convert it (`AnyStore::from(store)`),
    /// or change the variant: `AnyStore::Redis(store.with_prefix(..))`. The SQL stores do
    /// not delete expired rows by themselves: see [`spawn_cleanup`](Self::spawn_cleanup).
    ///
    /// A scheme this build does not support is [`ConnectError::UnsupportedScheme`] (or
    /// [`ConnectError::FeatureDisabled`] when the feature is off), naming the scheme and
    /// never the rest of the URL.
    ///
    /// ```
    /// use typed_sessions::store::{AnyStore, ConnectError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = AnyStore::connect("mysql://root:hunter2@db/shop").await.unwrap_err();
    /// assert!(matches!(&err, ConnectError::UnsupportedScheme { scheme } if scheme == "mysql"));
    /// assert!(!err.to_string().contains("hunter2"));
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let url = url.trim();
        let scheme = scheme_of(url).ok_or_else(|| ConnectError::UnsupportedScheme {
            scheme: "(none)".to_owned(),
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "memory" => match &url[scheme.len()..] {
                ":" | "://" => Ok(Self::Memory(MemoryStore::new())),
                _ => Err(ConnectError::UnsupportedScheme {
                    scheme: "memory (with a path; use `memory:`)".to_owned(),
                }),
            },
            "redis" | "rediss" | "redis+cluster" | "rediss+cluster" => connect_redis(url).await,
            "sqlite" => connect_sqlite(url).await,
            "postgres" | "postgresql" => connect_postgres(url).await,
            _ => Err(ConnectError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// Your own store, boxed: each load, save and delete boxes its future.
    ///
    /// ```
    /// use typed_sessions::store::{AnyStore, MemoryStore};
    ///
    /// // Any `SessionStore` (here a built-in one, standing in for yours).
    /// let store = AnyStore::custom(MemoryStore::new());
    /// assert_eq!(store.kind(), "custom");
    /// ```
    pub fn custom(store: impl SessionStore) -> Self {
        Self::Custom(Arc::new(store))
    }

    /// What keeps the sessions, for logs and start-up messages: `memory`, `Redis`,
    /// `Redis Cluster`, `SQLite`, `PostgreSQL` or `custom`.
    ///
    /// ```
    /// use typed_sessions::store::{AnyStore, MemoryStore};
    ///
    /// assert_eq!(AnyStore::from(MemoryStore::new()).kind(), "memory");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            #[cfg(feature = "redis")]
            Self::Redis(store) => match store.connection() {
                RedisConnection::Cluster(_) => "Redis Cluster",
                _ => "Redis",
            },
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "PostgreSQL",
            Self::Custom(_) => "custom",
        }
    }

    /// For a SQL store, starts the task that deletes its expired sessions every `every`
    /// (see [`SqliteStore::spawn_cleanup`]); `None` for the stores that expire records by
    /// themselves (memory, Redis) and for a custom one. Keep the task: it stops when
    /// dropped. Call it inside a tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use typed_sessions::store::AnyStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = AnyStore::connect("sqlite::memory:").await?;
    /// let cleanup = store.spawn_cleanup(Duration::from_secs(300));
    /// assert!(cleanup.is_some());
    /// assert!(AnyStore::connect("memory:").await?.spawn_cleanup(Duration::from_secs(300)).is_none());
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn spawn_cleanup(&self, every: Duration) -> Option<CleanupTask> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => Some(store.spawn_cleanup(every)),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => Some(store.spawn_cleanup(every)),
            _ => None,
        }
    }
}

/// The text before the first `:` when it is a URL scheme (a letter, then letters, digits,
/// `+`, `-`, `.`; at most [`MAX_SCHEME_LEN`]): anything else may be part of a secret.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.len() <= MAX_SCHEME_LEN;
    valid.then_some(scheme)
}

#[cfg(feature = "redis")]
async fn connect_redis(url: &str) -> Result<AnyStore, ConnectError> {
    let cluster = url.contains(',') || scheme_of(url).is_some_and(|s| s.contains("+cluster"));
    if !cluster {
        return Ok(AnyStore::Redis(RedisStore::connect(url).await?));
    }
    let mut nodes = Vec::new();
    for node in url.split(',').map(str::trim) {
        let scheme = scheme_of(node).unwrap_or_default().to_ascii_lowercase();
        let rest = &node[scheme.len()..];
        let plain = match scheme.as_str() {
            "redis" | "redis+cluster" => "redis",
            "rediss" | "rediss+cluster" => "rediss",
            _ => {
                return Err(ConnectError::UnsupportedScheme {
                    scheme: if scheme.is_empty() {
                        "(none, in the cluster's node list)".to_owned()
                    } else {
                        scheme
                    },
                });
            }
        };
        nodes.push(format!("{plain}{rest}"));
    }
    Ok(AnyStore::Redis(RedisStore::connect_cluster(nodes).await?))
}

#[cfg(not(feature = "redis"))]
async fn connect_redis(_: &str) -> Result<AnyStore, ConnectError> {
    Err(ConnectError::FeatureDisabled {
        scheme: "redis",
        feature: "redis",
    })
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite(url: &str) -> Result<AnyStore, ConnectError> {
    let store = SqliteStore::connect(url).await?;
    store.migrate().await?;
    Ok(AnyStore::Sqlite(store))
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite(_: &str) -> Result<AnyStore, ConnectError> {
    Err(ConnectError::FeatureDisabled {
        scheme: "sqlite",
        feature: "sqlite",
    })
}

#[cfg(feature = "postgres")]
async fn connect_postgres(url: &str) -> Result<AnyStore, ConnectError> {
    let store = PostgresStore::connect(url).await?;
    store.migrate().await?;
    Ok(AnyStore::Postgres(store))
}

#[cfg(not(feature = "postgres"))]
async fn connect_postgres(_: &str) -> Result<AnyStore, ConnectError> {
    Err(ConnectError::FeatureDisabled {
        scheme: "postgres",
        feature: "postgres",
    })
}

impl SessionStore for AnyStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self {
            Self::Memory(store) => store.load(id).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.load(id).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.load(id).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.load(id).await,
            Self::Custom(store) => store.load_boxed(id).await,
        }
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        match self {
            Self::Memory(store) => store.save(commit).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.save(commit).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.save(commit).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.save(commit).await,
            Self::Custom(store) => store.save_boxed(commit).await,
        }
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.delete(id).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.delete(id).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.delete(id).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.delete(id).await,
            Self::Custom(store) => store.delete_boxed(id).await,
        }
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        match self {
            Self::Memory(store) => store.user_sessions(user).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.user_sessions(user).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.user_sessions(user).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.user_sessions(user).await,
            Self::Custom(store) => store.user_sessions_boxed(user).await,
        }
    }

    async fn delete_session(&self, id: &str, user: Option<&str>) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.delete_session(id, user).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.delete_session(id, user).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.delete_session(id, user).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.delete_session(id, user).await,
            Self::Custom(store) => store.delete_session_boxed(id, user).await,
        }
    }

    async fn load_alias(&self, id: &str) -> Result<Option<Alias>, StoreError> {
        match self {
            Self::Memory(store) => store.load_alias(id).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.load_alias(id).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.load_alias(id).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.load_alias(id).await,
            Self::Custom(store) => store.load_alias_boxed(id).await,
        }
    }

    #[cfg(feature = "live")]
    async fn publish_revoked(&self, handle: &super::SessionHandle) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.publish_revoked(handle).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.publish_revoked(handle).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.publish_revoked(handle).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.publish_revoked(handle).await,
            Self::Custom(store) => store.publish_revoked_boxed(handle).await,
        }
    }

    #[cfg(feature = "live")]
    async fn listen_revoked(
        &self,
        into: super::Revocations,
    ) -> Result<super::ListenTask, StoreError> {
        match self {
            Self::Memory(store) => store.listen_revoked(into).await,
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.listen_revoked(into).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.listen_revoked(into).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.listen_revoked(into).await,
            Self::Custom(store) => store.listen_revoked_boxed(into).await,
        }
    }

    // Each store draws and checks its own ids (a custom one may keep a Pyramid app's).
    fn new_id(&self) -> Result<String, SessionError> {
        match self {
            Self::Memory(store) => store.new_id(),
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.new_id(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.new_id(),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.new_id(),
            Self::Custom(store) => store.new_id_dyn(),
        }
    }

    fn accepts_id(&self, id: &[u8]) -> bool {
        match self {
            Self::Memory(store) => store.accepts_id(id),
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.accepts_id(id),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.accepts_id(id),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.accepts_id(id),
            Self::Custom(store) => store.accepts_id_dyn(id),
        }
    }

    fn csrf_token_in_record(&self) -> bool {
        match self {
            Self::Custom(store) => store.csrf_token_in_record_dyn(),
            // The built-in stores keep sessions of this crate only.
            _ => false,
        }
    }
}

impl From<MemoryStore> for AnyStore {
    fn from(store: MemoryStore) -> Self {
        Self::Memory(store)
    }
}

#[cfg(feature = "redis")]
impl From<RedisStore> for AnyStore {
    fn from(store: RedisStore) -> Self {
        Self::Redis(store)
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> Self {
        Self::Postgres(store)
    }
}

impl fmt::Debug for AnyStore {
    /// The store's own `Debug` (never ids, values or URLs); `Custom(..)` for yours.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(store) => f.debug_tuple("Memory").field(store).finish(),
            #[cfg(feature = "redis")]
            Self::Redis(store) => f.debug_tuple("Redis").field(store).finish(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => f.debug_tuple("Sqlite").field(store).finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => f.debug_tuple("Postgres").field(store).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_read_without_what_follows() {
        assert_eq!(scheme_of("redis://a:b@c/"), Some("redis"));
        assert_eq!(scheme_of("redis+cluster://c/"), Some("redis+cluster"));
        assert_eq!(scheme_of("sqlite::memory:"), Some("sqlite"));
        // No scheme: the text before `:` may be a user name or a password.
        assert_eq!(scheme_of("hunter2@db:5432"), None);
        assert_eq!(scheme_of("localhost"), None);
        assert_eq!(scheme_of(&format!("{}:", "a".repeat(33))), None);
    }

    #[tokio::test]
    async fn unknown_and_missing_schemes_are_refused_by_name() {
        for (url, scheme) in [
            ("mysql://root:hunter2@db/shop", "mysql"),
            ("hunter2@db:5432", "(none)"),
            ("", "(none)"),
            ("memory://hunter2", "memory (with a path; use `memory:`)"),
        ] {
            let err = AnyStore::connect(url).await.unwrap_err();
            match &err {
                ConnectError::UnsupportedScheme { scheme: got } => assert_eq!(got, scheme),
                other => panic!("{url}: {other:?}"),
            }
            let text = format!("{err} {err:?}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(
                text.contains("`memory:`"),
                "the error lists the choices: {text}"
            );
        }
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn a_store_whose_feature_is_off_names_the_feature() {
        let err = AnyStore::connect("sqlite://sessions.db").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "session store `sqlite:` needs feature `sqlite` of typed-sessions"
        );
    }

    #[tokio::test]
    async fn memory_urls_give_a_memory_store() {
        for url in ["memory:", " memory:// ", "MEMORY:"] {
            assert_eq!(
                AnyStore::connect(url).await.unwrap().kind(),
                "memory",
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn commits_pass_through_unchanged() {
        let memory = MemoryStore::new();
        for store in [
            AnyStore::from(memory.clone()),
            AnyStore::custom(memory.clone()),
        ] {
            let mut commit = Commit {
                id: "id".into(),
                replace: true,
                retire: None,
                set: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
                remove: Vec::new(),
                created: 1.0,
                accessed: 1.0,
                ttl: None,
                user: None,
                previous_user: None,
                alias: None,
                expect: Vec::new(),
            };
            assert!(store.save(&commit).await.unwrap());
            // A partial save: one key set, one removed, the rest kept.
            commit.replace = false;
            commit.set = vec![("c".into(), "3".into())];
            commit.remove = vec!["a".into()];
            commit.accessed = 2.0;
            assert!(store.save(&commit).await.unwrap());
            let record = memory.load("id").await.unwrap().unwrap();
            assert_eq!(
                record.entries,
                [
                    ("b".to_owned(), "2".to_owned()),
                    ("c".to_owned(), "3".to_owned())
                ]
            );
            assert_eq!(store.load("id").await.unwrap(), Some(record.clone()));
            // A checked save reaches the store with its expectations, and its conflict
            // comes back as the store answered it.
            commit.expect = vec![super::super::Expected::new("b", Some("20".into()))];
            commit.set = vec![("b".into(), "21".into())];
            let err = store.save(&commit).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Conflict { keys }
                    if keys == &[super::super::ConcurrentWrite::new("b", Some("2".into()))]),
                "{err}"
            );
            assert_eq!(
                store.load("id").await.unwrap(),
                Some(record),
                "nothing written"
            );
            commit.expect.clear();
            store.delete("id").await.unwrap();
            assert_eq!(memory.load("id").await.unwrap(), None);
            commit.id = "gone".into();
            assert!(
                !store.save(&commit).await.unwrap(),
                "no record: nothing written"
            );
        }
    }

    #[test]
    fn debug_shows_the_store_not_its_sessions() {
        assert_eq!(
            format!("{:?}", AnyStore::from(MemoryStore::new())),
            "Memory(MemoryStore { sessions: 0 })"
        );
        assert_eq!(
            format!("{:?}", AnyStore::custom(MemoryStore::new())),
            "Custom(..)"
        );
    }
}
