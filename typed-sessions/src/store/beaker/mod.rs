//! [`BeakerStore`]: the sessions a Pyramid app keeps with Beaker 1.14 (through
//! `pyramid_beaker`), read and written in Beaker's own layout, so the app and a Rust service
//! share them.

mod dict;
mod file;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use self::dict::{Outer, Stored};
use self::file::FileBackend;
use super::{Commit, Record, SessionStore, StoreError};
use crate::Serializer;
use crate::codec::{BeakerIdCodec, Secret};
use crate::error::SessionError;
use crate::factory::{Builder, KeysAndStore, ServerSessionFactory};

pub use self::dict::MAX_INFLATED;

/// Sessions shared with a Pyramid app on Beaker 1.14 (`pyramid_beaker`): the cookie
/// `beaker.session.id` carries Beaker's signed id ([`BeakerIdCodec`]), and the session lives
/// where the app's `session.type` puts it, in Beaker's own layout:
///
/// | `session.type` | constructor | where one session is |
/// |---|---|---|
/// | `file` | [`file`](Self::file) | `data_dir/container_file/<id[0]>/<id[:2]>/<id>.cache`, the pickle `{"session": S}`, under an `flock` of `data_dir/container_file_lock/<h[0]>/<h[:2]>/<h>.lock` (`h`: the id's SHA-1 in hex) |
/// | `ext:redis` | [`redis`](Self::redis) (feature `redis`) | key `beaker_cache:<id>:session`, the pickle of `S`, `SETEX timeout + 120` |
/// | `ext:database` | [`sqlite`](Self::sqlite), [`postgres`](Self::postgres) (features `sqlite`, `postgres`) | a row of `beaker_cache(id, namespace UNIQUE, accessed, created, data)`, `namespace` the id, `data` the pickle `{"session": S}` |
///
/// `S` is the `str` `base64(serializer.dumps(d))`, `d` the session dict: the app's keys
/// beside Beaker's `_creation_time`, `_accessed_time`, `_domain` and `_path` (kept, never
/// shown as session keys), with the app's `session.data_serializer`: [`Serializer::Pickle`]
/// (Beaker's default; read by the strict codec, written at protocol 4 with data opcodes
/// only, which Beaker's `pickle.loads` reads as it reads its own protocol 2) or
/// [`Serializer::Json`] (`zlib.compress(json.dumps(d).encode())`, inflated with a cap of
/// [`MAX_INFLATED`] bytes).
/// Ids are `uuid4().hex`, 32 lowercase hex digits; a cookie naming anything else is refused
/// before any path or key is made from it.
///
/// # What is read, and what is refused
///
/// Pickles are read by the crate's strict codec ([`crate::pickle`]): `None`, `bool`, `int`,
/// `float`, `str`, `bytes`, `list`, `tuple`, `dict`, `set`. A session holding anything else
/// (an instance of a class, a `datetime`, any `REDUCE` of a callable) is never run nor
/// coerced: its load fails with [`StoreError::Corrupt`] naming what was found. A key this
/// side does not write keeps its Python value (a tuple stays a tuple); one it writes becomes
/// the Python value of its JSON (a `dict`, `list`, `str`, `int`, `float`, `bool` or `None`).
///
/// # When both sides write one session at once
///
/// Beaker rewrites the whole value at the end of every request that touched the session
/// (its `_accessed_time` moves each time). A save here writes only what its request changed:
/// it reads the current value, applies the keys it wrote and removed and the new
/// `_accessed_time`, and writes only if the value is still the one it read (under the
/// session's exclusive `flock` for `file`, with a Lua compare-and-set for `ext:redis`, an
/// `UPDATE … WHERE data = <read>` for `ext:database`), retrying from the read up to
/// [`MAX_ATTEMPTS`](Self::MAX_ATTEMPTS) times. So a Rust save never undoes a Python write.
/// The other way round cannot be helped from here: a Python request that loaded the
/// session before a Rust save and saves after it writes back its own copy of every key,
/// undoing the Rust change (Beaker holds the file lock only while it reads and while it
/// writes, not between). A key both sides write ends as the last writer's.
///
/// Between Rust requests, a save's checked keys ([`Commit::expect`]: flash queues, the
/// CSRF token, fields with a conflict policy) are compared with the value it read, as
/// [`load`](SessionStore::load) reads it, before it applies its changes; the
/// compare-and-set then makes the check and the write one step, so a checked key another
/// request changed meanwhile is a [`StoreError::Conflict`] for the factory to merge, never a
/// lost write. Python writes are not checked: Beaker saves whole values.
///
/// For `file`, a request waits at most [`with_lock_wait`](Self::with_lock_wait) (2 s) for a
/// lock another process holds; then the store is unavailable (`503` through the adapters).
///
/// ```
/// use std::time::Duration;
/// use typed_sessions::codec::BeakerIdCodec;
/// use typed_sessions::Serializer;
/// use typed_sessions::store::BeakerStore;
///
/// // The Pyramid app: session.type = file, session.data_dir = /var/lib/app/sessions,
/// //                  session.secret = ..., session.timeout = 3600
/// let store = BeakerStore::file("/var/lib/app/sessions", Serializer::Pickle);
/// let factory = store
///     .factory(BeakerIdCodec::new("the app's session.secret")?)
///     .timeout(Duration::from_secs(3600))
///     .build()?;
/// assert_eq!(factory.cookie_name(), "beaker.session.id");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Not supported: Beaker's encrypted sessions (`session.encrypt_key`), cookie-only sessions
/// (`session.type = cookie`), and the other back ends (`dbm`, `memcached`, `ext:mongodb`).
#[derive(Clone)]
pub struct BeakerStore {
    backend: Backend,
    serializer: Serializer,
}

