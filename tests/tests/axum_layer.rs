//! `typed_sessions::axum` at the unit level: the layer and extractor driven with `oneshot`, no
//! sockets. A codec that counts `open` calls proves that untouched requests do no session
//! work.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use typed_sessions_tests::Counting;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use http::HeaderMap;
use serde_json::json;
use tower::ServiceExt;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::codec::SignedCodec;
use typed_sessions::{
    CookieSessionFactory, HashAlg, LoadOutcome, ManualClock, Session, SessionError, SessionSchema,
};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const NOW: f64 = 1_700_000_000.0;

struct Fixture {
    factory: Arc<CookieSessionFactory<Counting>>,
    opens: Arc<AtomicUsize>,
}

impl Fixture {
    fn new() -> Self {
        Self::with(|builder| builder)
    }

    fn with(
        configure: impl FnOnce(
            typed_sessions::Builder<typed_sessions::ReadyCodec<Counting>>,
        ) -> typed_sessions::Builder<typed_sessions::ReadyCodec<Counting>>,
    ) -> Self {
        let opens = Arc::new(AtomicUsize::new(0));
        let codec = Counting {
            inner: SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512),
            opens: Arc::clone(&opens),
        };
        let builder = CookieSessionFactory::with_codec(codec).clock(ManualClock::new(NOW));
        let factory = Arc::new(configure(builder).build().unwrap());
        Self { factory, opens }
    }

    fn layer(&self) -> SessionLayer<CookieSessionFactory<Counting>> {
        SessionLayer::from_arc(Arc::clone(&self.factory))
    }

    fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    /// A `Cookie` header value for a session holding `state` (made without counting).
    fn cookie_for(&self, state: serde_json::Value) -> String {
        let mut session = self.factory.load(&HeaderMap::new());
        for (key, value) in state.as_object().unwrap() {
            session.insert(key, value.clone());
        }
        let cookie = self.factory.set_cookie(&session).unwrap();
        self.opens.store(0, Ordering::SeqCst);
        format!("{}={}", cookie.name(), cookie.value())
    }

    /// The session a response's `Set-Cookie` carries.
    fn session_in(&self, response: &Response) -> Session {
        let pair = set_cookie(response).expect("the response sets the session cookie");
        self.factory.load_cookie_header(&pair)
    }
}

/// The `name=value` part of the response's `Set-Cookie`, if it has one.
fn set_cookie(response: &Response) -> Option<String> {
    let mut headers = response.headers().get_all("set-cookie").iter();
    let header = headers.next()?.to_str().unwrap();
    assert!(headers.next().is_none(), "one Set-Cookie at most");
    Some(header.split(';').next().unwrap().to_owned())
}

fn get_request(path: &str, cookie: Option<&str>) -> Request {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).unwrap()
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

// --- handlers ----------------------------------------------------------------------------

async fn untouched() -> &'static str {
    "no session here"
}

async fn untouched_with_handle(_session: SessionHandle) -> &'static str {
    "extracted, never locked"
}

async fn read_user(session: SessionHandle) -> Result<String, SessionError> {
    let user = session.lock().get_as::<String>("user")?;
    Ok(user.unwrap_or_else(|| "anonymous".to_owned()))
}

async fn count_visit(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    let visits = s.get_as::<u64>("visits")?.unwrap_or(0) + 1;
    s.insert("visits", visits);
    Ok(visits.to_string())
}

async fn fail_after_change(session: SessionHandle) -> StatusCode {
    session.lock().insert("attempted", true);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn store_too_much(session: SessionHandle) -> &'static str {
    session.lock().insert("blob", "x".repeat(5000));
    "stored"
}

async fn fail_with_too_much(session: SessionHandle) -> StatusCode {
    session.lock().insert("blob", "x".repeat(5000));
    StatusCode::SERVICE_UNAVAILABLE
}

async fn log_out(session: SessionHandle) -> &'static str {
    session.lock().invalidate();
    "bye"
}

