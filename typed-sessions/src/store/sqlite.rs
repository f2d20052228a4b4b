//! [`SqliteStore`]: server-side sessions in SQLite, a session row plus one row per key.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqlStr};

use super::sql::{
    self, CleanupTask, DEFAULT_TABLE, Dialect, InvalidTableName, RecordBuilder, TableNames,
};
use super::{
    Alias, Commit, ConcurrentWrite, Record, SESSION_META_KEY, SessionStore, StoreError, UserSession,
};

mod writer;

use writer::Writer;

/// Sessions in SQLite (feature `sqlite`), through a sqlx [`SqlitePool`]: for an app on one
/// machine that already keeps its data in SQLite, or wants sessions to survive a restart
/// without running a server.
///
/// ```no_run
/// use std::time::Duration;
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::SqliteStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::connect("sqlite://sessions.db").await?;
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
///     id TEXT PRIMARY KEY NOT NULL,
///     created REAL NOT NULL,      -- Unix seconds
///     accessed REAL NOT NULL,     -- Unix seconds
///     expires_at INTEGER,         -- Unix milliseconds; NULL: no timeout
///     user_id TEXT                -- the signed-in user (the registry); NULL: none
/// );
/// CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
/// -- (`migrate` adds `user_id` to a table made before it had one.)
/// CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
/// -- Old ids of renewal rotations, for their grace.
/// CREATE TABLE IF NOT EXISTS sessions_aliases (
///     id TEXT PRIMARY KEY NOT NULL,
///     target TEXT NOT NULL,
///     at REAL NOT NULL,           -- Unix seconds
///     expires_at INTEGER
/// );
/// CREATE TABLE IF NOT EXISTS sessions_entries (
///     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
///     key TEXT NOT NULL,
///     value TEXT NOT NULL,        -- the key's value as JSON text
///     PRIMARY KEY (session_id, key)
/// ) WITHOUT ROWID;
/// -- The partial save in one statement (see below); `sessions_update` was its name before
/// -- the registry's `user_id`.
/// DROP TRIGGER IF EXISTS sessions_update;
/// DROP VIEW IF EXISTS sessions_update;
/// CREATE VIEW IF NOT EXISTS sessions_save AS SELECT '' AS id, 0.0 AS accessed,
///     0 AS expires_at, 0 AS now, '[]' AS removed, '[]' AS written, '' AS user_id WHERE 0;
/// CREATE TRIGGER IF NOT EXISTS sessions_save INSTEAD OF INSERT ON sessions_save
/// BEGIN
///     SELECT RAISE(ABORT, 'session gone') WHERE NOT EXISTS (SELECT 1 FROM sessions
///         WHERE id = NEW.id AND (expires_at IS NULL OR expires_at > NEW.now));
///     UPDATE sessions SET accessed = NEW.accessed, expires_at = NEW.expires_at,
///         user_id = NEW.user_id WHERE id = NEW.id;
///     DELETE FROM sessions_entries WHERE session_id = NEW.id
///         AND key IN (SELECT value FROM json_each(NEW.removed));
///     INSERT INTO sessions_entries (session_id, key, value)
///         SELECT NEW.id, json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]')
///         FROM json_each(NEW.written) AS w WHERE true
///         ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value;
/// END;
/// ```
///
/// # Saving
///
/// A partial save is one statement, so one round trip to SQLite: an `INSERT` into the view
/// `sessions_save`, whose `INSTEAD OF` trigger checks that the session row is there and
/// not expired (else it aborts, and the save reports that nothing was written), renews it,
/// deletes the keys the request removed and upserts the ones it wrote. The statement takes
/// the write lock before it reads, and a failure anywhere undoes all of it. A new or renamed
/// session is one `BEGIN IMMEDIATE` transaction: delete the old id's rows, insert the new
/// ones. Concurrent requests that change different keys therefore all survive. A partial
/// save with checked keys ([`Commit::expect`]: flash queues, the CSRF token, fields with a
/// conflict policy) is one `BEGIN IMMEDIATE` transaction instead: the write lock first, then
/// a read of the checked keys, then the same statement only if each still holds what the
/// request loaded (else nothing is written, and the save answers
/// [`StoreError::Conflict`] with what they hold). Saves go
/// through one connection of their own, so concurrent ones queue in order rather than poll
/// SQLite's lock.
///
/// The factory's timeout is the row's expiry, renewed on every save. An expired row is
/// never loaded or written to, but stays on disk until [`delete_expired`](Self::delete_expired)
/// (or the [`spawn_cleanup`](Self::spawn_cleanup) task) deletes it; listing a user's
/// sessions deletes that user's expired rows first.
///
/// The [registry](super#signed-in-on-several-devices) is the indexed `user_id` column,
/// written by every save in the same statement or transaction as the rest of the row.
///
/// # Layout
///
/// A session row plus one row per key, chosen against one JSON document per session
/// (`TEXT`, a save being one `UPDATE ... SET data = json_set(data, '$."key"', json(?))`) by
/// measuring both: `cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin
/// layout -- 2000 1 16` (2,000 requests per row, each loading a session and writing one key
/// back, WAL, `synchronous = NORMAL`; two shared vCPUs):
///
/// | session | concurrency | document: ops/s (p99 µs) | rows: ops/s (p99 µs) |
/// |---|---:|---:|---:|
/// | 1,093 B | 1 | 9,869 (174) | 5,325 (640) |
/// | 1,093 B | 16 | 9,791 (7,557) | 7,145 (9,720) |
/// | 8,766 B | 1 | 4,894 (507) | 5,652 (395) |
/// | 8,766 B | 16 | 4,694 (10,994) | 5,036 (11,837) |
///
/// The document is faster on small sessions (one row to read, a short text to rewrite),
/// the rows on larger ones (a save writes one small row, not the whole document). The rows
/// win on correctness, which decides: SQLite's JSON paths cannot name every key (on SQLite
/// 3.40, `json_set` silently writes nothing for a key containing `"`, and writes the key
/// `a\\b` for `a\b`), `json()` reformats the value's text, and a document would need a
/// read-modify-write fallback for such keys. Rows keep every key and value byte for byte
/// (tested with such keys), and both SQL stores share one layout.
///
/// # Errors
///
/// The database file cannot be opened, or its lock wait ran out (another process held the
/// write lock for longer than the busy timeout): [`StoreError::Unavailable`] (the axum
/// layer answers `503`). Other database errors: [`StoreError::Backend`]. A row that
/// cannot be read (a value that is not text, a time that is not a number):
/// [`StoreError::Corrupt`] naming the key, and the row is left as it is.
#[derive(Clone)]
pub struct SqliteStore {
    /// Loads.
    pool: SqlitePool,
    /// Saves, deletes and migrations: SQLite runs one writer at a time, and writers queued
    /// for one connection wait their turn in order, where writers on many connections
    /// would poll SQLite's lock with growing sleeps (`busy_timeout`). See `writer.rs`.
    writer: Writer,
    sql: Arc<Statements>,
}

