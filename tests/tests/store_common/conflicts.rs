//! Concurrent writers of one session key (#22), on every server store: requests that load
//! the same session and change the same checked key (a flash queue, a field with a merge
//! or `reject` policy) lose nothing. The store checks what each save expects in the same
//! atomic step as its write ([`Commit::expect`](typed_sessions::store::Commit::expect)); a
//! store that ignored it would lose the first save's message or count here.
//!
//! Each scenario takes a factory built with [`factory`] or, for a shared store, its preset
//! with `.flash_queue_cap(None)`: the 16-writer scenario queues more messages than the
//! default cap keeps.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde_json::{Value, json};
use typed_sessions::__private::{Field, field, merge};
use typed_sessions::store::{SessionStore, StoreError};
use typed_sessions::{ManualClock, Saved, ServerSessionFactory, SessionError};

use super::{SECRET, load, request, save, seed};

/// A factory without a flash queue cap, for the scenarios below.
pub fn factory<S: SessionStore>(store: S, clock: &ManualClock) -> ServerSessionFactory<S> {
    ServerSessionFactory::builder(SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(600))
        .reissue_time(None)
        .flash_queue_cap(None)
        .build()
        .unwrap()
}

/// A counter whose concurrent increments add up (`#[session(merge = add)]`).
const COUNT: Field<u32> = field::<u32>("count").merge_conflicts(merge_count);
/// A key whose concurrent writes fail the later save (`#[session(on_conflict = "reject")]`).
const STRICT: Field<u32> = field::<u32>("strict").reject_conflicts();

fn add(base: u32, ours: u32, theirs: u32) -> u32 {
    theirs + ours - base
}

fn merge_count(
    base: Option<&str>,
    ours: Option<&str>,
    theirs: Option<&str>,
) -> Result<Option<String>, SessionError> {
    merge(&COUNT, add, base, ours, theirs)
}

async fn try_save<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    session: &typed_sessions::Session,
) -> Result<Saved, StoreError> {
    factory.save(session, &mut HeaderMap::new()).await
}

/// Two requests loaded before either saves each queue a flash message: both are kept, in
/// the order of the saves. One that pops the queue while another queues removes only what
/// it read.
pub async fn flash_messages_of_concurrent_requests_are_all_kept<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
) {
    let cookie = seed(factory, json!({"n": 0})).await;
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    a.flash_to("", "added sencha").unwrap();
    b.flash_to("", "added matcha").unwrap();
    b.insert("n", 2);
    assert_eq!(save(factory, &a).await.0, Saved::Written);
    assert_eq!(save(factory, &b).await.0, Saved::Written);

    let mut reader = load(factory, &cookie).await;
    let mut writer = load(factory, &cookie).await;
    assert_eq!(reader.get("n"), Some(&json!(2)), "b's other key is written");
    assert_eq!(
        reader.pop_flash("").unwrap(),
        ["added sencha", "added matcha"],
        "both requests' messages, in the order of their saves"
    );
    writer.flash_to("", "added genmaicha").unwrap();
    assert_eq!(save(factory, &writer).await.0, Saved::Written);
    assert_eq!(save(factory, &reader).await.0, Saved::Written);

    let mut after = load(factory, &cookie).await;
    assert_eq!(
        after.pop_flash("").unwrap(),
        ["added genmaicha"],
        "the pop removed the two messages it read, not the one queued meanwhile"
    );
}

/// Two requests increment a merged counter: the saved value counts both.
pub async fn a_merged_key_keeps_both_requests_changes<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
) {
    let cookie = seed(factory, json!({"count": 10, "note": "loaded"})).await;
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    COUNT.write(&mut a, &11).unwrap();
    COUNT.write(&mut b, &15).unwrap();
    b.insert("note", "b");
    assert_eq!(save(factory, &a).await.0, Saved::Written);
    assert_eq!(save(factory, &b).await.0, Saved::Written);
    let after = load(factory, &cookie).await;
    assert_eq!(after.get("count"), Some(&json!(16)), "10 + 1 + 5");
    assert_eq!(after.get("note"), Some(&json!("b")));
}

