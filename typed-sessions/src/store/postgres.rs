//! [`PostgresStore`]: server-side sessions in PostgreSQL, a session row plus one row per key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "tls")]
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Row, SqlStr};

#[cfg(feature = "tls")]
use super::TlsOptions;
use super::sql::{
    self, CleanupTask, DEFAULT_TABLE, Dialect, InvalidTableName, RecordBuilder, TableNames,
};
use super::{
    Alias, Commit, ConcurrentWrite, Record, SESSION_META_KEY, SessionStore, StoreError, UserSession,
};

/// Sessions in PostgreSQL (feature `postgres`), through a sqlx [`PgPool`]: for a fleet of
/// app servers that share a database.
///
/// ```no_run
/// use std::time::Duration;
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::PostgresStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://app:secret@db.internal/app").await?;
/// store.migrate().await?; // creates the tables if they are missing
/// let _cleanup = store.spawn_cleanup(Duration::from_secs(300)); // deletes expired rows
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
///     .timeout(Duration::from_secs(3600)) // idle timeout: the rows' expiry
///     .build()?;
/// # let _ = factory;
/// # Ok(())
/// # }
/// ```
///
/// # Schema
///
/// [`migrate`](Self::migrate) runs these statements (with the default table name
/// `sessions`; [`schema`](Self::schema) gives them for another name, for your own
/// migration tool):
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS sessions (
///     id TEXT PRIMARY KEY,
///     created DOUBLE PRECISION NOT NULL,   -- Unix seconds
///     accessed DOUBLE PRECISION NOT NULL,  -- Unix seconds
///     expires_at TIMESTAMPTZ,              -- NULL: no timeout
///     user_id TEXT                         -- the signed-in user (the registry); NULL: none
/// );
/// CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
/// ALTER TABLE sessions ADD COLUMN IF NOT EXISTS user_id TEXT;  -- a table made before it
/// CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
/// -- Old ids of renewal rotations, for their grace.
/// CREATE TABLE IF NOT EXISTS sessions_aliases (
///     id TEXT PRIMARY KEY,
///     target TEXT NOT NULL,
///     at DOUBLE PRECISION NOT NULL,        -- Unix seconds
///     expires_at TIMESTAMPTZ
/// );
/// CREATE TABLE IF NOT EXISTS sessions_entries (
///     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
///     key TEXT NOT NULL,
///     value TEXT NOT NULL,                 -- the key's value as JSON text
///     PRIMARY KEY (session_id, key)
/// );
/// ```
///
/// # Saving
///
/// A partial save is one statement, so one round trip: a data-modifying `WITH` that
/// updates the session row only if it is there and not expired (taking its row lock), then
/// upserts the keys the request wrote and deletes the ones it removed, for that row only.
/// If the row is gone (invalidated, expired), nothing is written and the save reports it.
/// Concurrent saves of one session queue on its row lock, and as each writes only its own
/// keys, requests that change different keys all survive.
///
/// A partial save with checked keys ([`Commit::expect`]: flash queues, the CSRF token,
/// fields with a conflict policy) is one transaction of two statements: `SELECT ... FOR
/// UPDATE` of the session row, then the save's statement extended to compare the checked
/// keys first and to write only if each still holds what the request loaded (else it
/// answers the keys that differ, nothing is written, and the save reports
/// [`StoreError::Conflict`]). The lock comes first because a statement reads as of its
/// start: a save that waited for the row lock inside its own statement would compare
/// against the keys as they were before the save it waited for, and two saves would both
/// pass (without the lock, the 16-writer scenario of the tests'
/// `store_common/conflicts.rs` loses flash messages). A save without checked keys is the
/// one statement above, as before.
///
/// A new or renamed session is one transaction: delete the old id (its keys go with it,
/// `ON DELETE CASCADE`), insert the new row and its keys.
///
/// The factory's timeout is the row's expiry, on the database's clock (`now()`), renewed on
/// every save. An expired row is never loaded or written to, but stays until
/// [`delete_expired`](Self::delete_expired) (or the [`spawn_cleanup`](Self::spawn_cleanup)
/// task) deletes it; listing a user's sessions deletes that user's expired rows first.
///
/// The [registry](super#signed-in-on-several-devices) is the indexed `user_id` column,
/// written by every save in the same statement or transaction as the rest of the row.
///
/// Values are JSON text in a `TEXT` column, byte for byte as the session wrote them.
/// PostgreSQL's text cannot hold the character U+0000: a session key containing it cannot
/// be saved (the save fails with [`StoreError::Backend`]; a *value* with it is fine, JSON
/// escapes it as `\u0000`).
///
/// # Layout
///
/// A session row plus one row per key, chosen against one `JSONB` document per session (a
/// save being one `UPDATE ... SET data = (data - removed) || set`) by measuring both:
/// `cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin layout -- 2000 1
/// 16` (2,000 requests per row, each loading a session and writing one key back; PostgreSQL
/// 15 with its default, durable commits; two shared vCPUs):
///
/// | session | concurrency | JSONB: ops/s (p99 µs) | rows: ops/s (p99 µs) | WAL per save: JSONB / rows |
/// |---|---:|---:|---:|---:|
/// | 1,093 B | 1 | 302 (12,029) | 425 (9,006) | 1,824 B / 249 B |
/// | 1,093 B | 16 | 2,158 (57,800) | 1,445 (107,492) | 1,857 B / 277 B |
/// | 8,766 B | 1 | 307 (12,067) | 324 (11,971) | 2,043 B / 250 B |
/// | 8,766 B | 16 | 2,460 (18,277) | 2,836 (15,877) | 2,080 B / 283 B |
///
/// Throughput is bounded by the commit's `fsync` on that machine's shared disk, and varies
/// by up to 2x between runs in either direction, so what decides is the write-ahead log: a
/// `JSONB` update writes the whole document again (1.8 to 2.1 KB of WAL per save, after
/// TOAST compression), a row update about 250 to 280 B, seven times less whatever the
/// session's size: less disk, replication traffic and vacuum work. `JSONB` would also refuse
/// a value holding `\u0000` and reformat values (`1e2` comes back as `100`, keys
/// reordered); rows keep the session's JSON text as it was written.
///
/// # TLS
///
/// With the `tls` feature (rustls; no OpenSSL), the URL's `sslmode` is honoured, as managed
/// PostgreSQL services expect:
///
/// | URL | connection |
/// |---|---|
/// | `postgres://u:p@host/db?sslmode=verify-full` | TLS; the certificate must chain to a trusted CA and name `host` (the one to use) |
/// | `…?sslmode=verify-ca` | TLS; the certificate must chain to a trusted CA, any name |
/// | `…?sslmode=require` | TLS, the certificate not verified (encrypted, not authenticated) |
/// | `…?sslmode=prefer`, or none | TLS when the server offers it, not verified; else plain |
/// | `…?sslmode=verify-full&sslrootcert=/path/ca.pem` | also trusts the CA in that PEM file |
///
/// Trusted CAs are the system's roots (`SSL_CERT_FILE` or `SSL_CERT_DIR` when set, else the
/// system's store; see [`TlsOptions`]) plus the URL's `sslrootcert`, or the CA given to
/// [`connect_with`](Self::connect_with), which also raises the URL's `sslmode` so that the
/// certificate is always verified. A certificate that does not verify is a
/// [`StoreError::Unavailable`] whose reason starts with `TLS certificate verification
/// failed` and says whether the CA is unknown or the host name does not match.
///
/// ```no_run
/// # #[cfg(feature = "tls")]
/// use typed_sessions::store::{PostgresStore, TlsOptions};
///
/// # #[cfg(feature = "tls")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The CA in the URL:
/// let store = PostgresStore::connect(
///     "postgres://app:secret@db.internal/app?sslmode=verify-full&sslrootcert=/etc/myapp/db-ca.pem",
/// )
/// .await?;
/// // Or in code:
/// let tls = TlsOptions::ca_file("/etc/myapp/db-ca.pem")?;
/// let store = PostgresStore::connect_with("postgres://app:secret@db.internal/app", &tls).await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tls"))]
/// # fn main() {}
/// ```
///
/// # Errors
///
/// The server cannot be reached (refused, dropped, no free connection within 2 s, shutting
/// down): [`StoreError::Unavailable`] (the axum layer answers `503`). Other database
/// errors: [`StoreError::Backend`]. A row that cannot be read: [`StoreError::Corrupt`]
/// naming the key, and the row is left as it is.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    sql: Arc<Statements>,
}

