//! One suite of HTTP tests for the request lifecycle, run against both adapters: each
//! framework serves the same routes (`axum_app.rs`, `actix_app.rs` beside this file) on
//! a loopback port, and the tests below speak HTTP to them with reqwest. What the suite
//! checks is the framework-neutral part (`typed_sessions::lifecycle`): laziness, counted with a
//! codec that counts `open` calls; one session shared by middleware and handler; the save
//! decision; and the status of a failure. The server-side case runs on every store: the
//! suite's own map (a custom store), memory, Redis, SQLite and PostgreSQL (the last three
//! need `REDIS_URL` and `POSTGRES_URL`, see `store_common`), each behind a probe that counts
//! round trips and fails on demand.

mod actix_app;
mod axum_app;
#[path = "../store_common/mod.rs"]
mod store_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::json;
use typed_sessions::ServerSessionFactory;
use typed_sessions::codec::SignedCodec;
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::{AnyStore, Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions::{CookieSessionFactory, HashAlg, Saved, Session, SessionSchema, flash_queue};
use typed_sessions_tests::Counting;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// A framework that serves the suite's routes:
///
/// | route         | what the handler does                                                 |
/// |---------------|-----------------------------------------------------------------------|
/// | `/untouched`  | nothing with the session                                              |
/// | `/handle`     | extracts the handle, never locks it                                   |
/// | `/user`       | answers the `user` key, or `anonymous`                                |
/// | `/visit`      | `visits_mut()` += 1, flashes `Notice::Info("counted")`; answers visits |
/// | `/flashes`    | pops the `Notice` queue; answers it in `Debug` form                   |
/// | `/fail`       | sets `attempted`, answers `500`                                       |
/// | `/big`        | stores 5000 bytes (the cookie would be too large), answers `200`      |
/// | every route   | under an outer middleware that answers an `Overflow` it finds in the   |
/// |               | response's extensions in header `x-overflow` (its `Display` form)     |
/// | `/break`      | a guard whose value fails to serialize when it drops                  |
/// | `/logout`     | `invalidate()`                                                        |
/// | every route   | under an outer middleware that answers a [`Saved`] it finds in the    |
/// |               | response's extensions in header `x-saved` (its `Debug` form)          |
/// | `/shared`     | under a middleware that bumps `seen` before the handler and answers   |
/// |               | the `handled` key the handler set in header `x-handled`; the handler  |
/// |               | sets `handled` and answers `seen`                                     |
pub trait Framework {
    /// Starts the routes under the adapter with `factory` on 127.0.0.1; the base URL.
    fn serve<F: SessionFactory>(factory: Arc<F>) -> impl Future<Output = String>;
}

/// The `x-saved` header's value for a save outcome an adapter surfaced.
pub fn saved_header(saved: &Saved) -> String {
    format!("{saved:?}")
}

#[derive(SessionSchema)]
#[allow(dead_code)] // only the generated accessors are used
pub struct Suite {
    #[session(default)]
    visits: u64,
    #[session(default)]
    fragile: Fragile,
}

#[flash_queue]
#[derive(Debug, PartialEq)]
pub enum Notice {
    Info(String),
}

/// A value whose serialization fails once `broken` is set.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Fragile {
    pub broken: bool,
}

impl serde::Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.broken {
            return Err(serde::ser::Error::custom("this value cannot be serialized"));
        }
        serializer.serialize_bool(false)
    }
}

// --- fixtures ------------------------------------------------------------------------------

/// A cookie factory whose codec counts how often a cookie is opened.
struct Cookies {
    factory: Arc<CookieSessionFactory<Counting>>,
    opens: Arc<AtomicUsize>,
}

