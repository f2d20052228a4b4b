//! Beaker's `ext:database` back end (and `ext:sqla` on the same table): one row per session
//! in `beaker_cache(id, namespace UNIQUE, accessed, created, data)`, `data` the pickled
//! namespace dict `{"session": str}` (SQLAlchemy's `PickleType`).

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::Cas;
use crate::store::StoreError;
use crate::store::sql::{Dialect, InvalidTableName, TableNames, sql_error};

/// Beaker's default `table_name`.
pub(super) const DEFAULT_TABLE: &str = "beaker_cache";

/// The statements of one dialect on one table.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) table: String,
    schema: SqlStr,
    read: SqlStr,
    exists: SqlStr,
    upsert: SqlStr,
    update: SqlStr,
    delete: SqlStr,
}

/// The pool of one of the two databases.
#[derive(Debug, Clone)]
pub(super) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

#[derive(Debug, Clone)]
pub(super) struct SqlBackend {
    pub(super) pool: Pool,
    pub(super) sql: Arc<Statements>,
}

fn sql(text: String) -> SqlStr {
    // Safe: the only dynamic part is the table name, which `TableNames::new` restricts to
    // identifier characters; every value is a bound parameter.
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl Statements {
    /// The statements for `pool`'s dialect on table `name` (checked).
    pub(super) fn new(pool: &Pool, name: &str) -> Result<Self, InvalidTableName> {
        let t = TableNames::new(name)?.sessions;
        // The DDL SQLAlchemy emits for Beaker's table, and the server's local time, as the
        // package's `datetime.now()` (naive, local) fills `accessed` and `created`.
        let (schema, now, p) = match pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => (
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (\n\tid INTEGER NOT NULL, \n\tnamespace \
                     VARCHAR(255) NOT NULL, \n\taccessed DATETIME NOT NULL, \n\tcreated DATETIME \
                     NOT NULL, \n\tdata BLOB NOT NULL, \n\tPRIMARY KEY (id), \n\tUNIQUE \
                     (namespace)\n)"
                ),
                "strftime('%Y-%m-%d %H:%M:%f', 'now', 'localtime')",
                '?',
            ),
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => (
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (\n\tid SERIAL NOT NULL, \n\tnamespace \
                     VARCHAR(255) NOT NULL, \n\taccessed TIMESTAMP WITHOUT TIME ZONE NOT NULL, \
                     \n\tcreated TIMESTAMP WITHOUT TIME ZONE NOT NULL, \n\tdata BYTEA NOT NULL, \
                     \n\tPRIMARY KEY (id), \n\tUNIQUE (namespace)\n)"
                ),
                "LOCALTIMESTAMP",
                '$',
            ),
        };
        Ok(Self {
            schema: sql(schema),
            read: sql(format!("SELECT data FROM {t} WHERE namespace = {p}1")),
            exists: sql(format!("SELECT 1 FROM {t} WHERE namespace = {p}1")),
            upsert: sql(format!(
                "INSERT INTO {t} (namespace, accessed, created, data) VALUES ({p}1, {now}, {now}, \
                 {p}2) ON CONFLICT (namespace) DO UPDATE SET data = excluded.data, \
                 accessed = excluded.accessed, created = excluded.created"
            )),
            update: sql(format!(
                "UPDATE {t} SET data = {p}1, accessed = {now} WHERE namespace = {p}2 AND data = {p}3"
            )),
            delete: sql(format!("DELETE FROM {t} WHERE namespace = {p}1")),
            table: t,
        })
    }

    /// The `CREATE TABLE` statement.
    pub(super) fn schema(&self) -> &str {
        self.schema.as_str()
    }
}

/// Runs the same code on either pool: `$run` sees `pool` and `dialect`.
macro_rules! on_pool {
    ($self:expr, |$pool:ident, $dialect:ident| $run:expr) => {
        match &$self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($pool) => {
                let $dialect = Dialect::Sqlite;
                $run
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres($pool) => {
                let $dialect = Dialect::Postgres;
                $run
            }
        }
    };
}

impl SqlBackend {
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool, dialect| {
            sqlx::query(self.sql.schema.clone())
                .execute(pool)
                .await
                .map_err(|err| sql_error(dialect, err))?;
        });
        Ok(())
    }

    pub(super) async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(self, |pool, dialect| {
            sqlx::query_scalar::<_, Vec<u8>>(self.sql.read.clone())
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|err| sql_error(dialect, err))
        })
    }

    pub(super) async fn replace(
        &self,
        id: &str,
        bytes: &[u8],
        retire: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool, dialect| {
            let error = |err| sql_error(dialect, err);
            let mut tx = pool.begin().await.map_err(error)?;
            sqlx::query(self.sql.upsert.clone())
                .bind(id)
                .bind(bytes)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
            if let Some(old) = retire {
                sqlx::query(self.sql.delete.clone())
                    .bind(old)
                    .execute(&mut *tx)
                    .await
                    .map_err(error)?;
            }
            tx.commit().await.map_err(error)
        })
    }

    /// Writes `bytes` if the row still holds `read` (Beaker takes no lock on this back end,
    /// so the comparison is the only guard against a concurrent write).
    pub(super) async fn update(
        &self,
        id: &str,
        read: &[u8],
        bytes: &[u8],
    ) -> Result<Cas, StoreError> {
        on_pool!(self, |pool, dialect| {
            let error = |err| sql_error(dialect, err);
            let done = sqlx::query(self.sql.update.clone())
                .bind(bytes)
                .bind(id)
                .bind(read)
                .execute(pool)
                .await
                .map_err(error)?;
            if done.rows_affected() == 1 {
                return Ok(Cas::Written);
            }
            let exists = sqlx::query(self.sql.exists.clone())
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(error)?;
            Ok(if exists.is_some() {
                Cas::Changed
            } else {
                Cas::Gone
            })
        })
    }

    pub(super) async fn delete(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool, dialect| {
            sqlx::query(self.sql.delete.clone())
                .bind(id)
                .execute(pool)
                .await
                .map_err(|err| sql_error(dialect, err))?;
        });
        Ok(())
    }
}
