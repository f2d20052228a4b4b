//! Load + save of one session through Redis on loopback, per request: `session`'s
//! `RedisStore` (a hash per session, only the changed key written back) beside
//! `tower-sessions` with `tower-sessions-redis-store` (the whole record as MessagePack
//! under one key), on the same ~1 KiB state, in the same run.
//!
//! Each request loads the session, reads `counter`, writes `counter + 1` and saves.
//!
//! Both engines talk to Redis through one multiplexed connection (`session`: redis-rs's
//! `ConnectionManager`; tower-sessions: a fred `Pool` of size 1). More rows isolate where a
//! difference comes from: ours writing the whole record on every save (`changed()`) instead
//! of the one changed key; our Redis commands alone (`HGETALL` and the Lua partial write,
//! no session code); and each client library's bare floor, a `GET` and a `SET ... XX` of a
//! value the size of the state, as tower-sessions' store sends them, with no session code.
//!
//! At each concurrency every engine is warmed up once, then every engine runs `ROUNDS`
//! times (default 6, a multiple of the six engines), the order rotating run by run so that
//! each engine goes first equally often; before each run the keys of earlier runs are
//! deleted (only the benchmark's own: `bench:*` and the tower-sessions ids it made, never
//! `FLUSHDB`, so a shared Redis keeps its other data). The results are JSON lines on
//! stdout, one per row with every run's figures (`bench/tables` turns them into the median
//! and spread of BENCHMARKS.md); progress goes to stderr.
//!
//!     export REDIS_URL="$(scripts/redis.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/redis_compare/Cargo.toml -- [requests] [concurrency...] \
//!         > bench/results/redis-compare-1k.jsonl
//!     bench/tables bench/results/redis-compare-1k.jsonl
//!
//! `CART_ITEMS=120` makes the state about 8 KiB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::{Value, json};
use tower_sessions_core::Session as TowerSession;
use tower_sessions_redis_store::RedisStore as TowerRedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_redis_store::fred::types::{Expiration, SetOptions};
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::RedisStore;

const SECRET: &str = "a secret of at least thirty-two bytes, for the benchmark";

/// A signed-in shopper with a cart of `CART_ITEMS` items (default 14: about 1 KiB of JSON).
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

/// The size of both engines' connection pools: one multiplexed connection each.
const POOL_SIZE: usize = 1;

