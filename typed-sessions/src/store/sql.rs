//! What the SQL stores ([`SqliteStore`](super::SqliteStore),
//! [`PostgresStore`](super::PostgresStore)) share: table names, the layout, error mapping,
//! rows to records, and the cleanup task.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::{Alias, Record, StoreError, UserSession};

/// The default table of the SQL stores; its entries live in `sessions_entries`.
pub(crate) const DEFAULT_TABLE: &str = "sessions";

/// The longest table name accepted: PostgreSQL's limit on identifiers (63 bytes) less the
/// longest suffix of the names made from it (the index `_expires_at`).
const MAX_TABLE_NAME: usize = 63 - "_expires_at".len();

/// A table name that is not a plain SQL identifier, refused by `with_table_name`.
///
/// A name is 1 to 52 ASCII letters, digits and underscores, not starting with a digit: it is
/// spliced into the store's SQL (a table name cannot be a bound parameter), so nothing else
/// may reach it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a usable table name: use 1 to 52 ASCII letters, digits and underscores, \
     not starting with a digit"
)]
pub struct InvalidTableName {
    /// The name that was refused.
    pub name: String,
}

/// The session table's name and the entries table's, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableNames {
    pub(crate) sessions: String,
    pub(crate) entries: String,
}

impl TableNames {
    pub(crate) fn new(name: &str) -> Result<Self, InvalidTableName> {
        let mut bytes = name.bytes();
        let ok = name.len() <= MAX_TABLE_NAME
            && bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(InvalidTableName {
                name: name.to_owned(),
            });
        }
        Ok(Self {
            sessions: name.to_owned(),
            entries: format!("{name}_entries"),
        })
    }

    /// A statement with `{sessions}` and `{entries}` replaced by the (checked) table names.
    pub(crate) fn sql(&self, template: &str) -> SqlStr {
        let text = template
            .replace("{sessions}", &self.sessions)
            .replace("{entries}", &self.entries);
        // Safe: the only dynamic parts are the table names, which `new` restricts to
        // identifier characters; every value is a bound parameter.
        AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
    }
}

/// The database kinds, for reading their error codes.
#[derive(Clone, Copy)]
pub(crate) enum Dialect {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// The schema's statements as one text, each ending in `;`.
pub(crate) fn schema_text(statements: &[SqlStr]) -> String {
    let mut text = String::new();
    for statement in statements {
        text.push_str(statement.as_str());
        text.push_str(";\n");
    }
    text
}

/// Maps a sqlx error: the database cannot be reached (connection refused or lost, pool
/// timed out, server shutting down, SQLite's lock wait ran out) is
/// [`StoreError::Unavailable`], anything else [`StoreError::Backend`].
pub(crate) fn sql_error(dialect: Dialect, err: sqlx::Error) -> StoreError {
    if let sqlx::Error::ColumnDecode { index, source } = &err {
        // A value the row holds but the column's type cannot give (SQLite stores any type
        // in any column): the record cannot be read, which the factory answers with a new
        // session instead of an error on every request.
        return StoreError::Corrupt {
            key: index.clone(),
            reason: source.to_string(),
        };
    }
    let unavailable = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| is_unavailable_code(dialect, &code)),
        _ => false,
    };
    if unavailable {
        StoreError::unavailable(err)
    } else {
        StoreError::backend(err)
    }
}

/// Error codes that mean "not now" rather than "wrong".
fn is_unavailable_code(dialect: Dialect, code: &str) -> bool {
    match dialect {
        // `SQLITE_BUSY`, `SQLITE_LOCKED` (the lock wait ran out) and `SQLITE_CANTOPEN`, with
        // their extended codes (the primary code is the low byte).
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => code
            .parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 14)),
        // SQLSTATE: connection exceptions (class `08`), too many connections, the server
        // shutting down, crashed or starting, a statement cancelled (a statement timeout),
        // and the transaction conflicts worth a retry (serialization failure, deadlock).
        #[cfg(feature = "postgres")]
        Dialect::Postgres => {
            code.starts_with("08")
                || matches!(
                    code,
                    "53300" | "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01"
                )
        }
    }
}

/// Builds a [`Record`] from the rows of a session joined with its entries: `(created,
/// accessed, key, value)`, with `key` and `value` null for a session without entries.
pub(crate) struct RecordBuilder {
    record: Option<Record>,
}

impl RecordBuilder {
    pub(crate) fn new() -> Self {
        Self { record: None }
    }

    pub(crate) fn row(
        &mut self,
        created: f64,
        accessed: f64,
        entry: Option<(String, String)>,
    ) -> Result<(), StoreError> {
        let record = match &mut self.record {
            Some(record) => record,
            None => {
                for (name, t) in [("created", created), ("accessed", accessed)] {
                    if !t.is_finite() {
                        return Err(StoreError::Corrupt {
                            key: name.to_owned(),
                            reason: format!("the timestamp {t} is not a finite number"),
                        });
                    }
                }
                self.record.insert(Record {
                    created,
                    accessed,
                    entries: Vec::new(),
                })
            }
        };
        record.entries.extend(entry);
        Ok(())
    }

    pub(crate) fn finish(self) -> Option<Record> {
        self.record
    }
}

