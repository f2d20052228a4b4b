//! A Redis that restarts and loads its data slowly (`key-load-delay`, as a large data set
//! would) answers `LOADING` meanwhile: requests then fail as *unavailable* (`503`, retry
//! later), never as server errors, and the app recovers on its own once the load is done.
//! (Here the replies meet the connection's handshake; the same replies to a command on an
//! open connection are checked in `store::redis`'s unit tests.)
//!
//! Starts its own `redis-server` (installed by `scripts/redis.sh`) on a free port, with its
//! data in a temporary folder; fails, never skips, when there is none.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::json;
use typed_sessions::store::{RedisStore, StoreError};
use typed_sessions::{LoadOutcome, ServerSessionFactory};

mod outage;
use outage::{free_port, request};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
/// Keys that make the load slow: with 100 µs each, about two seconds.
const FILLER_KEYS: usize = 20_000;

struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(port: u16, dir: PathBuf, key_load_delay_us: u32) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--key-load-delay", &key_load_delay_us.to_string()])
            // Answer clients (with `LOADING`) every kilobyte loaded, as a large data set's
            // load does every 2 MiB, instead of not at all for a small one.
            .args(["--loading-process-events-interval-bytes", "1024"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start redis-server ({err}): install it with `scripts/redis.sh`")
            });
        Self {
            child: Some(child),
            port,
            dir,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for_ping(url: &str) {
    let client = redis::Client::open(url).unwrap();
    for _ in 0..200 {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
            if pong.is_ok() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server at {url} did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_loading_its_data_is_unavailable_then_recovers_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("typed-sessions-loading-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut server = Server::start(port, dir.clone(), 0);
    wait_for_ping(&server.url()).await;

    let store = RedisStore::connect(&server.url()).await.unwrap();
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store.clone())
            .reissue_time(None)
            .build()
            .unwrap(),
    );
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    session.insert("cart", json!(["sencha"]));
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).await.unwrap();
    let cookie = response["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Enough data that loading it takes a while, saved to disk, then a restart.
    let mut conn = store.connection().clone();
    for chunk in (0..FILLER_KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET").arg(format!("filler:{i}")).arg(i).ignore();
        }
        let () = pipe.query_async(&mut conn).await.unwrap();
    }
    let () = redis::cmd("SAVE").query_async(&mut conn).await.unwrap();
    server.stop();
    let mut server = Server::start(port, dir, 100);

    // Concurrent requests while it loads: each loads the session and adds to the cart.
    // Every failure must be "unavailable" (503); some requests must have met the load.
    let started = Instant::now();
    let mut unavailable = 0;
    let mut loading = 0;
    let mut loaded_after = None;
    while started.elapsed() < Duration::from_secs(30) {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let factory = Arc::clone(&factory);
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(async move {
                let mut session = factory.load(&request(&cookie)).await?;
                session.insert("visits", json!(1));
                factory.save(&session, &mut HeaderMap::new()).await?;
                Ok::<_, StoreError>(session.load_outcome())
            }));
        }
        let mut all_ok = true;
        for task in tasks {
            match task.await.unwrap() {
                Ok(outcome) => assert_eq!(outcome, LoadOutcome::Loaded, "the session survived"),
                Err(err) => {
                    all_ok = false;
                    assert!(err.is_unavailable(), "only ever unavailable: {err}");
                    assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
                    unavailable += 1;
                    if err.to_string().contains("loading the dataset") {
                        loading += 1;
                    }
                }
            }
        }
        if all_ok && unavailable > 0 {
            loaded_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop();
    assert!(unavailable > 0, "no request met the server while it loaded");
    assert!(
        loading > 0,
        "no request met the `LOADING` reply (\"loading the dataset\") ({unavailable} unavailable)"
    );
    let loaded_after = loaded_after.expect("the app recovered once the server had loaded");
    assert!(loaded_after < Duration::from_secs(30), "{loaded_after:?}");
}