struct Statements {
    names: TableNames,
    schema: Vec<SqlStr>,
    load: SqlStr,
    update: SqlStr,
    expected_values: SqlStr,
    insert_session: SqlStr,
    has_user_id: SqlStr,
    add_user_id: SqlStr,
    user_sessions: SqlStr,
    delete_expired_of_user: SqlStr,
    insert_alias: SqlStr,
    load_alias: SqlStr,
    delete_expired_aliases: SqlStr,
    upsert_entry: SqlStr,
    delete_entries: SqlStr,
    delete_session: SqlStr,
    delete_expired_entries: SqlStr,
    delete_expired_sessions: SqlStr,
}

impl Statements {
    fn new(names: TableNames) -> Self {
        let schema = [
            "CREATE TABLE IF NOT EXISTS {sessions} (\n    id TEXT PRIMARY KEY NOT NULL,\n    \
             created REAL NOT NULL,\n    accessed REAL NOT NULL,\n    expires_at INTEGER,\n    \
             user_id TEXT\n)",
            "CREATE INDEX IF NOT EXISTS {sessions}_expires_at ON {sessions} (expires_at)",
            // `migrate` adds `user_id` to an older table before this (see `ADD_USER_ID`).
            "CREATE INDEX IF NOT EXISTS {sessions}_user_id ON {sessions} (user_id)",
            "CREATE TABLE IF NOT EXISTS {sessions}_aliases (\n    id TEXT PRIMARY KEY NOT NULL,\n    \
             target TEXT NOT NULL,\n    at REAL NOT NULL,\n    expires_at INTEGER\n)",
            "CREATE TABLE IF NOT EXISTS {entries} (\n    session_id TEXT NOT NULL REFERENCES \
             {sessions} (id) ON DELETE CASCADE,\n    key TEXT NOT NULL,\n    value TEXT NOT \
             NULL,\n    PRIMARY KEY (session_id, key)\n) WITHOUT ROWID",
            // The view of the partial save before the registry, without `user_id`.
            "DROP TRIGGER IF EXISTS {sessions}_update",
            "DROP VIEW IF EXISTS {sessions}_update",
            // The partial save as one statement (an insert into this view), so one round
            // trip: the write lock is taken before the first read, and a failure anywhere
            // undoes the whole statement.
            "CREATE VIEW IF NOT EXISTS {sessions}_save AS SELECT '' AS id, 0.0 AS accessed, \
             0 AS expires_at, 0 AS now, '[]' AS removed, '[]' AS written, '' AS user_id WHERE 0",
            "CREATE TRIGGER IF NOT EXISTS {sessions}_save INSTEAD OF INSERT ON {sessions}_save \
             BEGIN\n    \
             SELECT RAISE(ABORT, 'session gone') WHERE NOT EXISTS (SELECT 1 FROM {sessions} \
             WHERE id = NEW.id AND (expires_at IS NULL OR expires_at > NEW.now));\n    \
             UPDATE {sessions} SET accessed = NEW.accessed, expires_at = NEW.expires_at, \
             user_id = NEW.user_id WHERE id = NEW.id;\n    \
             DELETE FROM {entries} WHERE session_id = NEW.id \
             AND key IN (SELECT value FROM json_each(NEW.removed));\n    \
             INSERT INTO {entries} (session_id, key, value) \
             SELECT NEW.id, json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]') \
             FROM json_each(NEW.written) AS w WHERE true \
             ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value;\n\
             END",
        ]
        .map(|template| names.sql(template))
        .into();
        Self {
            schema,
            load: names.sql(
                "SELECT s.created, s.accessed, e.key, e.value FROM {sessions} s \
                 LEFT JOIN {entries} e ON e.session_id = s.id \
                 WHERE s.id = ?1 AND (s.expires_at IS NULL OR s.expires_at > ?2)",
            ),
            update: names.sql(
                "INSERT INTO {sessions}_save \
                 (id, accessed, expires_at, now, removed, written, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            ),
            // ?3: the expected keys as a JSON array; one row per key of a live session, with
            // the key's index in it and its value (NULL: absent); no row when it is gone.
            expected_values: names.sql(
                "SELECT x.key, e.value FROM {sessions} s, json_each(?3) AS x \
                 LEFT JOIN {entries} e ON e.session_id = s.id AND e.key = x.value \
                 WHERE s.id = ?1 AND (s.expires_at IS NULL OR s.expires_at > ?2)",
            ),
            insert_session: names.sql(
                "INSERT INTO {sessions} (id, created, accessed, expires_at, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            ),
            has_user_id: names
                .sql("SELECT count(*) FROM pragma_table_info('{sessions}') WHERE name = 'user_id'"),
            add_user_id: names.sql("ALTER TABLE {sessions} ADD COLUMN user_id TEXT"),
            user_sessions: names.sql(
                "SELECT s.id, s.created, s.accessed, e.value FROM {sessions} s \
                 LEFT JOIN {entries} e ON e.session_id = s.id AND e.key = ?2 \
                 WHERE s.user_id = ?1",
            ),
            delete_expired_of_user: names
                .sql("DELETE FROM {sessions} WHERE user_id = ?1 AND expires_at <= ?2 RETURNING id"),
            insert_alias: names.sql(
                "INSERT INTO {sessions}_aliases (id, target, at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
                 target = excluded.target, at = excluded.at, expires_at = excluded.expires_at",
            ),
            load_alias: names.sql(
                "SELECT target, at FROM {sessions}_aliases \
                 WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            ),
            delete_expired_aliases: names
                .sql("DELETE FROM {sessions}_aliases WHERE expires_at <= ?1"),
            upsert_entry: names.sql(
                "INSERT INTO {entries} (session_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value",
            ),
            delete_entries: names.sql("DELETE FROM {entries} WHERE session_id = ?1"),
            delete_session: names.sql("DELETE FROM {sessions} WHERE id = ?1"),
            delete_expired_entries: names.sql(
                "DELETE FROM {entries} WHERE session_id IN \
                 (SELECT id FROM {sessions} WHERE expires_at <= ?1)",
            ),
            delete_expired_sessions: names.sql("DELETE FROM {sessions} WHERE expires_at <= ?1"),
            names,
        }
    }
}

/// The trigger's message when a partial save finds no live session row.
const SESSION_GONE: &str = "session gone";

/// How long a connection waits for another's write lock before the request fails with
/// [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SqliteStore {
    /// A store on a pool you configured, with the table `sessions`. Run
    /// [`migrate`](Self::migrate) (or [`schema`](Self::schema) in your own migrations)
    /// before the first request.
    ///
    /// Use a busy timeout (sqlx's default is 5 s), or concurrent saves fail with
    /// [`StoreError::Unavailable`] instead of waiting for each other.
    pub fn new(pool: SqlitePool) -> Self {
        Self::with(pool.clone(), Writer::per_write(pool))
    }

    /// A store that loads through `pool` and writes through one connection of `writer`,
    /// which it takes on the first write and keeps (as [`connect`](Self::connect) does):
    /// concurrent saves queue for that connection in order instead of polling SQLite's
    /// lock. Give `writer` a pool of its own (`max_connections(1)` is enough), not `pool`.
    pub fn with_writer(pool: SqlitePool, writer: SqlitePool) -> Self {
        Self::with(pool, Writer::keep(writer))
    }

    fn with(pool: SqlitePool, writer: Writer) -> Self {
        let names = TableNames::new(DEFAULT_TABLE).expect("the default table name is valid");
        Self {
            pool,
            writer,
            sql: Arc::new(Statements::new(names)),
        }
    }

    /// Opens the database at `url` (`sqlite://path/to/file.db`, created if missing;
    /// `sqlite::memory:` for a database that lives as long as the store's connections), in
    /// WAL mode with
    /// `synchronous = NORMAL` (a commit survives an app crash; an OS crash may lose the last
    /// few), a busy timeout of 5 s, 4 connections for loads and one for writes. Connects
    /// lazily: the file is opened by the first query.
    ///
    /// An error only for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| sql::sql_error(Dialect::Sqlite, err))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        // Connections stay open once made: an in-memory database lives as long as one of
        // them does, and a SQLite connection holds no server's resources.
        let pool_options = |size| {
            SqlitePoolOptions::new()
                .max_connections(size)
                .acquire_timeout(BUSY_TIMEOUT)
                .idle_timeout(None)
                .max_lifetime(None)
                // A file's connection does not go stale as a network one does: no ping
                // before each use.
                .test_before_acquire(false)
        };
        let pool = pool_options(POOL_SIZE).connect_lazy_with(options.clone());
        let writer = pool_options(1).connect_lazy_with(options);
        Ok(Self::with_writer(pool, writer))
    }

    /// Keeps sessions in table `name` and their keys in `name_entries` (default
    /// `sessions`). Refuses a name that is not 1 to 52 ASCII letters, digits and
    /// underscores (not starting with a digit): it is part of the store's SQL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use typed_sessions::store::SqliteStore;
    ///
    /// let store = SqliteStore::connect("sqlite::memory:").await?;
    /// let store = store.with_table_name("shop_sessions")?;
    /// assert_eq!(store.table_name(), "shop_sessions");
    /// assert!(SqliteStore::connect("sqlite::memory:").await?
    ///     .with_table_name("x; DROP TABLE users")
    ///     .is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        self.sql = Arc::new(Statements::new(TableNames::new(name)?));
        Ok(self)
    }