struct Statements {
    names: TableNames,
    schema: Vec<SqlStr>,
    schema_is_current: SqlStr,
    load: SqlStr,
    update: SqlStr,
    lock: SqlStr,
    checked_update: SqlStr,
    delete_sessions: SqlStr,
    insert: SqlStr,
    delete_session: SqlStr,
    delete_expired: SqlStr,
    user_sessions: SqlStr,
    insert_alias: SqlStr,
    load_alias: SqlStr,
}

impl Statements {
    fn new(names: TableNames) -> Self {
        let schema = [
            "CREATE TABLE IF NOT EXISTS {sessions} (\n    id TEXT PRIMARY KEY,\n    created \
             DOUBLE PRECISION NOT NULL,\n    accessed DOUBLE PRECISION NOT NULL,\n    \
             expires_at TIMESTAMPTZ,\n    user_id TEXT\n)",
            "CREATE INDEX IF NOT EXISTS {sessions}_expires_at ON {sessions} (expires_at)",
            "ALTER TABLE {sessions} ADD COLUMN IF NOT EXISTS user_id TEXT",
            "CREATE INDEX IF NOT EXISTS {sessions}_user_id ON {sessions} (user_id)",
            "CREATE TABLE IF NOT EXISTS {sessions}_aliases (\n    id TEXT PRIMARY KEY,\n    \
             target TEXT NOT NULL,\n    at DOUBLE PRECISION NOT NULL,\n    \
             expires_at TIMESTAMPTZ\n)",
            "CREATE TABLE IF NOT EXISTS {entries} (\n    session_id TEXT NOT NULL REFERENCES \
             {sessions} (id) ON DELETE CASCADE,\n    key TEXT NOT NULL,\n    value TEXT NOT \
             NULL,\n    PRIMARY KEY (session_id, key)\n)",
        ]
        .map(|template| names.sql(template))
        .into();
        Self {
            schema,
            // Every relation and column the schema makes, by name; the names are checked
            // identifiers, so quoting them as literals is safe.
            schema_is_current: names.sql(
                "SELECT to_regclass('{sessions}') IS NOT NULL \
                     AND to_regclass('{sessions}_expires_at') IS NOT NULL \
                     AND to_regclass('{sessions}_user_id') IS NOT NULL \
                     AND to_regclass('{sessions}_aliases') IS NOT NULL \
                     AND to_regclass('{entries}') IS NOT NULL \
                     AND EXISTS (SELECT 1 FROM pg_attribute \
                         WHERE attrelid = to_regclass('{sessions}') \
                         AND attname = 'user_id' AND NOT attisdropped)",
            ),
            load: names.sql(
                "SELECT s.created, s.accessed, e.key, e.value FROM {sessions} s \
                 LEFT JOIN {entries} e ON e.session_id = s.id \
                 WHERE s.id = $1 AND (s.expires_at IS NULL OR s.expires_at > now())",
            ),
            // $1 id, $2 accessed, $3 TTL in ms (NULL: none), $4 removed keys, $5 and $6 the
            // written keys and their values. Both modifications read `s`, so they run only
            // when the session row was there, and after its row lock was taken.
            update: names.sql(
                "WITH s AS (\
                     UPDATE {sessions} SET accessed = $2, \
                         expires_at = now() + $3::bigint * interval '1 millisecond', \
                         user_id = $7 \
                     WHERE id = $1 AND (expires_at IS NULL OR expires_at > now()) \
                     RETURNING id), \
                 removed AS (\
                     DELETE FROM {entries} e USING s \
                     WHERE e.session_id = s.id AND e.key = ANY($4::text[])), \
                 written AS (\
                     INSERT INTO {entries} (session_id, key, value) \
                     SELECT s.id, k.key, k.value FROM s, unnest($5::text[], $6::text[]) AS k(key, value) \
                     ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value) \
                 SELECT count(*) FROM s",
            ),
            // The checked partial save's first step: the session row's lock, held to the
            // end of the transaction, so that the next statement reads every key as the
            // last save of this session left it.
            lock: names.sql(
                "SELECT 1 FROM {sessions} \
                 WHERE id = $1 AND (expires_at IS NULL OR expires_at > now()) FOR UPDATE",
            ),
            // `update`, and $8, $9 the expected keys and their loaded texts (NULL: absent):
            // the keys that hold something else are its answer, and when there are any the
            // session row is not updated, so nothing is written.
            checked_update: names.sql(
                "WITH conflicts AS (\
                     SELECT x.i, e.value FROM unnest($8::text[], $9::text[]) \
                         WITH ORDINALITY AS x(key, loaded, i) \
                     LEFT JOIN {entries} e ON e.session_id = $1 AND e.key = x.key \
                     WHERE e.value IS DISTINCT FROM x.loaded), \
                 s AS (\
                     UPDATE {sessions} SET accessed = $2, \
                         expires_at = now() + $3::bigint * interval '1 millisecond', \
                         user_id = $7 \
                     WHERE id = $1 AND (expires_at IS NULL OR expires_at > now()) \
                         AND NOT EXISTS (SELECT 1 FROM conflicts) \
                     RETURNING id), \
                 removed AS (\
                     DELETE FROM {entries} e USING s \
                     WHERE e.session_id = s.id AND e.key = ANY($4::text[])), \
                 written AS (\
                     INSERT INTO {entries} (session_id, key, value) \
                     SELECT s.id, k.key, k.value FROM s, unnest($5::text[], $6::text[]) AS k(key, value) \
                     ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value) \
                 SELECT i, value FROM conflicts ORDER BY i",
            ),
            delete_sessions: names.sql("DELETE FROM {sessions} WHERE id = ANY($1::text[])"),
            // $1 id, $2 created, $3 accessed, $4 TTL in ms, $5 and $6 the keys and values,
            // $7 the user.
            insert: names.sql(
                "WITH s AS (\
                     INSERT INTO {sessions} (id, created, accessed, expires_at, user_id) \
                     VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond', $7) \
                     RETURNING id) \
                 INSERT INTO {entries} (session_id, key, value) \
                 SELECT s.id, k.key, k.value FROM s, unnest($5::text[], $6::text[]) AS k(key, value)",
            ),
            delete_session: names.sql("DELETE FROM {sessions} WHERE id = $1"),
            delete_expired: names.sql(
                "WITH a AS (DELETE FROM {sessions}_aliases WHERE expires_at <= now()) \
                 DELETE FROM {sessions} WHERE expires_at <= now()",
            ),
            // The user's expired rows go in the same statement: the index never lists, nor
            // keeps, a dead session.
            user_sessions: names.sql(
                "WITH gone AS (DELETE FROM {sessions} WHERE user_id = $1 AND expires_at <= now()) \
                 SELECT s.id, s.created, s.accessed, e.value FROM {sessions} s \
                 LEFT JOIN {entries} e ON e.session_id = s.id AND e.key = $2 \
                 WHERE s.user_id = $1 AND (s.expires_at IS NULL OR s.expires_at > now())",
            ),
            insert_alias: names.sql(
                "INSERT INTO {sessions}_aliases (id, target, at, expires_at) \
                 VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') \
                 ON CONFLICT (id) DO UPDATE SET target = excluded.target, at = excluded.at, \
                 expires_at = excluded.expires_at",
            ),
            load_alias: names.sql(
                "SELECT target, at FROM {sessions}_aliases \
                 WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())",
            ),
            names,
        }
    }
}

