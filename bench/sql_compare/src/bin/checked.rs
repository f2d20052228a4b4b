//! `SqliteStore` and `PostgresStore` saves with a conflict check and without
//! (`bench/checked_saves.rs`): one JSON line per row.
//!
//!     export POSTGRES_URL="$(scripts/postgres.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin checked -- [requests] [concurrency...]
//!
//! SQLite on a fresh file (WAL, `synchronous = NORMAL`); PostgreSQL in tables of this
//! process's own (`bench_checked_<pid>`), dropped at the end.

#[path = "../harness.rs"]
#[allow(dead_code)]
mod harness;

#[path = "../../../checked_saves.rs"]
mod checked_saves;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use typed_sessions::store::{PostgresStore, SqliteStore};

#[tokio::main]
async fn main() {
    let (requests, levels, rounds) = checked_saves::args();
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(harness::sqlite_path("checked"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let sqlite = SqliteStore::with_writer(
        SqlitePoolOptions::new()
            .max_connections(15)
            .connect_with(options.clone())
            .await
            .unwrap(),
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap(),
    );
    sqlite.migrate().await.unwrap();
    checked_saves::rows("SQLite", sqlite, requests, &levels, rounds).await;

    let table = format!("bench_checked_{}", std::process::id());
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&harness::postgres_url())
        .await
        .unwrap();
    let postgres = PostgresStore::new(pool.clone())
        .with_table_name(&table)
        .unwrap();
    postgres.migrate().await.unwrap();
    checked_saves::rows("PostgreSQL", postgres, requests, &levels, rounds).await;
    let drop = format!("DROP TABLE {table}_entries, {table}_aliases, {table}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .unwrap();
}
