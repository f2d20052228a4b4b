//! Scenarios every session store must pass, run on the memory store (`store_memory.rs`), a
//! real Redis (`store_redis.rs`), a Redis Cluster (`store_redis_cluster.rs`), SQLite
//! (`store_sqlite.rs`) and PostgreSQL (`store_postgres.rs`).

#![allow(dead_code)] // each test file uses the scenarios it needs

pub mod conflicts;
pub mod registry;

use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use typed_sessions::ServerSessionFactory;
use typed_sessions::store::{SessionStore, StoreError};
use typed_sessions::{
    FlashExt, LoadOutcome, ManualClock, Rejection, Saved, Session, SessionSchema, flash_queue,
};

pub const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
pub const OLD_SECRET: &str = "an older secret of at least thirty-two bytes";
pub const NOW: f64 = 1_700_000_000.0;

pub fn factory<S: SessionStore>(store: S, clock: &ManualClock) -> ServerSessionFactory<S> {
    ServerSessionFactory::builder(SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(600))
        .reissue_time(None)
        .build()
        .unwrap()
}

/// The `name=value` pair of a response's `Set-Cookie`, if it has one.
pub fn set_cookie(response: &HeaderMap) -> Option<String> {
    let mut all = response.get_all("set-cookie").iter();
    let first = all.next()?;
    assert!(all.next().is_none(), "one Set-Cookie at most");
    Some(
        first
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned(),
    )
}

pub fn request(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    headers
}

/// Saves a new session holding `state` and returns its cookie.
pub async fn seed<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    state: serde_json::Value,
) -> String {
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    for (key, value) in state.as_object().unwrap() {
        session.insert(key, value.clone());
    }
    let mut response = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut response).await.unwrap(),
        Saved::Written
    );
    set_cookie(&response).expect("a new session sets its cookie")
}

pub async fn load<S: SessionStore>(factory: &ServerSessionFactory<S>, cookie: &str) -> Session {
    factory.load(&request(cookie)).await.unwrap()
}

pub async fn save<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    session: &Session,
) -> (Saved, Option<String>) {
    let mut response = HeaderMap::new();
    let saved = factory.save(session, &mut response).await.unwrap();
    (saved, set_cookie(&response))
}

pub async fn round_trip<S: SessionStore>(factory: ServerSessionFactory<S>) {
    let fresh = factory.load(&HeaderMap::new()).await.unwrap();
    assert!(fresh.is_new());
    assert_eq!(fresh.load_outcome(), LoadOutcome::NoCookie);
    // A new session nobody wrote to is not stored, and sets no cookie.
    assert_eq!(save(&factory, &fresh).await, (Saved::Unchanged, None));

    let cookie = seed(
        &factory,
        json!({"user_id": 7, "big": 123456789012345678901234567890u128.to_string()}),
    )
    .await;
    // The cookie carries the signed id only, not the state.
    assert!(!cookie.contains("user_id"));
    let session = load(&factory, &cookie).await;
    assert!(!session.is_new());
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(session.created(), NOW);
    assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(7));
    // Read only: nothing to save (reissue_time is None), no cookie.
    assert_eq!(save(&factory, &session).await, (Saved::Unchanged, None));

    // A change is saved without a new cookie: the id stays.
    let mut session = load(&factory, &cookie).await;
    session.insert("user_id", 8);
    assert_eq!(save(&factory, &session).await, (Saved::Written, None));
    assert_eq!(
        load(&factory, &cookie)
            .await
            .get_as::<u64>("user_id")
            .unwrap(),
        Some(8)
    );
}

pub async fn bad_cookies_start_new_sessions<S: SessionStore>(factory: ServerSessionFactory<S>) {
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    // A character inside the signature: the last one may hold only padding bits, and then
    // the change is a base64 error, not a signature one.
    let mut tampered = cookie.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let session = load(&factory, &tampered).await;
    assert!(session.is_new());
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
    assert!(session.is_empty());

    // A well-signed id the store does not know (deleted, expired) is not adopted.
    let other = ServerSessionFactory::builder(SECRET, typed_sessions::store::MemoryStore::new())
        .build()
        .unwrap();
    let foreign = seed(&other, json!({"x": 1})).await;
    let mut session = load(&factory, &foreign).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId)
    );
    session.insert("x", 2);
    let (_, new_cookie) = save(&factory, &session).await;
    assert_ne!(
        new_cookie.unwrap(),
        foreign,
        "a client never chooses its id"
    );
}

