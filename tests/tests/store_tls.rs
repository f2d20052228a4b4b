//! The Redis, Redis Cluster and PostgreSQL stores over TLS (feature `tls`), on servers that
//! speak only TLS with a test CA's certificate for 127.0.0.1 and `localhost`: the right CA
//! connects and sessions round-trip, a wrong CA or a wrong host name fails with an error
//! that says so, `sslmode=require` encrypts without verifying, a plain `redis://` URL to
//! the TLS port fails as unreachable, and `SSL_CERT_FILE` makes the system's roots trust
//! the test CA with no code (in a child process, so that this one's environment stays).
//!
//! Needs `TLS_CA`, `TLS_WRONG_CA`, `REDIS_TLS_URL`, `REDIS_CLUSTER_TLS_URLS` and
//! `POSTGRES_TLS_URL`: `scripts/test.sh` runs `scripts/tls-certs.sh`, `scripts/redis-tls.sh`,
//! `scripts/redis-cluster-tls.sh` and `scripts/postgres-tls.sh` and sets them. Without them
//! these tests fail (they never skip), naming the script.

mod store_common;

use std::time::{Duration, Instant};

use serde_json::json;
use store_common::*;
use typed_sessions::ManualClock;
use typed_sessions::store::{
    MemoryStore, PostgresStore, RedisStore, SessionStore, StoreError, TlsOptions,
};

fn clock() -> ManualClock {
    ManualClock::new(NOW)
}

fn redis_cluster_tls_urls() -> Vec<String> {
    env_from_script(
        "REDIS_CLUSTER_TLS_URLS",
        "$(scripts/redis-cluster-tls.sh | tail -n 1)",
    )
    .split(',')
    .map(str::to_owned)
    .collect()
}

/// `postgres://session:…@127.0.0.1:5441/postgres`, without `sslmode`.
fn postgres_tls_url() -> String {
    env_from_script("POSTGRES_TLS_URL", "$(scripts/postgres-tls.sh | tail -n 1)")
}

/// The PostgreSQL URL with `query` (`sslmode=…`) and `host` in place of 127.0.0.1.
fn postgres_url_with(host: &str, query: &str) -> String {
    let url = postgres_tls_url().replace("@127.0.0.1:", &format!("@{host}:"));
    format!("{url}?{query}")
}

fn ca() -> TlsOptions {
    TlsOptions::ca_file(tls_ca()).unwrap()
}

fn wrong_ca() -> TlsOptions {
    TlsOptions::ca_file(tls_wrong_ca()).unwrap()
}

/// A well-signed cookie for a session the store does not have, so that a load must ask
/// the store.
async fn a_cookie() -> String {
    seed(&factory(MemoryStore::new(), &clock()), json!({"x": 1})).await
}

/// The error of loading a session through `store`, which must fail within 10 s.
async fn load_error<S: SessionStore>(store: S) -> StoreError {
    let factory = factory(store, &clock());
    let started = Instant::now();
    let err = factory.load(&request(&a_cookie().await)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );
    err
}

/// That `err` is an unavailable store whose reason says the certificate was not trusted.
fn assert_untrusted(err: &StoreError) {
    let text = err.to_string();
    assert!(err.is_unavailable(), "{text}");
    assert!(
        text.contains("TLS certificate verification failed")
            && text.contains("not trusted")
            && text.contains("UnknownIssuer"),
        "{text}"
    );
}

/// That `err` is an unavailable store whose reason says the host name does not match.
fn assert_wrong_host(err: &StoreError) {
    let text = err.to_string();
    assert!(err.is_unavailable(), "{text}");
    assert!(
        text.contains("TLS certificate verification failed")
            && text.contains("not valid for the host name"),
        "{text}"
    );
}

async fn redis_tls_store(tls: &TlsOptions) -> RedisStore {
    RedisStore::connect_with(&redis_tls_url(), tls)
        .await
        .unwrap()
        .with_prefix(format!("session-test:{}:", random_tag()))
}

#[tokio::test]
async fn redis_with_the_right_ca_round_trips() {
    store_common::round_trip(factory(redis_tls_store(&ca()).await, &clock())).await;
    let pem = std::fs::read(tls_ca()).unwrap();
    let store = redis_tls_store(&TlsOptions::ca_pem(pem).unwrap()).await;
    store_common::regenerate_id_keeps_the_state_under_a_new_id(factory(store, &clock())).await;
}

