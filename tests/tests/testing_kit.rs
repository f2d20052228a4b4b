//! The test kit (`typed_sessions::testing::TestFactory`) on every kind of factory: the
//! signed cookie, and server-side sessions in memory, SQLite and PostgreSQL (needs
//! `POSTGRES_URL`, see `store_common`). One scenario, written once against the kit: mint a
//! session from a state, a schema value or a hand-made session, run a handler, read back
//! what the client holds next.

mod store_common;

use http::HeaderMap;
use http::header::COOKIE;
use serde_json::json;
use typed_sessions::store::{AnyStore, MemoryStore, SessionStore};
use typed_sessions::testing::{self, TestFactory};
use typed_sessions::{
    LoadOutcome, ServerSessionFactory, Session, SessionSchema, SignedCookieSessionFactory,
    flash_queue,
};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

#[derive(SessionSchema)]
pub struct Shop {
    #[session(default)]
    cart: Vec<String>,
    user: Option<String>,
}

#[flash_queue]
#[derive(Debug, PartialEq)]
pub enum Notice {
    Success(String),
}

/// What the scenario needs besides the kit: running a "handler" on a request, as the app's
/// framework would (sync for a cookie factory, async for a store).
trait Handle: TestFactory {
    async fn handle(&self, request: &HeaderMap, handler: impl FnOnce(&mut Session)) -> HeaderMap;
    /// Whether the session lives in a store (saved in place, with no new cookie).
    const SERVER: bool;
}

impl Handle for SignedCookieSessionFactory {
    const SERVER: bool = false;
    async fn handle(&self, request: &HeaderMap, handler: impl FnOnce(&mut Session)) -> HeaderMap {
        let mut session = self.load(request);
        handler(&mut session);
        let mut response = HeaderMap::new();
        self.save(&session, &mut response).unwrap();
        response
    }
}

impl<S: SessionStore> Handle for ServerSessionFactory<S> {
    const SERVER: bool = true;
    async fn handle(&self, request: &HeaderMap, handler: impl FnOnce(&mut Session)) -> HeaderMap {
        let mut session = self.load(request).await.unwrap();
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Loaded,
            "the minted cookie loads"
        );
        handler(&mut session);
        let mut response = HeaderMap::new();
        self.save(&session, &mut response).await.unwrap();
        response
    }
}

fn request(cookie: http::HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, cookie);
    headers
}

async fn the_kit_mints_and_reads_back<F: Handle>(factory: &F) {
    // From a state: a user whose cart holds tea.
    let request = request(
        factory
            .cookie_for_state(&json!({"cart": ["tea"]}))
            .await
            .unwrap(),
    );
    let response = factory
        .handle(&request, |s| {
            s.cart_mut().unwrap().push("mug".into());
            s.flash(Notice::Success("Added mug".into())).unwrap();
        })
        .await;
    let back = factory.read_back(&response).await.unwrap();
    if F::SERVER {
        assert!(back.is_none(), "saved in place: no new cookie");
    } else {
        assert_eq!(back.unwrap().cart().unwrap(), ["tea", "mug"]);
    }
    let next = factory
        .read_next(&request, &response)
        .await
        .unwrap()
        .expect("the client still has a session");
    assert_eq!(next.cart().unwrap(), ["tea", "mug"]);
    testing::assert_flashes(&next, &[Notice::Success("Added mug".into())]);

    // From a schema value.
    let value = Shop {
        cart: vec!["sencha".into()],
        user: Some("ada".into()),
    };
    let request = self::request(factory.cookie_for_schema(&value).await.unwrap());
    let response = factory
        .handle(&request, |s| {
            assert_eq!(s.user().unwrap().as_deref(), Some("ada"));
            s.regenerate_id(); // a new id (on a store), so the response sets a cookie
            s.set_user(Some("grace".into())).unwrap();
        })
        .await;
    let back = factory
        .read_back(&response)
        .await
        .unwrap()
        .expect("a new cookie");
    assert_eq!(back.user().unwrap().as_deref(), Some("grace"));
    assert_eq!(back.cart().unwrap(), ["sencha"]);
    if F::SERVER {
        // The old id is gone from the store.
        let old = factory
            .read_next(&request, &HeaderMap::new())
            .await
            .unwrap()
            .unwrap();
        assert!(old.is_empty());
    }

    // From a session built by hand, then signed out.
    let mut session = Session::new();
    session.insert("user", "lin");
    let request = self::request(factory.cookie_for(&session).await.unwrap());
    let response = factory.handle(&request, Session::invalidate).await;
    let next = factory.read_next(&request, &response).await.unwrap();
    assert!(next.is_none_or(|s| s.is_empty()), "signed out");

    // A state that is not an object is an error, not a session.
    assert!(factory.cookie_for_state(&json!(["tea"])).await.is_err());
}

#[tokio::test]
async fn on_the_signed_cookie() {
    let factory = SignedCookieSessionFactory::builder(SECRET).build().unwrap();
    the_kit_mints_and_reads_back(&factory).await;
}

#[tokio::test]
async fn on_the_memory_store() {
    let store = MemoryStore::new();
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .build()
        .unwrap();
    factory.cookie_for_state(&json!({"x": 1})).await.unwrap();
    assert_eq!(store.len(), 1, "minting writes the record into the store");
    the_kit_mints_and_reads_back(&factory).await;
}

#[tokio::test]
async fn on_sqlite() {
    let store = store_common::sqlite_store().await;
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .build()
        .unwrap();
    // Minted by one factory, read by another on the same database: the record is stored.
    let cookie = factory.cookie_for_state(&json!({"x": 1})).await.unwrap();
    let other = ServerSessionFactory::builder(SECRET, store)
        .build()
        .unwrap();
    let session = other.load(&request(cookie)).await.unwrap();
    assert_eq!(session.get("x"), Some(&json!(1)));
    the_kit_mints_and_reads_back(&factory).await;
}

#[tokio::test]
async fn on_postgres_through_any_store() {
    let store = AnyStore::from(store_common::postgres_store().await);
    let factory = ServerSessionFactory::builder(SECRET, store)
        .build()
        .unwrap();
    the_kit_mints_and_reads_back(&factory).await;
}

/// A chunking factory's cookie for a session too big for one cookie is every chunk, and
/// reads back whole.
#[tokio::test]
async fn cookie_for_carries_every_chunk_of_a_chunked_session() {
    let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
        .chunks(3)
        .build()
        .unwrap();
    // Not compressible below one cookie, and not random: the same state on every run.
    let notes: Vec<String> = (0..300u32)
        .map(|i| format!("{:08x}", i.wrapping_mul(2_654_435_761)))
        .collect();
    let mut session = factory.load(&HeaderMap::new());
    session.insert_as("notes", &notes).unwrap();
    let header = factory.cookie_for(&session).await.unwrap();
    let text = header.to_str().unwrap();
    assert!(
        text.starts_with("session=") && text.contains("; session.1="),
        "{text}"
    );
    let loaded = factory.load_cookie_header(text);
    assert_eq!(loaded.get_as::<Vec<String>>("notes").unwrap(), Some(notes));
}