/// Two requests of one session, both loaded before either saves, each changing a different
/// key: both changes survive. When both change the same key, the last save wins.
pub async fn concurrent_requests_changing_different_keys_both_survive<S: SessionStore>(
    factory: ServerSessionFactory<S>,
) {
    let cookie = seed(
        &factory,
        json!({"cart": ["tea"], "old": 1, "theme": "dark", "n": 0}),
    )
    .await;
    let mut a = load(&factory, &cookie).await;
    let mut b = load(&factory, &cookie).await;
    a.insert("cart", json!(["tea", "milk"]));
    a.remove("old");
    a.insert("n", 1);
    b.insert("theme", "light");
    b.insert("lang", "fr");
    b.insert("n", 2);
    assert_eq!(save(&factory, &a).await.0, Saved::Written);
    assert_eq!(save(&factory, &b).await.0, Saved::Written);

    let after = load(&factory, &cookie).await;
    assert_eq!(
        after.get("cart"),
        Some(&json!(["tea", "milk"])),
        "a's write survives"
    );
    assert_eq!(after.get("old"), None, "a's removal survives");
    assert_eq!(
        after.get("theme"),
        Some(&json!("light")),
        "b's write survives"
    );
    assert_eq!(after.get("lang"), Some(&json!("fr")));
    assert_eq!(
        after.get("n"),
        Some(&json!(2)),
        "same key: the last save wins"
    );
}

/// Many tasks of one session, each loading, then changing its own key, concurrently.
pub async fn many_concurrent_writers_lose_nothing<S: SessionStore + Clone>(
    store: S,
    clock: &ManualClock,
    tasks: usize,
) {
    let factory = std::sync::Arc::new(factory(store, clock));
    let cookie = seed(&factory, json!({"base": true})).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tasks));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let factory = factory.clone();
        let cookie = cookie.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut session = factory.load(&request(&cookie)).await.unwrap();
            session.insert(format!("k{i}"), i);
            // Everyone has loaded before anyone saves.
            let mut response = HeaderMap::new();
            let save = factory.save(&session, &mut response);
            drop(session);
            barrier.wait().await;
            save.await.unwrap()
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.unwrap(), Saved::Written);
    }
    let after = load(&factory, &cookie).await;
    assert_eq!(
        after.len(),
        tasks + 1,
        "{:?}",
        after.keys().collect::<Vec<_>>()
    );
    for i in 0..tasks {
        assert_eq!(after.get_as::<usize>(&format!("k{i}")).unwrap(), Some(i));
    }
}

pub async fn invalidate_deletes_the_state_and_issues_a_new_id<S: SessionStore>(
    factory: ServerSessionFactory<S>,
) {
    let cookie = seed(&factory, json!({"user_id": 7, "cart": [1]})).await;
    let mut session = load(&factory, &cookie).await;
    session.invalidate();
    session.flash_to("info", "Signed out").unwrap();
    let (saved, new_cookie) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    let new_cookie = new_cookie.expect("a new id needs a new cookie");
    assert_ne!(new_cookie, cookie);

    let old = load(&factory, &cookie).await;
    assert_eq!(
        old.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "the old id is dead"
    );
    let mut new = load(&factory, &new_cookie).await;
    assert_eq!(new.keys().collect::<Vec<_>>(), ["_f_info"]);
    assert_eq!(new.pop_flash("info").unwrap(), [json!("Signed out")]);

    // Invalidated and left empty: the record goes and the cookie is expired.
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    let mut session = load(&factory, &cookie).await;
    session.invalidate();
    let mut response = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut response).await.unwrap(),
        Saved::Written
    );
    let header = response["set-cookie"].to_str().unwrap();
    assert!(header.contains("Max-Age=0"), "{header}");
    assert_eq!(
        load(&factory, &cookie).await.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId)
    );
}

