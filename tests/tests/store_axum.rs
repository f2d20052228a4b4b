//! Server-side sessions through the axum layer: a user-defined store (the issue's "your
//! own factory"), the memory store, a real Redis (needs `REDIS_URL`, see `store_redis.rs`),
//! a Redis Cluster (`REDIS_CLUSTER_URLS`), SQLite, a real PostgreSQL (`POSTGRES_URL`), and
//! failing stores (503, no panic, nothing overwritten).

mod store_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use http::Request;
use tower::ServiceExt;
use typed_sessions::ServerSessionFactory;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::store::{Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions::{FlashExt, SessionError, SessionSchema, flash_queue};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// A user-defined store: records in a `BTreeMap`, counting round trips, and able to fail
/// like an unreachable database.
#[derive(Clone, Default)]
struct MapStore {
    records: Arc<Mutex<BTreeMap<String, Record>>>,
    loads: Arc<AtomicUsize>,
    saves: Arc<AtomicUsize>,
    fail_loads: Arc<std::sync::atomic::AtomicBool>,
    fail_saves: Arc<std::sync::atomic::AtomicBool>,
}

fn down() -> StoreError {
    StoreError::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "the database is down",
    ))
}

impl SessionStore for MapStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.fail_loads.load(Ordering::SeqCst) {
            return Err(down());
        }
        Ok(self.records.lock().unwrap().get(id).cloned())
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return Err(down());
        }
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

#[derive(SessionSchema)]
#[allow(dead_code)] // only its generated accessors are used
struct Visit {
    #[session(default)]
    visits: u64,
    #[session(default)]
    seen: Vec<String>,
}

#[flash_queue]
#[derive(Debug, PartialEq)]
enum Notice {
    Info(String),
}

async fn visit(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    *s.visits_mut()? += 1;
    s.flash(Notice::Info("counted".into()))?;
    Ok(s.visits()?.to_string())
}

async fn flashes(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    Ok(format!("{:?}", s.pop_flashes::<Notice>()?))
}

async fn keys(session: SessionHandle) -> String {
    let s = session.lock();
    let mut keys: Vec<&str> = s.keys().collect();
    keys.sort_unstable();
    keys.join(",")
}

async fn health() -> &'static str {
    "ok"
}

async fn sign_out(session: SessionHandle) -> &'static str {
    session.lock().invalidate();
    "bye"
}

async fn sign_in(session: SessionHandle) -> &'static str {
    let mut s = session.lock();
    s.insert("user_id", 7);
    s.regenerate_id();
    "hello"
}

async fn fail(session: SessionHandle) -> StatusCode {
    session.lock().insert("during_failure", true);
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Sets key `key`, then waits until `barrier` lets every request of the test go: all have
/// loaded the session before any saves it.
async fn set_key(
    State(barrier): State<Arc<tokio::sync::Barrier>>,
    session: SessionHandle,
    Path(key): Path<String>,
) -> &'static str {
    session.lock().insert(key, true);
    barrier.wait().await;
    "set"
}

fn app<S: SessionStore>(factory: ServerSessionFactory<S>, writers: usize) -> Router {
    Router::new()
        .route("/", get(visit))
        .route("/flashes", get(flashes))
        .route("/health", get(health))
        .route("/keys", get(keys))
        .route("/sign-in", get(sign_in))
        .route("/sign-out", get(sign_out))
        .route("/fail", get(fail))
        .route("/set/{key}", get(set_key))
        .with_state(Arc::new(tokio::sync::Barrier::new(writers)))
        .layer(SessionLayer::new(factory))
}

fn map_factory(store: MapStore) -> ServerSessionFactory<MapStore> {
    ServerSessionFactory::builder(SECRET, store)
        .reissue_time(None)
        .build()
        .unwrap()
}

async fn get_with(app: &Router, path: &str, cookie: Option<&str>) -> Response {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn set_cookie(response: &Response) -> Option<String> {
    let header = response.headers().get("set-cookie")?;
    Some(
        header
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned(),
    )
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_user_defined_store_runs_through_the_layer() {
    let store = MapStore::default();
    let app = app(map_factory(store.clone()), 1);

    // A handler that never takes the session costs no store round trip.
    let response = get_with(&app, "/health", Some("session=anything")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).is_none());
    assert_eq!(store.loads.load(Ordering::SeqCst), 0);
    assert_eq!(store.saves.load(Ordering::SeqCst), 0);

    let response = get_with(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response).expect("a new session sets its id cookie");
    assert_eq!(body(response).await, "1");
    assert_eq!(store.saves.load(Ordering::SeqCst), 1);

    let response = get_with(&app, "/", Some(&cookie)).await;
    assert!(set_cookie(&response).is_none(), "same id: no new cookie");
    assert_eq!(body(response).await, "2");
    let response = get_with(&app, "/flashes", Some(&cookie)).await;
    assert_eq!(
        body(response).await,
        r#"[Info("counted"), Info("counted")]"#
    );
    let record = store
        .records
        .lock()
        .unwrap()
        .values()
        .next()
        .cloned()
        .unwrap();
    let mut keys: Vec<_> = record.entries.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["visits"], "the popped flash queue was deleted");
}

