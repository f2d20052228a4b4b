//! The axum layer's own cost, through tower: the same router with and without
//! `SessionLayer`, called with `oneshot` on a request carrying a 1 KiB session cookie, for a
//! handler that never touches the session and for one that reads and changes it.
//!
//! `cargo bench -p typed-sessions --features axum --bench layer`

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;
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

fn benches(c: &mut Criterion) {
    let factory = fixtures::factory(HashAlg::Sha512);
    let cookie = format!("session={}", fixtures::cookie_of_size(&factory, 1024));
    let request = || {
        Request::get("/")
            .header("cookie", cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let without = Router::new().route("/", get(untouched));
    let with = Router::new()
        .route("/", get(untouched))
        .layer(SessionLayer::new(fixtures::factory(HashAlg::Sha512)));
    let session = Router::new()
        .route("/", get(touched))
        .layer(SessionLayer::new(factory));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let call = |router: &Router| {
        let response = runtime.block_on(router.clone().oneshot(request())).unwrap();
        assert!(response.status().is_success());
        response
    };
    assert!(!call(&with).headers().contains_key("set-cookie"));
    assert!(call(&session).headers().contains_key("set-cookie"));

    let mut group = c.benchmark_group("layer");
    group.bench_function("untouched_without_layer", |b| b.iter(|| call(&without)));
    group.bench_function("untouched_with_layer", |b| b.iter(|| call(&with)));
    group.bench_function("session_with_layer", |b| b.iter(|| call(&session)));
    group.finish();
}

criterion_group! {
    name = layer;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(layer);