pub async fn regenerate_id_keeps_the_state_under_a_new_id<S: SessionStore>(
    factory: ServerSessionFactory<S>,
) {
    let cookie = seed(&factory, json!({"cart": ["tea"], "csrf": "x"})).await;
    let mut session = load(&factory, &cookie).await;
    session.insert("user_id", 7); // signing in
    session.regenerate_id();
    let (saved, new_cookie) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    let new_cookie = new_cookie.unwrap();
    assert_ne!(new_cookie, cookie);
    let new = load(&factory, &new_cookie).await;
    assert_eq!(new.get("cart"), Some(&json!(["tea"])));
    assert_eq!(new.get("user_id"), Some(&json!(7)));
    assert_eq!(new.created(), NOW, "created is kept");
    assert_eq!(
        load(&factory, &cookie).await.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "the fixated id is gone"
    );
}

pub async fn timeout_and_reissue_follow_the_clock<S: SessionStore>(store: S, clock: &ManualClock) {
    let factory = ServerSessionFactory::builder(SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(600))
        .reissue_time(Duration::from_secs(60))
        .build()
        .unwrap();
    let cookie = seed(&factory, json!({"user_id": 7})).await;

    clock.advance(30.0);
    let session = load(&factory, &cookie).await;
    session.get("user_id");
    assert_eq!(
        save(&factory, &session).await,
        (Saved::Unchanged, None),
        "not yet due"
    );

    clock.advance(100.0);
    let session = load(&factory, &cookie).await;
    session.get("user_id");
    assert_eq!(
        save(&factory, &session).await,
        (Saved::Written, None),
        "renewed in the store"
    );
    assert_eq!(load(&factory, &cookie).await.renewed(), NOW + 130.0);

    clock.advance(601.0);
    let session = load(&factory, &cookie).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut)
    );
    assert!(session.is_empty());
}

pub async fn fallback_secret_reissues_the_cookie<S: SessionStore + Clone>(
    store: S,
    clock: &ManualClock,
) {
    let old = ServerSessionFactory::builder(OLD_SECRET, store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let cookie = seed(&old, json!({"user_id": 7})).await;
    let new = ServerSessionFactory::builder(SECRET, store)
        .fallback_secret(OLD_SECRET)
        .clock(clock.clone())
        .reissue_time(None)
        .build()
        .unwrap();
    let session = load(&new, &cookie).await;
    assert_eq!(session.load_outcome(), LoadOutcome::LoadedWithOldSecret);
    assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(7));
    let (saved, reissued) = save(&new, &session).await;
    assert_eq!(saved, Saved::Written);
    let reissued = reissued.expect("re-signed with the current secret");
    assert_ne!(reissued, cookie);
    assert_eq!(
        load(&new, &reissued).await.load_outcome(),
        LoadOutcome::Loaded
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub sku: String,
    pub qty: u32,
}

#[derive(SessionSchema)]
pub struct Shop {
    #[session(default)]
    pub cart: Vec<Item>,
    pub user_id: Option<u64>,
}

#[flash_queue]
#[derive(Debug, PartialEq)]
pub enum Notice {
    Success(String),
    #[flash(queue = "error")]
    Failure {
        code: u16,
        text: String,
    },
}

pub async fn derive_and_flash_work_unchanged<S: SessionStore>(factory: ServerSessionFactory<S>) {
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    session.cart_mut().unwrap().push(Item {
        sku: "tea".into(),
        qty: 1,
    });
    session.set_user_id(Some(7)).unwrap();
    session.flash(Notice::Success("Added".into())).unwrap();
    let (_, cookie) = save(&factory, &session).await;
    let cookie = cookie.unwrap();

    let mut session = load(&factory, &cookie).await;
    assert_eq!(session.user_id().unwrap(), Some(7));
    // Only read through the guard: nothing written.
    assert_eq!(session.cart_mut().unwrap().len(), 1);
    assert!(!session.is_dirty());
    session.cart_mut().unwrap().push(Item {
        sku: "milk".into(),
        qty: 2,
    });
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        [Notice::Success("Added".into())]
    );
    session
        .flash(Notice::Failure {
            code: 409,
            text: "Out of stock".into(),
        })
        .unwrap();
    save(&factory, &session).await;

    let mut session = load(&factory, &cookie).await;
    assert_eq!(session.cart().unwrap().len(), 2);
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        [Notice::Failure {
            code: 409,
            text: "Out of stock".into()
        }]
    );
    assert!(
        !session.contains_key("_f_success"),
        "the popped queue was deleted"
    );
    let shop = Shop::load(&session).unwrap();
    assert_eq!(shop.cart[1].sku, "milk");
}

