//! Bytes per session on disk: `session`'s `SqliteStore` / `PostgresStore` (a session row
//! and a row per key) beside tower-sessions' sqlx stores (one row per session, the record
//! as MessagePack), each holding `sessions` sessions (default 1,000) of the same state as
//! `sql-compare`'s (about 1 KiB, and with `CART_ITEMS=120` about 8.7 KiB, of JSON), made
//! new and saved as a request does. Deterministic for a given state: no timing.
//!
//! - SQLite: one database file per engine; the pages the fill added (`page_count` after a
//!   WAL checkpoint, before and after), times the page size.
//! - PostgreSQL: `pg_total_relation_size` of each engine's tables (heap, indexes and
//!   TOAST), after a `VACUUM`, less the same of the emptied tables.
//!
//!     export POSTGRES_URL="$(scripts/postgres.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin size -- 1000
//!
//! One JSON line per (store, engine).

#[path = "../harness.rs"]
#[allow(dead_code)] // the timing loop is the other binaries'
mod harness;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use harness::{payload, payload_len};
use http::HeaderMap;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tower_sessions_core::Session as TowerSession;
use tower_sessions_sqlx_store::sqlx as sqlx8;
use tower_sessions_sqlx_store::{
    PostgresStore as TowerPostgresStore, SqliteStore as TowerSqliteStore,
};
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::{PostgresStore, SessionStore, SqliteStore};

const SECRET: &str = "a secret of at least thirty-two bytes, for the benchmark";
/// Our PostgreSQL tables: this one and `bench_size_entries`.
const OURS_PG_TABLE: &str = "bench_size";

async fn fill_ours<S: SessionStore>(store: S, sessions: usize, items: usize) {
    let factory = ServerSessionFactory::builder(SECRET, store)
        .reissue_time(None)
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    for _ in 0..sessions {
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        for (key, value) in payload(items) {
            session.insert(key, value);
        }
        factory.save(&session, &mut HeaderMap::new()).await.unwrap();
    }
}

async fn fill_tower<S: tower_sessions_core::SessionStore>(
    store: Arc<S>,
    sessions: usize,
    items: usize,
) {
    for _ in 0..sessions {
        let session = TowerSession::new(None, store.clone(), None);
        for (key, value) in payload(items) {
            session.insert(&key, value).await.unwrap();
        }
        session.save().await.unwrap();
    }
}

fn row(store: &str, engine: &str, sessions: usize, items: usize, bytes: i64) {
    println!(
        "{}",
        json!({"kind": "row", "program": "sql-size", "store": store, "engine": engine,
               "sessions": sessions, "payload_bytes": payload_len(items), "bytes": bytes,
               "bytes_per_session": (bytes as f64 / sessions as f64).round()})
    );
}

/// Pages in use of one SQLite database, its WAL checkpointed into the file.
async fn sqlite_pages(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await
        .unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(pool)
        .await
        .unwrap();
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(pool)
        .await
        .unwrap();
    pages - free
}

async fn page_size(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn sqlite_options(name: &str) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(harness::sqlite_path(name))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
}

async fn pg_bytes(pool: &sqlx::PgPool, tables: &[&str]) -> i64 {
    let mut total = 0;
    for table in tables {
        // The table names are this file's constants, not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM {table}")))
            .execute(pool)
            .await
            .unwrap();
        let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
            .bind(*table)
            .fetch_one(pool)
            .await
            .unwrap();
        total += bytes;
    }
    total
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::args().nth(1).map_or(1000, |a| a.parse().unwrap());
    let items: usize = std::env::var("CART_ITEMS").map_or(14, |n| n.parse().unwrap());

    // SQLite, ours: one connection reads and writes (a fill has no concurrency).
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlite_options("size-ours"))
        .await
        .unwrap();
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.unwrap();
    let before = sqlite_pages(&pool).await;
    fill_ours(store, sessions, items).await;
    let pages = sqlite_pages(&pool).await - before;
    row(
        "SQLite",
        "session `SqliteStore`",
        sessions,
        items,
        pages * page_size(&pool).await,
    );

    // SQLite, tower-sessions (its own sqlx).
    let tower_pool = sqlx8::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx8::sqlite::SqliteConnectOptions::from_str("sqlite://")
                .unwrap()
                .filename(harness::sqlite_path("size-tower"))
                .create_if_missing(true)
                .journal_mode(sqlx8::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx8::sqlite::SqliteSynchronous::Normal),
        )
        .await
        .unwrap();
    let tower_store = Arc::new(TowerSqliteStore::new(tower_pool.clone()));
    tower_store.migrate().await.unwrap();
    // Read through our sqlx on the same file: the page counts are the file's.
    let reader = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::from_str("sqlite://")
                .unwrap()
                .filename(std::env::temp_dir().join("session-sql-compare/size-tower.db")),
        )
        .await
        .unwrap();
    let before = sqlite_pages(&reader).await;
    fill_tower(tower_store, sessions, items).await;
    let pages = sqlite_pages(&reader).await - before;
    row(
        "SQLite",
        "tower-sessions `SqliteStore`",
        sessions,
        items,
        pages * page_size(&reader).await,
    );

    // PostgreSQL: each engine's tables emptied, measured, filled, measured.
    let url = harness::postgres_url();
    let pg = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let store = PostgresStore::new(pg.clone())
        .with_table_name(OURS_PG_TABLE)
        .unwrap();
    store.migrate().await.unwrap();
    let ours_tables = [OURS_PG_TABLE, &format!("{OURS_PG_TABLE}_entries")].map(str::to_owned);
    let ours_tables: Vec<&str> = ours_tables.iter().map(String::as_str).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "TRUNCATE {}",
        ours_tables.join(", ")
    )))
    .execute(&pg)
    .await
    .unwrap();
    let before = pg_bytes(&pg, &ours_tables).await;
    fill_ours(store, sessions, items).await;
    let bytes = pg_bytes(&pg, &ours_tables).await - before;
    row(
        "PostgreSQL",
        "session `PostgresStore`",
        sessions,
        items,
        bytes,
    );

    let tower_pg = sqlx8::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let tower_store = Arc::new(TowerPostgresStore::new(tower_pg.clone()));
    tower_store.migrate().await.unwrap();
    let tower_tables = ["tower_sessions.session"];
    sqlx::query("TRUNCATE tower_sessions.session")
        .execute(&pg)
        .await
        .unwrap();
    let before = pg_bytes(&pg, &tower_tables).await;
    fill_tower(tower_store, sessions, items).await;
    let bytes = pg_bytes(&pg, &tower_tables).await - before;
    row(
        "PostgreSQL",
        "tower-sessions `PostgresStore`",
        sessions,
        items,
        bytes,
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "TRUNCATE {}, tower_sessions.session",
        ours_tables.join(", ")
    )))
    .execute(&pg)
    .await
    .unwrap();
}
