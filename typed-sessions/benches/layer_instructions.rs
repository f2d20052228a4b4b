//! Instruction counts (iai-callgrind) of one request through the same axum router with and
//! without `SessionLayer`, for a handler that never touches the session (the layer's own
//! cost, exactly), and through the layer for a handler that reads and changes the session
//! (`layer.rs` has the wall time).
//!
//! `bench/instructions`, or `cargo bench -p typed-sessions --features axum --bench layer_instructions`

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use http::Request;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use tokio::runtime::Runtime;
use tower::ServiceExt;
use tower::util::MapRequestLayer;
use typed_sessions::HashAlg;
use typed_sessions::axum::{SessionHandle, SessionLayer};

mod fixtures;
use fixtures::BenchSessionExt;

async fn untouched() -> &'static str {
    "ok"
}

async fn touched(session: SessionHandle) -> &'static str {
    let mut s = session.lock();
    black_box(s.user_id().unwrap());
    *s.views_mut().unwrap() += 1;
    "ok"
}

/// A router, a runtime and a request with a 1 KiB session cookie, built outside the count
/// (and leaked, so their drops are not counted either); one warm call first, so one-time
/// work is not counted.
fn input(route: Route) -> (&'static Router, &'static Runtime, Request<Body>) {
    let factory = fixtures::factory(HashAlg::Sha512);
    let cookie = format!("session={}", fixtures::cookie_of_size(&factory, 1024));
    let request = || {
        Request::get("/")
            .header("cookie", cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let router = match route {
        Route::Plain => Router::new().route("/", get(untouched)),
        Route::NoopLayer => Router::new()
            .route("/", get(untouched))
            .layer(MapRequestLayer::new(
                std::convert::identity::<Request<Body>>,
            )),
        Route::Untouched => Router::new()
            .route("/", get(untouched))
            .layer(SessionLayer::new(factory)),
        Route::Session => Router::new()
            .route("/", get(touched))
            .layer(SessionLayer::new(factory)),
        Route::SessionShopOptions => {
            Router::new()
                .route("/", get(touched))
                .layer(SessionLayer::new(fixtures::factory_with(
                    HashAlg::Sha512,
                    |builder| {
                        builder
                            .events(|event: &typed_sessions::events::Event| {
                                tracing::info!(event = event.kind.as_str(), "session event");
                            })
                            .reissue_time(std::time::Duration::from_secs(60))
                            .flash_queue_cap(20)
                    },
                )))
        }
    };
    // As `axum::serve` (`into_make_service`) does: the handlers become routes, and the
    // layer wraps them, once; without it a `Router<()>` called as a service does both per
    // request.
    let router = router.with_state(());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (router, runtime) = (Box::leak(Box::new(router)), Box::leak(Box::new(runtime)));
    let request_counted = request();
    // A served request's header values share the connection's read buffer (hyper slices
    // them out of it), so cloning one is a reference count; a value built from a `&str`
    // is copied into its own buffer instead, and its first clone allocates the count.
    // Made here, outside the count, as hyper would have.
    std::mem::forget(request_counted.headers().get("cookie").cloned());
    // The warm call last, so that the allocator's caches are as a server's are between
    // two requests.
    let response = runtime.block_on(router.clone().oneshot(request())).unwrap();
    let saved = response.headers().contains_key("set-cookie");
    assert_eq!(
        saved,
        matches!(route, Route::Session | Route::SessionShopOptions)
    );
    drop(response);
    (router, runtime, request_counted)
}

/// What the request goes through.
enum Route {
    /// No layer, a handler that does not take the session.
    Plain,
    /// A layer that does nothing (tower's `MapRequest` with the identity), the same
    /// handler: what axum's routing of any layer costs.
    NoopLayer,
    /// The layer, the same handler.
    Untouched,
    /// The layer, a handler that reads the user id and bumps `views` (the cycle of
    /// `instructions.rs`, through axum).
    Session,
    /// The same with the Tea Shop's options, which `load_server` (`bench/wrk.sh`) uses: an
    /// event hook that logs through `tracing` (no subscriber here, as in `load_server`),
    /// `reissue_time(60 s)` and a flash-queue cap.
    SessionShopOptions,
}

#[library_benchmark]
#[bench::without_layer(input(Route::Plain))]
#[bench::noop_layer(input(Route::NoopLayer))]
#[bench::with_layer(input(Route::Untouched))]
#[bench::session(input(Route::Session))]
#[bench::session_shop_options(input(Route::SessionShopOptions))]
fn request(
    (router, runtime, request): (&'static Router, &'static Runtime, Request<Body>),
) -> Response {
    black_box(runtime.block_on(router.clone().oneshot(request)).unwrap())
}

library_benchmark_group!(name = layer; benchmarks = request);

main!(library_benchmark_groups = layer);