/// The test server's URL. Without one the Redis tests fail (they never skip).
pub fn redis_url() -> String {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "REDIS_URL is not set. The Redis tests need a server: run \
             `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"` (it installs and starts one \
             on 127.0.0.1:6390), or run everything with scripts/test.sh{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must start Redis)"
            } else {
                ""
            }
        ),
    }
}

/// A store on the test server, under a prefix of its own so tests do not see each other.
pub async fn redis_store() -> typed_sessions::store::RedisStore {
    let url = redis_url();
    let store = typed_sessions::store::RedisStore::connect(&url)
        .await
        .unwrap();
    let mut conn = store.connection().clone();
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
    if let Err(err) = pong {
        panic!("no Redis answers at REDIS_URL={url} ({err}): start one with `scripts/redis.sh`");
    }
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).unwrap();
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    store.with_prefix(format!("session-test:{tag}:"))
}

/// A random lowercase hex tag, to keep tests' keys, tables and files apart.
pub fn random_tag() -> String {
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).unwrap();
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

/// The test PostgreSQL's URL. Without one the PostgreSQL tests fail (they never skip).
pub fn postgres_url() -> String {
    match std::env::var("POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "POSTGRES_URL is not set. The PostgreSQL tests need a server: run \
             `export POSTGRES_URL=\"$(scripts/postgres.sh | tail -n 1)\"` (it installs and \
             starts one on 127.0.0.1:5440), or run everything with scripts/test.sh{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must start PostgreSQL)"
            } else {
                ""
            }
        ),
    }
}

/// A store on the test server, migrated, in tables of its own so tests do not see each
/// other.
pub async fn postgres_store() -> typed_sessions::store::PostgresStore {
    let url = postgres_url();
    let store = typed_sessions::store::PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_table_name(&format!("test_{}", random_tag()))
        .unwrap();
    if let Err(err) = store.migrate().await {
        panic!(
            "no PostgreSQL answers at POSTGRES_URL ({err}): start one with \
             `scripts/postgres.sh`"
        );
    }
    store
}

/// A store on a new SQLite file under the target directory, migrated.
pub async fn sqlite_store() -> typed_sessions::store::SqliteStore {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("session-test-{}.db", random_tag()));
    let store =
        typed_sessions::store::SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
    store.migrate().await.unwrap();
    store
}

/// The test Redis Cluster's node URLs. Without them the cluster tests fail (they never
/// skip).
pub fn redis_cluster_urls() -> Vec<String> {
    match std::env::var("REDIS_CLUSTER_URLS") {
        Ok(urls) if !urls.trim().is_empty() => urls.split(',').map(str::to_owned).collect(),
        _ => panic!(
            "REDIS_CLUSTER_URLS is not set. The Redis Cluster tests need a cluster: run \
             `export REDIS_CLUSTER_URLS=\"$(scripts/redis-cluster.sh | tail -n 1)\"` (it \
             installs Redis and starts three masters on 127.0.0.1:7101-7103), or run \
             everything with scripts/test.sh{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must start the cluster)"
            } else {
                ""
            }
        ),
    }
}

