//! The builder's defaults, for every factory: a `Set-Cookie` that is `Secure`, `HttpOnly`
//! and `SameSite=Lax`, and a reissue time (a tenth of the timeout) that spares a cookie
//! and a store write for each read; `pyramid_defaults()` gives Pyramid's instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;
use typed_sessions::store::{Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions::{
    EncryptedCookieSessionFactory, ManualClock, Saved, ServerSessionFactory, Session,
    SignedCookieSessionFactory,
};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const KEY: [u8; 32] = *b"an encryption key of 32 bytes!!!";
const NOW: f64 = 1_700_000_000.0;

/// The attributes of a `Set-Cookie` header, as written.
fn attributes(headers: &HeaderMap) -> Vec<String> {
    let header = headers["set-cookie"].to_str().unwrap();
    header.split("; ").skip(1).map(str::to_owned).collect()
}

/// What every default factory must write, in the `cookie` crate's order.
const SAFE: [&str; 4] = ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"];

fn save_cookie<C: typed_sessions::codec::CookieCodec>(
    factory: &typed_sessions::CookieSessionFactory<C>,
    session: &Session,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    factory.save(session, &mut headers).unwrap();
    headers
}

#[test]
fn a_default_signed_factory_writes_a_secure_httponly_lax_cookie() {
    let factory = SignedCookieSessionFactory::builder(SECRET).build().unwrap();
    let mut session = factory.load_value(None);
    session.insert("user_id", 7);
    assert_eq!(attributes(&save_cookie(&factory, &session)), SAFE);
}

#[test]
fn a_default_encrypted_factory_writes_a_secure_httponly_lax_cookie() {
    let factory = EncryptedCookieSessionFactory::builder(KEY).build().unwrap();
    let mut session = factory.load_value(None);
    session.insert("user_id", 7);
    assert_eq!(attributes(&save_cookie(&factory, &session)), SAFE);
}

#[tokio::test]
async fn a_default_server_factory_writes_a_secure_httponly_lax_cookie() {
    let factory = ServerSessionFactory::builder(SECRET, MemoryStore::new())
        .build()
        .unwrap();
    let mut session = factory.load_value(None).await.unwrap();
    session.insert("user_id", 7);
    let mut headers = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut headers).await.unwrap(),
        Saved::Written
    );
    assert_eq!(attributes(&headers), SAFE);
}

/// The preset is the one call that turns both off, for every factory.
#[tokio::test]
async fn pyramid_defaults_write_neither_secure_nor_httponly() {
    let pyramid = ["SameSite=Lax", "Path=/"];
    let signed = SignedCookieSessionFactory::builder(SECRET)
        .pyramid_defaults()
        .build()
        .unwrap();
    let mut session = signed.load_value(None);
    session.insert("a", 1);
    assert_eq!(attributes(&save_cookie(&signed, &session)), pyramid);

    let encrypted = EncryptedCookieSessionFactory::builder(KEY)
        .pyramid_defaults()
        .build()
        .unwrap();
    assert_eq!(attributes(&save_cookie(&encrypted, &session)), pyramid);

    let server = ServerSessionFactory::builder(SECRET, MemoryStore::new())
        .pyramid_defaults()
        .build()
        .unwrap();
    let mut session = server.load_value(None).await.unwrap();
    session.insert("a", 1);
    let mut headers = HeaderMap::new();
    server.save(&session, &mut headers).await.unwrap();
    assert_eq!(attributes(&headers), pyramid);
}

/// A read writes a new cookie only once the cookie is older than a tenth of the timeout
/// (120 s by default; 360 s for a one-hour timeout), not in every later second as under
/// Pyramid's reissue time of 0.
#[test]
fn a_read_renews_the_cookie_only_after_a_tenth_of_the_timeout() {
    let writes_on_read = |builder: typed_sessions::Builder<typed_sessions::SignedKeys>,
                          later: f64| {
        let clock = ManualClock::new(NOW);
        let factory = builder.clock(clock.clone()).build().unwrap();
        let mut session = factory.load_value(None);
        session.insert("a", 1);
        let value = factory.encode(&session).unwrap();
        clock.advance(later);
        let session = factory.load_value(Some(&value));
        assert_eq!(session.get_as::<u64>("a").unwrap(), Some(1));
        save_cookie(&factory, &session).contains_key("set-cookie")
    };
    let default = || SignedCookieSessionFactory::builder(SECRET);
    assert!(!writes_on_read(default(), 1.0));
    assert!(!writes_on_read(default(), 120.0));
    assert!(writes_on_read(default(), 121.0));
    let hour = || default().timeout(std::time::Duration::from_secs(3600));
    assert!(!writes_on_read(hour(), 360.0));
    assert!(writes_on_read(hour(), 361.0));
    assert!(writes_on_read(default().pyramid_defaults(), 1.0));
}

/// A [`MemoryStore`] that counts the saves it is asked for.
#[derive(Clone, Default)]
struct CountingStore {
    inner: MemoryStore,
    saves: Arc<AtomicUsize>,
}

impl SessionStore for CountingStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(commit).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

/// On a server store, reads within the reissue time cost no write; Pyramid's reissue time
/// of 0 costs one per read in a later second.
#[tokio::test]
async fn reads_within_the_reissue_time_write_no_store_record() {
    async fn saves_for_reads(pyramid: bool, reads_at: &[f64]) -> usize {
        let store = CountingStore::default();
        let clock = ManualClock::new(NOW);
        let mut builder = ServerSessionFactory::builder(SECRET, store.clone());
        if pyramid {
            builder = builder.pyramid_defaults();
        }
        let factory = builder.clock(clock.clone()).build().unwrap();
        let mut session = factory.load_value(None).await.unwrap();
        session.insert("a", 1);
        let mut headers = HeaderMap::new();
        factory.save(&session, &mut headers).await.unwrap();
        let header = headers["set-cookie"].to_str().unwrap();
        let mut request = HeaderMap::new();
        request.insert("cookie", header.split(';').next().unwrap().parse().unwrap());
        let before = store.saves.load(Ordering::SeqCst);
        for &at in reads_at {
            clock.set(NOW + at);
            let session = factory.load(&request).await.unwrap();
            assert_eq!(session.get_as::<u64>("a").unwrap(), Some(1));
            factory.save(&session, &mut HeaderMap::new()).await.unwrap();
        }
        store.saves.load(Ordering::SeqCst) - before
    }
    let reads: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(saves_for_reads(false, &reads).await, 0);
    assert_eq!(saves_for_reads(true, &reads).await, 100);
    assert_eq!(saves_for_reads(false, &[60.0, 121.0, 122.0]).await, 1);
}
