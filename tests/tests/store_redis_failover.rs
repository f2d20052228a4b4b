//! A Redis Cluster master killed under load, its replica promoted in its place: requests
//! of the sessions on it fail as *unavailable* (`503`) while the cluster fails over, never
//! as another error, and the app recovers on its own, the session still there, without
//! being restarted.
//!
//! Starts its own cluster of three masters with one replica each (`redis-server` and
//! `redis-cli --cluster create`, installed by `scripts/redis-cluster.sh`) on free loopback
//! ports, with a half-second node timeout; fails, never skips, when they are missing. The
//! shared test cluster (`REDIS_CLUSTER_URLS`) is not touched.

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
const PREFIX: &str = "failover-test:";

/// The cluster's nodes; killed, their folder deleted, when dropped.
struct Cluster {
    nodes: Vec<(u16, Option<Child>)>,
    dir: PathBuf,
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

async fn connect(port: u16) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url(port)).unwrap();
    for _ in 0..200 {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
            if pong.is_ok() {
                return conn;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server on port {port} did not start");
}

impl Cluster {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("typed-sessions-failover-{}", free_port()));
        let mut nodes = Vec::new();
        for _ in 0..6 {
            // Cluster nodes also listen on port + 10000: keep both free.
            let port = loop {
                let port = free_port();
                if port < 55_000 {
                    break port;
                }
            };
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--dir", node_dir.to_str().unwrap()])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "500"])
                .args(["--cluster-replica-validity-factor", "0"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|err| {
                    panic!(
                        "cannot start redis-server ({err}): install it with \
                         `scripts/redis-cluster.sh`"
                    )
                });
            nodes.push((port, Some(child)));
        }
        let cluster = Self { nodes, dir };
        for (port, _) in &cluster.nodes {
            connect(*port).await;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli runs: install it with `scripts/redis-cluster.sh`");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.wait_until_ok(&cluster.ports()).await;
        cluster
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|(port, _)| *port).collect()
    }

    /// Waits until every node in `ports` says `cluster_state:ok`.
    async fn wait_until_ok(&self, ports: &[u16]) {
        for &port in ports {
            let mut conn = connect(port).await;
            let started = Instant::now();
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(20), "{info}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn kill(&mut self, port: u16) {
        for (node, child) in &mut self.nodes {
            if *node == port
                && let Some(mut child) = child.take()
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for port in self.ports() {
            self.kill(port);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_and_its_replica_promoted_is_503_then_recovers() {
    let mut cluster = Cluster::start().await;
    let urls: Vec<String> = cluster.ports().into_iter().map(url).collect();
    let store = RedisStore::connect_cluster(&urls)
        .await
        .unwrap()
        .with_prefix(PREFIX);
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store)
            .reissue_time(None)
            .build()
            .unwrap(),
    );
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    session.insert("cart", json!(["sencha"]));
    // A cluster just made may take a moment before every node serves its slots.
    let started = Instant::now();
    let mut response = HeaderMap::new();
    while let Err(err) = factory.save(&session, &mut response).await {
        assert!(started.elapsed() < Duration::from_secs(10), "{err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("first save after {:?}", started.elapsed());
    let cookie = response["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let id = factory.load(&request(&cookie)).await.unwrap();
    assert_eq!(id.load_outcome(), LoadOutcome::Loaded);

    // The master that holds the session: the one node that answers for its key. Its
    // replica must have the session before the master dies.
    let mut owner = None;
    for port in cluster.ports() {
        let mut conn = connect(port).await;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
        if !matches!(&role[0], redis::Value::BulkString(r) if r == b"master") {
            continue;
        }
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{PREFIX}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            // Within the connection's response timeout.
            let mut replicated = 0;
            for _ in 0..20 {
                replicated = redis::cmd("WAIT")
                    .arg(1)
                    .arg(200)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if replicated == 1 {
                    break;
                }
            }
            assert_eq!(replicated, 1, "the replica has the session");
            owner = Some(port);
        }
    }
    let owner = owner.expect("a master holds the session");
    cluster.kill(owner);
    let killed = Instant::now();

    // Concurrent requests while the cluster notices and promotes the replica: each loads
    // the session and adds to it. Every failure must be "unavailable" (503).
    let mut unavailable = 0;
    let mut recovered_after = None;
    while killed.elapsed() < Duration::from_secs(30) {
        let mut tasks = Vec::new();
        for n in 0..4 {
            let factory = Arc::clone(&factory);
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(async move {
                let mut session = factory.load(&request(&cookie)).await?;
                session.insert(format!("visit{n}"), json!(1));
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
                }
            }
        }
        if all_ok && unavailable > 0 {
            recovered_after = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("{unavailable} requests unavailable; recovered after {recovered_after:?}");
    assert!(unavailable > 0, "no request met the failover");
    recovered_after.expect("the app recovered once the replica was promoted");
    let session = factory.load(&request(&cookie)).await.unwrap();
    assert_eq!(
        session.get_as::<Vec<String>>("cart").unwrap(),
        Some(vec!["sencha".to_owned()])
    );
}
