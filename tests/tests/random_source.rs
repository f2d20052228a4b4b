//! A failing operating-system random source through both adapters: a request whose handler
//! needs a new CSRF token, or whose save needs a new server-side session id, answers `500`
//! with no `Set-Cookie` through the axum layer and through the actix-web middleware, and
//! the same app answers `200` with a cookie once the source works again. The failure is
//! made with `typed_sessions::testing::failing_random_source`, which holds on the test's
//! thread: both runtimes here are current-thread (tokio's test runtime, actix-web's `System`), so handler and save run on it.

use actix_web::{App, test as actix_test, web};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use tower::ServiceExt;
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::MemoryStore;
use typed_sessions::testing::failing_random_source;
use typed_sessions::{ServerSessionFactory, SessionError, SignedCookieSessionFactory};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

fn cookie_factory() -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET).build().unwrap()
}

fn server_factory() -> ServerSessionFactory<MemoryStore> {
    ServerSessionFactory::builder(SECRET, MemoryStore::new())
        .build()
        .unwrap()
}

async fn axum_csrf(session: typed_sessions::axum::SessionHandle) -> Result<String, SessionError> {
    session.lock().get_csrf_token()
}

async fn axum_visit(session: typed_sessions::axum::SessionHandle) -> &'static str {
    // A change to a new server-side session: its save draws the session's id.
    session.lock().insert("visits", 1);
    "visited"
}

async fn axum_status<F: SessionFactory>(factory: F, path: &str) -> (StatusCode, bool) {
    let app = Router::new()
        .route("/csrf", get(axum_csrf))
        .route("/visit", get(axum_visit))
        .layer(typed_sessions::axum::SessionLayer::new(factory));
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    (
        response.status(),
        response.headers().contains_key("set-cookie"),
    )
}

#[tokio::test]
async fn axum_a_csrf_token_without_randomness_is_a_500_without_set_cookie() {
    {
        let _failing = failing_random_source();
        let answer = axum_status(cookie_factory(), "/csrf").await;
        assert_eq!(answer, (StatusCode::INTERNAL_SERVER_ERROR, false));
    }
    // The same app with a working source: the failure above was the source's.
    let answer = axum_status(cookie_factory(), "/csrf").await;
    assert_eq!(answer, (StatusCode::OK, true));
}

#[tokio::test]
async fn axum_a_new_server_id_without_randomness_is_a_500_without_set_cookie() {
    {
        let _failing = failing_random_source();
        let answer = axum_status(server_factory(), "/visit").await;
        assert_eq!(answer, (StatusCode::INTERNAL_SERVER_ERROR, false));
    }
    let answer = axum_status(server_factory(), "/visit").await;
    assert_eq!(answer, (StatusCode::OK, true));
}

async fn actix_csrf(session: typed_sessions::actix::SessionHandle) -> Result<String, SessionError> {
    session.lock().get_csrf_token()
}

async fn actix_visit(session: typed_sessions::actix::SessionHandle) -> &'static str {
    session.lock().insert("visits", 1);
    "visited"
}

async fn actix_status<F: SessionFactory>(factory: F, path: &str) -> (u16, bool) {
    let app = actix_test::init_service(
        App::new()
            .wrap(typed_sessions::actix::SessionMiddleware::new(factory))
            .route("/csrf", web::get().to(actix_csrf))
            .route("/visit", web::get().to(actix_visit)),
    )
    .await;
    let response =
        actix_test::call_service(&app, actix_test::TestRequest::get().uri(path).to_request()).await;
    (
        response.status().as_u16(),
        response.headers().contains_key("set-cookie"),
    )
}

/// actix-web's runtime on this thread (a single-threaded `System`).
fn actix_block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    actix_web::rt::System::new().block_on(future)
}

#[test]
fn actix_a_csrf_token_without_randomness_is_a_500_without_set_cookie() {
    actix_block_on(async {
        {
            let _failing = failing_random_source();
            assert_eq!(actix_status(cookie_factory(), "/csrf").await, (500, false));
        }
        assert_eq!(actix_status(cookie_factory(), "/csrf").await, (200, true));
    });
}

#[test]
fn actix_a_new_server_id_without_randomness_is_a_500_without_set_cookie() {
    actix_block_on(async {
        {
            let _failing = failing_random_source();
            assert_eq!(actix_status(server_factory(), "/visit").await, (500, false));
        }
        assert_eq!(actix_status(server_factory(), "/visit").await, (200, true));
    });
}
