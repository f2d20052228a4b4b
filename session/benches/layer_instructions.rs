//! Instruction counts (iai-callgrind) of one request through the same axum router with and
//! without `SessionLayer`, for a handler that never touches the session: the layer's own
//! cost, exactly (`layer.rs` has the wall time).
//!
//! `bench/instructions`, or `cargo bench -p session --features axum --bench layer_instructions`

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use http::Request;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use session::HashAlg;
use session::axum::SessionLayer;
use tokio::runtime::Runtime;
use tower::ServiceExt;

mod fixtures;

async fn untouched() -> &'static str {
    "ok"
}

/// A router, a runtime and a request with a 1 KiB session cookie, built outside the count
/// (and leaked, so their drops are not counted either); one warm call first, so one-time
/// work is not counted.
fn input(layer: bool) -> (&'static Router, &'static Runtime, Request<Body>) {
    let factory = fixtures::factory(HashAlg::Sha512);
    let cookie = format!("session={}", fixtures::cookie_of_size(&factory, 1024));
    let request = || {
        Request::get("/")
            .header("cookie", cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let mut router = Router::new().route("/", get(untouched));
    if layer {
        router = router.layer(SessionLayer::new(factory));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime.block_on(router.clone().oneshot(request())).unwrap();
    assert!(!response.headers().contains_key("set-cookie"));
    (
        Box::leak(Box::new(router)),
        Box::leak(Box::new(runtime)),
        request(),
    )
}

#[library_benchmark]
#[bench::without_layer(input(false))]
#[bench::with_layer(input(true))]
fn untouched_request(
    (router, runtime, request): (&'static Router, &'static Runtime, Request<Body>),
) -> Response {
    black_box(runtime.block_on(router.clone().oneshot(request)).unwrap())
}

library_benchmark_group!(name = layer; benchmarks = untouched_request);

main!(library_benchmark_groups = layer);
