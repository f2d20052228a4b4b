//! Which table layout for the SQL session stores? The two candidates, in plain sqlx, on the
//! workload a session store sees: each request loads a whole session and writes back one
//! changed key, atomically, refusing to write to an expired or deleted session.
//!
//! - `document`: one row per session, the state as one JSON object (SQLite: `TEXT` updated
//!   with `json_set`; PostgreSQL: `JSONB` updated with `(data - removed) || set`), one
//!   `UPDATE` per save.
//! - `rows`: a session row (times, expiry) and one child row per key; a save updates the
//!   session row and upserts the changed keys, in one statement (SQLite: an insert into a
//!   view whose `INSTEAD OF` trigger does the work; PostgreSQL: data-modifying CTEs), as the
//!   stores do.
//!
//!     export POSTGRES_URL="$(scripts/postgres.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin layout -- [requests] [concurrency...]
//!
//! Both layouts use the same pools (`POOL`, default 16 connections), the same payloads
//! (about 1 KiB and 8.7 KiB of JSON), the same run; which one goes first alternates per row,
//! and the tables are dropped and made anew before each row.

#[path = "../harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use harness::{Op, Stats, payload, payload_len};
use serde_json::value::RawValue;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

const TTL_MS: i64 = 3_600_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    Document,
    Rows,
}

#[derive(Clone)]
enum Db {
    /// Reads on a pool, writes on a pool of one connection: SQLite has one writer at a time,
    /// and writers queued on the pool wait in order, where writers on many connections would
    /// poll SQLite's lock with growing sleeps (`busy_timeout`).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn entries_of(doc: &str) -> Vec<(String, String)> {
    let map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(doc).unwrap();
    map.into_iter()
        .map(|(k, v)| (k, v.get().to_owned()))
        .collect()
}

async fn reset(db: &Db) {
    let statements: &[&str] = match db {
        Db::Sqlite { .. } => &[
            "DROP TABLE IF EXISTS doc",
            "DROP TABLE IF EXISTS entries",
            "DROP TABLE IF EXISTS sessions",
            "CREATE TABLE doc (id TEXT PRIMARY KEY NOT NULL, created REAL NOT NULL, accessed REAL NOT NULL, expires_at INTEGER, data TEXT NOT NULL)",
            "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, created REAL NOT NULL, accessed REAL NOT NULL, expires_at INTEGER)",
            "CREATE TABLE entries (session_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (session_id, key)) WITHOUT ROWID",
            "DROP VIEW IF EXISTS save",
            "CREATE VIEW save AS SELECT '' AS id, 0.0 AS accessed, 0 AS expires_at, 0 AS now, '[]' AS removed, '[]' AS written WHERE 0",
            "CREATE TRIGGER save INSTEAD OF INSERT ON save BEGIN \
             SELECT RAISE(ABORT, 'session gone') WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = NEW.id AND (expires_at IS NULL OR expires_at > NEW.now)); \
             UPDATE sessions SET accessed = NEW.accessed, expires_at = NEW.expires_at WHERE id = NEW.id; \
             DELETE FROM entries WHERE session_id = NEW.id AND key IN (SELECT value FROM json_each(NEW.removed)); \
             INSERT INTO entries (session_id, key, value) SELECT NEW.id, json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]') FROM json_each(NEW.written) AS w WHERE true \
             ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value; END",
        ],
        Db::Postgres(_) => &[
            "DROP TABLE IF EXISTS layout_doc",
            "DROP TABLE IF EXISTS layout_entries",
            "DROP TABLE IF EXISTS layout_sessions",
            "CREATE TABLE layout_doc (id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, accessed DOUBLE PRECISION NOT NULL, expires_at TIMESTAMPTZ, data JSONB NOT NULL)",
            "CREATE TABLE layout_sessions (id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, accessed DOUBLE PRECISION NOT NULL, expires_at TIMESTAMPTZ)",
            "CREATE TABLE layout_entries (session_id TEXT NOT NULL REFERENCES layout_sessions (id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (session_id, key))",
        ],
    };
    for statement in statements {
        match db {
            Db::Sqlite { write: pool, .. } => sqlx::query(*statement).execute(pool).await.unwrap(),
            Db::Postgres(pool) => {
                sqlx::query(*statement).execute(pool).await.unwrap();
                continue;
            }
        };
    }
    if let Db::Postgres(pool) = db {
        sqlx::query("VACUUM ANALYZE").execute(pool).await.ok();
    }
}