/// Locks twice in sequence, and through two extracted handles.
async fn lock_twice(a: SessionHandle, b: SessionHandle) -> String {
    a.lock().insert("first", 1);
    b.lock().insert("second", 2);
    let s = a.lock();
    format!("{} {}", s.get("first").unwrap(), s.get("second").unwrap())
}

async fn optional(session: Option<SessionHandle>) -> &'static str {
    if session.is_some() { "with" } else { "without" }
}

// --- laziness ------------------------------------------------------------------------------

#[tokio::test]
async fn an_untouched_request_opens_no_cookie_and_writes_none() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/plain", get(untouched))
        .route("/handle", get(untouched_with_handle))
        .layer(fx.layer());

    for path in ["/plain", "/handle"] {
        let response = app
            .clone()
            .oneshot(get_request(path, Some(&cookie)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(set_cookie(&response), None, "{path} wrote a cookie");
    }
    assert_eq!(fx.opens(), 0, "an untouched request opened the cookie");
}

#[tokio::test]
async fn the_first_lock_opens_the_cookie_once() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/user", get(read_user))
        .route("/twice", get(lock_twice))
        .layer(fx.layer());

    let response = app
        .clone()
        .oneshot(get_request("/user", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(body_text(response).await, "ada");
    assert_eq!(fx.opens(), 1);

    let response = app
        .oneshot(get_request("/twice", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        fx.opens(),
        2,
        "three locks in one request open the cookie once"
    );
    let saved = fx.session_in(&response);
    assert_eq!(saved.get("first"), Some(&json!(1)));
    assert_eq!(saved.get("second"), Some(&json!(2)));
    assert_eq!(body_text(response).await, "1 2");
}

#[tokio::test]
async fn a_read_writes_no_cookie_when_the_policy_needs_none() {
    let fx = Fixture::with(|builder| builder.reissue_time(None));
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/user", get(read_user))
        .layer(fx.layer());

    let response = app
        .oneshot(get_request("/user", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(fx.opens(), 1);
    assert_eq!(set_cookie(&response), None);
    assert_eq!(body_text(response).await, "ada");
}

// --- saving --------------------------------------------------------------------------------

#[tokio::test]
async fn a_change_is_saved_and_comes_back() {
    let fx = Fixture::new();
    let app = Router::new()
        .route("/visit", get(count_visit))
        .layer(fx.layer());

    let response = app
        .clone()
        .oneshot(get_request("/visit", None))
        .await
        .unwrap();
    assert_eq!(fx.opens(), 0, "no cookie to open");
    let cookie = set_cookie(&response).expect("a new session with a change is saved");
    assert_eq!(body_text(response).await, "1");

    let response = app
        .oneshot(get_request("/visit", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(fx.opens(), 1);
    assert_eq!(
        fx.session_in(&response).get_as::<u64>("visits").unwrap(),
        Some(2)
    );
    assert_eq!(body_text(response).await, "2");
}

#[tokio::test]
async fn invalidate_replaces_the_cookie_with_an_empty_session() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada", "cart": [1, 2]}));
    let app = Router::new()
        .route("/logout", get(log_out))
        .layer(fx.layer());

    let response = app
        .oneshot(get_request("/logout", Some(&cookie)))
        .await
        .unwrap();
    let saved = fx.session_in(&response);
    assert_eq!(saved.load_outcome(), LoadOutcome::Loaded);
    assert!(saved.is_empty());
}

#[tokio::test]
async fn a_tampered_cookie_gives_a_fresh_session_not_an_error() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let mut tampered = cookie.into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let app = Router::new()
        .route("/user", get(read_user))
        .layer(fx.layer());

    let response = app
        .oneshot(get_request("/user", Some(&tampered)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "anonymous");
}

// --- error responses -----------------------------------------------------------------------

#[tokio::test]
async fn a_5xx_response_is_saved_by_default() {
    let fx = Fixture::new();
    let app = Router::new()
        .route("/fail", get(fail_after_change))
        .layer(fx.layer());

    let response = app.oneshot(get_request("/fail", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        fx.session_in(&response).get("attempted"),
        Some(&json!(true))
    );
}

#[tokio::test]
async fn set_on_exception_false_means_no_cookie_on_a_5xx_response() {
    let fx = Fixture::with(|builder| builder.set_on_exception(false));
    let app = Router::new()
        .route("/fail", get(fail_after_change))
        .route("/visit", get(count_visit))
        .layer(fx.layer());

    let response = app
        .clone()
        .oneshot(get_request("/fail", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(set_cookie(&response), None);

    // The same factory still saves on a good response.
    let response = app.oneshot(get_request("/visit", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).is_some());
}

/// Collects what `tracing` logs, for asserting on it.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn a_session_too_large_to_save_is_a_logged_507_without_a_cookie() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/big", get(store_too_much))
        .layer(fx.layer());
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app
        .oneshot(get_request("/big", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let overflow = *response
        .extensions()
        .get::<typed_sessions::Overflow>()
        .expect("the app can see why");
    assert_eq!(overflow.budget, typed_sessions::Budget::CookieValue);
    assert_eq!(overflow.limit, 4064);
    assert!(overflow.size > 6000, "{overflow}");
    assert_eq!(
        set_cookie(&response),
        None,
        "the client keeps its old cookie"
    );
    assert_eq!(
        body_text(response).await,
        "",
        "no detail reaches the client"
    );
    let logged = logs.text();
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(logged.contains("over the 4064-byte limit"), "{logged}");
}

/// A value whose serialization fails once `broken` is set, as a value with a map keyed by
/// tuples behind a type alias would.
#[derive(Debug, Default, serde::Deserialize)]
struct Fragile {
    broken: bool,
}

impl serde::Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.broken {
            return Err(serde::ser::Error::custom("this value cannot be serialized"));
        }
        serializer.serialize_bool(false)
    }
}

#[derive(SessionSchema)]
#[expect(dead_code, reason = "only the generated accessors are used")]
struct Typed {
    #[session(default)]
    fragile: Fragile,
    #[session(default)]
    visits: u64,
}

async fn break_through_a_guard(session: SessionHandle) -> &'static str {
    let mut s = session.lock();
    *s.visits_mut().unwrap() += 1;
    // The guard cannot return the error from its drop: it records it on the session.
    s.fragile_mut().unwrap().broken = true;
    "looks fine"
}

#[tokio::test]
async fn a_guard_that_fails_to_write_back_is_a_logged_500_without_a_cookie() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"visits": 1}));
    let app = Router::new()
        .route("/break", get(break_through_a_guard))
        .layer(fx.layer());
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app
        .oneshot(get_request("/break", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        set_cookie(&response),
        None,
        "the client keeps its old cookie"
    );
    let logged = logs.text();
    assert!(logged.contains("session key `fragile`"), "{logged}");
    assert!(
        logged.contains("this value cannot be serialized"),
        "{logged}"
    );
}

#[tokio::test]
async fn a_5xx_response_whose_save_fails_keeps_its_status_and_gets_no_cookie() {
    let fx = Fixture::new();
    let app = Router::new()
        .route("/big", get(fail_with_too_much))
        .layer(fx.layer());
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app.oneshot(get_request("/big", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(set_cookie(&response), None);
    assert!(logs.text().contains("over the 4064-byte limit"));
}

#[tokio::test]
async fn a_session_error_returned_by_a_handler_is_a_logged_500() {
    let fx = Fixture::new();
    // "visits" holds a string where the handler reads a number.
    let cookie = fx.cookie_for(json!({"visits": "many"}));
    let app = Router::new()
        .route("/visit", get(count_visit))
        .layer(fx.layer());
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app
        .oneshot(get_request("/visit", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(set_cookie(&response), None);
    assert!(
        logs.text().contains("session key `visits`"),
        "{}",
        logs.text()
    );
}

// --- one session per request -----------------------------------------------------------------

/// Counts in the session before the handler, and reads the handler's change after it.
async fn around(session: SessionHandle, request: Request, next: Next) -> Response {
    {
        let mut s = session.lock();
        let seen = s.get_as::<u64>("seen").unwrap().unwrap_or(0);
        s.insert("seen", seen + 1);
    }
    let mut response = next.run(request).await;
    let handled = session.lock().get("handled").cloned();
    response.headers_mut().insert(
        "x-handled",
        handled
            .map_or("none".to_owned(), |v| v.to_string())
            .parse()
            .unwrap(),
    );
    response
}

async fn handle_after_middleware(session: SessionHandle) -> String {
    let mut s = session.lock();
    s.insert("handled", "yes");
    s.get("seen").map_or("unseen".to_owned(), |v| v.to_string())
}

#[tokio::test]
async fn middleware_and_handler_share_one_session() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"seen": 4}));
    let app = Router::new()
        .route("/", get(handle_after_middleware))
        .layer(middleware::from_fn(around))
        .layer(fx.layer());

    let response = app.oneshot(get_request("/", Some(&cookie))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fx.opens(), 1, "one load for the whole request");
    assert_eq!(response.headers()["x-handled"], "\"yes\"");
    let saved = fx.session_in(&response);
    assert_eq!(saved.get("seen"), Some(&json!(5)));
    assert_eq!(saved.get("handled"), Some(&json!("yes")));
    assert_eq!(
        body_text(response).await,
        "5",
        "the handler saw the middleware's change"
    );
}

/// A plain `from_fn` middleware that takes the handle from the extensions by hand (no
/// extractor), locks it without loading it, and answers itself.
async fn by_hand_unloaded(request: Request, _next: Next) -> Response {
    let handle = request
        .extensions()
        .get::<SessionHandle>()
        .cloned()
        .unwrap();
    let mut s = handle.lock();
    let user = format!("{:?}", s.get("user"));
    s.insert("user", "mallory");
    Response::new(Body::from(user))
}

/// The same, loading the handle with the request's headers first, as its docs say.
async fn by_hand_loaded(request: Request, _next: Next) -> Response {
    let handle = request
        .extensions()
        .get::<SessionHandle>()
        .cloned()
        .unwrap();
    handle.load(request.headers()).await.unwrap();
    let mut s = handle.lock();
    let user = format!("{:?}", s.get("user"));
    s.insert("user", "grace");
    Response::new(Body::from(user))
}

#[tokio::test]
async fn a_handle_taken_by_hand_sees_the_cookie_once_loaded_with_the_headers() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/", get(untouched))
        .layer(middleware::from_fn(by_hand_loaded))
        .layer(fx.layer());

    let response = app.oneshot(get_request("/", Some(&cookie))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let saved = fx.session_in(&response);
    assert_eq!(saved.get("user"), Some(&json!("grace")));
    assert_eq!(body_text(response).await, "Some(String(\"ada\"))");
}

#[tokio::test]
async fn a_handle_taken_by_hand_and_locked_unloaded_is_a_logged_placeholder_never_saved() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let app = Router::new()
        .route("/", get(untouched))
        .layer(middleware::from_fn(by_hand_unloaded))
        .layer(fx.layer());
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app.oneshot(get_request("/", Some(&cookie))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        set_cookie(&response),
        None,
        "the placeholder does not overwrite the client's session"
    );
    assert_eq!(fx.opens(), 0, "its cookie was never read");
    assert_eq!(body_text(response).await, "None");
    let logged = logs.text();
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(
        logged.contains("before its request's cookies were read"),
        "{logged}"
    );
}

type Kept = Arc<Mutex<Option<SessionHandle>>>;

/// Keeps the handler's handle, extracted and untouched, for use after the response.
async fn keep_extracted(
    axum::extract::State(kept): axum::extract::State<Kept>,
    session: SessionHandle,
) -> &'static str {
    *kept.lock().unwrap() = Some(session);
    "ok"
}

/// Keeps the request's handle, taken by hand and never locked, for use after the response.
async fn keep_by_hand(
    axum::extract::State(kept): axum::extract::State<Kept>,
    request: Request,
    next: Next,
) -> Response {
    *kept.lock().unwrap() = request.extensions().get::<SessionHandle>().cloned();
    next.run(request).await
}

#[tokio::test]
async fn a_session_first_used_after_its_response_is_a_logged_placeholder() {
    let fx = Fixture::new();
    let cookie = fx.cookie_for(json!({"user": "ada"}));
    let kept: Kept = Arc::default();
    let extracted = Router::new()
        .route("/", get(keep_extracted))
        .with_state(Arc::clone(&kept))
        .layer(fx.layer());
    let by_hand = Router::new()
        .route("/", get(untouched))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&kept),
            keep_by_hand,
        ))
        .layer(fx.layer());

    for (how, app) in [("extracted", extracted), ("by hand", by_hand)] {
        let logs = Logs::default();
        let _capture = logs.capture();
        let response = app.oneshot(get_request("/", Some(&cookie))).await.unwrap();
        assert_eq!(
            set_cookie(&response),
            None,
            "{how}: an untouched session writes none"
        );
        let late = kept.lock().unwrap().take().expect("the handle was kept");
        late.lock().insert("user", "too late");
        assert_eq!(late.lock().get("user"), Some(&json!("too late")), "{how}");
        assert_eq!(
            fx.opens(),
            0,
            "{how}: the cookie was not opened after the response"
        );
        let logged = logs.text();
        assert!(
            logged.contains("a session was used after its response was saved"),
            "{how}: {logged}"
        );
    }
}

