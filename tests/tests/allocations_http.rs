//! Allocations and bytes allocated per request through each adapter (axum through tower's
//! `oneshot`, actix-web through its test service), counted by a global allocator: counts,
//! not timings, so they are exact on any machine. For each adapter: a route without the
//! session layer, and under it a route that never touches its session, one that reads the
//! user id, and one that also bumps a counter, of a 1 KiB state (a user id, a counter, a
//! CSRF token and a cart), on the signed cookie, the encrypted cookie and the memory store.
//!
//! `cargo test -p typed-sessions-tests --test allocations_http -- --nocapture` prints the
//! table BENCHMARKS.md quotes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;

use tower::ServiceExt;
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::MemoryStore;
use typed_sessions::{
    EncryptedCookieSessionFactory, ManualClock, ServerSessionFactory, Session,
    SignedCookieSessionFactory,
};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static COUNTS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn bump(bytes: usize) {
    COUNTS.with(|n| {
        let (count, total) = n.get();
        n.set((count + 1, total + bytes));
    });
}

// SAFETY: delegates to the system allocator; only counts calls and requested sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes requested while `f` runs, on this thread.
fn count<T>(f: impl FnOnce() -> T) -> ((usize, usize), T) {
    let before = COUNTS.with(Cell::get);
    let out = f();
    let after = COUNTS.with(Cell::get);
    ((after.0 - before.0, after.1 - before.1), out)
}

const NOW: f64 = 1_700_000_000.0;
const SECRET: &str = "a secret of at least thirty-two bytes";

/// The 1 KiB state: user id, counter, CSRF token, a cart of 12 items.
fn fill(session: &mut Session) {
    let cart: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "name": format!("Product number {i}"), "qty": 1, "price_cents": 199}))
        .collect();
    session.insert("user_id", 48_213);
    session.insert("views", 17);
    session.insert("_csrft_", "0123456789abcdef0123456789abcdef01234567");
    session.insert("cart", cart);
}

fn read(session: &Session) -> u64 {
    session.get_as::<u64>("user_id").unwrap().unwrap()
}

fn bump_views(session: &mut Session) {
    let views: u64 = session.get_as("views").unwrap().unwrap();
    session.insert("views", views + 1);
}

/// The factories measured, by name.
fn factories() -> Vec<(&'static str, Factory)> {
    vec![
        (
            "signed cookie",
            Factory::Signed(Box::new(
                SignedCookieSessionFactory::builder(SECRET)
                    .clock(ManualClock::new(NOW))
                    .build()
                    .unwrap(),
            )),
        ),
        (
            "encrypted cookie",
            Factory::Encrypted(Box::new(
                EncryptedCookieSessionFactory::builder([7u8; 32])
                    .clock(ManualClock::new(NOW))
                    .build()
                    .unwrap(),
            )),
        ),
        (
            "memory store",
            Factory::Memory(Box::new(
                ServerSessionFactory::builder(SECRET, MemoryStore::new())
                    .clock(ManualClock::new(NOW))
                    .build()
                    .unwrap(),
            )),
        ),
    ]
}

enum Factory {
    Signed(Box<SignedCookieSessionFactory>),
    Encrypted(Box<EncryptedCookieSessionFactory>),
    Memory(Box<ServerSessionFactory<MemoryStore>>),
}

/// The routes, in the table's order.
const ROUTES: [&str; 3] = ["untouched", "read", "bump"];
/// What each route does, as the table says it.
const LABELS: [&str; 3] = ["untouched", "read", "read + mutate"];

/// One adapter's figures: the route without the layer, then each factory's routes.
struct Figures {
    plain: (usize, usize),
    /// Under a layer (a middleware) that does nothing: what the framework's routing of any
    /// layer costs. `None` where the framework adds nothing for one (actix-web).
    noop: Option<(usize, usize)>,
    rows: Vec<(&'static str, [(usize, usize); 3])>,
}

/// Counts `request` twice (after a warm one) and checks both counts agree.
fn steady(mut request: impl FnMut() -> (usize, usize)) -> (usize, usize) {
    request();
    let first = request();
    let second = request();
    assert_eq!(first, second, "the count is deterministic");
    first
}

/// The `name=value` pair of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

mod on_axum {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::Request;
    use typed_sessions::axum::{SessionHandle, SessionLayer};