/// One row of a user's sessions, `(id, created, accessed, meta)`, as both SQL stores
/// select them; a `meta` that does not decode is no metadata, not an error.
pub(crate) fn user_session<R: sqlx::Row>(row: &R) -> Result<UserSession, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserSession {
        id: row.try_get(0).map_err(|err| corrupt("id", err))?,
        created: row.try_get(1).map_err(|err| corrupt("created", err))?,
        accessed: row.try_get(2).map_err(|err| corrupt("accessed", err))?,
        meta: row.try_get::<Option<String>, _>(3).ok().flatten(),
    })
}

/// An alias row, `(target, at)`, as both SQL stores select it.
pub(crate) fn alias<R: sqlx::Row>(row: &R) -> Result<Alias, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Alias {
        target: row.try_get(0).map_err(|err| corrupt("target", err))?,
        at: row.try_get(1).map_err(|err| corrupt("at", err))?,
    })
}

/// A column that failed to decode, as [`StoreError::Corrupt`] naming the session key (or
/// the column, for the session row's own columns).
pub(crate) fn corrupt(key: &str, err: sqlx::Error) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: err.to_string(),
    }
}

/// Keys a partial save removes, less those it also sets (a save never does both to one
/// key; the data-modifying statements must not both touch a row).
pub(crate) fn removed_keys<'a>(
    remove: &'a [String],
    set: &'a [(String, String)],
) -> impl Iterator<Item = &'a String> {
    remove
        .iter()
        .filter(move |key| !set.iter().any(|(set_key, _)| set_key == *key))
}

/// A TTL in whole milliseconds, at least one, saturating.
pub(crate) fn ttl_ms(ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1))
}

/// The background task of `spawn_cleanup`: deletes expired sessions every interval, until
/// this handle is dropped or [`stop`](Self::stop)ped.
///
/// Keep the handle for as long as the cleanup should run (in the app's state, or in
/// `main`): dropping it stops the task.
#[must_use = "dropping the handle stops the cleanup task"]
pub struct CleanupTask {
    handle: tokio::task::JoinHandle<()>,
}

impl CleanupTask {
    pub(crate) fn spawn<F, Fut>(every: Duration, mut delete_expired: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, StoreError>> + Send,
    {
        let every = every.max(Duration::from_millis(1));
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match delete_expired().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::debug!(deleted, "expired sessions deleted"),
                    Err(err) => tracing::warn!(error = %err, "deleting expired sessions failed"),
                }
            }
        });
        Self { handle }
    }

    /// Stops the task (as dropping the handle does).
    pub fn stop(self) {}

    /// Whether the task has ended (it only ends when stopped, or if it panicked).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for CleanupTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl fmt::Debug for CleanupTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupTask")
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["sessions", "_s", "app_sessions_2", &"x".repeat(52)] {
            let names = TableNames::new(good).unwrap();
            assert_eq!(names.entries, format!("{good}_entries"));
        }
        for bad in [
            "",
            "1sessions",
            "sessions; DROP TABLE users",
            "a-b",
            "a.b",
            "\"quoted\"",
            "séance",
            "s\0",
            &"x".repeat(53),
        ] {
            let err = TableNames::new(bad).unwrap_err();
            assert_eq!(err.name, bad);
            assert!(err.to_string().contains("not a usable table name"), "{err}");
        }
    }

    #[test]
    fn statements_name_the_tables() {
        let names = TableNames::new("app").unwrap();
        let sql = names.sql("DELETE FROM {entries} USING {sessions}");
        assert_eq!(sql.as_str(), "DELETE FROM app_entries USING app");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn unreachable_sqlite_codes() {
        for code in ["5", "517", "6", "262", "14"] {
            assert!(is_unavailable_code(Dialect::Sqlite, code), "{code}");
        }
        for code in ["1", "19", "2067", "0", "x"] {
            assert!(!is_unavailable_code(Dialect::Sqlite, code), "{code}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn unreachable_postgres_codes() {
        for code in [
            "08006", "08001", "53300", "57P01", "57P02", "57P03", "57014", "40001", "40P01",
        ] {
            assert!(is_unavailable_code(Dialect::Postgres, code), "{code}");
        }
        for code in ["23505", "42P01", "22P02", "5"] {
            assert!(!is_unavailable_code(Dialect::Postgres, code), "{code}");
        }
    }

    #[test]
    fn records_from_rows() {
        let mut builder = RecordBuilder::new();
        assert_eq!(RecordBuilder::new().finish(), None);
        builder.row(1.0, 2.0, None).unwrap();
        assert_eq!(builder.finish().unwrap().entries, []);
        let mut builder = RecordBuilder::new();
        builder
            .row(1.0, 2.0, Some(("a".into(), "1".into())))
            .unwrap();
        builder
            .row(1.0, 2.0, Some(("b".into(), "2".into())))
            .unwrap();
        let record = builder.finish().unwrap();
        assert_eq!((record.created, record.accessed), (1.0, 2.0));
        assert_eq!(record.entries.len(), 2);
        let err = RecordBuilder::new().row(f64::NAN, 2.0, None).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { key, .. } if key == "created"),
            "{err}"
        );
    }

    #[test]
    fn a_key_both_set_and_removed_is_only_set() {
        let remove = vec!["a".to_owned(), "b".to_owned()];
        let set = vec![("b".to_owned(), "1".to_owned())];
        assert_eq!(removed_keys(&remove, &set).collect::<Vec<_>>(), ["a"]);
        assert_eq!(ttl_ms(Some(Duration::from_micros(10))), Some(1));
        assert_eq!(ttl_ms(None), None);
    }
}