    /// The session table's name.
    pub fn table_name(&self) -> &str {
        &self.sql.names.sessions
    }

    /// The pool of loads, for your own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The statements [`migrate`](Self::migrate) runs, separated by `;` (see the type's
    /// docs), for your own migration tool.
    pub fn schema(&self) -> String {
        sql::schema_text(&self.sql.schema)
    }

    /// Creates the tables, the index, the view and its trigger if they do not exist, in one
    /// transaction (safe to run on every start, and from several processes at once).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use typed_sessions::store::SqliteStore;
    ///
    /// let store = SqliteStore::connect("sqlite::memory:").await?;
    /// store.migrate().await?;
    /// store.migrate().await?; // a no-op the second time
    /// assert_eq!(store.delete_expired().await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        for (i, statement) in self.sql.schema.iter().enumerate() {
            sqlx::query(statement.clone())
                .execute(&mut *tx)
                .await
                .map_err(error)?;
            if i == 0 {
                // A table made before the registry: SQLite has no `ADD COLUMN IF NOT
                // EXISTS`, so ask first (in the same transaction, so no race).
                let has: i64 = sqlx::query_scalar(self.sql.has_user_id.clone())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(error)?;
                if has == 0 {
                    sqlx::query(self.sql.add_user_id.clone())
                        .execute(&mut *tx)
                        .await
                        .map_err(error)?;
                }
            }
        }
        tx.commit().await.map_err(error)
    }

    /// Deletes the sessions whose expiry has passed, and their keys; returns how many
    /// sessions it deleted. Call it now and then (a cron job, a timer), or let
    /// [`spawn_cleanup`](Self::spawn_cleanup) do it.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        sqlx::query(self.sql.delete_expired_entries.clone())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        let deleted = sqlx::query(self.sql.delete_expired_sessions.clone())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(error)?
            .rows_affected();
        sqlx::query(self.sql.delete_expired_aliases.clone())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(deleted)
    }

    /// Spawns a tokio task that calls [`delete_expired`](Self::delete_expired) every
    /// `every` (first right away), logging failures with `tracing::warn!`, until the
    /// returned handle is dropped. Call it inside a tokio runtime.
    pub fn spawn_cleanup(&self, every: Duration) -> CleanupTask {
        let store = self.clone();
        CleanupTask::spawn(every, move || {
            let store = store.clone();
            async move { store.delete_expired().await }
        })
    }
}

