//! Load + save of one session per request on SQLite and PostgreSQL: `session`'s
//! `SqliteStore` / `PostgresStore` (a row per key, only the changed key written back)
//! beside `tower-sessions` with `tower-sessions-sqlx-store` (the whole record as
//! MessagePack in one row), on the same state, in the same run.
//!
//! Each request loads the session, reads `counter`, writes `counter + 1` and saves.
//!
//!     export POSTGRES_URL="$(scripts/postgres.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/sql_compare/Cargo.toml -- [requests] [concurrency...] \
//!         > bench/results/sql-compare.jsonl
//!     bench/tables bench/results/sql-compare.jsonl
//!
//! Every row (store, payload, concurrency) warms both engines up once, then runs each
//! `ROUNDS` times (default 6, a multiple of the two engines), on emptied tables, the order
//! rotating run by run so that each engine goes first in half the runs at every
//! concurrency. `STORES=SQLite` or `STORES=PostgreSQL` runs one of the two. The results
//! are JSON lines on stdout, one per row with every run's figures
//! (`bench/tables` turns them into the median and spread of BENCHMARKS.md); progress goes
//! to stderr. Pools: `POOL` connections per engine (default 16); `session`'s SQLite store
//! spends one of them on its writer (so `POOL - 1` for loads + 1 for saves),
//! tower-sessions' uses all `POOL` for both. `OURS_SHARED=1` gives `session`'s SQLite store
//! one pool of `POOL` for loads and saves alike (`SqliteStore::new`), as tower-sessions'
//! has: saves then poll SQLite's lock instead of queueing for one connection.
//! SQLite runs on a file in WAL mode with
//! `synchronous = NORMAL`, a 5 s busy timeout and no ping before each use of a pooled
//! connection, for both.

mod harness;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use harness::{Op, Stats, payload, payload_len};
use http::HeaderMap;
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

type Future = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

