//! A save with a conflict check beside the same save without one, on one store: each
//! request loads its session, reads `counter` and writes `counter + 1`, either as an
//! untyped key (last writer wins: the save has no `Commit::expect`) or through a field with
//! a merge policy (what `#[session(merge = f)]` generates: the save expects the loaded
//! value, which the store compares in the same atomic step as its write). Each task has a
//! session of its own, so no save conflicts: the rows measure the cost of the check alone.
//!
//! Included by `bench/sql_compare/src/bin/checked.rs` (SQLite, PostgreSQL) and
//! `bench/redis_compare/src/bin/checked.rs` (Redis), which print one JSON line per row.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use typed_sessions::__private::{Field, field, merge};
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::SessionStore;

const SECRET: &str = "a secret of at least thirty-two bytes, for the benchmark";

/// `counter` with a merge policy: its saves carry a conflict check.
const CHECKED: Field<u64> = field::<u64>("counter").merge_conflicts(merge_counter);

fn add(base: u64, ours: u64, theirs: u64) -> u64 {
    theirs + ours - base
}

fn merge_counter(
    base: Option<&str>,
    ours: Option<&str>,
    theirs: Option<&str>,
) -> Result<Option<String>, typed_sessions::SessionError> {
    merge(&CHECKED, add, base, ours, theirs)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Save {
    Unchecked,
    Checked,
}

impl Save {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unchecked => "without a check (untyped key)",
            Self::Checked => "with a check (merge field)",
        }
    }
}

/// One run: `concurrency` tasks, `requests` requests in all.
pub struct Run {
    pub ops_per_s: f64,
    latencies_us: Vec<f64>,
}

impl Run {
    pub fn quantile(&mut self, q: f64) -> f64 {
        self.latencies_us.sort_by(f64::total_cmp);
        let last = self.latencies_us.len().saturating_sub(1);
        self.latencies_us
            .get((last as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    }
}

pub async fn run<S: SessionStore>(
    store: S,
    save: Save,
    requests: usize,
    concurrency: usize,
) -> Run {
    let factory = Arc::new(
        ServerSessionFactory::builder(SECRET, store)
            .reissue_time(None)
            .timeout(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    let mut cookies = Vec::new();
    for _ in 0..concurrency {
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("counter", 0);
        session.insert("note", "x".repeat(1000));
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let pair = response["set-cookie"].to_str().unwrap();
        let mut request = HeaderMap::new();
        request.insert("cookie", pair.split(';').next().unwrap().parse().unwrap());
        cookies.push(request);
    }
    let per_task = requests.div_ceil(concurrency.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for request in cookies {
        let factory = factory.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                let mut session = factory.load(&request).await.unwrap();
                match save {
                    Save::Unchecked => {
                        let n = session.get_as::<u64>("counter").unwrap().unwrap();
                        session.insert("counter", n + 1);
                    }
                    Save::Checked => {
                        let n = CHECKED.read(&session).unwrap();
                        CHECKED.write(&mut session, &(n + 1)).unwrap();
                    }
                }
                let mut response = HeaderMap::new();
                let saved = factory.save(&session, &mut response);
                drop(session);
                saved.await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1e6);
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.unwrap());
    }
    let ops_per_s = latencies_us.len() as f64 / started.elapsed().as_secs_f64();
    Run {
        ops_per_s,
        latencies_us,
    }
}

/// `rounds` runs of each kind of save at each concurrency, alternating which goes first,
/// one JSON line per (concurrency, save) with every run's figures.
pub async fn rows<S: SessionStore + Clone>(
    store_name: &str,
    store: S,
    requests: usize,
    levels: &[usize],
    rounds: usize,
) {
    for &concurrency in levels {
        let saves = [Save::Unchecked, Save::Checked];
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
        for round in 0..rounds {
            for k in 0..saves.len() {
                let i = (k + round) % saves.len();
                runs[i].push(run(store.clone(), saves[i], requests, concurrency).await);
            }
        }
        for (save, mut runs) in saves.into_iter().zip(runs) {
            let line = serde_json::json!({
                "kind": "row",
                "program": "checked-saves",
                "store": store_name,
                "concurrency": concurrency,
                "save": save.name(),
                "ops_per_s": runs.iter().map(|r| r.ops_per_s.round()).collect::<Vec<_>>(),
                "p50_us": runs.iter_mut().map(|r| r.quantile(0.50).round()).collect::<Vec<_>>(),
                "p99_us": runs.iter_mut().map(|r| r.quantile(0.99).round()).collect::<Vec<_>>(),
            });
            println!("{line}");
        }
    }
}

/// `[requests] [concurrency...]` from the command line, and `ROUNDS` (default 4).
pub fn args() -> (usize, Vec<usize>, usize) {
    let mut args = std::env::args().skip(1);
    let requests = args.next().map_or(2000, |n| n.parse().unwrap());
    let mut levels: Vec<usize> = args.map(|n| n.parse().unwrap()).collect();
    if levels.is_empty() {
        levels = vec![1, 16];
    }
    let rounds = std::env::var("ROUNDS").map_or(4, |n| n.parse().unwrap());
    (requests, levels, rounds.max(1))
}
