//! Scenarios of the session registry (a user's sessions: list, revoke) and of renewal
//! rotation, for every store with a registry. Each takes `indexed`, which asks the store
//! itself (a `ZCARD`, a `SELECT COUNT`) how many entries its index holds for a user.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde_json::json;
use typed_sessions::store::{SessionMeta, SessionStore};
use typed_sessions::{
    AUTH_USER_KEY, LoadOutcome, ManualClock, Rejection, Saved, ServerSessionFactory,
};

use super::{factory, load, request, save, seed};

/// Signs `user` in on a new session (from `ip`), returning its cookie.
pub async fn sign_in<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    user: &str,
    ip: &str,
) -> String {
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    session.regenerate_id();
    session.insert(AUTH_USER_KEY, user);
    session.insert("cart", json!(["tea"]));
    SessionMeta::new()
        .ip(ip)
        .user_agent("test-agent/1.0")
        .store(&mut session);
    let (saved, cookie) = save(factory, &session).await;
    assert_eq!(saved, Saved::Written);
    cookie.expect("a new session sets its cookie")
}

fn is_signed_out(outcome: LoadOutcome) -> bool {
    outcome == LoadOutcome::Rejected(Rejection::UnknownSessionId)
}

/// Lists a user's sessions with their times and metadata; revokes one, all others, then
/// all, each removing the records and their index entries; another user's sessions stay.
pub async fn list_and_revoke<S, F, Fut>(store: S, clock: &ManualClock, indexed: F)
where
    S: SessionStore,
    F: Fn(String) -> Fut,
    Fut: Future<Output = usize>,
{
    let user = format!("alice-{}", super::random_tag());
    let other = format!("bob-{}", super::random_tag());
    let factory = factory(store, clock);
    let first = sign_in(&factory, &user, "203.0.113.1").await;
    clock.advance(5.0);
    let second = sign_in(&factory, &user, "203.0.113.2").await;
    clock.advance(5.0);
    let third = sign_in(&factory, &user, "203.0.113.3").await;
    let bobs = sign_in(&factory, &other, "198.51.100.1").await;
    // An anonymous session is in no index.
    seed(&factory, json!({"cart": []})).await;

    let listed = factory.sessions_of(&user).await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(indexed(user.clone()).await, 3);
    let ips: Vec<_> = listed.iter().map(|s| s.meta.ip.clone().unwrap()).collect();
    assert_eq!(
        ips,
        ["203.0.113.1", "203.0.113.2", "203.0.113.3"],
        "oldest first"
    );
    assert_eq!(listed[0].created, super::NOW);
    assert_eq!(listed[2].created, super::NOW + 10.0);
    assert_eq!(listed[2].last_seen, super::NOW + 10.0);
    assert_eq!(listed[0].meta.user_agent.as_deref(), Some("test-agent/1.0"));
    // Handles are digests: no cookie's id shows in them.
    for info in &listed {
        assert_eq!(info.handle.as_str().len(), 64);
        for cookie in [&first, &second, &third] {
            assert!(!cookie.contains(info.handle.as_str()));
            assert!(!info.handle.as_str().contains(&super::id_of(cookie)));
        }
    }
    // Last seen follows saves.
    clock.advance(7.0);
    let mut session = load(&factory, &first).await;
    session.insert("cart", json!(["tea", "milk"]));
    save(&factory, &session).await;
    let listed = factory.sessions_of(&user).await.unwrap();
    assert_eq!(listed[0].last_seen, super::NOW + 17.0);

    // Revoke one.
    assert!(factory.revoke(&user, &listed[0].handle).await.unwrap());
    assert!(
        !factory.revoke(&user, &listed[0].handle).await.unwrap(),
        "gone"
    );
    assert!(is_signed_out(load(&factory, &first).await.load_outcome()));
    assert_eq!(factory.sessions_of(&user).await.unwrap().len(), 2);
    assert_eq!(indexed(user.clone()).await, 2);

    // Revoke the others of the second.
    let current = load(&factory, &second).await;
    assert_eq!(factory.revoke_others(&user, &current).await.unwrap(), 1);
    assert!(is_signed_out(load(&factory, &third).await.load_outcome()));
    let left = factory.sessions_of(&user).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(Some(&left[0].handle), factory.handle_of(&current).as_ref());
    assert_eq!(indexed(user.clone()).await, 1);
    assert_eq!(
        load(&factory, &second).await.load_outcome(),
        LoadOutcome::Loaded
    );

    // Revoke all.
    assert_eq!(factory.revoke_all(&user).await.unwrap(), 1);
    assert!(is_signed_out(load(&factory, &second).await.load_outcome()));
    assert!(factory.sessions_of(&user).await.unwrap().is_empty());
    assert_eq!(indexed(user.clone()).await, 0);

    // The other user's session was never touched.
    assert_eq!(factory.sessions_of(&other).await.unwrap().len(), 1);
    assert_eq!(
        load(&factory, &bobs).await.load_outcome(),
        LoadOutcome::Loaded
    );
}