// --- without the layer -----------------------------------------------------------------------

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_that_says_why() {
    let app = Router::new()
        .route("/user", get(read_user))
        .route("/optional", get(optional));
    let logs = Logs::default();
    let _capture = logs.capture();

    let response = app
        .clone()
        .oneshot(get_request("/user", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(response).await;
    assert!(body.contains("SessionLayer"), "{body}");
    assert!(logs.text().contains("SessionLayer"));

    let response = app.oneshot(get_request("/optional", None)).await.unwrap();
    assert_eq!(body_text(response).await, "without");
}

#[tokio::test]
async fn option_of_the_extractor_is_some_under_the_layer() {
    let fx = Fixture::new();
    let app = Router::new()
        .route("/optional", get(optional))
        .layer(fx.layer());
    let response = app.oneshot(get_request("/optional", None)).await.unwrap();
    assert_eq!(set_cookie(&response), None);
    assert_eq!(body_text(response).await, "with");
}

#[test]
fn a_handle_is_send_sync_and_clone_and_its_debug_shows_no_values() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<SessionHandle>();

    let handle = SessionHandle::new(Session::new());
    handle.lock().insert("password", "hunter2");
    let debug = format!("{handle:?} {:?}", handle.lock());
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("loaded: true"), "{debug}");
}

#[test]
#[should_panic(expected = "already holds a SessionGuard of the same session")]
fn locking_again_while_holding_a_guard_panics_instead_of_deadlocking() {
    let handle = SessionHandle::new(Session::new());
    let clone = handle.clone();
    let _first = handle.lock();
    let _second = clone.lock();
}

#[test]
fn guards_of_different_sessions_and_successive_guards_do_not_conflict() {
    let a = SessionHandle::new(Session::new());
    let b = SessionHandle::new(Session::new());
    {
        let mut ga = a.lock();
        let mut gb = b.lock();
        ga.insert("k", "a");
        gb.insert("k", "b");
    }
    for _ in 0..3 {
        let guard = a.lock();
        assert_eq!(guard.get("k"), Some(&json!("a")));
    }
    assert_eq!(b.lock().get("k"), Some(&json!("b")));

    // Another thread waits for the guard instead of panicking.
    let guard = a.lock();
    let other = a.clone();
    let waiter = std::thread::spawn(move || other.lock().insert("k", "from another thread"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(guard);
    waiter.join().unwrap();
    assert_eq!(a.lock().get("k"), Some(&json!("from another thread")));
}