impl Cookies {
    fn new(
        configure: impl FnOnce(
            typed_sessions::Builder<typed_sessions::ReadyCodec<Counting>>,
        ) -> typed_sessions::Builder<typed_sessions::ReadyCodec<Counting>>,
    ) -> Self {
        let opens = Arc::new(AtomicUsize::new(0));
        let codec = Counting {
            inner: SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512),
            opens: Arc::clone(&opens),
        };
        let factory = configure(CookieSessionFactory::with_codec(codec))
            .build()
            .unwrap();
        Self {
            factory: Arc::new(factory),
            opens,
        }
    }

    async fn serve<W: Framework>(&self) -> String {
        W::serve(Arc::clone(&self.factory)).await
    }

    fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    /// A `Cookie` header for a session holding `state`, made without counting.
    fn cookie_for(&self, state: serde_json::Value) -> String {
        let mut session = self.factory.load(&HeaderMap::new());
        for (key, value) in state.as_object().unwrap() {
            session.insert(key, value.clone());
        }
        let cookie = self.factory.set_cookie(&session).unwrap();
        self.opens.store(0, Ordering::SeqCst);
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn session_in(&self, page: &Page) -> Session {
        let pair = page
            .set_cookie
            .as_deref()
            .expect("the response sets the cookie");
        self.factory.load_cookie_header(pair)
    }
}

/// A user-defined store: records in a map.
#[derive(Clone, Default)]
struct MapStore {
    records: Arc<Mutex<BTreeMap<String, Record>>>,
}

impl SessionStore for MapStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.records.lock().unwrap().get(id).cloned())
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap();
        if let Some(old) = &commit.retire {
            records.remove(old);
        }
        if !commit.replace && !records.contains_key(&commit.id) {
            return Ok(false);
        }
        commit.apply_to(records.entry(commit.id.clone()).or_default());
        Ok(true)
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.records.lock().unwrap().remove(id);
        Ok(())
    }
}

/// The stores the server-side case runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    /// [`MapStore`], through `AnyStore::custom`.
    Custom,
    Memory,
    Redis,
    Sqlite,
    Postgres,
}

impl Backend {
    /// A new, empty store of this kind (its own Redis prefix, SQLite file, PostgreSQL
    /// tables).
    async fn open(self) -> AnyStore {
        match self {
            Self::Custom => AnyStore::custom(MapStore::default()),
            Self::Memory => AnyStore::from(MemoryStore::new()),
            Self::Redis => AnyStore::from(store_common::redis_store().await),
            Self::Sqlite => AnyStore::from(store_common::sqlite_store().await),
            Self::Postgres => AnyStore::from(store_common::postgres_store().await),
        }
    }
}

/// A store with counted round trips, able to fail like an unreachable database.
#[derive(Clone)]
struct Probe {
    inner: AnyStore,
    loads: Arc<AtomicUsize>,
    saves: Arc<AtomicUsize>,
    fail_loads: Arc<AtomicBool>,
    fail_saves: Arc<AtomicBool>,
    /// Deletes the session's record just before the next save, as a concurrent sign-out.
    vanish: Arc<AtomicBool>,
}

impl Probe {
    async fn open(backend: Backend) -> Self {
        Self {
            inner: backend.open().await,
            loads: Arc::default(),
            saves: Arc::default(),
            fail_loads: Arc::default(),
            fail_saves: Arc::default(),
            vanish: Arc::default(),
        }
    }

    /// The record of the session `cookie` names, as the store holds it (entries sorted:
    /// their order is not significant), read past the probe.
    async fn record(&self, cookie: &str) -> Option<(f64, f64, BTreeMap<String, String>)> {
        let id = store_common::id_of(cookie);
        let record = self.inner.load(&id).await.unwrap()?;
        Some((
            record.created,
            record.accessed,
            record.entries.into_iter().collect(),
        ))
    }
}

fn down() -> StoreError {
    StoreError::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "the database is down",
    ))
}

impl SessionStore for Probe {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.fail_loads.load(Ordering::SeqCst) {
            return Err(down());
        }
        self.inner.load(id).await
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return Err(down());
        }
        if self.vanish.swap(false, Ordering::SeqCst) {
            self.inner.delete(&commit.id).await?;
        }
        self.inner.save(commit).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

struct Page {
    status: StatusCode,
    set_cookie: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

/// `GET base + path`, with `cookie` as the `Cookie` header; no cookie jar, no redirects.
async fn get(base: &str, path: &str, cookie: Option<&str>) -> Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let mut set_cookies = response.headers().get_all(SET_COOKIE).iter();
    let set_cookie = set_cookies
        .next()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    assert!(set_cookies.next().is_none(), "one Set-Cookie at most");
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    Page {
        status,
        set_cookie,
        headers,
        body,
    }
}

