//! `RedisStore` saves with a conflict check and without (`bench/checked_saves.rs`): one
//! JSON line per row.
//!
//!     export REDIS_URL="$(scripts/redis.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/redis_compare/Cargo.toml --bin checked -- [requests] [concurrency...]
//!
//! Under a prefix of this process's own (`bench:checked:<pid>:`); the sessions expire after
//! an hour. Never `FLUSHDB`: the Redis may be shared.

#[path = "../../../checked_saves.rs"]
mod checked_saves;

use typed_sessions::store::RedisStore;

#[tokio::main]
async fn main() {
    let (requests, levels, rounds) = checked_saves::args();
    let url = std::env::var("REDIS_URL")
        .expect("set REDIS_URL: `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"`");
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(format!("bench:checked:{}:", std::process::id()));
    checked_saves::rows("Redis", store, requests, &levels, rounds).await;
}