/// Connections for loads in [`SqliteStore::connect`] (writes have one of their own).
const POOL_SIZE: u32 = 4;

fn error(err: sqlx::Error) -> StoreError {
    sql::sql_error(Dialect::Sqlite, err)
}

/// Now, in Unix milliseconds, for the rows' expiry (the process's clock is SQLite's).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `(created, accessed, key, value)` from a row of the load query.
fn read_row(row: &SqliteRow, builder: &mut RecordBuilder) -> Result<(), StoreError> {
    let created: f64 = row.try_get(0).map_err(|err| sql::corrupt("created", err))?;
    let accessed: f64 = row
        .try_get(1)
        .map_err(|err| sql::corrupt("accessed", err))?;
    let key: Option<String> = row.try_get(2).map_err(|err| {
        let raw: Option<Vec<u8>> = row.try_get(2).ok().flatten();
        let key = raw.map_or_else(
            || "?".to_owned(),
            |raw| String::from_utf8_lossy(&raw).into_owned(),
        );
        sql::corrupt(&key, err)
    })?;
    let entry = match key {
        Some(key) => {
            let value: String = row.try_get(3).map_err(|err| sql::corrupt(&key, err))?;
            Some((key, value))
        }
        None => None,
    };
    builder.row(created, accessed, entry)
}

