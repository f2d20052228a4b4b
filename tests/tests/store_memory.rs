//! Server-side sessions on the in-memory store: every scenario of `store_common`.

mod store_common;

use store_common::*;
use typed_sessions::ManualClock;
use typed_sessions::store::MemoryStore;

fn setup() -> (MemoryStore, ManualClock) {
    (MemoryStore::new(), ManualClock::new(NOW))
}

#[tokio::test]
async fn round_trip() {
    let (store, clock) = setup();
    store_common::round_trip(factory(store.clone(), &clock)).await;
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn bad_cookies_start_new_sessions() {
    let (store, clock) = setup();
    store_common::bad_cookies_start_new_sessions(factory(store, &clock)).await;
}

#[tokio::test]
async fn concurrent_requests_changing_different_keys_both_survive() {
    let (store, clock) = setup();
    store_common::concurrent_requests_changing_different_keys_both_survive(factory(store, &clock))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_lose_nothing() {
    let (store, clock) = setup();
    store_common::many_concurrent_writers_lose_nothing(store, &clock, 32).await;
}

#[tokio::test]
async fn invalidate_deletes_the_state_and_issues_a_new_id() {
    let (store, clock) = setup();
    store_common::invalidate_deletes_the_state_and_issues_a_new_id(factory(store.clone(), &clock))
        .await;
    assert_eq!(
        store.len(),
        1,
        "only the signed-out session's record is left"
    );
}

#[tokio::test]
async fn regenerate_id_keeps_the_state_under_a_new_id() {
    let (store, clock) = setup();
    store_common::regenerate_id_keeps_the_state_under_a_new_id(factory(store.clone(), &clock))
        .await;
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn timeout_and_reissue_follow_the_clock() {
    let (store, clock) = setup();
    store_common::timeout_and_reissue_follow_the_clock(store, &clock).await;
}

#[tokio::test]
async fn fallback_secret_reissues_the_cookie() {
    let (store, clock) = setup();
    store_common::fallback_secret_reissues_the_cookie(store, &clock).await;
}

#[tokio::test]
async fn derive_and_flash_work_unchanged() {
    let (store, clock) = setup();
    store_common::derive_and_flash_work_unchanged(factory(store, &clock)).await;
}

#[tokio::test]
async fn ten_thousand_keys_load_change_save_and_reload() {
    let (store, clock) = setup();
    store_common::ten_thousand_keys_load_change_save_and_reload(factory(store, &clock)).await;
}

#[tokio::test]
async fn a_save_after_the_record_is_gone_is_discarded() {
    let (store, clock) = setup();
    store_common::a_save_after_the_record_is_gone_is_discarded(store, &clock).await;
}

#[test]
fn short_secrets_are_refused() {
    let err = typed_sessions::ServerSessionFactory::builder("short", MemoryStore::new())
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        typed_sessions::BuildError::ShortSecret { len: 5, .. }
    ));
}

fn indexed(store: &MemoryStore) -> impl Fn(String) -> std::future::Ready<usize> + '_ {
    move |user| std::future::ready(store.indexed(&user))
}

#[tokio::test]
async fn registry_lists_and_revokes() {
    let (store, clock) = setup();
    store_common::registry::list_and_revoke(store.clone(), &clock, indexed(&store)).await;
}

#[tokio::test]
async fn rotation_and_sign_out_update_the_index() {
    let (store, clock) = setup();
    store_common::registry::rotation_and_sign_out_update_the_index(
        store.clone(),
        &clock,
        indexed(&store),
    )
    .await;
}

#[tokio::test]
async fn an_expired_session_leaves_no_index_entry() {
    let (store, _) = setup();
    store_common::registry::an_expired_session_leaves_no_index_entry(
        store.clone(),
        indexed(&store),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_survive_a_renewal() {
    let (store, clock) = setup();
    store_common::registry::concurrent_requests_survive_a_renewal(store, &clock, 16).await;
}

#[tokio::test]
async fn a_privilege_change_leaves_no_alias() {
    let (store, clock) = setup();
    store_common::registry::a_privilege_change_leaves_no_alias(store, &clock).await;
}

#[tokio::test]
async fn concurrent_writers_of_one_checked_key_lose_nothing() {
    store_common::conflicts::all(&conflicts::factory(
        MemoryStore::new(),
        &ManualClock::new(NOW),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_of_one_flash_queue_lose_no_message() {
    conflicts::many_writers_of_one_flash_queue_lose_no_message(
        conflicts::factory(MemoryStore::new(), &ManualClock::new(NOW)),
        16,
        4,
    )
    .await;
}