#[derive(Clone)]
enum Backend {
    File(Arc<FileBackend>),
    #[cfg(feature = "redis")]
    Redis(redis::RedisBackend),
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Sql(sql::SqlBackend),
}

/// What a compare-and-set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cas {
    Written,
    /// The value is not the one read: read again.
    Changed,
    /// There is no value any more.
    Gone,
}

/// The id's length: `uuid.uuid4().hex`.
const ID_LEN: usize = 32;

impl BeakerStore {
    /// How many times a partial save reads, merges and tries to write before it fails with
    /// [`StoreError::Backend`] (each retry means another writer saved the session between
    /// this save's read and its write).
    pub const MAX_ATTEMPTS: usize = 8;

    /// The cookie Beaker names by default (`session.key`).
    pub const COOKIE_NAME: &'static str = "beaker.session.id";

    /// `session.type = file` with `session.data_dir = data_dir` (an absolute path, as the
    /// app's), the locks under `data_dir/container_file_lock` unless
    /// [`with_lock_dir`](Self::with_lock_dir). Directories are made as sessions need them.
    pub fn file(data_dir: impl Into<PathBuf>, serializer: Serializer) -> Self {
        Self {
            backend: Backend::File(Arc::new(FileBackend::new(&data_dir.into()))),
            serializer,
        }
    }

    /// The app's `session.lock_dir` (`file` only; no effect on other back ends).
    // Irrefutable without the features of the other back ends.
    #[allow(irrefutable_let_patterns)]
    pub fn with_lock_dir(mut self, lock_dir: impl Into<PathBuf>) -> Self {
        if let Backend::File(file) = &mut self.backend {
            Arc::make_mut(file).lock_dir = lock_dir.into();
        }
        self
    }