// --- the suite -----------------------------------------------------------------------------

async fn untouched_routes_open_no_cookie_and_write_none<W: Framework>() {
    let fx = Cookies::new(|b| b);
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let base = fx.serve::<W>().await;
    for path in ["/untouched", "/handle"] {
        for _ in 0..3 {
            let page = get(&base, path, Some(&cookie)).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            assert_eq!(page.set_cookie, None, "{path} wrote a cookie");
        }
    }
    assert_eq!(fx.opens(), 0, "an untouched request opened the cookie");
    // The counter counts: a route that reads opens the cookie once.
    assert_eq!(get(&base, "/user", Some(&cookie)).await.body, "ada");
    assert_eq!(fx.opens(), 1);
}

async fn a_change_through_typed_accessors_is_saved_and_comes_back<W: Framework>() {
    let fx = Cookies::new(|b| b);
    let base = fx.serve::<W>().await;
    let first = get(&base, "/visit", None).await;
    assert_eq!(first.body, "1");
    let cookie = first
        .set_cookie
        .clone()
        .expect("a changed session is saved");
    let second = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!(second.body, "2");
    assert_eq!(fx.opens(), 1);
    let cookie = second.set_cookie.unwrap();
    let flashes = get(&base, "/flashes", Some(&cookie)).await;
    assert_eq!(flashes.body, r#"[Info("counted"), Info("counted")]"#);
    let saved = fx.session_in(&flashes);
    assert_eq!(saved.get("visits"), Some(&json!(2)));
    assert!(!saved.contains_key("_f_info"), "the popped queue is gone");
}

async fn a_read_writes_no_cookie_when_the_policy_needs_none<W: Framework>() {
    let fx = Cookies::new(|b| b.reissue_time(None));
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let base = fx.serve::<W>().await;
    let page = get(&base, "/user", Some(&cookie)).await;
    assert_eq!(page.body, "ada");
    assert_eq!(page.set_cookie, None);
    assert_eq!(fx.opens(), 1);
}

async fn middleware_and_handler_share_one_session<W: Framework>() {
    let fx = Cookies::new(|b| b);
    let cookie = fx.cookie_for(json!({"seen": 4}));
    let base = fx.serve::<W>().await;
    let page = get(&base, "/shared", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(fx.opens(), 1, "one load for the whole request");
    assert_eq!(page.body, "5", "the handler saw the middleware's change");
    assert_eq!(
        page.headers["x-handled"], "\"yes\"",
        "and the middleware the handler's"
    );
    let saved = fx.session_in(&page);
    assert_eq!(saved.get("seen"), Some(&json!(5)));
    assert_eq!(saved.get("handled"), Some(&json!("yes")));
}

async fn a_5xx_response_is_saved_unless_set_on_exception_is_false<W: Framework>() {
    let fx = Cookies::new(|b| b);
    let base = fx.serve::<W>().await;
    let page = get(&base, "/fail", None).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fx.session_in(&page).get("attempted"), Some(&json!(true)));

    let fx = Cookies::new(|b| b.set_on_exception(false));
    let base = fx.serve::<W>().await;
    let page = get(&base, "/fail", None).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(page.set_cookie, None);
    // The same factory still saves a good response.
    assert!(get(&base, "/visit", None).await.set_cookie.is_some());
}

async fn a_save_error_is_an_empty_500_without_a_cookie<W: Framework>() {
    // No reissue: under `reissue_time` 0 a request in a later second than the minted cookie
    // would reissue it on the handler's 500 (`set_on_exception`), which is not what this
    // checks.
    let fx = Cookies::new(|b| b.reissue_time(None));
    let cookie = fx.cookie_for(json!({"visits": 1}));
    let base = fx.serve::<W>().await;
    // A session too large for its cookie is answered `507` (the factory's `on_oversized`),
    // and the app's outer middleware sees which budget and how many bytes.
    let page = get(&base, "/big", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(
        page.headers["x-overflow"]
            .to_str()
            .unwrap()
            .contains("over 4064"),
        "{:?}",
        page.headers
    );
    for path in ["/big", "/break"] {
        let page = get(&base, path, Some(&cookie)).await;
        let status = if path == "/big" {
            StatusCode::INSUFFICIENT_STORAGE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        assert_eq!(page.status, status, "{path}");
        assert_eq!(
            page.set_cookie, None,
            "{path}: the client keeps its old cookie"
        );
        assert_eq!(page.body, "", "{path}: no detail reaches the client");
    }
    // A session error a handler returns: "user" holds a number where `get_as` asks for a
    // string (the untyped read is an error; a schema's typed read may read it as missing).
    let cookie = fx.cookie_for(json!({"user": 7}));
    let page = get(&base, "/user", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(page.set_cookie, None);
    assert_eq!(page.body, "");
}

async fn invalidate_and_tampering_give_empty_sessions<W: Framework>() {
    let fx = Cookies::new(|b| b);
    let cookie = fx.cookie_for(json!({"user": "ada", "visits": 3}));
    let base = fx.serve::<W>().await;
    let page = get(&base, "/logout", Some(&cookie)).await;
    assert!(fx.session_in(&page).is_empty());

    let mut tampered = cookie.into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let page = get(&base, "/user", Some(&tampered)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "anonymous");
}

async fn a_store_runs_through_and_an_unreachable_one_is_a_503<W: Framework>(backend: Backend) {
    let store = Probe::open(backend).await;
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .reissue_time(None)
        .build()
        .unwrap();
    let base = W::serve(Arc::new(factory)).await;

    // An untouched route costs no round trip, even when it extracts the handle.
    for path in ["/untouched", "/handle"] {
        let page = get(&base, path, Some("session=anything")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.set_cookie, None);
    }
    assert_eq!(store.loads.load(Ordering::SeqCst), 0);

    let first = get(&base, "/visit", None).await;
    let cookie = first.set_cookie.expect("a new session sets its id cookie");
    assert_eq!(first.body, "1");
    let second = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!((second.body.as_str(), second.set_cookie), ("2", None));
    let before = store.record(&cookie).await.expect("the session is stored");
    assert_eq!(before.2["visits"], "2");
    let saves = store.saves.load(Ordering::SeqCst);

    store.fail_loads.store(true, Ordering::SeqCst);
    let page = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "load failed");
    assert_eq!((page.set_cookie, page.body.as_str()), (None, ""));
    assert_eq!(
        store.saves.load(Ordering::SeqCst),
        saves,
        "no save after a failed load"
    );
    assert_eq!(
        get(&base, "/untouched", Some(&cookie)).await.status,
        StatusCode::OK
    );

    store.fail_loads.store(false, Ordering::SeqCst);
    store.fail_saves.store(true, Ordering::SeqCst);
    let page = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "save failed");
    assert_eq!((page.set_cookie, page.body.as_str()), (None, ""));
    assert_eq!(
        store.record(&cookie).await,
        Some(before),
        "nothing overwritten"
    );

    // A record deleted between the load and the save (a sign-out elsewhere): the changes
    // are discarded, and the client is not told they were kept: `409`, empty, no cookie.
    store.fail_saves.store(false, Ordering::SeqCst);
    store.vanish.store(true, Ordering::SeqCst);
    let page = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert_eq!((page.set_cookie, page.body.as_str()), (None, ""));
    assert_eq!(store.record(&cookie).await, None, "nothing brought back");

    // With `on_discarded(None)` the handler's response stays, and the adapter tells the
    // app's outer middleware.
    let store = Probe::open(backend).await;
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .reissue_time(None)
        .on_discarded(None)
        .build()
        .unwrap();
    let base = W::serve(Arc::new(factory)).await;
    let cookie = get(&base, "/visit", None).await.set_cookie.unwrap();
    store.vanish.store(true, Ordering::SeqCst);
    let page = get(&base, "/visit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.set_cookie, None);
    assert_eq!(page.headers["x-saved"], "Discarded");
    assert_eq!(store.record(&cookie).await, None, "nothing brought back");
    let page = get(&base, "/visit", None).await;
    assert!(
        !page.headers.contains_key("x-saved"),
        "a routine save is no news"
    );

    // With set_on_exception(false), a failed request is not saved at all.
    let store = Probe::open(backend).await;
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .set_on_exception(false)
        .build()
        .unwrap();
    let base = W::serve(Arc::new(factory)).await;
    let page = get(&base, "/fail", None).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(page.set_cookie, None);
    assert_eq!(store.saves.load(Ordering::SeqCst), 0);
}

/// Instantiates the suite for one framework.
macro_rules! suite {
    ($framework:ty) => {
        #[tokio::test]
        async fn untouched_routes_open_no_cookie_and_write_none() {
            super::untouched_routes_open_no_cookie_and_write_none::<$framework>().await;
        }

        #[tokio::test]
        async fn a_change_through_typed_accessors_is_saved_and_comes_back() {
            super::a_change_through_typed_accessors_is_saved_and_comes_back::<$framework>().await;
        }

        #[tokio::test]
        async fn a_read_writes_no_cookie_when_the_policy_needs_none() {
            super::a_read_writes_no_cookie_when_the_policy_needs_none::<$framework>().await;
        }

        #[tokio::test]
        async fn middleware_and_handler_share_one_session() {
            super::middleware_and_handler_share_one_session::<$framework>().await;
        }

        #[tokio::test]
        async fn a_5xx_response_is_saved_unless_set_on_exception_is_false() {
            super::a_5xx_response_is_saved_unless_set_on_exception_is_false::<$framework>().await;
        }

        #[tokio::test]
        async fn a_save_error_is_an_empty_500_without_a_cookie() {
            super::a_save_error_is_an_empty_500_without_a_cookie::<$framework>().await;
        }

        #[tokio::test]
        async fn invalidate_and_tampering_give_empty_sessions() {
            super::invalidate_and_tampering_give_empty_sessions::<$framework>().await;
        }

        /// The server-side case, on each store.
        mod store {
            use super::super::Backend;

            async fn run(backend: Backend) {
                super::super::a_store_runs_through_and_an_unreachable_one_is_a_503::<$framework>(
                    backend,
                )
                .await;
            }

            #[tokio::test]
            async fn custom() {
                run(Backend::Custom).await;
            }

            #[tokio::test]
            async fn memory() {
                run(Backend::Memory).await;
            }

            #[tokio::test]
            async fn redis() {
                run(Backend::Redis).await;
            }

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    };
}

mod axum {
    suite!(crate::axum_app::Axum);
}

mod actix {
    suite!(crate::actix_app::Actix);
}

/// What only the actix-web adapter has to show: its handle and rejection.
mod actix_only {
    use actix_web::{App, test, web};
    use typed_sessions::Session;
    use typed_sessions::actix::SessionHandle;

    async fn user(session: SessionHandle) -> String {
        session
            .lock()
            .get("user")
            .map_or("none".into(), |v| v.to_string())
    }

    #[test]
    fn without_the_middleware_the_extractor_is_an_empty_500() {
        actix_web::rt::System::new().block_on(async {
            let app = test::init_service(App::new().route("/", web::get().to(user))).await;
            let response =
                test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
            assert_eq!(response.status().as_u16(), 500);
            assert!(test::read_body(response).await.is_empty(), "no detail");
        });
    }

    #[test]
    fn the_handle_shows_no_values_and_guards_take_turns() {
        let handle = SessionHandle::new(Session::new());
        handle.lock().insert("password", "hunter2");
        let debug = format!("{handle:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("loaded: true"), "{debug}");
        for _ in 0..3 {
            assert_eq!(handle.clone().lock().get("password").unwrap(), "hunter2");
        }
    }

    #[test]
    #[should_panic(expected = "a SessionGuard of the same session is alive")]
    fn locking_again_while_a_guard_is_alive_panics() {
        let handle = SessionHandle::new(Session::new());
        let clone = handle.clone();
        let _first = handle.lock();
        let _second = clone.lock();
    }
}