#[tokio::test]
async fn redis_with_a_wrong_ca_fails_naming_the_certificate() {
    assert_untrusted(&load_error(redis_tls_store(&wrong_ca()).await).await);
}

#[tokio::test]
async fn redis_without_the_ca_fails_naming_the_certificate() {
    // The system's roots do not hold the test CA (unless SSL_CERT_FILE names it: see
    // `ssl_cert_file_makes_the_system_roots_trust_the_test_ca`).
    if rerun_with_env(
        "redis_without_the_ca_fails_naming_the_certificate",
        &[("SSL_CERT_FILE", &tls_wrong_ca())],
    ) {
        return;
    }
    let store = RedisStore::connect(&redis_tls_url()).await.unwrap();
    assert_untrusted(&load_error(store).await);
}

#[tokio::test]
async fn redis_at_a_host_name_the_certificate_does_not_name_fails() {
    // 127.0.0.2 reaches the same server (it listens there too), whose certificate names
    // only 127.0.0.1 and localhost.
    let url = redis_tls_url().replace("127.0.0.1", "127.0.0.2");
    let store = RedisStore::connect_with(&url, &ca()).await.unwrap();
    assert_wrong_host(&load_error(store).await);
    // `localhost` is named: it works.
    let url = redis_tls_url().replace("127.0.0.1", "localhost");
    let store = RedisStore::connect_with(&url, &ca()).await.unwrap();
    store_common::round_trip(factory(
        store.with_prefix(format!("session-test:{}:", random_tag())),
        &clock(),
    ))
    .await;
}

#[tokio::test]
async fn a_plain_redis_url_to_the_tls_port_is_unavailable() {
    let url = redis_tls_url().replace("rediss://", "redis://");
    let store = RedisStore::connect(&url).await.unwrap();
    let err = load_error(store).await;
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("use a rediss:// URL"), "{err}");
    let urls = redis_cluster_tls_urls()
        .iter()
        .map(|url| url.replace("rediss://", "redis://"))
        .collect::<Vec<_>>();
    let err = RedisStore::connect_cluster(urls).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("use a rediss:// URL"), "{err}");
    // And TLS options with a plain URL are refused at once.
    let err = RedisStore::connect_with(&url, &ca()).await.unwrap_err();
    assert!(err.to_string().contains("not rediss://"), "{err}");
}