/// Connections in the pool of [`PostgresStore::connect`].
const POOL_SIZE: u32 = 10;

/// How long a request waits for a free connection (or for a new one to open) before it
/// fails with [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A lock key for [`PostgresStore::migrate`] (`pg_advisory_xact_lock`), so that app
/// servers starting together do not race on `CREATE TABLE IF NOT EXISTS`.
const MIGRATION_LOCK: i64 = 0x7365_7373_696f_6e00; // b"session\0"
/// How often a migration that met a deadlock or a lock timeout is tried again, and after
/// how long.
const MIGRATION_RETRIES: u32 = 4;
const MIGRATION_BACKOFF: Duration = Duration::from_millis(50);

impl PostgresStore {
    /// A store on a pool you configured, with the table `sessions`. Run
    /// [`migrate`](Self::migrate) (or [`schema`](Self::schema) in your own migrations)
    /// before the first request.
    pub fn new(pool: PgPool) -> Self {
        let names = TableNames::new(DEFAULT_TABLE).expect("the default table name is valid");
        Self {
            pool,
            sql: Arc::new(Statements::new(names)),
        }
    }

    /// A store on the database at `url` (`postgres://user:password@host:port/database`),
    /// with a pool of 10 connections that waits at most 2 s for a free one. Connects
    /// lazily: the app starts even when the database is down, and requests fail with
    /// [`StoreError::Unavailable`] until it is back.
    ///
    /// An error only for a malformed URL. The URL (and its password) appears in no error
    /// and no `Debug` output.
    ///
    /// The URL's `sslmode` and `sslrootcert` choose TLS (feature `tls`; see
    /// [TLS](Self#tls)).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = pool_options().connect_lazy(url).map_err(url_error)?;
        Ok(Self::new(pool))
    }

    /// [`connect`](Self::connect) over TLS that is always verified (feature `tls`),
    /// trusting the CA of `tls` (as well as the system's roots and the URL's
    /// `sslrootcert`; see [TLS](Self#tls)).
    ///
    /// The URL's `sslmode` is raised to make that so: none, `disable`, `allow` or `prefer`
    /// become `verify-full`, and `require` becomes `verify-ca` when `tls` has a CA of its
    /// own (what libpq does with `sslrootcert`); `verify-ca` and `verify-full` stay.
    #[cfg(feature = "tls")]
    pub async fn connect_with(url: &str, tls: &TlsOptions) -> Result<Self, StoreError> {
        let mut options: PgConnectOptions = url.parse().map_err(url_error)?;
        if let Some(ca) = tls.ca() {
            options = options.ssl_root_cert_from_pem(ca.to_vec());
        }
        let mode = match options.get_ssl_mode() {
            PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => PgSslMode::VerifyFull,
            PgSslMode::Require if tls.ca().is_some() => PgSslMode::VerifyCa,
            mode => mode,
        };
        let pool = pool_options().connect_lazy_with(options.ssl_mode(mode));
        Ok(Self::new(pool))
    }

    /// Keeps sessions in table `name` and their keys in `name_entries` (default
    /// `sessions`). Refuses a name that is not 1 to 52 ASCII letters, digits and
    /// underscores (not starting with a digit): it is part of the store's SQL.
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        self.sql = Arc::new(Statements::new(TableNames::new(name)?));
        Ok(self)
    }

    /// The session table's name.
    pub fn table_name(&self) -> &str {
        &self.sql.names.sessions
    }

    /// The `LISTEN`/`NOTIFY` channel of revocations (feature `live`).
    #[cfg(feature = "live")]
    fn revoked_channel(&self) -> String {
        format!("{}_revoked", self.sql.names.sessions)
    }

    /// The pool, for your own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The statements [`migrate`](Self::migrate) runs, separated by `;` (see the type's
    /// docs), for your own migration tool.
    pub fn schema(&self) -> String {
        sql::schema_text(&self.sql.schema)
    }

    /// Creates the tables and the indexes if they do not exist, in one transaction under an
    /// advisory lock (safe to run on every start, from several servers at once, and while
    /// other servers serve from the same tables).
    ///
    /// A schema that is already current is left alone: `migrate` then only reads the
    /// catalog, so it takes no table lock that could queue behind (or deadlock with) the
    /// traffic of servers already running. A migration that does change the schema and
    /// meets a deadlock or a lock timeout is retried a few times.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut retries = MIGRATION_RETRIES;
        loop {
            match self.migrate_once().await {
                Err(err) if retries > 0 && is_lock_conflict(&err) => {
                    retries -= 1;
                    tracing::debug!(error = %err, "session schema migration met a lock conflict; retrying");
                    tokio::time::sleep(MIGRATION_BACKOFF).await;
                }
                outcome => return outcome.map_err(error),
            }
        }
    }

    async fn migrate_once(&self) -> Result<(), sqlx::Error> {
        if self.schema_is_current(&self.pool).await? {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        // Another server may have migrated while this one waited for the lock.
        if self.schema_is_current(&mut *tx).await? {
            return tx.commit().await;
        }
        for statement in &self.sql.schema {
            sqlx::query(statement.clone()).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    async fn schema_is_current<'c, E>(&self, executor: E) -> Result<bool, sqlx::Error>
    where
        E: sqlx::PgExecutor<'c>,
    {
        sqlx::query_scalar(self.sql.schema_is_current.clone())
            .fetch_one(executor)
            .await
    }

    /// Deletes the sessions whose expiry has passed, and their keys; returns how many
    /// sessions it deleted. Call it now and then (a cron job, a timer), or let
    /// [`spawn_cleanup`](Self::spawn_cleanup) do it.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(sqlx::query(self.sql.delete_expired.clone())
            .execute(&self.pool)
            .await
            .map_err(error)?
            .rows_affected())
    }

    /// Spawns a tokio task that calls [`delete_expired`](Self::delete_expired) every
    /// `every` (first right away), logging failures with `tracing::warn!`, until the
    /// returned handle is dropped. Call it inside a tokio runtime. With several app
    /// servers, one cleaning up is enough (all doing it is harmless).
    pub fn spawn_cleanup(&self, every: Duration) -> CleanupTask {
        let store = self.clone();
        CleanupTask::spawn(every, move || {
            let store = store.clone();
            async move { store.delete_expired().await }
        })
    }
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// A URL sqlx refused, said without quoting it: sqlx's message may quote the URL.
fn url_error(err: sqlx::Error) -> StoreError {
    let problem = match err {
        sqlx::Error::Configuration(_) => "it is not a postgres:// URL sqlx can read",
        _ => "sqlx refused it",
    };
    StoreError::Backend {
        reason: format!("the PostgreSQL URL cannot be used: {problem}"),
        source: None,
    }
}

/// A deadlock (`40P01`) or a lock timeout (`55P03`): the schema change lost a race for a
/// table lock, and trying again is right.
fn is_lock_conflict(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40P01" || code == "55P03")
}

fn error(err: sqlx::Error) -> StoreError {
    #[cfg(feature = "tls")]
    if let Some(reason) = super::tls::tls_failure(&err) {
        return StoreError::Unavailable {
            reason,
            source: Some(Box::new(err)),
        };
    }
    sql::sql_error(Dialect::Postgres, err)
}

/// `(created, accessed, key, value)` from a row of the load query.
fn read_row(row: &PgRow, builder: &mut RecordBuilder) -> Result<(), StoreError> {
    let created: f64 = row.try_get(0).map_err(|err| sql::corrupt("created", err))?;
    let accessed: f64 = row
        .try_get(1)
        .map_err(|err| sql::corrupt("accessed", err))?;
    let key: Option<String> = row.try_get(2).map_err(|err| sql::corrupt("?", err))?;
    let entry = match key {
        Some(key) => {
            let value: String = row.try_get(3).map_err(|err| sql::corrupt(&key, err))?;
            Some((key, value))
        }
        None => None,
    };
    builder.row(created, accessed, entry)
}

impl PostgresStore {
    /// A partial save with [`Commit::expect`]: one transaction that takes the session row's
    /// lock, then checks the expected keys and writes in one statement (see
    /// `checked_update`). The lock comes first because a statement reads the rows of
    /// `entries` as they were when it started: a statement that waited for the lock inside
    /// itself would compare against what the save it waited for overwrote.
    async fn checked_update(
        &self,
        commit: &Commit,
        ttl: Option<i64>,
        removed: Vec<&str>,
        keys: Vec<&str>,
        values: Vec<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(error)?;
        let live = sqlx::query(self.sql.lock.clone())
            .bind(&commit.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error)?;
        if live.is_none() {
            return Ok(false);
        }
        let expected: Vec<&str> = commit.expect.iter().map(|e| e.key.as_str()).collect();
        let loaded: Vec<Option<&str>> = commit.expect.iter().map(|e| e.loaded.as_deref()).collect();
        let rows = sqlx::query(self.sql.checked_update.clone())
            .bind(&commit.id)
            .bind(commit.accessed)
            .bind(ttl)
            .bind(removed)
            .bind(keys)
            .bind(values)
            .bind(commit.user.as_deref())
            .bind(expected)
            .bind(loaded)
            .fetch_all(&mut *tx)
            .await
            .map_err(error)?;
        if rows.is_empty() {
            tx.commit().await.map_err(error)?;
            return Ok(true);
        }
        // Nothing was written; the transaction rolls back as it drops.
        let mut conflicts = Vec::with_capacity(rows.len());
        for row in &rows {
            let index: i64 = row.try_get(0).map_err(error)?;
            let expected = usize::try_from(index)
                .ok()
                .and_then(|index| commit.expect.get(index.checked_sub(1)?))
                .ok_or_else(|| StoreError::Backend {
                    reason: format!("the checked save answered key number {index}"),
                    source: None,
                })?;
            let current: Option<String> = row
                .try_get(1)
                .map_err(|err| sql::corrupt(&expected.key, err))?;
            conflicts.push(ConcurrentWrite::new(&expected.key, current));
        }
        Err(StoreError::Conflict { keys: conflicts })
    }
}

impl SessionStore for PostgresStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let rows = sqlx::query(self.sql.load.clone())
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(error)?;
        let mut builder = RecordBuilder::new();
        for row in &rows {
            read_row(row, &mut builder)?;
        }
        Ok(builder.finish())
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        let ttl = sql::ttl_ms(commit.ttl);
        let keys: Vec<&str> = commit.set.iter().map(|(key, _)| key.as_str()).collect();
        let values: Vec<&str> = commit.set.iter().map(|(_, text)| text.as_str()).collect();
        if !commit.replace {
            let removed: Vec<&str> = sql::removed_keys(&commit.remove, &commit.set)
                .map(String::as_str)
                .collect();
            if !commit.expect.is_empty() {
                return self
                    .checked_update(commit, ttl, removed, keys, values)
                    .await;
            }
            let row = sqlx::query(self.sql.update.clone())
                .bind(&commit.id)
                .bind(commit.accessed)
                .bind(ttl)
                .bind(removed)
                .bind(keys)
                .bind(values)
                .bind(commit.user.as_deref())
                .fetch_one(&self.pool)
                .await
                .map_err(error)?;
            let updated: i64 = row.try_get(0).map_err(error)?;
            return Ok(updated == 1);
        }
        let mut tx = self.pool.begin().await.map_err(error)?;
        let ids: Vec<&str> = commit
            .retire
            .iter()
            .chain([&commit.id])
            .map(String::as_str)
            .collect();
        sqlx::query(self.sql.delete_sessions.clone())
            .bind(ids)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        sqlx::query(self.sql.insert.clone())
            .bind(&commit.id)
            .bind(commit.created)
            .bind(commit.accessed)
            .bind(ttl)
            .bind(keys)
            .bind(values)
            .bind(commit.user.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        if let (Some(old), Some(keep)) = (&commit.retire, commit.alias) {
            sqlx::query(self.sql.insert_alias.clone())
                .bind(old)
                .bind(&commit.id)
                .bind(commit.accessed)
                .bind(sql::ttl_ms(Some(keep)))
                .execute(&mut *tx)
                .await
                .map_err(error)?;
        }
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(self.sql.delete_session.clone())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(error)?;
        Ok(())
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        let rows = sqlx::query(self.sql.user_sessions.clone())
            .bind(user)
            .bind(SESSION_META_KEY)
            .fetch_all(&self.pool)
            .await
            .map_err(error)?;
        rows.iter().map(sql::user_session).collect()
    }

    async fn delete_session(&self, id: &str, _user: Option<&str>) -> Result<(), StoreError> {
        // The index is the row's own column: it goes with the row.
        self.delete(id).await
    }

    #[cfg(feature = "live")]
    async fn publish_revoked(&self, handle: &super::SessionHandle) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(self.revoked_channel())
            .bind(handle.as_str())
            .execute(&self.pool)
            .await
            .map_err(error)?;
        Ok(())
    }

    #[cfg(feature = "live")]
    async fn listen_revoked(
        &self,
        into: super::Revocations,
    ) -> Result<super::ListenTask, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(error)?;
        listener
            .listen(&self.revoked_channel())
            .await
            .map_err(error)?;
        Ok(super::ListenTask::spawn(async move {
            loop {
                // `recv` reconnects and listens again by itself after a lost connection.
                match listener.recv().await {
                    Ok(notification) => {
                        if let Some(handle) = super::SessionHandle::parse(notification.payload()) {
                            into.notify(&handle);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "the PostgreSQL revocation listener failed; retrying");
                        tokio::time::sleep(super::live::RECONNECT).await;
                    }
                }
            }
        }))
    }

    async fn load_alias(&self, id: &str) -> Result<Option<Alias>, StoreError> {
        let row = sqlx::query(self.sql.load_alias.clone())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error)?;
        row.as_ref().map(sql::alias).transpose()
    }
}

impl fmt::Debug for PostgresStore {
    /// Shows the table and the pool's size, never the URL or its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.sql.names.sessions)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}
