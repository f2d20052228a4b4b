//! What one SQLite statement costs through sqlx's driver, one statement after another:
//! on a pool of one connection (each statement waits for the connection the one before
//! released, which sqlx hands back on a task of its own), on a pool of `POOL` (default 16,
//! the next statement takes another idle connection), and on one connection kept and
//! locked, as `SqliteStore` keeps its writer. The same for sqlx 0.9 (ours) and sqlx 0.8
//! (tower-sessions'), on one table of the tower-sessions shape (an id, a 1,093-byte blob,
//! an expiry), WAL, `synchronous = NORMAL`.
//!
//!     cargo run --release --manifest-path bench/sql_compare/Cargo.toml --bin driver -- [statements]
//!
//! Prints µs per statement for a `SELECT` by id and an `UPDATE` of the row, per round
//! (3 rounds, the orders alternating). Then the save statements themselves, on one kept
//! connection each, one after another: `SqliteStore`'s (an insert into the view whose
//! trigger checks the session, updates its row and upserts the written key, with the
//! store's own schema from `SqliteStore::migrate`) against tower-sessions' (an upsert of the
//! whole record as one 1,093-byte blob), so that the difference is SQLite's work per save.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use tower_sessions_sqlx_store::sqlx as sqlx8;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, e INTEGER NOT NULL)";
const SELECT: &str = "SELECT data FROM t WHERE id = ?1 AND e > 0";
const UPDATE: &str = "UPDATE t SET data = ?2, e = ?3 WHERE id = ?1";

fn per_statement(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / n as f64
}