    async fn seed(session: SessionHandle) -> &'static str {
        fill(&mut session.lock());
        "ok"
    }
    async fn untouched() -> &'static str {
        "ok"
    }
    async fn read_route(session: SessionHandle) -> &'static str {
        std::hint::black_box(read(&session.lock()));
        "ok"
    }
    async fn bump_route(session: SessionHandle) -> &'static str {
        bump_views(&mut session.lock());
        "ok"
    }

    fn router() -> Router {
        Router::new()
            .route("/seed", get(seed))
            .route("/untouched", get(untouched))
            .route("/read", get(read_route))
            .route("/bump", get(bump_route))
    }

    fn layered<F: SessionFactory>(factory: F) -> Router {
        // As `axum::serve` does, once: handlers into routes, the layer around them.
        router().layer(SessionLayer::new(factory)).with_state(())
    }

    /// One request's count, the request (and its cookie's shared bytes, as hyper leaves
    /// them) made outside the count.
    fn one(
        runtime: &tokio::runtime::Runtime,
        router: &Router,
        path: &str,
        cookie: &str,
    ) -> (usize, usize) {
        let mut builder = Request::get(path);
        if !cookie.is_empty() {
            builder = builder.header("cookie", cookie);
        }
        let request = builder.body(Body::empty()).unwrap();
        if let Some(value) = request.headers().get("cookie") {
            std::mem::forget(value.clone());
        }
        let router = router.clone();
        let (counts, response) = count(|| runtime.block_on(router.oneshot(request)).unwrap());
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        counts
    }

    fn seeded(runtime: &tokio::runtime::Runtime, router: &Router) -> String {
        let request = Request::get("/seed").body(Body::empty()).unwrap();
        let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
        pair(response.headers()["set-cookie"].to_str().unwrap())
    }

    pub fn figures() -> Figures {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let plain = router().with_state(());
        let plain = steady(|| one(&runtime, &plain, "/untouched", ""));
        let noop = router()
            .layer(tower::util::MapRequestLayer::new(
                std::convert::identity::<Request<Body>>,
            ))
            .with_state(());
        let noop = Some(steady(|| one(&runtime, &noop, "/untouched", "")));
        let rows = factories()
            .into_iter()
            .map(|(name, factory)| {
                let router = match factory {
                    Factory::Signed(f) => layered(*f),
                    Factory::Encrypted(f) => layered(*f),
                    Factory::Memory(f) => layered(*f),
                };
                let cookie = seeded(&runtime, &router);
                let counts = ROUTES
                    .map(|route| steady(|| one(&runtime, &router, &format!("/{route}"), &cookie)));
                (name, counts)
            })
            .collect();
        Figures { plain, noop, rows }
    }
}

mod on_actix {
    use super::*;
    use actix_web::dev::Service;
    use actix_web::{App, HttpMessage, HttpResponse, test, web};
    use typed_sessions::actix::{SessionHandle, SessionMiddleware};

    async fn seed(session: SessionHandle) -> HttpResponse {
        fill(&mut session.lock());
        HttpResponse::Ok().body("ok")
    }
    async fn untouched() -> HttpResponse {
        HttpResponse::Ok().body("ok")
    }
    async fn read_route(session: SessionHandle) -> HttpResponse {
        std::hint::black_box(read(&session.lock()));
        HttpResponse::Ok().body("ok")
    }
    async fn bump_route(session: SessionHandle) -> HttpResponse {
        bump_views(&mut session.lock());
        HttpResponse::Ok().body("ok")
    }

    fn routes(config: &mut web::ServiceConfig) {
        config
            .route("/seed", web::get().to(seed))
            .route("/untouched", web::get().to(untouched))
            .route("/read", web::get().to(read_route))
            .route("/bump", web::get().to(bump_route));
    }

    fn request(path: &str, cookie: &str) -> actix_http::Request {
        let mut builder = test::TestRequest::get().uri(path);
        if !cookie.is_empty() {
            builder = builder.insert_header(("cookie", cookie));
        }
        let request = builder.to_request();
        if let Some(value) = request.headers().get("cookie") {
            std::mem::forget(value.clone());
        }
        request
    }

