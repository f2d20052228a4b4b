//! `AnyStore::connect` on the real servers: each URL form opens the store it names (SQL
//! stores migrated), sessions round-trip and partial saves stay partial through it, and no
//! error ever quotes a password. Needs `REDIS_URL`, `REDIS_CLUSTER_URLS` and `POSTGRES_URL`
//! (see `store_common`); never skips.

mod store_common;

use typed_sessions::ManualClock;
use typed_sessions::store::AnyStore;

fn clock() -> ManualClock {
    ManualClock::new(store_common::NOW)
}

/// `url` through `AnyStore::connect`, which must say it is `kind`; Redis keys under a
/// prefix of the test's own.
async fn connect(url: &str, kind: &str) -> AnyStore {
    let store = AnyStore::connect(url).await.unwrap();
    assert_eq!(store.kind(), kind, "{kind}");
    match store {
        AnyStore::Redis(redis) => AnyStore::Redis(
            redis.with_prefix(format!("session-test:{}:", store_common::random_tag())),
        ),
        other => other,
    }
}

/// What every store must do, through `AnyStore`.
async fn works(store: AnyStore) {
    store_common::round_trip(store_common::factory(store.clone(), &clock())).await;
    store_common::concurrent_requests_changing_different_keys_both_survive(store_common::factory(
        store.clone(),
        &clock(),
    ))
    .await;
    store_common::invalidate_deletes_the_state_and_issues_a_new_id(store_common::factory(
        store,
        &clock(),
    ))
    .await;
}

#[tokio::test]
async fn redis() {
    works(connect(&store_common::redis_url(), "Redis").await).await;
}

#[tokio::test]
async fn redis_cluster_as_a_comma_list() {
    let urls = store_common::redis_cluster_urls().join(",");
    works(connect(&urls, "Redis Cluster").await).await;
}

#[tokio::test]
async fn redis_cluster_from_one_seed() {
    let seed = store_common::redis_cluster_urls()[0].replacen("redis://", "redis+cluster://", 1);
    works(connect(&seed, "Redis Cluster").await).await;
}

#[tokio::test]
async fn sqlite_is_migrated() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("any-{}.db", store_common::random_tag()));
    works(connect(&format!("sqlite://{}", path.display()), "SQLite").await).await;
}

#[tokio::test]
async fn postgres_is_migrated() {
    works(connect(&store_common::postgres_url(), "PostgreSQL").await).await;
    let url = store_common::postgres_url().replacen("postgres://", "postgresql://", 1);
    works(connect(&url, "PostgreSQL").await).await;
}

#[tokio::test]
async fn errors_never_quote_a_password() {
    let postgres = store_common::postgres_url();
    let (_, host) = postgres.rsplit_once('@').unwrap();
    let cases = [
        // Refused by the server: a wrong password.
        format!("postgres://session:hunter2-wrong@{host}"),
        // Malformed.
        "postgres://session:hunter2@127.0.0.1:notaport/db".to_owned(),
        "redis://:hunter2@127.0.0.1:notaport/".to_owned(),
        // Unreachable (a cluster connects at once).
        "redis+cluster://:hunter2@127.0.0.1:1/".to_owned(),
        "redis://:hunter2@127.0.0.1:1/,redis://:hunter2@127.0.0.1:2/".to_owned(),
        // Not a store.
        "redis://:hunter2@127.0.0.1:1/,mysql://root:hunter2@db/".to_owned(),
    ];
    for url in cases {
        let err = AnyStore::connect(&url)
            .await
            .expect_err(&format!("{url} opened"));
        let text = format!("{err} | {err:?}");
        assert!(!text.contains("hunter2"), "{url}: {text}");
    }
}