/// Every scenario above as a test, on the store `$store` (an expression evaluated in each
/// test, such as `sqlite_store().await`). Use with `#[macro_use] mod store_common;`.
#[allow(unused_macros)]
macro_rules! store_scenarios {
    ($store:expr) => {
        fn clock() -> typed_sessions::ManualClock {
            typed_sessions::ManualClock::new(store_common::NOW)
        }

        #[tokio::test]
        async fn round_trip() {
            store_common::round_trip(store_common::factory($store, &clock())).await;
        }

        #[tokio::test]
        async fn bad_cookies_start_new_sessions() {
            store_common::bad_cookies_start_new_sessions(store_common::factory($store, &clock()))
                .await;
        }

        #[tokio::test]
        async fn concurrent_requests_changing_different_keys_both_survive() {
            store_common::concurrent_requests_changing_different_keys_both_survive(
                store_common::factory($store, &clock()),
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn many_concurrent_writers_lose_nothing() {
            store_common::many_concurrent_writers_lose_nothing($store, &clock(), 32).await;
        }

        #[tokio::test]
        async fn invalidate_deletes_the_state_and_issues_a_new_id() {
            store_common::invalidate_deletes_the_state_and_issues_a_new_id(store_common::factory(
                $store,
                &clock(),
            ))
            .await;
        }

        #[tokio::test]
        async fn regenerate_id_keeps_the_state_under_a_new_id() {
            store_common::regenerate_id_keeps_the_state_under_a_new_id(store_common::factory(
                $store,
                &clock(),
            ))
            .await;
        }

        #[tokio::test]
        async fn timeout_and_reissue_follow_the_clock() {
            store_common::timeout_and_reissue_follow_the_clock($store, &clock()).await;
        }

        #[tokio::test]
        async fn fallback_secret_reissues_the_cookie() {
            store_common::fallback_secret_reissues_the_cookie($store, &clock()).await;
        }

        #[tokio::test]
        async fn derive_and_flash_work_unchanged() {
            store_common::derive_and_flash_work_unchanged(store_common::factory($store, &clock()))
                .await;
        }

        #[tokio::test]
        async fn a_save_after_the_record_is_gone_is_discarded() {
            store_common::a_save_after_the_record_is_gone_is_discarded($store, &clock()).await;
        }

        #[tokio::test]
        async fn ten_thousand_keys_load_change_save_and_reload() {
            store_common::ten_thousand_keys_load_change_save_and_reload(store_common::factory(
                $store,
                &clock(),
            ))
            .await;
        }

        #[tokio::test]
        async fn concurrent_writers_of_one_checked_key_lose_nothing() {
            store_common::conflicts::all(&store_common::conflicts::factory($store, &clock())).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn many_writers_of_one_flash_queue_lose_no_message() {
            store_common::conflicts::many_writers_of_one_flash_queue_lose_no_message(
                store_common::conflicts::factory($store, &clock()),
                16,
                4,
            )
            .await;
        }
    };
}

/// A save whose record went away since the load (a concurrent sign-out deleted it, or it
/// expired) is discarded, and says so: it writes nothing, sends no cookie and does not
/// bring the session back.
pub async fn a_save_after_the_record_is_gone_is_discarded<S: SessionStore + Clone>(
    store: S,
    clock: &ManualClock,
) {
    let factory = factory(store.clone(), clock);
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    let mut stale = load(&factory, &cookie).await;
    let mut signing_out = load(&factory, &cookie).await;
    signing_out.invalidate();
    assert_eq!(save(&factory, &signing_out).await.0, Saved::Written);
    stale.insert("cart", json!(["tea"]));
    assert_eq!(save(&factory, &stale).await, (Saved::Discarded, None));
    assert_eq!(
        load(&factory, &cookie).await.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "not resurrected"
    );

    // Expired in the store (its TTL, in real time) while the request ran.
    let short = ServerSessionFactory::builder(SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(1))
        .reissue_time(None)
        .build()
        .unwrap();
    let cookie = seed(&short, json!({"user_id": 7})).await;
    let mut session = load(&short, &cookie).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    session.insert("cart", json!(["tea"]));
    assert_eq!(save(&short, &session).await, (Saved::Discarded, None));
    assert_eq!(
        load(&short, &cookie).await.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "not resurrected"
    );
}

/// A session of 10,000 keys: saved whole, loaded, every key changed, saved as a partial
/// write, loaded; then half removed and the rest marked with `changed()` (every key
/// written), saved in one partial write, and loaded again.
pub async fn ten_thousand_keys_load_change_save_and_reload<S: SessionStore>(
    factory: ServerSessionFactory<S>,
) {
    const KEYS: usize = 10_000;
    let key = |i: usize| format!("key-{i:05}");
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    for i in 0..KEYS {
        session.insert(key(i), i);
    }
    let (saved, cookie) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    let cookie = cookie.unwrap();

    let mut session = load(&factory, &cookie).await;
    assert_eq!(session.len(), KEYS);
    for i in 0..KEYS {
        assert_eq!(session.get_as::<usize>(&key(i)).unwrap(), Some(i));
        session.insert(key(i), i + 1);
    }
    assert_eq!(save(&factory, &session).await, (Saved::Written, None));

    let mut session = load(&factory, &cookie).await;
    for i in 0..KEYS {
        assert_eq!(session.get_as::<usize>(&key(i)).unwrap(), Some(i + 1));
    }
    for i in (1..KEYS).step_by(2) {
        assert!(session.remove(&key(i)).is_some());
    }
    session.changed();
    assert_eq!(save(&factory, &session).await, (Saved::Written, None));

    let session = load(&factory, &cookie).await;
    assert_eq!(session.len(), KEYS / 2);
    for i in 0..KEYS {
        let expected = (i % 2 == 0).then_some(i + 1);
        assert_eq!(
            session.get_as::<usize>(&key(i)).unwrap(),
            expected,
            "{}",
            key(i)
        );
    }
}

/// The session id a server-side session's cookie carries (signed, not secret).
pub fn id_of(cookie: &str) -> String {
    // The cookie is `name=base64url(signature || id)`; the id is the last 64 bytes.
    use base64::Engine as _;
    let value = cookie.split_once('=').unwrap().1;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .unwrap();
    String::from_utf8(bytes[bytes.len() - 64..].to_vec()).unwrap()
}

/// The value of `var`, which `scripts/test.sh` sets; `value` is the shell text that makes
/// it by hand (`$(scripts/redis-tls.sh | tail -n 1)`). Without it the test fails, naming
/// the script (the TLS tests never skip).
pub fn env_from_script(var: &str, value: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{var} is not set. The TLS store tests need it: run `export {var}=\"{value}\"`, \
             or run everything with scripts/test.sh{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must run scripts/test.sh)"
            } else {
                ""
            }
        ),
    }
}