    /// Counts each route of one app, after seeding its session.
    async fn measure<S, B>(app: S, seed_first: bool) -> Vec<(usize, usize)>
    where
        S: Service<
                actix_http::Request,
                Response = actix_web::dev::ServiceResponse<B>,
                Error = actix_web::Error,
            >,
    {
        let cookie = if seed_first {
            let response = app.call(request("/seed", "")).await.unwrap();
            pair(
                response
                    .headers()
                    .get("set-cookie")
                    .unwrap()
                    .to_str()
                    .unwrap(),
            )
        } else {
            String::new()
        };
        let paths: Vec<&str> = if seed_first {
            ROUTES.to_vec()
        } else {
            vec!["untouched"]
        };
        let mut out = Vec::new();
        for route in paths {
            let path = format!("/{route}");
            let mut counts = Vec::new();
            for _ in 0..3 {
                let request = request(&path, &cookie);
                let before = COUNTS.with(Cell::get);
                let response = app.call(request).await.unwrap();
                let after = COUNTS.with(Cell::get);
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                counts.push((after.0 - before.0, after.1 - before.1));
            }
            assert_eq!(counts[1], counts[2], "the count is deterministic");
            out.push(counts[1]);
        }
        out
    }

    /// The counts of every route through the middleware on `factory`.
    async fn layered<F: SessionFactory>(factory: F) -> Vec<(usize, usize)> {
        let app = App::new()
            .wrap(SessionMiddleware::new(factory))
            .configure(routes);
        measure(test::init_service(app).await, true).await
    }

    pub fn figures() -> Figures {
        actix_web::rt::System::new().block_on(async {
            let plain = measure(
                test::init_service(App::new().configure(routes)).await,
                false,
            )
            .await[0];
            let mut rows = Vec::new();
            for (name, factory) in factories() {
                let counts = match factory {
                    Factory::Signed(f) => layered(*f).await,
                    Factory::Encrypted(f) => layered(*f).await,
                    Factory::Memory(f) => layered(*f).await,
                };
                rows.push((name, [counts[0], counts[1], counts[2]]));
            }
            Figures {
                plain,
                noop: None,
                rows,
            }
        })
    }
}

fn table(adapter: &str, figures: &Figures) -> String {
    let mut out = String::new();
    let (plain_n, plain_b) = figures.plain;
    writeln!(
        out,
        "| {adapter}: allocations (bytes) per request | {} |",
        LABELS.join(" | ")
    )
    .unwrap();
    writeln!(out, "|---|{}", "---:|".repeat(LABELS.len())).unwrap();
    writeln!(out, "| no session layer | {plain_n} ({plain_b} B) |  |  |").unwrap();
    if let Some((n, b)) = figures.noop {
        writeln!(out, "| a layer that does nothing | {n} ({b} B) |  |  |").unwrap();
    }
    for (name, counts) in &figures.rows {
        let cells: Vec<String> = counts.iter().map(|(n, b)| format!("{n} ({b} B)")).collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }
    out
}

/// What the layer adds to a request that never touches its session: its shared request
/// session and the handle in the request's extensions, nothing that grows with the cookie.
const UNTOUCHED_EXTRA_ALLOCATIONS: usize = 2;

#[test]
fn allocations_per_request_through_each_adapter() {
    for (adapter, figures) in [
        ("axum", on_axum::figures()),
        ("actix-web", on_actix::figures()),
    ] {
        println!("{}", table(adapter, &figures));
        let floor = figures.noop.unwrap_or(figures.plain);
        for (name, [untouched, read, mutate]) in &figures.rows {
            assert!(
                untouched.0 <= floor.0 + UNTOUCHED_EXTRA_ALLOCATIONS,
                "{adapter}, {name}: {} allocations untouched against {} under a layer that \
                 does nothing",
                untouched.0,
                floor.0
            );
            // No cookie is parsed on the untouched route: its bytes are a few dozen, not
            // the cookie's kilobyte.
            assert!(
                untouched.1 < figures.plain.1 + 512,
                "{adapter}, {name}: {} B untouched against {} B without the layer",
                untouched.1,
                figures.plain.1
            );
            assert!(
                read.0 > untouched.0 && mutate.0 > untouched.0,
                "{adapter}, {name}"
            );
        }
    }
}
