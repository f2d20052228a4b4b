//! Server-side sessions on a real Redis: every scenario of `store_common`, plus what only
//! Redis has (TTL, corrupt data, an unreachable server).
//!
//! Needs `REDIS_URL`: `scripts/test.sh` starts a server and sets it; by hand,
//! `export REDIS_URL="$(scripts/redis.sh | tail -n 1)"`. Without it these tests fail (they
//! never skip), in CI and locally alike.

mod store_common;

use serde_json::json;
use store_common::*;
use typed_sessions::store::{RedisStore, SessionStore};
use typed_sessions::{ManualClock, Saved};

async fn store() -> RedisStore {
    redis_store().await
}

fn clock() -> ManualClock {
    ManualClock::new(NOW)
}

#[tokio::test]
async fn round_trip() {
    store_common::round_trip(factory(store().await, &clock())).await;
}

#[tokio::test]
async fn bad_cookies_start_new_sessions() {
    store_common::bad_cookies_start_new_sessions(factory(store().await, &clock())).await;
}

#[tokio::test]
async fn concurrent_requests_changing_different_keys_both_survive() {
    store_common::concurrent_requests_changing_different_keys_both_survive(factory(
        store().await,
        &clock(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_lose_nothing() {
    store_common::many_concurrent_writers_lose_nothing(store().await, &clock(), 32).await;
}

#[tokio::test]
async fn invalidate_deletes_the_state_and_issues_a_new_id() {
    store_common::invalidate_deletes_the_state_and_issues_a_new_id(factory(
        store().await,
        &clock(),
    ))
    .await;
}

#[tokio::test]
async fn regenerate_id_keeps_the_state_under_a_new_id() {
    store_common::regenerate_id_keeps_the_state_under_a_new_id(factory(store().await, &clock()))
        .await;
}

#[tokio::test]
async fn timeout_and_reissue_follow_the_clock() {
    store_common::timeout_and_reissue_follow_the_clock(store().await, &clock()).await;
}

#[tokio::test]
async fn fallback_secret_reissues_the_cookie() {
    store_common::fallback_secret_reissues_the_cookie(store().await, &clock()).await;
}

#[tokio::test]
async fn derive_and_flash_work_unchanged() {
    store_common::derive_and_flash_work_unchanged(factory(store().await, &clock())).await;
}

#[tokio::test]
async fn ten_thousand_keys_load_change_save_and_reload() {
    store_common::ten_thousand_keys_load_change_save_and_reload(factory(store().await, &clock()))
        .await;
}

#[tokio::test]
async fn a_save_after_the_record_is_gone_is_discarded() {
    store_common::a_save_after_the_record_is_gone_is_discarded(store().await, &clock()).await;
}

/// The Redis key of the only session under the store's prefix.
async fn only_key(store: &RedisStore) -> String {
    let mut conn = store.connection().clone();
    let pattern = format!("{}*", store.redis_key(""));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys.into_iter().next().unwrap()
}

#[tokio::test]
async fn one_hash_per_session_with_the_timeout_as_ttl() {
    let store = store().await;
    let factory = factory(store.clone(), &clock());
    seed(
        &factory,
        json!({"cart": ["tea"], "m:created": "a user key, not metadata"}),
    )
    .await;
    let key = only_key(&store).await;
    let mut conn = store.connection().clone();
    let mut fields: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("k:cart".to_owned(), r#"["tea"]"#.to_owned()),
            (
                "k:m:created".to_owned(),
                r#""a user key, not metadata""#.to_owned()
            ),
            ("m:accessed".to_owned(), "1700000000".to_owned()),
            ("m:created".to_owned(), "1700000000".to_owned()),
        ]
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((590_000..=600_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn a_value_that_is_not_json_is_an_error_naming_the_key_and_is_kept() {
    let store = store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"cart": [1], "user_id": 7})).await;
    let key = only_key(&store).await;
    let mut conn = store.connection().clone();
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("k:cart")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();

    let mut session = load(&factory, &cookie).await;
    let err = session.get_as::<Vec<u32>>("cart").unwrap_err();
    assert_eq!(err.key(), Some("cart"), "{err}");
    assert_eq!(session.get("cart"), None);
    session.insert("user_id", 8);
    assert_eq!(save(&factory, &session).await.0, Saved::Written);
    let raw: String = redis::cmd("HGET")
        .arg(&key)
        .arg("k:cart")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(raw, "{not json", "not overwritten");

    // Bytes that are not UTF-8: the record cannot be read, so the session starts afresh.
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("k:blob")
        .arg(&b"\xff\xfe"[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, "blob").await;
}

/// Records planted by hand that the store cannot read: each starts a fresh session (and
/// goes at its first save) instead of failing every request of that session; a 1 MiB value
/// is no corruption and loads.
#[tokio::test]
async fn planted_unreadable_records_start_fresh_sessions() {
    let store = store().await;
    let factory = factory(store.clone(), &clock());
    let mut conn = store.connection().clone();
    let plants: [(&str, &[u8], &str); 4] = [
        ("m:created", b"soon", "m:created"),
        ("m:accessed", b"1e999", "m:accessed"),
        ("k:cart", b"\xc3\x28", "cart"),
        ("m:created", b"", "m:created"),
    ];
    for (field, value, key) in plants {
        let cookie = seed(&factory, json!({"cart": [1]})).await;
        let id = id_of(&cookie);
        let () = redis::cmd("HSET")
            .arg(store.redis_key(&id))
            .arg(field)
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
        a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, key).await;
    }
    // A hash without its timestamps (another program wrote it).
    let cookie = seed(&factory, json!({"cart": [1]})).await;
    let id = id_of(&cookie);
    let () = redis::cmd("HDEL")
        .arg(store.redis_key(&id))
        .arg("m:created")
        .query_async(&mut conn)
        .await
        .unwrap();
    a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, "m:created").await;
    // A key of another type under the session's name.
    let cookie = seed(&factory, json!({"cart": [1]})).await;
    let id = id_of(&cookie);
    let () = redis::cmd("DEL")
        .arg(store.redis_key(&id))
        .query_async(&mut conn)
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(store.redis_key(&id))
        .arg("a string, not a hash")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut session = factory.load(&request(&cookie)).await.expect("not an error");
    assert!(session.is_empty());
    session.insert("user_id", 1);
    assert_eq!(save(&factory, &session).await.0, Saved::Written);

    // A 1 MiB value is a value like any other.
    let big = "x".repeat(1 << 20);
    let cookie = seed(&factory, json!({"big": big})).await;
    let session = load(&factory, &cookie).await;
    assert_eq!(session.load_outcome(), typed_sessions::LoadOutcome::Loaded);
    assert_eq!(
        session.get_as::<String>("big").unwrap().unwrap().len(),
        1 << 20
    );
}

/// The error logged for an unreadable record names the store and a hash of the id, never
/// the id itself (a credential).
#[test]
fn an_unreadable_record_is_logged_with_a_hash_of_the_id() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (id, logs) = typed_sessions_tests::capture_logs(|| {
        runtime.block_on(async {
            let store = store().await;
            let factory = factory(store.clone(), &clock());
            let cookie = seed(&factory, json!({"cart": [1]})).await;
            let id = id_of(&cookie);
            let mut conn = store.connection().clone();
            let () = redis::cmd("HSET")
                .arg(store.redis_key(&id))
                .arg("m:created")
                .arg("soon")
                .query_async(&mut conn)
                .await
                .unwrap();
            let session = load(&factory, &cookie).await;
            assert!(session.is_empty());
            id
        })
    });
    assert!(logs.contains("ERROR"), "{logs}");
    assert!(logs.contains("unreadable session record"), "{logs}");
    assert!(logs.contains("RedisStore"), "names the store: {logs}");
    assert!(logs.contains("id_sha256="), "{logs}");
    assert!(!logs.contains(&id), "never the id: {logs}");
}

#[tokio::test]
async fn an_unreachable_redis_is_an_unavailable_error_not_an_empty_session() {
    let store = RedisStore::connect("redis://127.0.0.1:1/").await.unwrap();
    let factory = factory(store.clone(), &clock());
    let started = std::time::Instant::now();
    // A well-signed cookie, so the factory must ask the store.
    let cookie = seed(&factory_for_cookie(), json!({"x": 1})).await;
    let err = factory.load(&request(&cookie)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        started.elapsed().as_secs() < 10,
        "fails fast: {:?}",
        started.elapsed()
    );
    let err = store.delete("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

fn factory_for_cookie() -> typed_sessions::ServerSessionFactory<typed_sessions::store::MemoryStore>
{
    factory(typed_sessions::store::MemoryStore::new(), &clock())
}

use store_common::registry::redis_indexed as indexed;

#[tokio::test]
async fn registry_lists_and_revokes() {
    let store = store().await;
    store_common::registry::list_and_revoke(store.clone(), &clock(), indexed(&store)).await;
}

#[tokio::test]
async fn rotation_and_sign_out_update_the_index() {
    let store = store().await;
    store_common::registry::rotation_and_sign_out_update_the_index(
        store.clone(),
        &clock(),
        indexed(&store),
    )
    .await;
}

#[tokio::test]
async fn an_expired_session_leaves_no_index_entry() {
    let store = store().await;
    store_common::registry::an_expired_session_leaves_no_index_entry(
        store.clone(),
        indexed(&store),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_survive_a_renewal() {
    store_common::registry::concurrent_requests_survive_a_renewal(store().await, &clock(), 16)
        .await;
}

#[tokio::test]
async fn a_privilege_change_leaves_no_alias() {
    store_common::registry::a_privilege_change_leaves_no_alias(store().await, &clock()).await;
}

/// The index's TTL covers its longest-lived member, so it never outlives its sessions
/// by more than that, and never expires before them.
#[tokio::test]
async fn the_index_expires_with_its_sessions() {
    let store = store().await;
    let clock = clock();
    let factory = factory(store.clone(), &clock);
    let user = format!("ttl-{}", random_tag());
    store_common::registry::sign_in(&factory, &user, "203.0.113.1").await;
    let mut conn = store.connection().clone();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.user_key(&user))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((590_000..=600_000).contains(&pttl), "{pttl}");
}

#[tokio::test]
async fn live_revocation_reaches_other_factories() {
    let here = store().await;
    // Another connection on the same prefix, as another process has.
    let there = RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(here.user_key("").trim_end_matches("user:").to_owned());
    store_common::registry::live_revocation_reaches_other_factories(here, there).await;
}

#[tokio::test]
async fn concurrent_writers_of_one_checked_key_lose_nothing() {
    store_common::conflicts::all(&conflicts::factory(store().await, &ManualClock::new(NOW))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_of_one_flash_queue_lose_no_message() {
    conflicts::many_writers_of_one_flash_queue_lose_no_message(
        conflicts::factory(store().await, &ManualClock::new(NOW)),
        16,
        4,
    )
    .await;
}

/// A save with a conflict check is one command, one round trip, as a save without: the
/// commands on this test's keys as `MONITOR` shows them, between two marker commands
/// (filtered by the test's own prefix, so other clients of a shared server do not count;
/// the script's own `HGET`s and `HSET`s, shown as `[0 lua]`, are not round trips).
#[tokio::test]
async fn a_checked_save_is_one_command_as_an_unchecked_one() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let url = redis_url();
    let prefix = format!("session-test:{}:", random_tag());
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(prefix.clone());
    let factory = conflicts::factory(store, &ManualClock::new(NOW));
    let cookie = seed(&factory, json!({"n": 0})).await;
    // Both scripts loaded (the first call of each may be `EVALSHA`, `NOSCRIPT`, `EVAL`).
    let mut warm = load(&factory, &cookie).await;
    warm.flash_to("", "warm").unwrap();
    warm.insert("n", 1);
    save(&factory, &warm).await;
    let mut warm = load(&factory, &cookie).await;
    warm.insert("n", 2);
    save(&factory, &warm).await;

    let address = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut monitor = tokio::net::TcpStream::connect(&address).await.unwrap();
    monitor.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = BufReader::new(monitor).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("+OK"));
    let mut marker = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    let mut commands = Vec::new();
    for checked in [false, true] {
        let mut session = load(&factory, &cookie).await;
        if checked {
            session.flash_to("", "checked").unwrap();
        } else {
            session.insert("n", 3);
        }
        let (before, after) = (
            format!("{prefix}before:{checked}"),
            format!("{prefix}after:{checked}"),
        );
        let _: i64 = redis::cmd("EXISTS")
            .arg(&before)
            .query_async(&mut marker)
            .await
            .unwrap();
        assert_eq!(save(&factory, &session).await.0, Saved::Written);
        let _: i64 = redis::cmd("EXISTS")
            .arg(&after)
            .query_async(&mut marker)
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut counting = false;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(&after) {
                break;
            }
            if line.contains(&before) {
                counting = true;
            } else if counting && line.contains(&prefix) && !line.contains(" lua]") {
                let mut words = line.split('"').skip(1).step_by(2);
                let command = words.next().unwrap_or_default().to_owned();
                let script = words.next().unwrap_or_default().to_owned();
                seen.push((command, script));
            }
        }
        commands.push(seen);
    }
    let names: Vec<Vec<&str>> = commands
        .iter()
        .map(|seen| seen.iter().map(|(command, _)| command.as_str()).collect())
        .collect();
    assert_eq!(names, [["EVALSHA"], ["EVALSHA"]], "{commands:?}");
    assert_ne!(
        commands[0][0].1, commands[1][0].1,
        "the checked save runs its own script"
    );
    let after = load(&factory, &cookie).await;
    assert_eq!(after.get("n"), Some(&json!(3)));
}