/// A request whose session's record is deleted while it runs (a sign-out on another
/// device): its changes are discarded, and the response says so: `409` with no cookie by
/// default, or, with `on_discarded(None)`, the handler's response with `Saved::Discarded`
/// in its extensions.
#[tokio::test]
async fn a_discarded_save_is_visible_on_the_response() {
    let store = MapStore::default();
    let records = store.records.clone();
    let deleted_meanwhile = move |session: SessionHandle| async move {
        session.lock().insert("cart", "tea");
        records.lock().unwrap().clear();
        "added"
    };
    let app = Router::new()
        .route("/", get(visit))
        .route("/add", get(deleted_meanwhile))
        .layer(SessionLayer::new(map_factory(store.clone())));
    let cookie = set_cookie(&get_with(&app, "/", None).await).unwrap();
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(response.extensions().get::<typed_sessions::Saved>(), None);

    let response = get_with(&app, "/add", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(set_cookie(&response).is_none());
    assert!(store.records.lock().unwrap().is_empty(), "not resurrected");

    let store = MapStore::default();
    let records = store.records.clone();
    let deleted_meanwhile = move |session: SessionHandle| async move {
        session.lock().insert("cart", "tea");
        records.lock().unwrap().clear();
        "added"
    };
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .reissue_time(None)
        .on_discarded(None)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(visit))
        .route("/add", get(deleted_meanwhile))
        .layer(SessionLayer::new(factory));
    let cookie = set_cookie(&get_with(&app, "/", None).await).unwrap();
    let response = get_with(&app, "/add", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.extensions().get::<typed_sessions::Saved>(),
        Some(&typed_sessions::Saved::Discarded)
    );
    assert!(set_cookie(&response).is_none());
    assert!(store.records.lock().unwrap().is_empty(), "not resurrected");
}

#[tokio::test]
async fn sign_in_regenerates_the_id_and_sign_out_kills_it() {
    let store = MapStore::default();
    let app = app(map_factory(store.clone()), 1);
    let planted = set_cookie(&get_with(&app, "/", None).await).unwrap();
    let response = get_with(&app, "/sign-in", Some(&planted)).await;
    let signed_in = set_cookie(&response).expect("a new id");
    assert_ne!(signed_in, planted);
    assert_eq!(body(get_with(&app, "/", Some(&signed_in)).await).await, "2");
    // The planted id no longer opens the signed-in session.
    assert_eq!(body(get_with(&app, "/", Some(&planted)).await).await, "1");

    let response = get_with(&app, "/sign-out", Some(&signed_in)).await;
    let header = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(header.contains("Max-Age=0"), "{header}");
    assert_eq!(body(get_with(&app, "/", Some(&signed_in)).await).await, "1");
}

#[tokio::test]
async fn an_unreachable_store_answers_503_and_overwrites_nothing() {
    let store = MapStore::default();
    let app = app(map_factory(store.clone()), 1);
    let cookie = set_cookie(&get_with(&app, "/", None).await).unwrap();
    let before = store.records.lock().unwrap().clone();

    store.fail_loads.store(true, Ordering::SeqCst);
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookie(&response).is_none());
    assert_eq!(
        store.saves.load(Ordering::SeqCst),
        1,
        "no save after a failed load"
    );
    // A handler that does not take the session still works.
    assert_eq!(
        get_with(&app, "/health", Some(&cookie)).await.status(),
        StatusCode::OK
    );

    store.fail_loads.store(false, Ordering::SeqCst);
    store.fail_saves.store(true, Ordering::SeqCst);
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the save failed"
    );
    assert!(set_cookie(&response).is_none());
    assert_eq!(*store.records.lock().unwrap(), before);
}