#[tokio::test]
async fn redis_passwords_reach_no_error_and_no_debug() {
    let url = redis_tls_url().replace("rediss://", "rediss://user:hunter2-secret@");
    let store = RedisStore::connect_with(&url, &wrong_ca()).await.unwrap();
    assert!(!format!("{store:?}").contains("hunter2"), "{store:?}");
    let err = load_error(store).await;
    assert_untrusted(&err);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    let err = RedisStore::connect_with("rediss://user:hunter2-secret@[::1/", &ca())
        .await
        .unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

async fn redis_cluster_tls_store(tls: &TlsOptions) -> Result<RedisStore, StoreError> {
    let store = RedisStore::connect_cluster_with(redis_cluster_tls_urls(), tls).await?;
    Ok(store.with_prefix(format!("session-test:{}:", random_tag())))
}

#[tokio::test]
async fn redis_cluster_with_the_right_ca_round_trips() {
    let store = redis_cluster_tls_store(&ca()).await.unwrap_or_else(|err| {
        panic!("no TLS Redis Cluster answers ({err}): start one with scripts/redis-cluster-tls.sh")
    });
    store_common::round_trip(factory(store.clone(), &clock())).await;
    // A rename across slots: the new id's node is reached over TLS too.
    store_common::regenerate_id_keeps_the_state_under_a_new_id(factory(store, &clock())).await;
}

#[tokio::test]
async fn redis_cluster_with_a_wrong_ca_fails_naming_the_certificate() {
    // The cluster connects at once, so the error comes from `connect_cluster_with`.
    let err = redis_cluster_tls_store(&wrong_ca()).await.unwrap_err();
    assert_untrusted(&err);
}

/// A migrated store on the TLS PostgreSQL, in tables of its own.
async fn migrated(store: PostgresStore) -> Result<PostgresStore, StoreError> {
    let store = store
        .with_table_name(&format!("test_{}", random_tag()))
        .unwrap();
    store.migrate().await?;
    Ok(store)
}

async fn postgres_at(url: &str) -> Result<PostgresStore, StoreError> {
    migrated(PostgresStore::connect(url).await.unwrap()).await
}

#[tokio::test]
async fn postgres_verify_full_with_sslrootcert_round_trips() {
    let url = postgres_url_with(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", tls_ca()),
    );
    let store = postgres_at(&url).await.unwrap_or_else(|err| {
        panic!("no TLS PostgreSQL answers ({err}): start one with scripts/postgres-tls.sh")
    });
    store_common::round_trip(factory(store.clone(), &clock())).await;
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(ssl, "the connection is encrypted");
}

#[tokio::test]
async fn postgres_connect_with_a_ca_verifies_the_certificate() {
    // No sslmode in the URL: `connect_with` makes it verify-full.
    let store = PostgresStore::connect_with(&postgres_tls_url(), &ca())
        .await
        .unwrap();
    store_common::round_trip(factory(migrated(store).await.unwrap(), &clock())).await;
    let store = PostgresStore::connect_with(&postgres_tls_url(), &wrong_ca())
        .await
        .unwrap();
    assert_untrusted(&migrated(store).await.unwrap_err());
    // `require` with a CA of its own is verify-ca, as in libpq.
    let url = postgres_url_with("127.0.0.1", "sslmode=require");
    let store = PostgresStore::connect_with(&url, &wrong_ca())
        .await
        .unwrap();
    assert_untrusted(&migrated(store).await.unwrap_err());
}

#[tokio::test]
async fn postgres_sslmode_require_encrypts_without_verifying() {
    let url = postgres_url_with("127.0.0.1", "sslmode=require");
    let store = postgres_at(&url).await.unwrap();
    store_common::round_trip(factory(store, &clock())).await;
}

#[tokio::test]
async fn postgres_with_a_wrong_ca_fails_naming_the_certificate() {
    for mode in ["verify-ca", "verify-full"] {
        let url = postgres_url_with(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={}", tls_wrong_ca()),
        );
        assert_untrusted(&postgres_at(&url).await.unwrap_err());
    }
}

#[tokio::test]
async fn postgres_verify_full_at_a_host_name_the_certificate_does_not_name_fails() {
    let url = postgres_url_with(
        "127.0.0.2",
        &format!("sslmode=verify-full&sslrootcert={}", tls_ca()),
    );
    assert_wrong_host(&postgres_at(&url).await.unwrap_err());
    // verify-ca does not check the name: the same host connects.
    let url = postgres_url_with(
        "127.0.0.2",
        &format!("sslmode=verify-ca&sslrootcert={}", tls_ca()),
    );
    let store = postgres_at(&url).await.unwrap();
    store_common::round_trip(factory(store, &clock())).await;
}

#[tokio::test]
async fn postgres_passwords_reach_no_error_and_no_debug() {
    let url = postgres_url_with(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", tls_wrong_ca()),
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    assert!(!format!("{store:?}").contains("session-tests"), "{store:?}");
    let err = migrated(store).await.unwrap_err();
    assert_untrusted(&err);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("session-tests"), "{text}");
    }
}

/// `SSL_CERT_FILE` names the test CA: `connect` with the system's roots (no `TlsOptions`)
/// trusts it, for Redis and for PostgreSQL (`verify-full` with no `sslrootcert`).
#[tokio::test]
async fn ssl_cert_file_makes_the_system_roots_trust_the_test_ca() {
    if rerun_with_env(
        "ssl_cert_file_makes_the_system_roots_trust_the_test_ca",
        &[("SSL_CERT_FILE", &tls_ca())],
    ) {
        return;
    }
    let store = RedisStore::connect(&redis_tls_url()).await.unwrap();
    let store = store.with_prefix(format!("session-test:{}:", random_tag()));
    store_common::round_trip(factory(store, &clock())).await;
    let store = RedisStore::connect_cluster(redis_cluster_tls_urls())
        .await
        .unwrap();
    let store = store.with_prefix(format!("session-test:{}:", random_tag()));
    store_common::round_trip(factory(store, &clock())).await;
    let store = postgres_at(&postgres_url_with("127.0.0.1", "sslmode=verify-full"))
        .await
        .unwrap();
    store_common::round_trip(factory(store, &clock())).await;
    let store = RedisStore::connect_with(&redis_tls_url(), &TlsOptions::system_roots())
        .await
        .unwrap();
    store_common::round_trip(factory(
        store.with_prefix(format!("session-test:{}:", random_tag())),
        &clock(),
    ))
    .await;
}
