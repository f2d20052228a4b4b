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
//! Every row runs `ROUNDS` times (3), the engines in a rotating order, on a Redis flushed
//! before each run; each row reports its median run.
//!
//!     export REDIS_URL="$(scripts/redis.sh | tail -n 1)"
//!     cargo run --release --manifest-path bench/redis_compare/Cargo.toml -- [requests] [concurrency...]
//!
//! `CART_ITEMS=120` makes the state about 8 KiB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::{Value, json};
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::RedisStore;
use tower_sessions_core::Session as TowerSession;
use tower_sessions_redis_store::RedisStore as TowerRedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_redis_store::fred::types::{Expiration, SetOptions};

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

    fn row(&mut self) -> String {
        self.latencies.sort();
        let pick = |q: f64| {
            let i = ((self.latencies.len() as f64 * q).ceil() as usize)
                .clamp(1, self.latencies.len())
                - 1;
            self.latencies[i].as_secs_f64() * 1e6
        };
        format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} |",
            self.name,
            self.concurrency,
            self.ops(),
            pick(0.50),
            pick(0.99)
        )
    }
}

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

async fn flush(url: &str) {
    let store = RedisStore::connect(url).await.unwrap();
    let mut conn = store.connection().clone();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
}

#[tokio::main]
async fn main() {
    let url = std::env::var("REDIS_URL")
        .expect("set REDIS_URL: `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"`");
    let rounds: usize = std::env::var("ROUNDS").map_or(3, |n| n.parse().unwrap());
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let mut levels: Vec<usize> = args.map(|a| a.parse().unwrap()).collect();
    if levels.is_empty() {
        levels = vec![1, 16];
    }
    println!(
        "payload: {} bytes of JSON state; {requests} requests per run (load + change one key + \
         save); one connection per engine (pool size {POOL_SIZE}); median of {rounds} runs, \
         engines in rotating order, Redis flushed before each run",
        serde_json::to_string(&payload()).unwrap().len()
    );
    println!("| engine | concurrency | ops/s | p50 µs | p99 µs | vs tower-sessions |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let engines = [
        Engine::Ours,
        Engine::Tower,
        Engine::OursWhole,
        Engine::RedisRsHash,
        Engine::RedisRs,
        Engine::Fred,
    ];
    for &c in &levels {
        // Warm up every engine once.
        for engine in engines {
            flush(&url).await;
            measure(engine, url.clone(), 1000, c).await;
        }
        let mut runs: Vec<Vec<Stats>> = engines.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            for i in 0..engines.len() {
                // Rotate the order: each engine goes first in some round.
                let i = (i + round) % engines.len();
                flush(&url).await;
                runs[i].push(measure(engines[i], url.clone(), requests, c).await);
            }
        }
        let mut medians: Vec<Stats> = runs
            .into_iter()
            .map(|mut r| {
                r.sort_by(|a, b| a.ops().total_cmp(&b.ops()));
                r.swap_remove(r.len() / 2)
            })
            .collect();
        let tower_ops = medians[1].ops();
        for stats in &mut medians {
            let vs = stats.ops() / tower_ops;
            println!("{} {vs:.2}x |", stats.row());
        }
    }
    flush(&url).await;
}