    /// How long a request waits for a session's lock held by another process (`file`
    /// only; default 2 s) before failing with [`StoreError::Unavailable`].
    #[allow(irrefutable_let_patterns)]
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        if let Backend::File(file) = &mut self.backend {
            Arc::make_mut(file).lock_wait = wait;
        }
        self
    }

    /// `session.type = ext:redis` with `session.url = url` (`redis://host:port/db`; Beaker
    /// names keys `beaker_cache:…`, so give it a database of its own), connecting lazily
    /// with the timeouts of [`RedisStore::connect`](super::RedisStore::connect). An error
    /// only for a malformed URL.
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str, serializer: Serializer) -> Result<Self, StoreError> {
        match super::RedisStore::connect(url).await?.connection() {
            super::RedisConnection::Single(conn) => Ok(Self {
                backend: Backend::Redis(redis::RedisBackend {
                    conn: conn.clone(),
                    plain: !url.starts_with("rediss://"),
                }),
                serializer,
            }),
            super::RedisConnection::Cluster(_) => {
                unreachable!("`RedisStore::connect` is one server")
            }
        }
    }

    /// `ext:redis` on a connection manager you configured.
    #[cfg(feature = "redis")]
    pub fn redis_connection(conn: ::redis::aio::ConnectionManager, serializer: Serializer) -> Self {
        Self {
            backend: Backend::Redis(redis::RedisBackend { conn, plain: false }),
            serializer,
        }
    }

    /// `session.type = ext:database` on SQLite at `url` (`sqlite://path`, the file the
    /// app's `session.url = sqlite:///path` names), with the pool options of
    /// [`SqliteStore::connect`](super::SqliteStore::connect) and table `beaker_cache`. Run
    /// [`migrate`](Self::migrate) to create the table if the app has not yet.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(url: &str, serializer: Serializer) -> Result<Self, StoreError> {
        let pool = super::SqliteStore::connect(url).await?.pool().clone();
        Ok(Self::sql(sql::Pool::Sqlite(pool), serializer))
    }

    /// `session.type = ext:database` on PostgreSQL at `url`, with the pool options of
    /// [`PostgresStore::connect`](super::PostgresStore::connect) and table `beaker_cache`.
    #[cfg(feature = "postgres")]
    pub async fn postgres(url: &str, serializer: Serializer) -> Result<Self, StoreError> {
        let pool = super::PostgresStore::connect(url).await?.pool().clone();
        Ok(Self::sql(sql::Pool::Postgres(pool), serializer))
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn sql(pool: sql::Pool, serializer: Serializer) -> Self {
        let sql = sql::Statements::new(&pool, sql::DEFAULT_TABLE).expect("the default is valid");
        Self {
            backend: Backend::Sql(sql::SqlBackend {
                pool,
                sql: Arc::new(sql),
            }),
            serializer,
        }
    }

    /// The app's `session.table_name` (`ext:database` only; default `beaker_cache`).
    /// Refuses a name that is not a plain identifier: it is part of the store's SQL.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn with_table_name(mut self, name: &str) -> Result<Self, super::InvalidTableName> {
        if let Backend::Sql(backend) = &mut self.backend {
            backend.sql = Arc::new(sql::Statements::new(&backend.pool, name)?);
        }
        Ok(self)
    }

    /// The `CREATE TABLE` SQLAlchemy would run for Beaker's table (`ext:database` only),
    /// for your own migrations.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn schema(&self) -> Option<String> {
        match &self.backend {
            Backend::Sql(backend) => Some(backend.sql.schema().to_owned()),
            _ => None,
        }
    }

    /// Creates Beaker's table if it is missing (`ext:database`; as Beaker's own
    /// `create(checkfirst=True)`), nothing for the other back ends.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => backend.migrate().await,
            _ => Ok(()),
        }
    }

    /// The serializer.
    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// The preset: a [`ServerSessionFactory`] builder on this store with what Beaker and
    /// `pyramid_beaker` do by default: ids signed by `codec`, cookie
    /// [`COOKIE_NAME`](Self::COOKIE_NAME) with `Path=/; SameSite=Lax`, neither `Secure`
    /// nor `HttpOnly`, no expiry; no timeout (Beaker's `session.timeout` default: set the
    /// app's with [`timeout`](Builder::timeout), which also gives the `ext:redis` TTL);
    /// and `_accessed_time` saved on every request that loads the session, as Beaker's
    /// default `save_accessed_time = True` does. Cookie options the app changed
    /// (`session.key`, `session.secure`, …) are set on the builder as usual.
    pub fn factory(self, codec: BeakerIdCodec) -> Builder<KeysAndStore<Self>> {
        // The builder's own secret signs nothing: the codec does.
        ServerSessionFactory::builder(Secret::from_bytes(Vec::new()), self)
            // Beaker's cookie: neither `Secure` nor `HttpOnly` unless the app says so,
            // `SameSite=Lax`, no absolute lifetime; then its own options below.
            .pyramid_defaults()
            .id_codec(codec)
            .cookie_name(Self::COOKIE_NAME)
            .timeout(None)
            .reissue_time(Some(Duration::ZERO))
    }

    fn outer(&self) -> Outer {
        match self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(_) => Outer::Str,
            _ => Outer::Dict,
        }
    }

    async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.backend {
            Backend::File(file) => {
                let (file, id) = (file.clone(), id.to_owned());
                blocking(move || file.read(&id)).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(backend) => backend.read(id).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => backend.read(id).await,
        }
    }

    async fn replace(&self, commit: &Commit, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (id, retire) = (commit.id.as_str(), commit.retire.as_deref());
        match &self.backend {
            Backend::File(file) => {
                let (file, id, retire) = (file.clone(), id.to_owned(), retire.map(str::to_owned));
                blocking(move || file.replace(&id, &bytes, retire.as_deref())).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(backend) => backend.replace(id, &bytes, commit.ttl, retire).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => backend.replace(id, &bytes, retire).await,
        }
    }

    async fn update(
        &self,
        commit: &Commit,
        read: Vec<u8>,
        bytes: Vec<u8>,
    ) -> Result<Cas, StoreError> {
        match &self.backend {
            Backend::File(file) => {
                let (file, id) = (file.clone(), commit.id.clone());
                blocking(move || file.update(&id, &read, &bytes)).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(backend) => backend.update(&commit.id, &read, &bytes, commit.ttl).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => backend.update(&commit.id, &read, &bytes).await,
        }
    }
}

/// Runs file work on tokio's blocking threads: a lock wait must not stall the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(StoreError::backend)?
}