/// Sign-out (`invalidate`) and a sign-in's `regenerate_id` move the index with the
/// session: the retired id leaves it in the same step, and a user change moves the entry
/// from one user's index to the other's.
pub async fn rotation_and_sign_out_update_the_index<S, F, Fut>(
    store: S,
    clock: &ManualClock,
    indexed: F,
) where
    S: SessionStore,
    F: Fn(String) -> Fut,
    Fut: Future<Output = usize>,
{
    let user = format!("carol-{}", super::random_tag());
    let other = format!("dave-{}", super::random_tag());
    let factory = factory(store, clock);
    let cookie = sign_in(&factory, &user, "203.0.113.9").await;
    let before = factory.sessions_of(&user).await.unwrap();

    let mut session = load(&factory, &cookie).await;
    session.regenerate_id();
    let (_, renamed) = save(&factory, &session).await;
    let renamed = renamed.expect("a new id's cookie");
    let after = factory.sessions_of(&user).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(
        after[0].handle, before[0].handle,
        "the index names the new id"
    );
    assert_eq!(indexed(user.clone()).await, 1);

    // Signing in as someone else on the same session, without a new id (bad practice,
    // but possible): the entry moves.
    let mut session = load(&factory, &renamed).await;
    session.insert(AUTH_USER_KEY, other.as_str());
    save(&factory, &session).await;
    assert_eq!(indexed(user.clone()).await, 0);
    assert_eq!(factory.sessions_of(&other).await.unwrap().len(), 1);

    // Sign-out.
    let mut session = load(&factory, &renamed).await;
    session.invalidate();
    session.insert("flash", "signed out");
    save(&factory, &session).await;
    assert!(factory.sessions_of(&other).await.unwrap().is_empty());
    assert_eq!(indexed(other.clone()).await, 0);
}

/// A session whose record expired leaves no entry in the index once the user's sessions
/// are listed. The store expires records on its own clock: this waits for it.
pub async fn an_expired_session_leaves_no_index_entry<S, F, Fut>(store: S, indexed: F)
where
    S: SessionStore,
    F: Fn(String) -> Fut,
    Fut: Future<Output = usize>,
{
    let user = format!("erin-{}", super::random_tag());
    let clock = ManualClock::new(super::NOW);
    let short = ServerSessionFactory::builder(super::SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(1))
        .reissue_time(None)
        .build()
        .unwrap();
    sign_in(&short, &user, "203.0.113.5").await;
    assert_eq!(indexed(user.clone()).await, 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(short.sessions_of(&user).await.unwrap().is_empty());
    assert_eq!(
        indexed(user.clone()).await,
        0,
        "the listing pruned the entry"
    );
}

/// N requests in flight with a session's id while one of them renews it
/// ([`Session::renew_id`]): every one keeps the session, and the old cookie gets the new
/// id's cookie during the grace.
pub async fn concurrent_requests_survive_a_renewal<S: SessionStore>(
    store: S,
    clock: &ManualClock,
    tasks: usize,
) {
    let user = format!("frank-{}", super::random_tag());
    let factory = Arc::new(factory(store, clock));
    let cookie = sign_in(&factory, &user, "203.0.113.7").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let (factory, cookie, barrier) = (factory.clone(), cookie.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            // Half load before the rotation is saved, half after.
            if i % 2 == 1 {
                barrier.wait().await;
            }
            let mut session = factory.load(&request(&cookie)).await.unwrap();
            let user = session.get_as::<String>(AUTH_USER_KEY).unwrap();
            if i == 0 {
                session.renew_id();
            } else {
                session.insert(format!("k{i}"), i);
            }
            let mut response = HeaderMap::new();
            let saved = factory.save(&session, &mut response).await.unwrap();
            if i % 2 == 0 {
                barrier.wait().await;
            }
            (user, saved, super::set_cookie(&response))
        }));
    }
    let mut cookies = Vec::new();
    for handle in handles {
        let (loaded_user, saved, new_cookie) = handle.await.unwrap();
        assert_eq!(
            loaded_user.as_deref(),
            Some(user.as_str()),
            "every request kept the session"
        );
        assert_ne!(saved, Saved::SkippedOnError);
        cookies.push(new_cookie.unwrap_or_else(|| cookie.clone()));
    }
    // Whatever cookie each client holds now (the new one, or the old one within the grace)
    // loads the signed-in session.
    for held in &cookies {
        let session = load(&factory, held).await;
        assert_eq!(
            session.get_as::<String>(AUTH_USER_KEY).unwrap().as_deref(),
            Some(user.as_str())
        );
    }
    // The old cookie, within the grace: the session, and the new id's cookie.
    let session = load(&factory, &cookie).await;
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    let (_, reissued) = save(&factory, &session).await;
    let reissued = reissued.expect("the old cookie is replaced");
    assert_ne!(reissued, cookie);
    assert_eq!(
        factory.sessions_of(&user).await.unwrap().len(),
        1,
        "one session"
    );

    // After the grace the old id is refused (and reported as a possible theft); the
    // session under the new id is untouched.
    clock.advance(31.0);
    let replayed = load(&factory, &cookie).await;
    assert!(
        is_signed_out(replayed.load_outcome()),
        "{:?}",
        replayed.load_outcome()
    );
    assert_eq!(replayed.get_as::<String>(AUTH_USER_KEY).unwrap(), None);
    let current = load(&factory, &reissued).await;
    assert_eq!(
        current.get_as::<String>(AUTH_USER_KEY).unwrap().as_deref(),
        Some(user.as_str())
    );
}