impl SqliteStore {
    /// A partial save with [`Commit::expect`]: one `BEGIN IMMEDIATE` transaction (the write
    /// lock taken before the first read) that reads the expected keys, and runs `update`
    /// only if each still holds what the request loaded.
    async fn checked_update(
        &self,
        commit: &Commit,
        now: i64,
        update: sqlx::query::Query<'_, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>,
    ) -> Result<bool, StoreError> {
        let expected: Vec<&str> = commit.expect.iter().map(|e| e.key.as_str()).collect();
        let expected = serde_json::to_string(&expected).map_err(StoreError::backend)?;
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        let rows = sqlx::query(self.sql.expected_values.clone())
            .bind(&commit.id)
            .bind(now)
            .bind(expected)
            .fetch_all(&mut *tx)
            .await
            .map_err(error)?;
        if rows.is_empty() {
            return Ok(false);
        }
        let mut conflicts = Vec::new();
        for row in &rows {
            let index: i64 = row.try_get(0).map_err(error)?;
            let expected = usize::try_from(index)
                .ok()
                .and_then(|index| commit.expect.get(index))
                .ok_or_else(|| StoreError::Backend {
                    reason: format!("the checked save read key number {index}"),
                    source: None,
                })?;
            let current: Option<String> = row
                .try_get(1)
                .map_err(|err| sql::corrupt(&expected.key, err))?;
            if current != expected.loaded {
                conflicts.push(ConcurrentWrite::new(&expected.key, current));
            }
        }
        if !conflicts.is_empty() {
            // Nothing was written; the transaction rolls back as it drops.
            return Err(StoreError::Conflict { keys: conflicts });
        }
        match update.execute(&mut *tx).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(err)) if err.message() == SESSION_GONE => return Ok(false),
            Err(err) => return Err(error(err)),
        }
        tx.commit().await.map_err(error)?;
        Ok(true)
    }
}