impl SessionStore for BeakerStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let Some(bytes) = self.read(id).await? else {
            return Ok(None);
        };
        Stored::decode(&bytes, self.outer(), self.serializer)?
            .record()
            .map(Some)
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        let (outer, serializer) = (self.outer(), self.serializer);
        if commit.replace {
            let bytes = Stored::fresh(commit)?.encode(outer, serializer)?;
            self.replace(commit, bytes).await?;
            return Ok(true);
        }
        for _ in 0..Self::MAX_ATTEMPTS {
            let Some(read) = self.read(&commit.id).await? else {
                return Ok(false);
            };
            let mut stored = Stored::decode(&read, outer, serializer)?;
            if !commit.expect.is_empty() {
                // Against the values as `load` reads them; the compare-and-set below makes
                // the check and the write one step.
                commit.check(&stored.record()?)?;
            }
            stored.apply(commit)?;
            let bytes = stored.encode(outer, serializer)?;
            match self.update(commit, read, bytes).await? {
                Cas::Written => return Ok(true),
                Cas::Gone => return Ok(false),
                Cas::Changed => continue,
            }
        }
        Err(StoreError::Backend {
            reason: format!(
                "the session changed under each of {} attempts to save it",
                Self::MAX_ATTEMPTS
            ),
            source: None,
        })
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::File(file) => {
                let (file, id) = (file.clone(), id.to_owned());
                blocking(move || file.delete(&id)).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(backend) => backend.delete(id).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => backend.delete(id).await,
        }
    }

    /// `uuid.uuid4().hex`: 122 random bits, version 4, as 32 lowercase hex digits.
    fn new_id(&self) -> Result<String, SessionError> {
        let mut bytes = [0u8; ID_LEN / 2];
        crate::random::fill(&mut bytes)?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Ok(crate::random::to_hex(&bytes))
    }

    /// 32 lowercase hex digits, nothing else: the id becomes a file name and a key.
    fn accepts_id(&self, id: &[u8]) -> bool {
        is_beaker_id(id)
    }

    /// The Pyramid app reads its CSRF token from the record (`_csrft_`).
    fn csrf_token_in_record(&self) -> bool {
        true
    }
}

/// Whether `id` has the shape of `uuid4().hex`.
fn is_beaker_id(id: &[u8]) -> bool {
    id.len() == ID_LEN && id.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Debug for BeakerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.backend {
            Backend::File(file) => format!("file {}", file.file_dir.display()),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "ext:redis".to_owned(),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Sql(backend) => format!("ext:database table {}", backend.sql.table),
        };
        f.debug_struct("BeakerStore")
            .field("backend", &backend)
            .field("serializer", &self.serializer)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid4_hex_and_nothing_else() {
        let store = BeakerStore::file("/nonexistent", Serializer::Pickle);
        let id = store.new_id().unwrap();
        assert!(store.accepts_id(id.as_bytes()), "{id}");
        assert_eq!(&id[12..13], "4");
        assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"));
        assert!(store.accepts_id(b"949dd6d0e0304f6594a2a2f004cbffbf"));
        for bad in [
            &b"949DD6D0E0304F6594A2A2F004CBFFBF"[..],
            b"949dd6d0e0304f6594a2a2f004cbffb",
            b"949dd6d0e0304f6594a2a2f004cbffbf0",
            b"../../../../etc/passwd/000000000",
            b"949dd6d0e0304f6594a2a2f004cbff.f",
            b"",
        ] {
            assert!(!store.accepts_id(bad), "{bad:?}");
        }
    }
}
