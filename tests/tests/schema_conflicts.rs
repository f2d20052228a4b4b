//! Schema fields with a conflict policy (#22), through the derive and a server factory: two
//! requests that load one session and both change a `merge` field both count, and the
//! later save of a `reject` field fails with `StoreError::Conflict` (a `409`), writing
//! nothing.
//!
//! The same over HTTP, through the axum layer: of two requests setting a `reject` field
//! at once, one is done and the other answered `409`, and the stored value is the one
//! acknowledged.
//!
//! Then the lost-update figure BENCHMARKS.md quotes: [`WRITERS`] concurrent requests of one
//! session each add one product [`ADDS`] times (load, change, a yield where a handler
//! would await, save; a conflict is retried), once with a cart that merges and once with
//! one that overwrites (the behaviour before #22); each prints the adds acknowledged and
//! what the cart holds. On every server store: memory, Redis, Redis Cluster, SQLite and
//! PostgreSQL (`REDIS_URL`, `REDIS_CLUSTER_URLS`, `POSTGRES_URL`, see `store_common`;
//! never skipped).

mod store_common;

use std::sync::Arc;

use http::HeaderMap;
use typed_sessions::store::{AnyStore, MemoryStore, SessionStore, StoreError};
use typed_sessions::{ManualClock, ServerSessionFactory, SessionSchema};
use typed_sessions_examples::shop::state::{CartLine, merge_cart};

/// Counters that add up, and a name two requests must not both set.
fn add_visits(base: u32, ours: u32, theirs: u32) -> u32 {
    theirs + ours.saturating_sub(base)
}

#[derive(SessionSchema)]
#[allow(dead_code)] // read through the accessors only
struct Visits {
    #[session(default, merge = add_visits)]
    visits: u32,
    #[session(on_conflict = "reject")]
    name: Option<String>,
    note: Option<String>,
}

fn factory<S: SessionStore>(store: S) -> ServerSessionFactory<S> {
    store_common::factory(store, &ManualClock::new(store_common::NOW))
}

async fn save<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    session: &typed_sessions::Session,
) -> Result<(), StoreError> {
    factory.save(session, &mut HeaderMap::new()).await.map(drop)
}

#[tokio::test]
async fn two_requests_changing_a_merge_field_both_count() {
    let factory = factory(MemoryStore::new());
    let cookie = store_common::seed(&factory, serde_json::json!({"visits": 10})).await;
    let mut first = store_common::load(&factory, &cookie).await;
    let mut second = store_common::load(&factory, &cookie).await;
    *first.visits_mut().unwrap() += 1;
    *second.visits_mut().unwrap() += 5;
    save(&factory, &first).await.unwrap();
    save(&factory, &second).await.unwrap();
    let after = store_common::load(&factory, &cookie).await;
    assert_eq!(after.visits().unwrap(), 16);
}

#[tokio::test]
async fn the_later_save_of_a_reject_field_is_a_conflict_and_writes_nothing() {
    let factory = factory(MemoryStore::new());
    let cookie = store_common::seed(&factory, serde_json::json!({"note": "seeded"})).await;
    let mut first = store_common::load(&factory, &cookie).await;
    let mut second = store_common::load(&factory, &cookie).await;
    first.set_name(Some("ada".into())).unwrap();
    second.set_name(Some("grace".into())).unwrap();
    *second.visits_mut().unwrap() += 1;
    second.set_note(Some("second".into())).unwrap();
    save(&factory, &first).await.unwrap();
    let err = save(&factory, &second).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { keys } if keys.iter().any(|k| k.key == "name")),
        "{err}"
    );
    assert_eq!(err.status(), http::StatusCode::CONFLICT);
    let after = store_common::load(&factory, &cookie).await;
    assert_eq!(after.name().unwrap().as_deref(), Some("ada"));
    assert_eq!(after.visits().unwrap(), 0, "nothing of the failed save");
    assert_eq!(after.note().unwrap().as_deref(), Some("seeded"));
}

