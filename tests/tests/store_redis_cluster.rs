//! Server-side sessions on a real Redis Cluster (three masters): every scenario of
//! `store_common`, renames across slots and within one, and sessions spread over the
//! masters.
//!
//! Needs `REDIS_CLUSTER_URLS`: `scripts/test.sh` starts a cluster and sets it; by hand,
//! `export REDIS_CLUSTER_URLS="$(scripts/redis-cluster.sh | tail -n 1)"`. Without it these
//! tests fail (they never skip), in CI and locally alike.

#[macro_use]
mod store_common;

use serde_json::json;
use store_common::*;
use typed_sessions::store::{RedisStore, StoreError};
use typed_sessions::{LoadOutcome, Rejection, Saved};

/// A store on the test cluster, under a prefix of its own (without a hash tag, so sessions
/// spread over the slots).
async fn cluster_store() -> RedisStore {
    let urls = redis_cluster_urls();
    match RedisStore::connect_cluster(&urls).await {
        Ok(store) => store.with_prefix(format!("session-test:{}:", random_tag())),
        Err(err) => panic!(
            "no Redis Cluster answers at REDIS_CLUSTER_URLS={} ({err}): start one with \
             `scripts/redis-cluster.sh`",
            urls.join(",")
        ),
    }
}

store_scenarios!(cluster_store().await);

/// The keys under `prefix` on each master, read with a plain connection to each node.
async fn keys_per_node(prefix: &str) -> Vec<Vec<String>> {
    let mut per_node = Vec::new();
    for url in redis_cluster_urls() {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        per_node.push(keys);
    }
    per_node
}

#[tokio::test]
async fn sessions_spread_over_the_masters_and_renames_leave_no_old_key() {
    let store = cluster_store().await;
    let prefix = store.redis_key("");
    let factory = factory(store.clone(), &clock());
    let mut cookies = Vec::new();
    for i in 0..24 {
        cookies.push(seed(&factory, json!({"n": i})).await);
    }
    let per_node = keys_per_node(&prefix).await;
    assert_eq!(per_node.iter().map(Vec::len).sum::<usize>(), 24);
    assert!(
        per_node.iter().filter(|keys| !keys.is_empty()).count() >= 2,
        "24 sessions on one master: {per_node:?}"
    );

    // Renames across slots: the old keys go, the new ones hold the state.
    for cookie in &cookies {
        let mut session = load(&factory, cookie).await;
        session.regenerate_id();
        let (saved, new_cookie) = save(&factory, &session).await;
        assert_eq!(saved, Saved::Written);
        let new_cookie = new_cookie.unwrap();
        assert_eq!(
            load(&factory, cookie).await.load_outcome(),
            LoadOutcome::Rejected(Rejection::UnknownSessionId)
        );
        assert_eq!(load(&factory, &new_cookie).await.get("n"), session.get("n"));
    }
    let per_node = keys_per_node(&prefix).await;
    assert_eq!(
        per_node.iter().map(Vec::len).sum::<usize>(),
        24,
        "{per_node:?}"
    );
}

#[tokio::test]
async fn a_prefix_with_a_hash_tag_keeps_every_session_in_one_slot() {
    let tag = random_tag();
    let store = cluster_store()
        .await
        .with_prefix(format!("{{session-test-{tag}}}:"));
    let prefix = store.redis_key("");
    let factory = factory(store, &clock());
    store_common::regenerate_id_keeps_the_state_under_a_new_id(factory).await;
    let store = cluster_store().await.with_prefix(prefix.clone());
    store_common::invalidate_deletes_the_state_and_issues_a_new_id(store_common::factory(
        store,
        &clock(),
    ))
    .await;
    let per_node = keys_per_node(&prefix).await;
    assert_eq!(
        per_node.iter().filter(|keys| !keys.is_empty()).count(),
        1,
        "one slot, one master: {per_node:?}"
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable() {
    let err = RedisStore::connect_cluster(["redis://127.0.0.1:1/"])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = RedisStore::connect_cluster(["not a url"])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
}

mod registry {
    use super::*;
    use store_common::registry::{self as scenarios, redis_indexed as indexed};

    /// Without a hash tag the user's index is another slot's than its sessions; with one
    /// (`{tag}`), every step is one `MULTI` or script again.
    async fn stores() -> [RedisStore; 2] {
        let spread = cluster_store().await;
        let tagged = cluster_store()
            .await
            .with_prefix(format!("{{session-test-{}}}:", random_tag()));
        [spread, tagged]
    }

    fn clock() -> typed_sessions::ManualClock {
        typed_sessions::ManualClock::new(NOW)
    }

    #[tokio::test]
    async fn registry_lists_and_revokes() {
        for store in stores().await {
            scenarios::list_and_revoke(store.clone(), &clock(), indexed(&store)).await;
        }
    }

    #[tokio::test]
    async fn rotation_and_sign_out_update_the_index() {
        for store in stores().await {
            scenarios::rotation_and_sign_out_update_the_index(
                store.clone(),
                &clock(),
                indexed(&store),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn an_expired_session_leaves_no_index_entry() {
        for store in stores().await {
            scenarios::an_expired_session_leaves_no_index_entry(store.clone(), indexed(&store))
                .await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_survive_a_renewal() {
        for store in stores().await {
            scenarios::concurrent_requests_survive_a_renewal(store, &clock(), 16).await;
        }
    }

    #[tokio::test]
    async fn a_privilege_change_leaves_no_alias() {
        for store in stores().await {
            scenarios::a_privilege_change_leaves_no_alias(store, &clock()).await;
        }
    }
}
