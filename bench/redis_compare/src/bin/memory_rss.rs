//! Resident memory of an in-process store holding many sessions: typed-sessions'
//! `MemoryStore` beside tower-sessions' `MemoryStore`, each filled with `SESSIONS` sessions
//! (default 100,000) of the same state as `redis-compare`'s (about 1 KiB of JSON), each
//! made new and saved as a request does. Each engine runs in a process of its own (this
//! binary runs itself once per engine), so neither sees the other's heap; the figure is
//! the growth of the resident set (`/proc/self/statm`) over the fill. A measurement of
//! memory, not of time: the same on a loaded machine. One JSON line per engine.
//!
//!   cargo run --release --manifest-path bench/redis_compare/Cargo.toml --bin memory_rss -- 100000

use std::process::Command;
use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};
use tower_sessions_core::Session as TowerSession;
use tower_sessions_memory_store::MemoryStore as TowerMemoryStore;
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::MemoryStore;

const SECRET: &str = "a secret of at least thirty-two bytes, for the benchmark";
const ENGINES: [&str; 2] = ["session `MemoryStore`", "tower-sessions `MemoryStore`"];

/// The state of `redis-compare` (its `payload`, the same 14 items).
fn payload() -> serde_json::Map<String, Value> {
    let cart: Vec<Value> = (0..14)
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

/// Resident bytes of this process (Linux; the page size of x86-64 Linux).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux: /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Fills one engine's store and prints its row.
async fn measure(engine: &str, sessions: usize) {
    let before = resident();
    let keep: Box<dyn std::any::Any> = if engine == ENGINES[0] {
        let factory = ServerSessionFactory::builder(SECRET, MemoryStore::new())
            .reissue_time(None)
            .build()
            .unwrap();
        for _ in 0..sessions {
            let mut session = factory.load(&HeaderMap::new()).await.unwrap();
            for (key, value) in payload() {
                session.insert(key, value);
            }
            factory.save(&session, &mut HeaderMap::new()).await.unwrap();
        }
        Box::new(factory)
    } else {
        let store = Arc::new(TowerMemoryStore::default());
        for _ in 0..sessions {
            let session = TowerSession::new(None, store.clone(), None);
            for (key, value) in payload() {
                session.insert(&key, value).await.unwrap();
            }
            session.save().await.unwrap();
        }
        Box::new(store)
    };
    let after = resident();
    println!(
        "{}",
        json!({"kind": "row", "program": "memory-rss", "engine": engine, "sessions": sessions,
               "payload_bytes": serde_json::to_string(&payload()).unwrap().len(),
               "rss_before": before, "rss_after": after,
               "bytes_per_session": (after.saturating_sub(before) as f64 / sessions as f64).round()})
    );
    std::hint::black_box(keep);
}

fn main() {
    let sessions: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().unwrap());
    if let Some(engine) = std::env::args().nth(2) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(measure(&engine, sessions));
        return;
    }
    let me = std::env::current_exe().unwrap();
    for engine in ENGINES {
        let status = Command::new(&me)
            .arg(sessions.to_string())
            .arg(engine)
            .status()
            .unwrap();
        assert!(status.success(), "{engine}: {status}");
    }
}