/// Sets the `reject` field `name`, then waits until both requests of the test have loaded
/// the session (and set theirs) before either saves.
async fn set_name(
    axum::extract::State(barrier): axum::extract::State<Arc<tokio::sync::Barrier>>,
    session: typed_sessions::axum::SessionHandle,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<&'static str, typed_sessions::SessionError> {
    session.lock().set_name(Some(name))?;
    barrier.wait().await;
    Ok("set")
}

async fn get_name(
    session: typed_sessions::axum::SessionHandle,
) -> Result<String, typed_sessions::SessionError> {
    Ok(session.lock().name()?.unwrap_or_default())
}

#[tokio::test]
async fn over_http_the_losing_request_of_a_reject_field_is_answered_409() {
    use tower::ServiceExt;

    let store = MemoryStore::new();
    let cookie = store_common::seed(
        &factory(store.clone()),
        serde_json::json!({"note": "seeded"}),
    )
    .await;
    let app = axum::Router::new()
        .route("/name", axum::routing::get(get_name))
        .route("/name/{name}", axum::routing::post(set_name))
        .with_state(Arc::new(tokio::sync::Barrier::new(2)))
        .layer(typed_sessions::axum::SessionLayer::new(factory(store)));
    let request = |method: &str, path: &str| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", &cookie)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (ada, grace) = tokio::join!(
        app.clone().oneshot(request("POST", "/name/ada")),
        app.clone().oneshot(request("POST", "/name/grace")),
    );
    let answers = [("ada", ada.unwrap()), ("grace", grace.unwrap())];
    let statuses: Vec<_> = answers.iter().map(|(_, answer)| answer.status()).collect();
    let winner = match statuses[..] {
        [http::StatusCode::OK, http::StatusCode::CONFLICT] => "ada",
        [http::StatusCode::CONFLICT, http::StatusCode::OK] => "grace",
        _ => panic!("one request done and one 409, not {statuses:?}"),
    };
    for (_, answer) in &answers {
        if answer.status() == http::StatusCode::CONFLICT {
            assert!(
                answer.headers().get("set-cookie").is_none(),
                "a 409 sets no cookie"
            );
        }
    }
    let stored = app.oneshot(request("GET", "/name")).await.unwrap();
    let bytes = axum::body::to_bytes(stored.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes, winner.as_bytes(), "the acknowledged name is kept");
}

/// The shop's cart, with its merge.
#[derive(SessionSchema)]
#[allow(dead_code)]
struct Merged {
    #[session(default, merge = merge_cart)]
    cart: Vec<CartLine>,
}

/// The same key without a policy: the last save wins, as before #22.
#[derive(SessionSchema)]
#[allow(dead_code)]
struct Overwritten {
    #[session(default)]
    cart: Vec<CartLine>,
}

/// Concurrent requests of one session, each adding one product this many times.
const WRITERS: usize = 16;
const ADDS: usize = 15;

/// One cart's change, as the two schemas make it.
trait Cart: Send + Sync + 'static {
    fn add(&self, session: &mut typed_sessions::Session, product: &str);
    fn total(&self, session: &typed_sessions::Session) -> usize;
}

fn add_line(cart: &mut Vec<CartLine>, product: &str) {
    match cart.iter_mut().find(|line| line.product == product) {
        Some(line) => line.qty += 1,
        None => cart.push(CartLine {
            product: product.to_owned(),
            qty: 1,
        }),
    }
}

struct WithMerge;
impl Cart for WithMerge {
    fn add(&self, session: &mut typed_sessions::Session, product: &str) {
        add_line(&mut MergedExt::cart_mut(session).unwrap(), product);
    }
    fn total(&self, session: &typed_sessions::Session) -> usize {
        let cart = MergedExt::cart(session).unwrap();
        cart.iter().map(|line| line.qty as usize).sum()
    }
}