/// The test CA's PEM file (`TLS_CA`, made by `scripts/tls-certs.sh`).
pub fn tls_ca() -> String {
    env_from_script("TLS_CA", "$(scripts/tls-certs.sh | tail -n 1)/ca.pem")
}

/// The unrelated CA's PEM file (`TLS_WRONG_CA`, made by `scripts/tls-certs.sh`).
pub fn tls_wrong_ca() -> String {
    env_from_script(
        "TLS_WRONG_CA",
        "$(scripts/tls-certs.sh | tail -n 1)/wrong-ca.pem",
    )
}

/// The TLS-only Redis (`REDIS_TLS_URL`, `rediss://127.0.0.1:6391/`).
pub fn redis_tls_url() -> String {
    env_from_script("REDIS_TLS_URL", "$(scripts/redis-tls.sh | tail -n 1)")
}

/// The environment variable that marks a test's own re-run in a child process.
const CHILD: &str = "TYPED_SESSIONS_TEST_CHILD";

/// Runs test `name` of this test binary again in a child process whose environment also
/// has `vars` (what a process reads at start, such as `SSL_CERT_FILE`, is set there
/// without touching this process's environment, which other tests read concurrently), and
/// asserts that it passed. Returns `true` in the parent, which is then done; `false` in the
/// child, which goes on to run the test's body.
pub fn rerun_with_env(name: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).is_ok_and(|child| child == name) {
        return false;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} failed in a child process with {vars:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// A record the store cannot read (planted by the caller under `cookie`'s id, unreadable at
/// `key`) is not an error on every request of that session: the store says `Corrupt`, the
/// factory starts a fresh session under a new id, and its first save deletes the record.
pub async fn a_corrupt_record_starts_a_fresh_session_and_goes<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    cookie: &str,
    key: &str,
) {
    let id = id_of(cookie);
    let err = factory.store().load(&id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { key: k, .. } if k == key),
        "the store names the key: {err}"
    );
    let mut session = factory.load(&request(cookie)).await.expect("not an error");
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::CorruptRecord)
    );
    assert!(session.is_empty());
    session.insert("user_id", 8);
    let (saved, new_cookie) = save(factory, &session).await;
    assert_eq!(saved, Saved::Written);
    let new_cookie = new_cookie.expect("the fresh session gets its own id");
    assert_ne!(id_of(&new_cookie), id);
    assert_eq!(
        factory.store().load(&id).await.unwrap(),
        None,
        "the unreadable record is deleted by the first save"
    );
    let session = load(factory, &new_cookie).await;
    assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(8));
}