/// A sign-in (the user changes) or `regenerate_id` retires the old id at once, even after
/// `renew_id`: an alias never reaches a new sign-in.
pub async fn a_privilege_change_leaves_no_alias<S: SessionStore>(store: S, clock: &ManualClock) {
    let factory = factory(store, clock);
    // An anonymous session (a planted id), signed in through a renewal rotation.
    let planted = seed(&factory, json!({"cart": ["tea"]})).await;
    let mut session = load(&factory, &planted).await;
    session.renew_id();
    session.insert(AUTH_USER_KEY, "grace");
    let (_, signed_in) = save(&factory, &session).await;
    assert!(signed_in.is_some());
    let replay = load(&factory, &planted).await;
    assert!(is_signed_out(replay.load_outcome()));
    assert_eq!(replay.get_as::<String>(AUTH_USER_KEY).unwrap(), None);

    // `renew_id` then `regenerate_id`: the privileged one wins.
    let mut session = load(&factory, &signed_in.clone().unwrap()).await;
    session.renew_id();
    session.regenerate_id();
    let (_, moved) = save(&factory, &session).await;
    assert!(moved.is_some());
    assert!(is_signed_out(
        load(&factory, &signed_in.unwrap()).await.load_outcome()
    ));
}

/// A boxed future of the index's size, as the `indexed` arguments above return it.
pub type Count = std::pin::Pin<Box<dyn Future<Output = usize> + Send>>;

/// How many ids `user`'s index holds, asked of Redis itself (`ZCARD`).
pub fn redis_indexed(store: &typed_sessions::store::RedisStore) -> impl Fn(String) -> Count + '_ {
    move |user| {
        let key = store.user_key(&user);
        let mut conn = store.connection().clone();
        Box::pin(async move {
            redis::cmd("ZCARD")
                .arg(key)
                .query_async::<usize>(&mut conn)
                .await
                .unwrap()
        })
    }
}

/// A session's `revoked` future completes when the session is revoked: by the same
/// factory at once, and by another factory on its own connection (standing for another
/// process) through the store's pub/sub, within a second.
pub async fn live_revocation_reaches_other_factories<S: SessionStore>(here: S, there: S) {
    let clock = ManualClock::new(super::NOW);
    let user = format!("live-{}", super::random_tag());
    let local = factory(here, &clock);
    let remote = factory(there, &clock);
    let _listening = local.listen_for_revocations().await.unwrap();

    let first = sign_in(&local, &user, "203.0.113.1").await;
    let second = sign_in(&local, &user, "203.0.113.2").await;
    let first = load(&local, &first).await;
    let second = load(&local, &second).await;
    let first_ended = local.revoked(&first).unwrap();
    let second_ended = tokio::spawn(local.revoked(&second).unwrap());

    // Revoking one session ends its future only.
    let handle = local.handle_of(&first).unwrap();
    let started = std::time::Instant::now();
    assert!(remote.revoke(&user, &handle).await.unwrap());
    tokio::time::timeout(Duration::from_secs(1), first_ended)
        .await
        .expect("the revoked session's future completes within a second");
    assert!(started.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !second_ended.is_finished(),
        "another session's future waits on"
    );

    // The same factory: at once.
    local.revoke_all(&user).await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), second_ended)
        .await
        .expect("completes")
        .unwrap();
}