#[tokio::test]
async fn an_unreachable_redis_answers_503() {
    let store = typed_sessions::store::RedisStore::connect("redis://127.0.0.1:1/")
        .await
        .unwrap();
    let factory = ServerSessionFactory::builder(SECRET, store)
        .build()
        .unwrap();
    // A well-signed id, so the layer must ask Redis.
    let cookie = {
        let memory = ServerSessionFactory::builder(SECRET, MemoryStore::new())
            .build()
            .unwrap();
        let mut session = memory.load(&http::HeaderMap::new()).await.unwrap();
        session.insert("x", 1);
        let mut headers = http::HeaderMap::new();
        memory.save(&session, &mut headers).await.unwrap();
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let app = app(factory, 1);
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // No cookie: a new session would be saved, and Redis is down for that too.
    let response = get_with(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookie(&response).is_none());
}

#[tokio::test]
async fn a_failed_request_is_not_saved_with_set_on_exception_false() {
    let store = MapStore::default();
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .set_on_exception(false)
        .build()
        .unwrap();
    let app = app(factory, 1);
    let response = get_with(&app, "/fail", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookie(&response).is_none());
    assert_eq!(store.saves.load(Ordering::SeqCst), 0);
}

async fn concurrent_requests_through_the_layer<S: SessionStore + Clone>(store: S) {
    const WRITERS: usize = 8;
    let factory = ServerSessionFactory::builder(SECRET, store)
        .reissue_time(None)
        .build()
        .unwrap();
    let app = app(factory, WRITERS);
    let cookie = set_cookie(&get_with(&app, "/", None).await).unwrap();
    let requests = (0..WRITERS).map(|i| {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { get_with(&app, &format!("/set/k{i}"), Some(&cookie)).await })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap().status(), StatusCode::OK);
    }
    // One more request reads every key the concurrent requests wrote.
    let response = get_with(&app, "/keys", Some(&cookie)).await;
    // The first visit's counter and flash queue, and one key per writer.
    let expected: Vec<String> = ["_f_info".to_owned()]
        .into_iter()
        .chain((0..WRITERS).map(|i| format!("k{i}")))
        .chain(["visits".to_owned()])
        .collect();
    assert_eq!(
        body(response).await,
        expected.join(","),
        "every writer's key survived"
    );
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(body(response).await, "2", "the first visit survived too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_session_lose_nothing_on_a_user_store() {
    let store = MapStore::default();
    concurrent_requests_through_the_layer(store.clone()).await;
    let record = store
        .records
        .lock()
        .unwrap()
        .values()
        .next()
        .cloned()
        .unwrap();
    for i in 0..8 {
        let key = format!("k{i}");
        assert!(
            record.entries.iter().any(|(k, v)| *k == key && v == "true"),
            "{key} lost: {:?}",
            record.entries
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_session_lose_nothing_on_the_memory_store() {
    concurrent_requests_through_the_layer(MemoryStore::new()).await;
}

#[test]
fn the_layer_type_names_its_factory() {
    let factory = ServerSessionFactory::builder(SECRET, MemoryStore::new())
        .build()
        .unwrap();
    let layer: SessionLayer<ServerSessionFactory<MemoryStore>> = SessionLayer::new(factory);
    assert_eq!(layer.factory().cookie_name(), "session");
}

#[tokio::test]
async fn a_real_redis_runs_through_the_layer() {
    let factory = ServerSessionFactory::builder(SECRET, store_common::redis_store().await)
        .reissue_time(None)
        .build()
        .unwrap();
    let app = app(factory, 1);
    let response = get_with(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response).expect("a new session sets its id cookie");
    assert_eq!(body(response).await, "1");
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert!(set_cookie(&response).is_none(), "same id: no new cookie");
    assert_eq!(body(response).await, "2");
    let response = get_with(&app, "/flashes", Some(&cookie)).await;
    assert_eq!(
        body(response).await,
        r#"[Info("counted"), Info("counted")]"#
    );
    // Signing out deletes the server state: the old id no longer carries the visits.
    let response = get_with(&app, "/sign-out", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(body(response).await, "1", "the old id starts over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_session_lose_nothing_on_redis() {
    concurrent_requests_through_the_layer(store_common::redis_store().await).await;
}

/// Visits, flashes and a sign-out through the layer on `store`.
async fn a_store_runs_through_the_layer<S: SessionStore>(store: S) {
    let factory = ServerSessionFactory::builder(SECRET, store)
        .reissue_time(None)
        .build()
        .unwrap();
    let app = app(factory, 1);
    let response = get_with(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response).expect("a new session sets its id cookie");
    assert_eq!(body(response).await, "1");
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert!(set_cookie(&response).is_none(), "same id: no new cookie");
    assert_eq!(body(response).await, "2");
    let response = get_with(&app, "/flashes", Some(&cookie)).await;
    assert_eq!(
        body(response).await,
        r#"[Info("counted"), Info("counted")]"#
    );
    let response = get_with(&app, "/sign-in", Some(&cookie)).await;
    let signed_in = set_cookie(&response).expect("a new id at sign-in");
    assert_eq!(body(get_with(&app, "/", Some(&signed_in)).await).await, "3");
    assert_eq!(
        body(get_with(&app, "/", Some(&cookie)).await).await,
        "1",
        "the old id is dead"
    );
    let response = get_with(&app, "/sign-out", Some(&signed_in)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = get_with(&app, "/", Some(&signed_in)).await;
    assert_eq!(body(response).await, "1", "the signed-out id starts over");
}

#[tokio::test]
async fn sqlite_runs_through_the_layer() {
    a_store_runs_through_the_layer(store_common::sqlite_store().await).await;
}

#[tokio::test]
async fn postgres_runs_through_the_layer() {
    a_store_runs_through_the_layer(store_common::postgres_store().await).await;
}

#[tokio::test]
async fn a_redis_cluster_runs_through_the_layer() {
    let store =
        typed_sessions::store::RedisStore::connect_cluster(store_common::redis_cluster_urls())
            .await
            .unwrap()
            .with_prefix(format!("session-test:{}:", store_common::random_tag()));
    a_store_runs_through_the_layer(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_session_lose_nothing_on_sqlite() {
    concurrent_requests_through_the_layer(store_common::sqlite_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_session_lose_nothing_on_postgres() {
    concurrent_requests_through_the_layer(store_common::postgres_store().await).await;
}

#[tokio::test]
async fn an_unreachable_postgres_answers_503() {
    let store = typed_sessions::store::PostgresStore::connect("postgres://app:pw@127.0.0.1:1/app")
        .await
        .unwrap();
    let factory = ServerSessionFactory::builder(SECRET, store)
        .build()
        .unwrap();
    let app = app(factory, 1);
    // No cookie: the new session's save needs the database.
    let response = get_with(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookie(&response).is_none());
    assert_eq!(
        get_with(&app, "/health", None).await.status(),
        StatusCode::OK,
        "a handler without the session still works"
    );
}

/// A pool of one connection that gives up waiting for it after 300 ms.
fn one_connection() -> sqlx::pool::PoolOptions<sqlx::Sqlite> {
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(300))
}

/// A SQLite file of its own, with a busy timeout of 300 ms.
fn sqlite_options() -> sqlx::sqlite::SqliteConnectOptions {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("session-held-{}.db", store_common::random_tag()));
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_millis(300))
}

/// A migrated `SqliteStore` on `options`, loading through one pool of one connection and
/// writing through another, as `SqliteStore::connect` does.
async fn store_with_own_writer(
    options: &sqlx::sqlite::SqliteConnectOptions,
) -> typed_sessions::store::SqliteStore {
    let store = typed_sessions::store::SqliteStore::with_writer(
        one_connection().connect_lazy_with(options.clone()),
        one_connection().connect_lazy_with(options.clone()),
    );
    store.migrate().await.unwrap();
    store
}

/// Another connection to the file on `options` that holds SQLite's write lock until it
/// runs `ROLLBACK`.
async fn hold_write_lock(
    options: &sqlx::sqlite::SqliteConnectOptions,
) -> sqlx::sqlite::SqliteConnection {
    use sqlx::Connection;
    let mut other = sqlx::sqlite::SqliteConnection::connect_with(options)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    other
}

/// With the test holding the store's only connection for loads, the factory's load is
/// `StoreError::Unavailable` and the axum layer answers `503` with no `Set-Cookie`; with it
/// holding the only connection for saves (taken after the load), the save is. `loads` and
/// `saves` are the store's pools (the same pool for PostgreSQL, so the layer's save is
/// checked only where they differ). Released, both work again.
async fn held_connections_are_unavailable<S, DB>(
    store: S,
    loads: &sqlx::Pool<DB>,
    saves: &sqlx::Pool<DB>,
) where
    S: SessionStore + Clone,
    DB: sqlx::Database,
{
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .build()
        .unwrap();
    let app = app(
        ServerSessionFactory::builder(SECRET, store)
            .build()
            .unwrap(),
        1,
    );
    let cookie = set_cookie(&get_with(&app, "/", None).await).expect("a new session");
    let request = store_common::request(&cookie);

    let held = loads.acquire().await.unwrap();
    let err = factory.load(&request).await.unwrap_err();
    assert!(err.is_unavailable(), "load: {err:?}");
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "load");
    assert!(set_cookie(&response).is_none());
    drop(held);

    let mut session = factory.load(&request).await.unwrap();
    session.insert("touched", true);
    let held = saves.acquire().await.unwrap();
    let mut headers = http::HeaderMap::new();
    let err = factory.save(&session, &mut headers).await.unwrap_err();
    assert!(err.is_unavailable(), "save: {err:?}");
    assert!(headers.is_empty(), "no Set-Cookie after a failed save");
    if !std::ptr::eq(loads, saves) {
        let response = get_with(&app, "/", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "save");
        assert!(set_cookie(&response).is_none());
    }
    drop(held);

    factory.save(&session, &mut headers).await.unwrap();
    assert_eq!(
        get_with(&app, "/", Some(&cookie)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_exhausted_sqlite_pool_answers_503() {
    let pool = one_connection().connect_lazy_with(sqlite_options());
    let store = typed_sessions::store::SqliteStore::new(pool.clone());
    store.migrate().await.unwrap();
    held_connections_are_unavailable(store, &pool, &pool).await;
}

/// A store with a writer of its own keeps that connection; a save that waits for it longer
/// than the writer pool's acquire timeout (here behind a save that waits out SQLite's busy
/// timeout, another connection holding the write lock) is `StoreError::Unavailable`, as a
/// save waiting for an exhausted pool is. Released, saves work again.
#[tokio::test]
async fn a_save_queued_behind_the_writer_past_the_timeout_is_unavailable() {
    let options = sqlite_options().busy_timeout(std::time::Duration::from_millis(900));
    let store = store_with_own_writer(&options).await;
    let factory = ServerSessionFactory::builder(SECRET, store)
        .build()
        .unwrap();
    let mut sessions = Vec::new();
    for n in 0..2 {
        let mut session = factory.load(&http::HeaderMap::new()).await.unwrap();
        session.insert("n", n);
        let mut headers = http::HeaderMap::new();
        factory.save(&session, &mut headers).await.unwrap();
        let cookie = store_common::set_cookie(&headers).expect("a new session");
        let mut session = factory.load(&store_common::request(&cookie)).await.unwrap();
        session.insert("touched", true);
        sessions.push(session);
    }

    let mut other = hold_write_lock(&options).await;
    let (mut first_headers, mut second_headers) = (http::HeaderMap::new(), http::HeaderMap::new());
    let (first, second) = tokio::join!(factory.save(&sessions[0], &mut first_headers), async {
        // Behind the first save, which holds the writer for the 900 ms busy timeout.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        factory.save(&sessions[1], &mut second_headers).await
    },);
    let (first, second) = (first.unwrap_err(), second.unwrap_err());
    assert!(
        first.is_unavailable(),
        "the save that waited for SQLite's lock: {first:?}"
    );
    assert!(
        second.is_unavailable(),
        "the save that waited for the writer: {second:?}"
    );
    assert!(second.to_string().contains("timed out"), "{second}");

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    for session in &sessions {
        factory
            .save(session, &mut http::HeaderMap::new())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_exhausted_postgres_pool_answers_503() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(300))
        .connect(&store_common::postgres_url())
        .await
        .expect("PostgreSQL at POSTGRES_URL: start one with scripts/postgres.sh");
    let store = typed_sessions::store::PostgresStore::new(pool.clone())
        .with_table_name(&format!("held_{}", store_common::random_tag()))
        .unwrap();
    store.migrate().await.unwrap();
    held_connections_are_unavailable(store, &pool, &pool).await;
}

/// Another connection (another process, in production) holds SQLite's write lock longer
/// than the busy timeout: the save is `StoreError::Unavailable` and the layer answers `503`
/// with no `Set-Cookie`, while loads, which WAL mode lets read, still work; once the lock is
/// released, saves work again.
#[tokio::test]
async fn a_sqlite_write_lock_held_elsewhere_answers_503() {
    let options = sqlite_options();
    let store = store_with_own_writer(&options).await;
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .build()
        .unwrap();
    let app = app(
        ServerSessionFactory::builder(SECRET, store)
            .build()
            .unwrap(),
        1,
    );
    let cookie = set_cookie(&get_with(&app, "/", None).await).expect("a new session");
    let request = store_common::request(&cookie);

    let mut other = hold_write_lock(&options).await;
    let mut session = factory.load(&request).await.expect("reads go on under WAL");
    session.insert("touched", true);
    let mut headers = http::HeaderMap::new();
    let err = factory.save(&session, &mut headers).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(headers.is_empty());
    let response = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookie(&response).is_none());

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    factory.save(&session, &mut headers).await.unwrap();
    assert_eq!(
        get_with(&app, "/", Some(&cookie)).await.status(),
        StatusCode::OK
    );
}