struct WithOverwrite;
impl Cart for WithOverwrite {
    fn add(&self, session: &mut typed_sessions::Session, product: &str) {
        add_line(&mut OverwrittenExt::cart_mut(session).unwrap(), product);
    }
    fn total(&self, session: &typed_sessions::Session) -> usize {
        let cart = OverwrittenExt::cart(session).unwrap();
        cart.iter().map(|line| line.qty as usize).sum()
    }
}

/// The load on `store` with `cart`: (adds acknowledged, what the cart holds).
async fn concurrent_adds<C: Cart>(store: AnyStore, cart: C) -> (usize, usize) {
    let factory = Arc::new(factory(store));
    let cart = Arc::new(cart);
    let cookie = store_common::seed(&factory, serde_json::json!({"seeded": true})).await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (factory, cart, cookie) = (factory.clone(), cart.clone(), cookie.clone());
        writers.push(tokio::spawn(async move {
            let product = format!("product-{}", writer % 4);
            let mut acknowledged = 0;
            while acknowledged < ADDS {
                // A pool busy past its timeout on a loaded machine: tried again.
                let mut session = match factory.load(&store_common::request(&cookie)).await {
                    Ok(session) => session,
                    Err(StoreError::Unavailable { .. }) => continue,
                    Err(err) => panic!("{err}"),
                };
                cart.add(&mut session, &product);
                // Where a handler awaits its database: other requests run meanwhile.
                tokio::task::yield_now().await;
                // The save's future holds no borrow of the session, which is not `Sync`.
                let mut response = HeaderMap::new();
                let saved = factory.save(&session, &mut response);
                drop(session);
                match saved.await {
                    Ok(_) => acknowledged += 1,
                    Err(StoreError::Conflict { .. }) => continue,
                    // A pool busy past its timeout on a loaded machine, as in the load:
                    // not done, so tried again (had it written anyway, the cart would hold
                    // more than was acknowledged, and the test fail).
                    Err(StoreError::Unavailable { .. }) => continue,
                    Err(err) => panic!("{err}"),
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = 0;
    for writer in writers {
        acknowledged += writer.await.unwrap();
    }
    let after = store_common::load(&factory, &cookie).await;
    (acknowledged, cart.total(&after))
}

/// Runs the load with both carts on a fresh store from `connect` each time, prints the
/// figures, and checks that the merging cart holds every acknowledged add.
async fn lost_updates(kind: &str, connect: impl AsyncFn() -> AnyStore) {
    let (acked, held) = concurrent_adds(connect().await, WithOverwrite).await;
    println!(
        "lost updates, {kind}, on_conflict = \"overwrite\": {acked} adds acknowledged, the cart \
         holds {held} ({} lost)",
        acked.saturating_sub(held)
    );
    let (acked, held) = concurrent_adds(connect().await, WithMerge).await;
    println!(
        "lost updates, {kind}, merge = merge_cart: {acked} adds acknowledged, the cart holds \
         {held} ({} lost)",
        acked.saturating_sub(held)
    );
    assert_eq!(acked, WRITERS * ADDS);
    assert_eq!(held, acked, "{kind}: every acknowledged add is in the cart");
}

/// `url` through `AnyStore::connect`; Redis keys under a prefix of the test's own.
async fn connect(url: &str) -> AnyStore {
    match AnyStore::connect(url).await.unwrap() {
        AnyStore::Redis(redis) => AnyStore::Redis(
            redis.with_prefix(format!("session-test:{}:", store_common::random_tag())),
        ),
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_add_is_lost_on_memory() {
    lost_updates("memory", async || connect("memory:").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_add_is_lost_on_redis() {
    lost_updates("Redis", async || connect(&store_common::redis_url()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_add_is_lost_on_redis_cluster() {
    let urls = store_common::redis_cluster_urls().join(",");
    lost_updates("Redis Cluster", async || connect(&urls).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_add_is_lost_on_sqlite() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("conflicts-{}.db", store_common::random_tag()));
    let url = format!("sqlite://{}", path.display());
    lost_updates("SQLite", async || connect(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_add_is_lost_on_postgres() {
    lost_updates("PostgreSQL", async || {
        connect(&store_common::postgres_url()).await
    })
    .await;
}
