//! A session's absolute lifetime and timestamps from the future, on cookies and on a
//! server store, with the factory's manual clock: activity never keeps a session alive past
//! `max_lifetime`, and a cookie dated beyond the allowed clock skew is refused.

use std::time::Duration;

use http::HeaderMap;
use serde_json::json;
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::store::MemoryStore;
use typed_sessions::{
    HashAlg, LoadOutcome, MAX_CLOCK_SKEW, ManualClock, Rejection, ServerSessionFactory,
    SignedCookieSessionFactory,
};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const NOW: f64 = 1_700_000_000.0;
const DAY: f64 = 24.0 * 3600.0;

fn cookies(clock: &ManualClock, lifetime: Option<Duration>) -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET)
        .clock(clock.clone())
        .timeout(Duration::from_secs(1200))
        .reissue_time(Duration::from_secs(60))
        .max_lifetime(lifetime)
        .build()
        .unwrap()
}

/// Uses the session every ten minutes (well within the idle timeout), taking each reissued
/// cookie, until `until`; returns the last cookie and the last session's outcome.
fn keep_using(
    factory: &SignedCookieSessionFactory,
    clock: &ManualClock,
    until: f64,
) -> LoadOutcome {
    let mut session = factory.load_value(None);
    session.insert("user", 7);
    let mut cookie = factory.encode(&session).unwrap();
    let mut outcome = LoadOutcome::NoCookie;
    while typed_sessions::Clock::now(clock) < until {
        clock.advance(600.0);
        let session = factory.load_value(Some(&cookie));
        outcome = session.load_outcome();
        if outcome != LoadOutcome::Loaded {
            break;
        }
        assert_eq!(session.get_as::<u32>("user").unwrap(), Some(7));
        cookie = factory.encode(&session).unwrap();
    }
    outcome
}

#[test]
fn an_active_cookie_session_ends_at_its_maximum_lifetime() {
    let clock = ManualClock::new(NOW);
    let factory = cookies(&clock, Some(Duration::from_secs(DAY as u64)));
    let outcome = keep_using(&factory, &clock, NOW + 2.0 * DAY);
    assert_eq!(outcome, LoadOutcome::Rejected(Rejection::TooOld));
    let lived = typed_sessions::Clock::now(&clock) - NOW;
    assert!(lived > DAY && lived <= DAY + 600.0, "ended after {lived} s");
}

#[test]
fn the_default_lifetime_is_one_day_and_none_is_forever() {
    let clock = ManualClock::new(NOW);
    let default = SignedCookieSessionFactory::builder(SECRET)
        .clock(clock.clone())
        .reissue_time(Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(
        keep_using(&default, &clock, NOW + 2.0 * DAY),
        LoadOutcome::Rejected(Rejection::TooOld)
    );

    let clock = ManualClock::new(NOW);
    let forever = cookies(&clock, None);
    assert_eq!(
        keep_using(&forever, &clock, NOW + 3.0 * DAY),
        LoadOutcome::Loaded,
        "Pyramid's behaviour: an active session never ends"
    );
}

/// A cookie whose payload this factory's secret signed, holding `payload` as it is.
fn signed(payload: &str) -> String {
    SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512)
        .seal(payload.as_bytes())
        .unwrap()
}

#[test]
fn cookies_from_the_future_are_refused() {
    let clock = ManualClock::new(NOW);
    let factory = cookies(&clock, None);
    let skew = MAX_CLOCK_SKEW.as_secs_f64();
    for (accessed, created) in [
        (1e308, 1e308),
        (NOW + 1e9, NOW),
        (NOW, NOW + 1e9),
        (NOW + skew + 5.0, NOW),
    ] {
        let cookie = signed(&format!(r#"[{accessed}, {created}, {{"user": 7}}]"#));
        let session = factory.load_value(Some(&cookie));
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::FromTheFuture),
            "accessed {accessed}, created {created}"
        );
        assert!(session.is_empty());
    }
    // A server whose clock runs a little ahead wrote it: within the skew, it loads.
    let cookie = signed(&format!(r#"[{}, {NOW}, {{"user": 7}}]"#, NOW + 30.0));
    assert_eq!(
        factory.load_value(Some(&cookie)).load_outcome(),
        LoadOutcome::Loaded
    );
}

fn server(clock: &ManualClock, store: MemoryStore) -> ServerSessionFactory<MemoryStore> {
    ServerSessionFactory::builder(SECRET, store)
        .clock(clock.clone())
        .timeout(Duration::from_secs(1200))
        .reissue_time(Duration::from_secs(60))
        .max_lifetime(Duration::from_secs(DAY as u64))
        .build()
        .unwrap()
}

fn request(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    headers
}

#[tokio::test]
async fn an_active_server_session_ends_at_its_maximum_lifetime_and_its_record_goes() {
    let clock = ManualClock::new(NOW);
    let store = MemoryStore::new();
    let factory = server(&clock, store.clone());
    let mut session = factory.load(&HeaderMap::new()).await.unwrap();
    session.insert("user", json!(7));
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).await.unwrap();
    let set_cookie = response["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let outcome = loop {
        clock.advance(600.0);
        let mut session = factory.load(&request(&cookie)).await.unwrap();
        if session.load_outcome() != LoadOutcome::Loaded {
            // The fresh session's first save retires the old record.
            session.insert("user", json!(8));
            factory.save(&session, &mut HeaderMap::new()).await.unwrap();
            break session.load_outcome();
        }
        session.insert("visits", json!(1)); // a request that writes renews `accessed`
        factory.save(&session, &mut HeaderMap::new()).await.unwrap();
    };
    assert_eq!(outcome, LoadOutcome::Rejected(Rejection::TooOld));
    let lived = typed_sessions::Clock::now(&clock) - NOW;
    assert!(lived > DAY && lived <= DAY + 600.0, "ended after {lived} s");
    assert_eq!(
        factory
            .load(&request(&cookie))
            .await
            .unwrap()
            .load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "the old record is gone"
    );
}
