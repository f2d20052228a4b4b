//! Instruction counts (iai-callgrind) of one request through the same actix-web app with
//! and without `SessionMiddleware`, for a handler that never touches the session (the
//! middleware's own cost, exactly), and through the middleware for a handler that reads and
//! changes the session: `layer_instructions.rs`'s three rows, for the actix-web adapter.
//!
//! `bench/instructions`, or `cargo bench -p typed-sessions --features actix --bench actix_instructions`

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::rt::SystemRunner;
use actix_web::{App, HttpMessage, HttpResponse, test, web};
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use typed_sessions::HashAlg;
use typed_sessions::actix::{SessionHandle, SessionMiddleware};

mod fixtures;
use fixtures::BenchSessionExt;

async fn untouched() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn touched(session: SessionHandle) -> HttpResponse {
    {
        let mut s = session.lock();
        black_box(s.user_id().unwrap());
        *s.views_mut().unwrap() += 1;
    }
    HttpResponse::Ok().body("ok")
}

/// The app as one object type, whichever its middleware (the same indirection for every
/// row, so the differences are the middleware's).
type Call = dyn Fn(actix_http::Request) -> Pin<Box<dyn Future<Output = ServiceResponse<BoxBody>>>>;

/// An app, a runtime and a request with a 1 KiB session cookie, built outside the count
/// (and leaked, so their drops are not counted either); one warm call first, so one-time
/// work is not counted.
fn input(route: Route) -> (&'static Call, &'static SystemRunner, actix_http::Request) {
    let factory = fixtures::factory(HashAlg::Sha512);
    let cookie = format!("session={}", fixtures::cookie_of_size(&factory, 1024));
    let request = || {
        test::TestRequest::get()
            .uri("/")
            .insert_header(("cookie", cookie.as_str()))
            .to_request()
    };
    let system: &'static SystemRunner = Box::leak(Box::new(actix_web::rt::System::new()));
    let call: Box<Call> = system.block_on(async {
        match route {
            Route::Plain => {
                let app = std::rc::Rc::new(
                    test::init_service(App::new().route("/", web::get().to(untouched))).await,
                );
                Box::new(move |request| {
                    let app = app.clone();
                    Box::pin(async move { app.call(request).await.unwrap().map_into_boxed_body() })
                        as Pin<Box<dyn Future<Output = _>>>
                }) as Box<Call>
            }
            Route::Untouched | Route::Session => {
                let app =
                    test::init_service(App::new().wrap(SessionMiddleware::new(factory)).route(
                        "/",
                        match route {
                            Route::Untouched => web::get().to(untouched),
                            _ => web::get().to(touched),
                        },
                    ))
                    .await;
                let app = std::rc::Rc::new(app);
                Box::new(move |request| {
                    let app = app.clone();
                    Box::pin(async move { app.call(request).await.unwrap().map_into_boxed_body() })
                        as Pin<Box<dyn Future<Output = _>>>
                }) as Box<Call>
            }
        }
    });
    let call: &'static Call = Box::leak(call);
    let request_counted = request();
    // A served request's header values share the connection's read buffer, so cloning one
    // is a reference count; a value built from a `&str` has its own buffer, whose first
    // clone allocates the count. Made here, outside the count, as the server would have.
    std::mem::forget(request_counted.headers().get("cookie").cloned());
    // The warm call last, so that the allocator's caches are as a server's are between
    // two requests.
    let response = system.block_on(call(request()));
    let saved = response.headers().contains_key("set-cookie");
    assert_eq!(saved, matches!(route, Route::Session));
    drop(response);
    (call, system, request_counted)
}

/// What the request goes through.
enum Route {
    /// No middleware, a handler that does not take the session.
    Plain,
    /// The middleware, the same handler.
    Untouched,
    /// The middleware, a handler that reads the user id and bumps `views`.
    Session,
}

#[library_benchmark]
#[bench::without_middleware(input(Route::Plain))]
#[bench::with_middleware(input(Route::Untouched))]
#[bench::session(input(Route::Session))]
fn request(
    (call, system, request): (&'static Call, &'static SystemRunner, actix_http::Request),
) -> ServiceResponse<BoxBody> {
    black_box(system.block_on(call(request)))
}

library_benchmark_group!(name = actix; benchmarks = request);

main!(library_benchmark_groups = actix);
