//! Bytes per session in Redis: `MEMORY USAGE` of the keys one session takes, for
//! typed-sessions' `RedisStore` (a hash per session) beside tower-sessions' Redis store (one
//! MessagePack string per session), each holding the same state as `redis-compare`'s
//! (`CART_ITEMS` items, default 14: about 1 KiB of JSON). Deterministic for a given Redis
//! version and state: no timing. Prints one JSON line per engine; deletes what it wrote
//! (its own keys only: the Redis may be shared, so no `FLUSHDB`).
//!
//!   cargo run --release --manifest-path bench/redis_compare/Cargo.toml --bin memory -- 1000

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};
use tower_sessions_core::Session as TowerSession;
use tower_sessions_redis_store::RedisStore as TowerRedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::RedisStore;

const SECRET: &str = "a secret of at least thirty-two bytes, for the benchmark";
const PREFIX: &str = "bench:memory:";

/// The state of `redis-compare` (its `payload`, the same items).
fn payload() -> serde_json::Map<String, Value> {
    let items: usize = std::env::var("CART_ITEMS").map_or(14, |n| n.parse().unwrap());
    let cart: Vec<Value> = (0..items)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "name": format!("Item number {i}"), "qty": i + 1, "price_cents": 1999 + i}))
        .collect();
    let state = json!({
        "user_id": 123_456,
        "_csrft_": "0123456789abcdef0123456789abcdef01234567",
        "lang": "en",
        "cart": cart,
        "counter": 0,
    });
    state.as_object().unwrap().clone()
}

async fn memory_usage(conn: &mut impl redis::aio::ConnectionLike, keys: &[String]) -> u64 {
    let mut total = 0;
    for key in keys {
        let bytes: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(conn)
            .await
            .unwrap();
        total += bytes.expect("the key was just written");
    }
    total
}

/// The distinct `OBJECT ENCODING`s of `keys` (a hash whose values pass Redis's
/// `hash-max-listpack-value`, 64 bytes by default, is a `hashtable`, not a `listpack`).
async fn encodings(conn: &mut impl redis::aio::ConnectionLike, keys: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        let encoding: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query_async(conn)
            .await
            .unwrap();
        seen.insert(encoding);
    }
    seen.into_iter().collect()
}

async fn scan(conn: &mut impl redis::aio::ConnectionLike, pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            return keys;
        }
    }
}

async fn delete(conn: &mut impl redis::aio::ConnectionLike, keys: &[String]) {
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL")
            .arg(chunk)
            .query_async(conn)
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let url = std::env::var("REDIS_URL")
        .expect("set REDIS_URL: `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"`");
    let sessions: usize = std::env::args().nth(1).map_or(1000, |a| a.parse().unwrap());
    let store = RedisStore::connect(&url).await.unwrap().with_prefix(PREFIX);
    let mut conn = store.connection().clone();
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async::<String>(&mut conn)
        .await
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:").map(str::to_owned))
        .unwrap_or_default();
    let payload_bytes = serde_json::to_string(&payload()).unwrap().len();
    println!(
        "{}",
        json!({"kind": "meta", "program": "redis-memory", "sessions": sessions,
               "payload_bytes": payload_bytes, "redis_version": version})
    );
    // Whatever an interrupted run left.
    let stale = scan(&mut conn, &format!("{PREFIX}*")).await;
    delete(&mut conn, &stale).await;

    // Ours: every key the sessions made under the prefix.
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store)
            .reissue_time(None)
            .build()
            .unwrap(),
    );
    for _ in 0..sessions {
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        for (key, value) in payload() {
            session.insert(key, value);
        }
        factory.save(&session, &mut HeaderMap::new()).await.unwrap();
    }
    let ours = scan(&mut conn, &format!("{PREFIX}*")).await;
    let ours_bytes = memory_usage(&mut conn, &ours).await;
    let ours_encodings = encodings(&mut conn, &ours).await;
    delete(&mut conn, &ours).await;

    // tower-sessions: one key per session, named by its id (no prefix).
    let pool = Pool::new(Config::from_url(&url).unwrap(), None, None, None, 1).unwrap();
    let _ = pool.connect();
    pool.wait_for_connect().await.unwrap();
    let tower_store = Arc::new(TowerRedisStore::new(pool));
    let mut tower = Vec::new();
    for _ in 0..sessions {
        let session = TowerSession::new(None, tower_store.clone(), None);
        for (key, value) in payload() {
            session.insert(&key, value).await.unwrap();
        }
        session.save().await.unwrap();
        tower.push(session.id().unwrap().to_string());
    }
    let tower_bytes = memory_usage(&mut conn, &tower).await;
    let tower_encodings = encodings(&mut conn, &tower).await;
    delete(&mut conn, &tower).await;

    for (engine, keys, bytes, encodings) in [
        (
            "session `RedisStore`",
            ours.len(),
            ours_bytes,
            ours_encodings,
        ),
        (
            "tower-sessions + redis-store",
            tower.len(),
            tower_bytes,
            tower_encodings,
        ),
    ] {
        println!(
            "{}",
            json!({"kind": "row", "engine": engine, "sessions": sessions, "keys": keys,
                   "bytes": bytes, "bytes_per_session": bytes as f64 / sessions as f64,
                   "encodings": encodings})
        );
    }
}