fn path(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("sql-compare-driver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

async fn pool9(file: &str, size: u32) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap()
}

async fn pool8(file: &str, size: u32) -> sqlx8::SqlitePool {
    let options = sqlx8::sqlite::SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(sqlx8::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx8::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    sqlx8::sqlite::SqlitePoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap()
}

/// µs per call of `statement`, called with 0 to `n - 1` one after another.
async fn timed(n: usize, mut statement: impl AsyncFnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        statement(i).await;
    }
    per_statement(started.elapsed(), n)
}

/// Creates the blob table on `connection` and fills it with `n` rows, in one transaction.
async fn fill(connection: &mut sqlx::SqliteConnection, n: usize, blob: &[u8]) {
    sqlx::query(TABLE).execute(&mut *connection).await.unwrap();
    let mut tx = connection.begin().await.unwrap();
    for i in 0..n {
        let query = sqlx::query("INSERT OR REPLACE INTO t VALUES (?1, ?2, 1)");
        query
            .bind(format!("s{i}"))
            .bind(blob)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// sqlx 0.9: (select, update) µs per statement on `pool`.
async fn run9(pool: &sqlx::SqlitePool, n: usize, blob: &[u8]) -> (f64, f64) {
    let select = timed(n, async |i| {
        let query = sqlx::query(SELECT).bind(format!("s{i}"));
        query.fetch_optional(pool).await.unwrap();
    });
    let select = select.await;
    let update = timed(n, async |i| {
        let query = sqlx::query(UPDATE)
            .bind(format!("s{i}"))
            .bind(blob)
            .bind(i as i64 + 2);
        query.execute(pool).await.unwrap();
    });
    (select, update.await)
}

/// sqlx 0.9: (select, update) µs per statement on a connection kept from `pool` behind a
/// lock, as `SqliteStore` keeps its writer.
async fn run9_kept(pool: &sqlx::SqlitePool, n: usize, blob: &[u8]) -> (f64, f64) {
    let kept = tokio::sync::Mutex::new(pool.acquire().await.unwrap());
    let select = timed(n, async |i| {
        let query = sqlx::query(SELECT).bind(format!("s{i}"));
        query
            .fetch_optional(&mut **kept.lock().await)
            .await
            .unwrap();
    });
    let select = select.await;
    let update = timed(n, async |i| {
        let query = sqlx::query(UPDATE)
            .bind(format!("s{i}"))
            .bind(blob)
            .bind(i as i64 + 2);
        query.execute(&mut **kept.lock().await).await.unwrap();
    });
    (select, update.await)
}

/// sqlx 0.8: (select, update) µs per statement on `pool`.
async fn run8(pool: &sqlx8::SqlitePool, n: usize, blob: &[u8]) -> (f64, f64) {
    let select = timed(n, async |i| {
        let query = sqlx8::query(SELECT).bind(format!("s{i}"));
        query.fetch_optional(pool).await.unwrap();
    });
    let select = select.await;
    let update = timed(n, async |i| {
        let query = sqlx8::query(UPDATE)
            .bind(format!("s{i}"))
            .bind(blob)
            .bind(i as i64 + 2);
        query.execute(pool).await.unwrap();
    });
    (select, update.await)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).map_or(5000, |n| n.parse().unwrap());
    let size: u32 = std::env::var("POOL").map_or(16, |n| n.parse().unwrap());
    let blob = vec![7u8; 1093];
    let ours = pool9(&path("ours.db"), size).await;
    let ours_one = pool9(&path("ours-one.db"), 1).await;
    let theirs = pool8(&path("theirs.db"), size).await;
    let theirs_one = pool8(&path("theirs-one.db"), 1).await;
    for pool in [&ours, &ours_one] {
        fill(&mut pool.acquire().await.unwrap(), n, &blob).await;
    }
    for pool in [&theirs, &theirs_one] {
        sqlx8::query(TABLE).execute(pool).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        for i in 0..n {
            let query = sqlx8::query("INSERT OR REPLACE INTO t VALUES (?1, ?2, 1)");
            query
                .bind(format!("s{i}"))
                .bind(&blob)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    println!("µs per statement, {n} statements one after another (select / update)");
    println!(
        "| round | sqlx 0.9, pool of 1 | sqlx 0.9, pool of {size} | sqlx 0.9, one connection kept | sqlx 0.8, pool of 1 | sqlx 0.8, pool of {size} |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for round in 1..=3 {
        let mut cells = [(0.0, 0.0); 5];
        // Alternate the order, so that a burst of load elsewhere does not fall on one column.
        let order: Vec<usize> = if round % 2 == 1 {
            (0..5).collect()
        } else {
            (0..5).rev().collect()
        };
        for column in order {
            cells[column] = match column {
                0 => run9(&ours_one, n, &blob).await,
                1 => run9(&ours, n, &blob).await,
                2 => run9_kept(&ours_one, n, &blob).await,
                3 => run8(&theirs_one, n, &blob).await,
                _ => run8(&theirs, n, &blob).await,
            };
        }
        let cells: Vec<String> = cells
            .iter()
            .map(|(s, u)| format!("{s:.0} / {u:.0}"))
            .collect();
        println!("| {round} | {} |", cells.join(" | "));
    }
    saves(n, &blob).await;
    let _ = std::fs::remove_dir_all(std::path::Path::new(&path("x")).parent().unwrap());
}

/// µs per save statement, one after another on a kept connection: the row layout's trigger
/// against one upserted blob.
async fn saves(n: usize, blob: &[u8]) {
    let rows = pool9(&path("rows.db"), 1).await;
    typed_sessions::store::SqliteStore::new(rows.clone())
        .migrate()
        .await
        .unwrap();
    let mut rows = rows.acquire().await.unwrap();
    let cart = "x".repeat(980);
    let mut tx = rows.begin().await.unwrap();
    for i in 0..n {
        let id = format!("s{i}");
        let insert = "INSERT INTO sessions (id, created, accessed, expires_at, user_id) VALUES (?1, 1.0, 1.0, 9999999999999, NULL)";
        sqlx::query(insert)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .unwrap();
        for (key, value) in [
            ("user", "42".to_owned()),
            ("counter", "0".to_owned()),
            ("cart", format!("\"{cart}\"")),
        ] {
            let entry = "INSERT INTO sessions_entries (session_id, key, value) VALUES (?1, ?2, ?3)";
            sqlx::query(entry)
                .bind(&id)
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let blobs = pool9(&path("blobs.db"), 1).await;
    let mut blobs = blobs.acquire().await.unwrap();
    fill(&mut blobs, n, blob).await;

    println!();
    println!("µs per save statement, {n} one after another on a kept connection");
    println!(
        "| round | `SqliteStore`'s save (row layout, one key written) | tower-sessions' save (one blob) |"
    );
    println!("|---:|---:|---:|");
    for round in 1..=3 {
        let mut cells = [0.0; 2];
        let order: Vec<usize> = if round % 2 == 1 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for column in order {
            cells[column] = if column == 0 {
                timed(n, async |i| {
                    let written = format!("[[\"counter\",\"{}\"]]", i + round);
                    sqlx::query("INSERT INTO sessions_save (id, accessed, expires_at, now, removed, written, user_id) VALUES (?1, ?2, ?3, ?4, '[]', ?5, NULL)")
                        .bind(format!("s{i}"))
                        .bind(2.0 + i as f64)
                        .bind(9_999_999_999_999i64)
                        .bind(5i64)
                        .bind(written)
                        .execute(&mut *rows)
                        .await
                        .unwrap();
                })
                .await
            } else {
                timed(n, async |i| {
                    sqlx::query("INSERT INTO t (id, data, e) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET data = excluded.data, e = excluded.e")
                        .bind(format!("s{i}"))
                        .bind(blob)
                        .bind((i + round) as i64)
                        .execute(&mut *blobs)
                        .await
                        .unwrap();
                })
                .await
            };
        }
        println!("| {round} | {:.0} | {:.0} |", cells[0], cells[1]);
    }
}
