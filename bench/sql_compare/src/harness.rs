//! What both benchmarks share: the session state, the timing loop and the table row.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One request's work on one task's session.
pub type Op = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A signed-in shopper with a cart of `items` items: 14 make about 1 KiB of JSON, 120 about
/// 8.7 KiB (the payloads of `bench/redis_compare`).
pub fn payload(items: usize) -> serde_json::Map<String, Value> {
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

pub fn payload_len(items: usize) -> usize {
    serde_json::to_string(&payload(items)).unwrap().len()
}

pub struct Stats {
    pub requests: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
}

impl Stats {
    pub fn ops_per_sec(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    /// The latency at quantile `q`, in µs.
    pub fn quantile(&mut self, q: f64) -> f64 {
        self.latencies.sort();
        let i =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1e6
    }

    /// `| ops/s | p50 µs | p99 µs |`
    #[allow(dead_code)] // `sql-compare` prints JSON lines
    pub fn cells(&mut self) -> String {
        format!(
            "{:.0} | {:.0} | {:.0}",
            self.ops_per_sec(),
            self.quantile(0.50),
            self.quantile(0.99)
        )
    }
}

/// Runs `requests` requests spread over the `ops` (one task each, concurrently).
pub async fn run(requests: usize, ops: Vec<Op>) -> Stats {
    let per_task = requests / ops.len();
    let tasks = ops.len();
    let start = Instant::now();
    let handles: Vec<_> = ops
        .into_iter()
        .map(|mut op| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    op().await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for handle in handles {
        latencies.extend(handle.await.unwrap());
    }
    Stats {
        requests: per_task * tasks,
        wall: start.elapsed(),
        latencies,
    }
}

/// `--requests N` and `--concurrency A,B` style arguments, positional: `[requests]
/// [concurrency...]`.
pub fn args(default_requests: usize) -> (usize, Vec<usize>) {
    let mut args = std::env::args().skip(1);
    let requests = args.next().map_or(default_requests, |a| a.parse().unwrap());
    let mut levels: Vec<usize> = args.map(|a| a.parse().unwrap()).collect();
    if levels.is_empty() {
        levels = vec![1, 16];
    }
    (requests, levels)
}

/// Seconds since the Unix epoch: when the run started.
#[allow(dead_code)] // `layout` does not record it
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The machine's load averages over 1, 5 and 15 minutes (`/proc/loadavg`): the benchmark
/// shares its cores.
#[allow(dead_code)] // `layout` does not record it
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub fn postgres_url() -> String {
    std::env::var("POSTGRES_URL")
        .expect("set POSTGRES_URL: `export POSTGRES_URL=\"$(scripts/postgres.sh | tail -n 1)\"`")
}

/// A fresh SQLite database file under the system's temp directory.
pub fn sqlite_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("session-sql-compare");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}
