//! Resident memory of the memory store holding many sessions: fills a
//! `ServerSessionFactory<MemoryStore>` with `SESSIONS` sessions (default 100,000) of a
//! 1 KiB state (a user id, a counter, a CSRF token and a cart of 12 items), each loaded
//! new and saved as a request does, and prints the process's resident set size before and
//! after (`/proc/self/statm`) and the bytes per session. A measurement of memory, not of
//! time: it is the same on a loaded machine.
//!
//! `cargo bench -p typed-sessions --bench memory_rss` (`SESSIONS=1000` for a quick run)

use http::HeaderMap;
use typed_sessions::store::MemoryStore;
use typed_sessions::{ServerSessionFactory, Session};

fn fill(session: &mut Session) {
    let cart: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "name": format!("Product number {i}"), "qty": 1, "price_cents": 199}))
        .collect();
    session.insert("user_id", 48_213);
    session.insert("views", 17);
    session.insert("_csrft_", "0123456789abcdef0123456789abcdef01234567");
    session.insert("cart", cart);
}

/// Resident bytes of this process (Linux).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux: /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let sessions: usize = std::env::var("SESSIONS").map_or(100_000, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
        .reissue_time(None)
        .build()
        .unwrap();
    let mut probe = Session::new();
    fill(&mut probe);
    let state_bytes = probe.state_json().unwrap().len();
    let before = resident();
    runtime.block_on(async {
        for _ in 0..sessions {
            let mut session = factory.load(&HeaderMap::new()).await.unwrap();
            fill(&mut session);
            let mut response = HeaderMap::new();
            factory.save(&session, &mut response).await.unwrap();
        }
    });
    let after = resident();
    let per_session = (after.saturating_sub(before)) as f64 / sessions as f64;
    println!(
        "{}",
        serde_json::json!({
            "kind": "row", "program": "memory-rss", "store": "MemoryStore",
            "sessions": sessions, "state_bytes": state_bytes,
            "rss_before": before, "rss_after": after,
            "bytes_per_session": per_session.round(),
        })
    );
    std::hint::black_box(&factory);
}