impl SessionStore for SqliteStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let rows = sqlx::query(self.sql.load.clone())
            .bind(id)
            .bind(now_ms())
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
        let now = now_ms();
        let expires_at = sql::ttl_ms(commit.ttl).map(|ttl| now.saturating_add(ttl));
        let sql = &self.sql;
        if !commit.replace {
            let removed: Vec<&String> = sql::removed_keys(&commit.remove, &commit.set).collect();
            // `[key, ...]` and `[[key, json text], ...]`, unpacked by the trigger.
            let removed = serde_json::to_string(&removed).map_err(StoreError::backend)?;
            let written = serde_json::to_string(&commit.set).map_err(StoreError::backend)?;
            let update = sqlx::query(sql.update.clone())
                .bind(&commit.id)
                .bind(commit.accessed)
                .bind(expires_at)
                .bind(now)
                .bind(removed)
                .bind(written)
                .bind(commit.user.as_deref());
            if !commit.expect.is_empty() {
                return self.checked_update(commit, now, update).await;
            }
            let mut writer = self.writer.connection().await.map_err(error)?;
            let outcome = update.execute(&mut *writer).await;
            return match writer.check(outcome) {
                Ok(_) => Ok(true),
                Err(sqlx::Error::Database(err)) if err.message() == SESSION_GONE => Ok(false),
                Err(err) => Err(error(err)),
            };
        }
        // A new id (a new session, or a rename): one transaction.
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        for id in commit.retire.iter().chain([&commit.id]) {
            for statement in [&sql.delete_entries, &sql.delete_session] {
                sqlx::query(statement.clone())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(error)?;
            }
        }
        if let (Some(old), Some(keep)) = (&commit.retire, commit.alias) {
            sqlx::query(sql.insert_alias.clone())
                .bind(old)
                .bind(&commit.id)
                .bind(commit.accessed)
                .bind(sql::ttl_ms(Some(keep)).map(|keep| now.saturating_add(keep)))
                .execute(&mut *tx)
                .await
                .map_err(error)?;
        }
        sqlx::query(sql.insert_session.clone())
            .bind(&commit.id)
            .bind(commit.created)
            .bind(commit.accessed)
            .bind(expires_at)
            .bind(commit.user.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        for (key, text) in &commit.set {
            sqlx::query(sql.upsert_entry.clone())
                .bind(&commit.id)
                .bind(key)
                .bind(text)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
        }
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        for statement in [&self.sql.delete_entries, &self.sql.delete_session] {
            sqlx::query(statement.clone())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
        }
        tx.commit().await.map_err(error)
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        let mut writer = self.writer.connection().await.map_err(error)?;
        let mut tx = writer.begin_immediate().await.map_err(error)?;
        // The user's expired rows go first: the index never lists, nor keeps, a dead
        // session.
        let expired: Vec<String> = sqlx::query_scalar(self.sql.delete_expired_of_user.clone())
            .bind(user)
            .bind(now_ms())
            .fetch_all(&mut *tx)
            .await
            .map_err(error)?;
        for id in &expired {
            sqlx::query(self.sql.delete_entries.clone())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
        }
        let rows = sqlx::query(self.sql.user_sessions.clone())
            .bind(user)
            .bind(SESSION_META_KEY)
            .fetch_all(&mut *tx)
            .await
            .map_err(error)?;
        tx.commit().await.map_err(error)?;
        rows.iter().map(sql::user_session).collect()
    }

    async fn delete_session(&self, id: &str, _user: Option<&str>) -> Result<(), StoreError> {
        // The index is the row's own column: it goes with the row.
        self.delete(id).await
    }

    async fn load_alias(&self, id: &str) -> Result<Option<Alias>, StoreError> {
        let row = sqlx::query(self.sql.load_alias.clone())
            .bind(id)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(error)?;
        row.as_ref().map(sql::alias).transpose()
    }
}

impl fmt::Debug for SqliteStore {
    /// Shows the table and the pool's size, never the connection options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.sql.names.sessions)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}