/// A rejecting key changed by another request fails the later save as a conflict that
/// names it with what the store holds, and that save writes nothing, its other keys
/// included. Checked for a key written over a value, written where none was at the load,
/// and written after the other request removed it.
pub async fn a_rejecting_key_fails_the_later_save_and_writes_nothing<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
) {
    let cookie = seed(factory, json!({"strict": 1, "note": "loaded"})).await;
    let conflict = |err: StoreError| match err {
        StoreError::Conflict { keys } => {
            assert_eq!(keys.len(), 1, "{keys:?}");
            assert_eq!(keys[0].key, "strict");
            keys[0].current.clone()
        }
        other => panic!("expected a conflict, got {other}"),
    };

    // Over a value.
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    STRICT.write(&mut a, &11).unwrap();
    STRICT.write(&mut b, &12).unwrap();
    b.insert("note", "b");
    assert_eq!(try_save(factory, &a).await.unwrap(), Saved::Written);
    let err = try_save(factory, &b).await.unwrap_err();
    assert_eq!(err.status(), http::StatusCode::CONFLICT);
    assert_eq!(conflict(err).as_deref(), Some("11"));
    let after = load(factory, &cookie).await;
    assert_eq!(after.get("strict"), Some(&json!(11)));
    assert_eq!(after.get("note"), Some(&json!("loaded")), "b wrote nothing");

    // Removed by the other request.
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    assert!(STRICT.remove(&mut a));
    STRICT.write(&mut b, &13).unwrap();
    assert_eq!(try_save(factory, &a).await.unwrap(), Saved::Written);
    let err = try_save(factory, &b).await.unwrap_err();
    assert_eq!(conflict(err), None, "the store holds no value now");
    assert_eq!(load(factory, &cookie).await.get("strict"), None);

    // Absent at the load, written by both.
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    STRICT.write(&mut a, &14).unwrap();
    STRICT.write(&mut b, &15).unwrap();
    assert_eq!(try_save(factory, &a).await.unwrap(), Saved::Written);
    let err = try_save(factory, &b).await.unwrap_err();
    assert_eq!(conflict(err).as_deref(), Some("14"));

    // Unchanged since the load: the checked save writes.
    let mut c = load(factory, &cookie).await;
    STRICT.write(&mut c, &16).unwrap();
    assert_eq!(try_save(factory, &c).await.unwrap(), Saved::Written);
    assert_eq!(load(factory, &cookie).await.get("strict"), Some(&json!(16)));
}

/// A checked save whose record was deleted since the load writes nothing and reports it,
/// as an unchecked one does.
pub async fn a_checked_save_of_a_deleted_session_is_discarded<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
) {
    let cookie = seed(factory, json!({"n": 0})).await;
    let mut a = load(factory, &cookie).await;
    let mut b = load(factory, &cookie).await;
    b.invalidate();
    save(factory, &b).await;
    a.flash_to("", "too late").unwrap();
    assert_eq!(try_save(factory, &a).await.unwrap(), Saved::Discarded);
    let after = factory.load(&request(&cookie)).await.unwrap();
    assert!(after.is_new(), "the deleted session did not come back");
}

/// `tasks` tasks of one session each queue `rounds` flash messages, one per request, all
/// at once; a request whose merge kept losing the race (a 409) is retried as a client
/// would. Every message ends in the queue exactly once, each task's in its order.
pub async fn many_writers_of_one_flash_queue_lose_no_message<S: SessionStore>(
    factory: ServerSessionFactory<S>,
    tasks: usize,
    rounds: usize,
) {
    let factory = Arc::new(factory);
    let cookie = seed(&factory, json!({"n": 0})).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (factory, cookie, barrier) = (factory.clone(), cookie.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut conflicts = 0;
            for round in 0..rounds {
                loop {
                    let mut session = factory.load(&request(&cookie)).await.unwrap();
                    session.flash_to("", format!("{task}:{round}")).unwrap();
                    // The save's future holds what it writes, not the session (which is
                    // not `Sync`), so the task can move between threads.
                    let mut response = HeaderMap::new();
                    let saved = factory.save(&session, &mut response);
                    drop(session);
                    match saved.await {
                        Ok(saved) => {
                            assert_eq!(saved, Saved::Written);
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(err) => panic!("task {task}, round {round}: {err}"),
                    }
                }
            }
            conflicts
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let mut after = load(&factory, &cookie).await;
    let messages: Vec<String> = after
        .pop_flash("")
        .unwrap()
        .into_iter()
        .map(|message| match message {
            Value::String(text) => text,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(messages.len(), tasks * rounds, "{messages:?}");
    for task in 0..tasks {
        let own: Vec<&str> = messages
            .iter()
            .filter(|m| m.split(':').next() == Some(&task.to_string()))
            .map(String::as_str)
            .collect();
        let expected: Vec<String> = (0..rounds).map(|round| format!("{task}:{round}")).collect();
        assert_eq!(own, expected, "task {task}'s messages, once each, in order");
    }
}

/// Every scenario above but the many writers, on fresh sessions of one factory.
pub async fn all<S: SessionStore>(factory: &ServerSessionFactory<S>) {
    flash_messages_of_concurrent_requests_are_all_kept(factory).await;
    a_merged_key_keeps_both_requests_changes(factory).await;
    a_rejecting_key_fails_the_later_save_and_writes_nothing(factory).await;
    a_checked_save_of_a_deleted_session_is_discarded(factory).await;
}