async fn ours<S: SessionStore + Clone>(
    store: S,
    items: usize,
    requests: usize,
    concurrency: usize,
) -> Stats {
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store)
            .reissue_time(None)
            .timeout(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    let mut ops = Vec::new();
    for _ in 0..concurrency {
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        for (key, value) in payload(items) {
            session.insert(key, value);
        }
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let cookie = response["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut request = HeaderMap::new();
        request.insert("cookie", cookie.parse().unwrap());
        let request = Arc::new(request);
        let factory = factory.clone();
        ops.push(Box::new(move || {
            let factory = factory.clone();
            let request = request.clone();
            Box::pin(async move {
                let mut session = factory.load(&request).await.unwrap();
                let n = session.get_as::<u64>("counter").unwrap().unwrap();
                session.insert("counter", n + 1);
                let mut response = HeaderMap::new();
                factory.save(&session, &mut response).await.unwrap();
            }) as Future
        }) as Op);
    }
    harness::run(requests, ops).await
}

async fn tower<S>(store: Arc<S>, items: usize, requests: usize, concurrency: usize) -> Stats
where
    S: tower_sessions_core::SessionStore,
{
    let mut ops = Vec::new();
    for _ in 0..concurrency {
        let seed = TowerSession::new(None, store.clone(), None);
        for (key, value) in payload(items) {
            seed.insert(&key, value).await.unwrap();
        }
        seed.save().await.unwrap();
        let id = seed.id().unwrap();
        let store = store.clone();
        ops.push(Box::new(move || {
            let store = store.clone();
            Box::pin(async move {
                let session = TowerSession::new(Some(id), store, None);
                let n: u64 = session.get("counter").await.unwrap().unwrap();
                session.insert("counter", n + 1).await.unwrap();
                session.save().await.unwrap();
            }) as Future
        }) as Op);
    }
    harness::run(requests, ops).await
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Ours,
    Tower,
}

#[tokio::main]
async fn main() {
    let (requests, levels) = harness::args(5000);
    let pool: u32 = std::env::var("POOL").map_or(16, |n| n.parse().unwrap());

    // SQLite: one file per engine, the same options.
    let sqlite_ours = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(harness::sqlite_path("ours"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let ours_sqlite = if std::env::var_os("OURS_SHARED").is_some() {
        SqliteStore::new(
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(pool)
                .connect_with(sqlite_ours.clone())
                .await
                .unwrap(),
        )
    } else {
        SqliteStore::with_writer(
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(pool - 1)
                .connect_with(sqlite_ours.clone())
                .await
                .unwrap(),
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .connect_with(sqlite_ours)
                .await
                .unwrap(),
        )
    };
    ours_sqlite.migrate().await.unwrap();
    let sqlite_tower = sqlx8::sqlite::SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(harness::sqlite_path("tower"))
        .create_if_missing(true)
        .journal_mode(sqlx8::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx8::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let tower_sqlite_pool = sqlx8::sqlite::SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(pool)
        .connect_with(sqlite_tower)
        .await
        .unwrap();
    let tower_sqlite = Arc::new(TowerSqliteStore::new(tower_sqlite_pool.clone()));
    tower_sqlite.migrate().await.unwrap();

    // PostgreSQL: one server, separate tables.
    let url = harness::postgres_url();
    let ours_pg = PostgresStore::new(
        PgPoolOptions::new()
            .max_connections(pool)
            .connect(&url)
            .await
            .unwrap(),
    )
    .with_table_name("bench_sessions")
    .unwrap();
    ours_pg.migrate().await.unwrap();
    let tower_pg_pool = sqlx8::postgres::PgPoolOptions::new()
        .max_connections(pool)
        .connect(&url)
        .await
        .unwrap();
    let tower_pg = Arc::new(TowerPostgresStore::new(tower_pg_pool.clone()));
    tower_pg.migrate().await.unwrap();

    let rounds: usize = std::env::var("ROUNDS").map_or(6, |n| n.parse().unwrap());
    assert!(
        rounds > 0 && rounds % 2 == 0,
        "ROUNDS must be a multiple of 2, so that each engine goes first equally often"
    );
    // `STORES=PostgreSQL` (or `SQLite`) runs one of the two.
    let stores = std::env::var("STORES").unwrap_or_else(|_| "SQLite,PostgreSQL".to_owned());
    println!(
        "{}",
        serde_json::json!({
            "kind": "meta",
            "program": "sql-compare",
            "unix_time": harness::unix_time(),
            "requests": requests,
            "concurrency": levels,
            "pool": pool,
            "rounds": rounds,
            "stores": stores,
            "load_before": harness::load_average(),
        })
    );
    for db in ["SQLite", "PostgreSQL"] {
        if !stores.split(',').any(|name| name == db) {
            continue;
        }
        for items in [14, 120] {
            for &concurrency in &levels {
                let engines = [Engine::Ours, Engine::Tower];
                let mut runs: Vec<Vec<Stats>> = vec![Vec::new(), Vec::new()];
                let mut firsts = [0usize; 2];
                // A warm-up of each engine, then the measured runs: run `r` starts with
                // engine `r % 2`.
                for r in 0..=rounds {
                    let warm_up = r == 0;
                    for k in 0..engines.len() {
                        let i = (k + r) % engines.len();
                        let engine = engines[i];
                        // Emptied tables before every run.
                        match (db, engine) {
                            ("SQLite", Engine::Ours) => {
                                for sql in ["DELETE FROM sessions_entries", "DELETE FROM sessions"]
                                {
                                    sqlx::query(sql).execute(ours_sqlite.pool()).await.unwrap();
                                }
                            }
                            ("SQLite", Engine::Tower) => {
                                sqlx8::query("DELETE FROM tower_sessions")
                                    .execute(&tower_sqlite_pool)
                                    .await
                                    .unwrap();
                            }
                            (_, Engine::Ours) => {
                                sqlx::query("TRUNCATE bench_sessions, bench_sessions_entries")
                                    .execute(ours_pg.pool())
                                    .await
                                    .unwrap();
                            }
                            (_, Engine::Tower) => {
                                sqlx8::query("TRUNCATE tower_sessions.session")
                                    .execute(&tower_pg_pool)
                                    .await
                                    .unwrap();
                            }
                        }
                        let n = if warm_up {
                            (requests / 10).max(concurrency)
                        } else {
                            requests
                        };
                        let stats = match (db, engine) {
                            ("SQLite", Engine::Ours) => {
                                ours(ours_sqlite.clone(), items, n, concurrency).await
                            }
                            ("SQLite", Engine::Tower) => {
                                tower(tower_sqlite.clone(), items, n, concurrency).await
                            }
                            (_, Engine::Ours) => ours(ours_pg.clone(), items, n, concurrency).await,
                            (_, Engine::Tower) => {
                                tower(tower_pg.clone(), items, n, concurrency).await
                            }
                        };
                        if !warm_up {
                            if k == 0 {
                                firsts[i] += 1;
                            }
                            runs[i].push(stats);
                        }
                    }
                }
                assert_eq!(firsts, [rounds / 2; 2], "each engine first equally often");
                for (engine, mut runs) in engines.into_iter().zip(runs) {
                    let name = match (db, engine) {
                        ("SQLite", Engine::Ours) => "session `SqliteStore`",
                        ("SQLite", Engine::Tower) => "tower-sessions `SqliteStore`",
                        (_, Engine::Ours) => "session `PostgresStore`",
                        (_, Engine::Tower) => "tower-sessions `PostgresStore`",
                    };
                    let line = serde_json::json!({
                        "kind": "row",
                        "store": db,
                        "payload_bytes": payload_len(items),
                        "concurrency": concurrency,
                        "engine": name,
                        "ops_per_s": runs.iter().map(|s| s.ops_per_sec().round()).collect::<Vec<_>>(),
                        "p50_us": runs.iter_mut().map(|s| s.quantile(0.50).round()).collect::<Vec<_>>(),
                        "p99_us": runs.iter_mut().map(|s| s.quantile(0.99).round()).collect::<Vec<_>>(),
                    });
                    eprintln!("{line}");
                    println!("{line}");
                }
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({"kind": "end", "load_after": harness::load_average()})
    );
}