struct Stats {
    name: &'static str,
    concurrency: usize,
    requests: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn ops(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    /// The latency at quantile `q`, in µs.
    fn quantile(&mut self, q: f64) -> f64 {
        self.latencies.sort();
        let i =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1e6
    }
}

/// The tower-sessions session ids the runs made (its store takes no key prefix), deleted
/// with the benchmark's own `bench:*` keys before each run.
static TOWER_KEYS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Runs `requests` requests over `concurrency` tasks, each task on its own session.
async fn run<F, Fut>(name: &'static str, requests: usize, concurrency: usize, make: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<
            Output = Box<
                dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
                    + Send,
            >,
        >,
{
    let per_task = requests / concurrency;
    let mut ops = Vec::new();
    for task in 0..concurrency {
        ops.push(make(task).await);
    }
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
        name,
        concurrency,
        requests: per_task * concurrency,
        wall: start.elapsed(),
        latencies,
    }
}

type Op =
    Box<dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>;

/// `whole`: mark the session changed, so the save writes every key, not only `counter`.
async fn ours(url: String, requests: usize, concurrency: usize, whole: bool) -> Stats {
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix("bench:ours:");
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store)
            .reissue_time(None)
            .build()
            .unwrap(),
    );
    let name = if whole {
        "session `RedisStore`, whole record written"
    } else {
        "session `RedisStore`"
    };
    run(name, requests, concurrency, move |_| {
        let factory = factory.clone();
        async move {
            // Seed one session per task.
            let mut session = factory.load(&HeaderMap::new()).await.unwrap();
            for (key, value) in payload() {
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
            Box::new(move || {
                let factory = factory.clone();
                let request = request.clone();
                Box::pin(async move {
                    let mut session = factory.load(&request).await.unwrap();
                    let n = session.get_as::<u64>("counter").unwrap().unwrap_or(0);
                    session.insert("counter", n + 1);
                    if whole {
                        session.changed();
                    }
                    let mut response = HeaderMap::new();
                    factory.save(&session, &mut response).await.unwrap();
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            }) as Op
        }
    })
    .await
}

async fn tower(url: String, requests: usize, concurrency: usize) -> Stats {
    let store = Arc::new(TowerRedisStore::new(fred_pool(&url).await));
    run(
        "tower-sessions + redis-store",
        requests,
        concurrency,
        move |_| {
            let store = store.clone();
            async move {
                let seed = TowerSession::new(None, store.clone(), None);
                for (key, value) in payload() {
                    seed.insert(&key, value).await.unwrap();
                }
                seed.save().await.unwrap();
                let id = seed.id().unwrap();
                TOWER_KEYS.lock().unwrap().push(id.to_string());
                Box::new(move || {
                    let store = store.clone();
                    Box::pin(async move {
                        let session = TowerSession::new(Some(id), store, None);
                        let n: u64 = session.get("counter").await.unwrap().unwrap_or(0);
                        session.insert("counter", n + 1).await.unwrap();
                        session.save().await.unwrap();
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
                }) as Op
            }
        },
    )
    .await
}

async fn fred_pool(url: &str) -> Pool {
    let pool = Pool::new(Config::from_url(url).unwrap(), None, None, None, POOL_SIZE).unwrap();
    let _ = pool.connect();
    pool.wait_for_connect().await.unwrap();
    pool
}

/// The state's JSON, as the bare floors' value.
fn blob() -> Vec<u8> {
    serde_json::to_vec(&payload()).unwrap()
}

/// redis-rs alone: `GET` and `SET ... EX 1200 XX` of a state-sized value, one task per key.
async fn redis_rs_floor(url: String, requests: usize, concurrency: usize) -> Stats {
    let store = RedisStore::connect(&url).await.unwrap();
    let conn = store.connection().clone();
    run(
        "redis-rs alone: GET + SET",
        requests,
        concurrency,
        move |task| {
            let mut conn = conn.clone();
            async move {
                let key = format!("bench:floor:{task}");
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(blob())
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                Box::new(move || {
                    let mut conn = conn.clone();
                    let key = key.clone();
                    Box::pin(async move {
                        let value: Vec<u8> = redis::cmd("GET")
                            .arg(&key)
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                        let _: Option<String> = redis::cmd("SET")
                            .arg(&key)
                            .arg(value)
                            .arg("EX")
                            .arg(1200)
                            .arg("XX")
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
                }) as Op
            }
        },
    )
    .await
}

/// The Lua script `RedisStore` saves with (copied from `typed-sessions/src/store/redis.rs`).
const UPDATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last_set = 3 + 2 * tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'm:accessed', ARGV[2], unpack(ARGV, 4, last_set))
if #ARGV > last_set then redis.call('HDEL', KEYS[1], unpack(ARGV, last_set + 1, #ARGV)) end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1
";

/// redis-rs alone with `RedisStore`'s commands: `HGETALL` of a hash holding the state's
/// keys, and the script's partial write of one key. The Redis side of our design, with no
/// session code.
async fn redis_rs_hash_floor(url: String, requests: usize, concurrency: usize) -> Stats {
    let store = RedisStore::connect(&url).await.unwrap();
    let conn = store.connection().clone();
    let script = Arc::new(redis::Script::new(UPDATE));
    run(
        "redis-rs alone: HGETALL + Lua write",
        requests,
        concurrency,
        move |task| {
            let mut conn = conn.clone();
            let script = script.clone();
            async move {
                let key = format!("bench:hash:{task}");
                let mut hset = redis::cmd("HSET");
                hset.arg(&key)
                    .arg("m:created")
                    .arg(1)
                    .arg("m:accessed")
                    .arg(1);
                for (field, value) in payload() {
                    hset.arg(format!("k:{field}")).arg(value.to_string());
                }
                let _: () = hset.query_async(&mut conn).await.unwrap();
                Box::new(move || {
                    let mut conn = conn.clone();
                    let key = key.clone();
                    let script = script.clone();
                    Box::pin(async move {
                        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                            .arg(&key)
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                        let n = fields.len();
                        let applied: i64 = script
                            .key(&key)
                            .arg(1_200_000)
                            .arg(2)
                            .arg(1)
                            .arg("k:counter")
                            .arg(n)
                            .invoke_async(&mut conn)
                            .await
                            .unwrap();
                        assert_eq!(applied, 1);
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
                }) as Op
            }
        },
    )
    .await
}

/// fred alone, as tower-sessions' store calls it: `GET` and `SET ... EX 1200 XX`.
async fn fred_floor(url: String, requests: usize, concurrency: usize) -> Stats {
    let pool = fred_pool(&url).await;
    run(
        "fred alone: GET + SET",
        requests,
        concurrency,
        move |task| {
            let pool = pool.clone();
            async move {
                let key = format!("bench:floor:{task}");
                let _: () = pool
                    .set(&key, blob().as_slice(), None, None, false)
                    .await
                    .unwrap();
                Box::new(move || {
                    let pool = pool.clone();
                    let key = key.clone();
                    Box::pin(async move {
                        let value: Option<Vec<u8>> = pool.get(&key).await.unwrap();
                        let _: Option<String> = pool
                            .set(
                                &key,
                                value.unwrap().as_slice(),
                                Some(Expiration::EX(1200)),
                                Some(SetOptions::XX),
                                false,
                            )
                            .await
                            .unwrap();
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
                }) as Op
            }
        },
    )
    .await
}

#[derive(Clone, Copy)]
enum Engine {
    Ours,
    OursWhole,
    Tower,
    RedisRs,
    RedisRsHash,
    Fred,
}

async fn measure(engine: Engine, url: String, requests: usize, concurrency: usize) -> Stats {
    match engine {
        Engine::Ours => ours(url, requests, concurrency, false).await,
        Engine::OursWhole => ours(url, requests, concurrency, true).await,
        Engine::Tower => tower(url, requests, concurrency).await,
        Engine::RedisRs => redis_rs_floor(url, requests, concurrency).await,
        Engine::RedisRsHash => redis_rs_hash_floor(url, requests, concurrency).await,
        Engine::Fred => fred_floor(url, requests, concurrency).await,
    }
}

/// Deletes what earlier runs wrote: the `bench:*` keys (ours, and the floors') and the
/// tower-sessions ids. Never `FLUSHDB`: the Redis may be shared.
async fn clean(url: &str) {
    let store = RedisStore::connect(url).await.unwrap();
    let mut conn = store.connection().clone();
    let mut keys: Vec<String> = std::mem::take(&mut *TOWER_KEYS.lock().unwrap());
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("bench:*")
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL")
            .arg(chunk)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// The machine's load averages over 1, 5 and 15 minutes: the benchmark shares its cores.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let url = std::env::var("REDIS_URL")
        .expect("set REDIS_URL: `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"`");
    let engines = [
        Engine::Ours,
        Engine::Tower,
        Engine::OursWhole,
        Engine::RedisRsHash,
        Engine::RedisRs,
        Engine::Fred,
    ];
    let rounds: usize = std::env::var("ROUNDS").map_or(engines.len(), |n| n.parse().unwrap());
    assert!(
        rounds > 0 && rounds % engines.len() == 0,
        "ROUNDS must be a multiple of {}, so that each engine goes first equally often",
        engines.len()
    );
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let mut levels: Vec<usize> = args.map(|a| a.parse().unwrap()).collect();
    if levels.is_empty() {
        levels = vec![1, 16];
    }
    let payload_bytes = serde_json::to_string(&payload()).unwrap().len();
    println!(
        "{}",
        json!({
            "kind": "meta",
            "program": "redis-compare",
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            "payload_bytes": payload_bytes,
            "requests": requests,
            "concurrency": levels,
            "pool": POOL_SIZE,
            "rounds": rounds,
            "load_before": load_average(),
        })
    );
    for &c in &levels {
        // Warm up every engine once.
        for engine in engines {
            clean(&url).await;
            measure(engine, url.clone(), 1000.min(requests).max(c), c).await;
        }
        let mut runs: Vec<Vec<Stats>> = engines.iter().map(|_| Vec::new()).collect();
        let mut firsts = vec![0usize; engines.len()];
        for round in 0..rounds {
            for k in 0..engines.len() {
                // Rotate the order: round `r` starts with engine `r % 6`.
                let i = (k + round) % engines.len();
                if k == 0 {
                    firsts[i] += 1;
                }
                clean(&url).await;
                runs[i].push(measure(engines[i], url.clone(), requests, c).await);
            }
        }
        assert!(
            firsts.iter().all(|&n| n == rounds / engines.len()),
            "each engine first equally often: {firsts:?}"
        );
        for mut runs in runs {
            let line = json!({
                "kind": "row",
                "engine": runs[0].name,
                "payload_bytes": payload_bytes,
                "concurrency": runs[0].concurrency,
                "ops_per_s": runs.iter().map(|s| s.ops().round()).collect::<Vec<_>>(),
                "p50_us": runs.iter_mut().map(|s| s.quantile(0.50).round()).collect::<Vec<_>>(),
                "p99_us": runs.iter_mut().map(|s| s.quantile(0.99).round()).collect::<Vec<_>>(),
            });
            eprintln!("{line}");
            println!("{line}");
        }
    }
    clean(&url).await;
    println!("{}", json!({"kind": "end", "load_after": load_average()}));
}