async fn seed(db: &Db, layout: Layout, id: &str, items: usize) {
    let state = payload(items);
    let doc = serde_json::to_string(&state).unwrap();
    match (db, layout) {
        (Db::Sqlite { write: pool, .. }, Layout::Document) => {
            sqlx::query("INSERT INTO doc VALUES (?1, 1.0, 1.0, ?2, ?3)")
                .bind(id)
                .bind(now_ms() + TTL_MS)
                .bind(doc)
                .execute(pool)
                .await
                .unwrap();
        }
        (Db::Postgres(pool), Layout::Document) => {
            sqlx::query("INSERT INTO layout_doc VALUES ($1, 1.0, 1.0, now() + interval '1 hour', $2::jsonb)")
                .bind(id)
                .bind(doc)
                .execute(pool)
                .await
                .unwrap();
        }
        (Db::Sqlite { write: pool, .. }, Layout::Rows) => {
            sqlx::query("INSERT INTO sessions VALUES (?1, 1.0, 1.0, ?2)")
                .bind(id)
                .bind(now_ms() + TTL_MS)
                .execute(pool)
                .await
                .unwrap();
            for (key, value) in state {
                sqlx::query("INSERT INTO entries VALUES (?1, ?2, ?3)")
                    .bind(id)
                    .bind(key)
                    .bind(value.to_string())
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        (Db::Postgres(pool), Layout::Rows) => {
            sqlx::query(
                "INSERT INTO layout_sessions VALUES ($1, 1.0, 1.0, now() + interval '1 hour')",
            )
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
            for (key, value) in state {
                sqlx::query("INSERT INTO layout_entries VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(key)
                    .bind(value.to_string())
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Loads the session's entries, then writes `counter + 1` back.
async fn request(db: &Db, layout: Layout, id: &str) {
    let entries: Vec<(String, String)> = match (db, layout) {
        (Db::Sqlite { read: pool, .. }, Layout::Document) => {
            let row = sqlx::query("SELECT created, accessed, data FROM doc WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?2)")
                .bind(id)
                .bind(now_ms())
                .fetch_one(pool)
                .await
                .unwrap();
            entries_of(row.get::<&str, _>(2))
        }
        (Db::Postgres(pool), Layout::Document) => {
            let row = sqlx::query("SELECT created, accessed, data::text FROM layout_doc WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap();
            entries_of(row.get::<&str, _>(2))
        }
        (Db::Sqlite { read: pool, .. }, Layout::Rows) => {
            let rows = sqlx::query("SELECT s.created, s.accessed, e.key, e.value FROM sessions s LEFT JOIN entries e ON e.session_id = s.id WHERE s.id = ?1 AND (s.expires_at IS NULL OR s.expires_at > ?2)")
                .bind(id)
                .bind(now_ms())
                .fetch_all(pool)
                .await
                .unwrap();
            rows.iter()
                .map(|r| (r.get::<String, _>(2), r.get::<String, _>(3)))
                .collect()
        }
        (Db::Postgres(pool), Layout::Rows) => {
            let rows = sqlx::query("SELECT s.created, s.accessed, e.key, e.value FROM layout_sessions s LEFT JOIN layout_entries e ON e.session_id = s.id WHERE s.id = $1 AND (s.expires_at IS NULL OR s.expires_at > now())")
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap();
            rows.iter()
                .map(|r| (r.get::<String, _>(2), r.get::<String, _>(3)))
                .collect()
        }
    };
    let counter: u64 = entries
        .iter()
        .find(|(k, _)| k == "counter")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    let value = (counter + 1).to_string();
    let written = match (db, layout) {
        (Db::Sqlite { write: pool, .. }, Layout::Document) => sqlx::query("UPDATE doc SET data = json_set(data, '$.\"counter\"', json(?1)), accessed = ?2, expires_at = ?3 WHERE id = ?4 AND (expires_at IS NULL OR expires_at > ?5)")
            .bind(&value)
            .bind(2.0)
            .bind(now_ms() + TTL_MS)
            .bind(id)
            .bind(now_ms())
            .execute(pool)
            .await
            .unwrap()
            .rows_affected(),
        (Db::Postgres(pool), Layout::Document) => {
            let set = format!("{{\"counter\":{value}}}");
            sqlx::query("UPDATE layout_doc SET data = (data - $1::text[]) || $2::jsonb, accessed = $3, expires_at = now() + $4 * interval '1 millisecond' WHERE id = $5 AND (expires_at IS NULL OR expires_at > now())")
                .bind(Vec::<String>::new())
                .bind(set)
                .bind(2.0)
                .bind(TTL_MS as f64)
                .bind(id)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected()
        }
        (Db::Sqlite { write: pool, .. }, Layout::Rows) => {
            // One statement: the store's view and trigger.
            let written = serde_json::to_string(&[["counter", value.as_str()]]).unwrap();
            sqlx::query("INSERT INTO save (id, accessed, expires_at, now, removed, written) VALUES (?1, ?2, ?3, ?4, '[]', ?5)")
                .bind(id)
                .bind(2.0)
                .bind(now_ms() + TTL_MS)
                .bind(now_ms())
                .bind(written)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected();
            1
        }
        (Db::Postgres(pool), Layout::Rows) => sqlx::query(
            "WITH s AS (UPDATE layout_sessions SET accessed = $1, expires_at = now() + $2 * interval '1 millisecond' WHERE id = $3 AND (expires_at IS NULL OR expires_at > now()) RETURNING id), \
             d AS (DELETE FROM layout_entries e USING s WHERE e.session_id = s.id AND e.key = ANY($4::text[])), \
             i AS (INSERT INTO layout_entries (session_id, key, value) SELECT s.id, k, v FROM s, unnest($5::text[], $6::text[]) AS x(k, v) ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value) \
             SELECT count(*) FROM s",
        )
        .bind(2.0)
        .bind(TTL_MS as f64)
        .bind(id)
        .bind(Vec::<String>::new())
        .bind(vec!["counter".to_owned()])
        .bind(vec![value.clone()])
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>(0) as u64,
    };
    assert_eq!(written, 1);
}

/// PostgreSQL's write-ahead log position, in bytes (it includes the seeding, a few KiB per
/// session, small beside the run).
async fn wal_lsn(db: &Db) -> Option<i64> {
    match db {
        Db::Postgres(pool) => Some(
            sqlx::query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
                .fetch_one(pool)
                .await
                .unwrap()
                .get(0),
        ),
        Db::Sqlite { .. } => None,
    }
}

async fn measure(
    db: &Db,
    layout: Layout,
    items: usize,
    requests: usize,
    concurrency: usize,
) -> Stats {
    let mut ops = Vec::new();
    for task in 0..concurrency {
        let id = Arc::<str>::from(format!("{layout:?}-{task:04}-{:064}", 0));
        seed(db, layout, &id, items).await;
        let db = db.clone();
        ops.push(Box::new(move || {
            let db = db.clone();
            let id = id.clone();
            Box::pin(async move { request(&db, layout, &id).await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        }) as Op);
    }
    harness::run(requests, ops).await
}

#[tokio::main]
async fn main() {
    let (requests, levels) = harness::args(4000);
    let pool_size: u32 = std::env::var("POOL").map_or(16, |n| n.parse().unwrap());
    let sqlite_options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(harness::sqlite_path("layout"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let sqlite_read = SqlitePoolOptions::new()
        .max_connections(pool_size)
        .connect_with(sqlite_options.clone())
        .await
        .unwrap();
    let sqlite_write = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlite_options)
        .await
        .unwrap();
    let postgres = PgPoolOptions::new()
        .max_connections(pool_size)
        .connect(&harness::postgres_url())
        .await
        .unwrap();
    println!(
        "{requests} requests per row (load the session + write one key back), pools of {pool_size} connections"
    );
    println!("| engine | payload | concurrency | layout | ops/s | p50 µs | p99 µs | WAL B/save |");
    println!("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
    let mut row = 0;
    for (engine, db) in [
        (
            "SQLite",
            Db::Sqlite {
                read: sqlite_read,
                write: sqlite_write,
            },
        ),
        ("PostgreSQL", Db::Postgres(postgres)),
    ] {
        for items in [14, 120] {
            for &concurrency in &levels {
                let order = if row % 2 == 0 {
                    [Layout::Document, Layout::Rows]
                } else {
                    [Layout::Rows, Layout::Document]
                };
                row += 1;
                let mut lines = Vec::new();
                for layout in order {
                    reset(&db).await;
                    measure(&db, layout, items, requests / 10, concurrency).await; // warm-up
                    reset(&db).await;
                    let before = wal_lsn(&db).await;
                    let mut stats = measure(&db, layout, items, requests, concurrency).await;
                    let wal = match (before, wal_lsn(&db).await) {
                        (Some(before), Some(after)) => {
                            format!("{:.0}", (after - before) as f64 / stats.requests as f64)
                        }
                        _ => "-".to_owned(),
                    };
                    lines.push((layout, format!("{} | {wal}", stats.cells())));
                }
                lines.sort_by_key(|(layout, _)| *layout == Layout::Rows);
                for (layout, cells) in lines {
                    println!(
                        "| {engine} | {} B | {concurrency} | {} | {cells} |",
                        payload_len(items),
                        format!("{layout:?}").to_lowercase()
                    );
                }
            }
        }
    }
}
