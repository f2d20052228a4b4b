//! `typed_sessions::auth` over real HTTP on both adapters (axum, actix-web), on a signed
//! cookie and on a server-side store: the guard answers `401` or redirects with `next`, a
//! sign-in moves the session to a new id (fixation), a changed auth hash signs the user's
//! other sessions out, and the lifecycle events of a sign-in flow fire in order. Then, in
//! process: no event or log line carries a session id, a cookie, the secret or an auth
//! hash; and the cookie factory's revocation check, on a manual clock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use typed_sessions::auth::{Auth, AuthBackend, AuthHasher, AuthUser};
use typed_sessions::events::{Event, EventCounters, EventKind, SessionDigest, SessionEvents};
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::{Commit, MemoryStore, Record, SessionStore, StoreError};
use typed_sessions::{
    AUTH_HASH_KEY, AUTH_USER_KEY, LoadOutcome, ManualClock, Rejection, ServerSessionFactory,
    SessionError, SignedCookieSessionFactory,
};
use typed_sessions_tests::capture_logs;
use typed_sessions_tests::shop_pages::bare_client;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

#[derive(Clone)]
struct User {
    name: String,
    version: [u8; 8],
}

impl AuthUser for User {
    fn id(&self) -> String {
        self.name.clone()
    }
    fn session_auth_hash(&self) -> &[u8] {
        &self.version
    }
}

/// Every name is a user, at a password version the test bumps.
#[derive(Default)]
struct Users(Mutex<HashMap<String, u64>>);

impl Users {
    fn user(&self, name: &str) -> User {
        let version = self.0.lock().unwrap().get(name).copied().unwrap_or(0);
        User {
            name: name.to_owned(),
            version: version.to_be_bytes(),
        }
    }

    fn change_password(&self, name: &str) {
        *self.0.lock().unwrap().entry(name.to_owned()).or_insert(0) += 1;
    }
}

impl AuthBackend for Users {
    type User = User;
    type Error = Infallible;
    async fn get_user(&self, id: &str) -> Result<Option<User>, Infallible> {
        Ok(Some(self.user(id)))
    }
}

/// The events a factory reported, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl SessionEvents for Recorder {
    fn on_event(&self, event: &Event) {
        self.0.lock().unwrap().push(*event);
    }
}

impl Recorder {
    /// The events since the last call.
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|event| event.kind).collect()
}

#[derive(Debug, Clone, Copy)]
enum Adapter {
    Axum,
    Actix,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Cookie,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Guard {
    Unauthorized,
    Redirect,
}

mod axum_app {
    use axum::Router;
    use axum::extract::{Extension, Path};
    use axum::routing::{get, post};
    use typed_sessions::axum::{CurrentUser, RequireUser, SessionHandle, SessionLayer};

    use super::*;

    async fn visit(session: SessionHandle) -> &'static str {
        session.lock().insert("visited", true);
        "ok"
    }

    async fn login(
        Extension(auth): Extension<Arc<Auth<Users>>>,
        Path(name): Path<String>,
        session: SessionHandle,
    ) -> &'static str {
        let user = auth.backend().user(&name);
        auth.login(&mut session.lock(), &user);
        "signed in"
    }

    async fn logout(
        Extension(auth): Extension<Arc<Auth<Users>>>,
        session: SessionHandle,
    ) -> &'static str {
        auth.logout(&mut session.lock());
        "signed out"
    }

    async fn me(CurrentUser(user): CurrentUser<Users>) -> String {
        user.map_or("nobody".to_owned(), |user| user.name)
    }

    async fn private(RequireUser(user): RequireUser<Users>) -> String {
        format!("hello {}", user.name)
    }

    pub fn app<F: SessionFactory>(factory: F, auth: Arc<Auth<Users>>) -> Router {
        Router::new()
            .route("/visit", get(visit))
            .route("/login/{name}", post(login))
            .route("/logout", post(logout))
            .route("/me", get(me))
            .route("/private", get(private))
            .layer(Extension(auth))
            .layer(SessionLayer::new(factory))
    }
}

mod actix_app {
    use actix_web::{App, HttpServer, web};
    use typed_sessions::actix::{CurrentUser, RequireUser, SessionHandle, SessionMiddleware};

    use super::*;

    async fn visit(session: SessionHandle) -> &'static str {
        session.lock().insert("visited", true);
        "ok"
    }

    async fn login(
        auth: web::Data<Auth<Users>>,
        name: web::Path<String>,
        session: SessionHandle,
    ) -> &'static str {
        let user = auth.backend().user(&name);
        auth.login(&mut session.lock(), &user);
        "signed in"
    }

    async fn logout(auth: web::Data<Auth<Users>>, session: SessionHandle) -> &'static str {
        auth.logout(&mut session.lock());
        "signed out"
    }

    async fn me(CurrentUser(user): CurrentUser<Users>) -> String {
        user.map_or("nobody".to_owned(), |user| user.name)
    }

    async fn private(RequireUser(user): RequireUser<Users>) -> String {
        format!("hello {}", user.name)
    }

    /// Serves the app on a thread of its own; its base URL.
    pub fn serve<F: SessionFactory>(factory: F, auth: Arc<Auth<Users>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let middleware = SessionMiddleware::new(factory);
        let auth = web::Data::from(auth);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .route("/visit", web::get().to(visit))
                        .route("/login/{name}", web::post().to(login))
                        .route("/logout", web::post().to(logout))
                        .route("/me", web::get().to(me))
                        .route("/private", web::get().to(private))
                        .wrap(middleware.clone())
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run()
                .await
                .unwrap();
            });
        });
        format!("http://{addr}")
    }
}

/// A running app, the sign-in it shares with the test and the events its factory reports.
struct Server {
    base: String,
    auth: Arc<Auth<Users>>,
    events: Arc<Recorder>,
}

async fn start(adapter: Adapter, kind: Kind, guard: Guard) -> Server {
    let events = Arc::new(Recorder::default());
    let mut auth = Auth::new(Users::default(), AuthHasher::new(SECRET));
    if guard == Guard::Redirect {
        auth = auth.redirect_to("/login");
    }
    let auth = Arc::new(auth);
    let base = match kind {
        Kind::Cookie => {
            let factory = SignedCookieSessionFactory::builder(SECRET)
                .events(events.clone())
                .build()
                .unwrap();
            serve(adapter, factory, auth.clone()).await
        }
        Kind::Server => {
            let factory = ServerSessionFactory::builder(SECRET, MemoryStore::new())
                .events(events.clone())
                .build()
                .unwrap();
            serve(adapter, factory, auth.clone()).await
        }
    };
    Server { base, auth, events }
}

async fn serve<F: SessionFactory>(adapter: Adapter, factory: F, auth: Arc<Auth<Users>>) -> String {
    match adapter {
        Adapter::Axum => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = axum_app::app(factory, auth);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            format!("http://{addr}")
        }
        Adapter::Actix => actix_app::serve(factory, auth),
    }
}

/// A response: status, `Location`, the session cookie's `name=value` (if set), body.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

async fn send(server: &Server, post: bool, path: &str, cookie: Option<&str>) -> Reply {
    let url = format!("{}{path}", server.base);
    let client = bare_client();
    let mut request = if post {
        client.post(url)
    } else {
        client.get(url)
    };
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let location = header(LOCATION);
    let cookie = header(SET_COOKIE).map(|v| v.split(';').next().unwrap().to_owned());
    Reply {
        status: response.status(),
        location,
        cookie,
        body: response.text().await.unwrap(),
    }
}

async fn guard_answers_as_configured(adapter: Adapter) {
    let server = start(adapter, Kind::Cookie, Guard::Unauthorized).await;
    let denied = send(&server, false, "/private?x=1", None).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{adapter:?}");
    assert!(denied.body.is_empty());

    let server = start(adapter, Kind::Cookie, Guard::Redirect).await;
    let denied = send(&server, false, "/private?x=1", None).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER, "{adapter:?}");
    assert_eq!(
        denied.location.as_deref(),
        Some("/login?next=%2Fprivate%3Fx%3D1")
    );
    let signed_in = send(&server, true, "/login/ada", None).await;
    let cookie = signed_in.cookie.expect("signed in");
    let allowed = send(&server, false, "/private?x=1", Some(&cookie)).await;
    assert_eq!(
        (allowed.status, allowed.body.as_str()),
        (StatusCode::OK, "hello ada")
    );
}

#[tokio::test]
async fn the_guard_answers_401_or_redirects_with_next_on_axum() {
    guard_answers_as_configured(Adapter::Axum).await;
}

#[tokio::test]
async fn the_guard_answers_401_or_redirects_with_next_on_actix() {
    guard_answers_as_configured(Adapter::Actix).await;
}

/// The sign-in flow of two clients of one user, with the events each request reports.
async fn sign_in_flow(adapter: Adapter, kind: Kind) {
    let server = start(adapter, kind, Guard::Unauthorized).await;
    let events = &server.events;
    let context = format!("{adapter:?} {kind:?}");

    // An anonymous session, then the sign-in on it: a new id (fixation).
    let anonymous = send(&server, false, "/visit", None).await.cookie.unwrap();
    let created = events.take();
    assert_eq!(
        kinds(&created),
        [EventKind::Created, EventKind::Saved],
        "{context}"
    );
    let signed_in = send(&server, true, "/login/ada", Some(&anonymous)).await;
    let first = signed_in.cookie.expect("a new cookie at sign-in");
    assert_ne!(first, anonymous, "{context}: a new cookie");
    let login = events.take();
    assert_eq!(
        kinds(&login),
        [EventKind::Loaded, EventKind::Regenerated, EventKind::Saved],
        "{context}"
    );
    if kind == Kind::Server {
        let digest = created[0].session.expect("a server session has a digest");
        assert_eq!(created[1].session, Some(digest));
        assert_eq!(login[0].session, Some(digest), "{context}: loaded it");
        assert_eq!(
            login[1].session,
            Some(digest),
            "{context}: the old id ended"
        );
        assert_ne!(login[2].session, Some(digest), "{context}: saved a new id");
        // The fixated id is dead: the old cookie is a stranger's.
        let replay = send(&server, false, "/me", Some(&anonymous)).await;
        assert_eq!(replay.body, "nobody", "{context}");
        let refused = events.take();
        assert_eq!(kinds(&refused), [EventKind::Refused], "{context}");
        assert_eq!(refused[0].reason, Some("unknown session id"));
    } else {
        assert!(created.iter().all(|event| event.session.is_none()));
    }
    assert_eq!(send(&server, false, "/me", Some(&first)).await.body, "ada");
    assert_eq!(kinds(&events.take()), [EventKind::Loaded], "{context}");

    // A second client of the same user.
    let second = send(&server, true, "/login/ada", None)
        .await
        .cookie
        .unwrap();
    assert_eq!(
        kinds(&events.take()),
        [EventKind::Regenerated, EventKind::Created, EventKind::Saved],
        "{context}"
    );

    // The password changes; the first client signs in again under it.
    server.auth.backend().change_password("ada");
    let renewed = send(&server, true, "/login/ada", Some(&first)).await;
    let first = renewed.cookie.unwrap_or(first);
    events.take();
    assert_eq!(send(&server, false, "/me", Some(&first)).await.body, "ada");
    events.take();

    // The second client is signed out on its next request.
    let stale = send(&server, false, "/me", Some(&second)).await;
    assert_eq!(stale.body, "nobody", "{context}");
    assert!(stale.cookie.is_some(), "{context}: its cookie is replaced");
    let revoked = events.take();
    assert_eq!(
        kinds(&revoked),
        [
            EventKind::Loaded,
            EventKind::Revoked,
            EventKind::Invalidated,
            EventKind::Saved
        ],
        "{context}"
    );
    assert_eq!(revoked[1].reason, Some("auth hash changed"));
    let denied = send(&server, false, "/private", Some(&second)).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{context}");
    events.take();

    // Sign-out.
    let out = send(&server, true, "/logout", Some(&first)).await;
    let after = out.cookie.unwrap();
    assert_eq!(
        kinds(&events.take()),
        [EventKind::Loaded, EventKind::Invalidated, EventKind::Saved],
        "{context}"
    );
    assert_eq!(
        send(&server, false, "/me", Some(&after)).await.body,
        "nobody"
    );
}

#[tokio::test]
async fn sign_in_flow_on_axum_cookie() {
    sign_in_flow(Adapter::Axum, Kind::Cookie).await;
}

#[tokio::test]
async fn sign_in_flow_on_axum_server() {
    sign_in_flow(Adapter::Axum, Kind::Server).await;
}

#[tokio::test]
async fn sign_in_flow_on_actix_cookie() {
    sign_in_flow(Adapter::Actix, Kind::Cookie).await;
}

#[tokio::test]
async fn sign_in_flow_on_actix_server() {
    sign_in_flow(Adapter::Actix, Kind::Server).await;
}

/// A memory store that remembers every id it was given to save.
#[derive(Clone, Default)]
struct SeenIds {
    inner: MemoryStore,
    ids: Arc<Mutex<Vec<String>>>,
}

impl SessionStore for SeenIds {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }
    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        self.ids.lock().unwrap().push(commit.id.clone());
        self.inner.save(commit).await
    }
    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    fn new_id(&self) -> Result<String, SessionError> {
        self.inner.new_id()
    }
    fn accepts_id(&self, id: &[u8]) -> bool {
        self.inner.accepts_id(id)
    }
}

fn cookie_pair(response: &http::HeaderMap) -> http::HeaderMap {
    let pair = response["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut request = http::HeaderMap::new();
    request.insert("cookie", pair.parse().unwrap());
    request
}

/// A whole sign-in flow with every `tracing` event captured: the events are there, under
/// their target and with a digest of each id, and no line holds an id, a cookie, the
/// secret, the auth hash or the user's credential bytes.
#[test]
fn no_event_carries_an_id_a_cookie_or_a_secret() {
    let store = SeenIds::default();
    let counters = Arc::new(EventCounters::default());
    let factory = ServerSessionFactory::builder(SECRET, store.clone())
        .events(counters.clone())
        .build()
        .unwrap();
    let auth = Auth::new(Users::default(), AuthHasher::new(SECRET));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ((cookies, auth_hash), logged) = capture_logs(|| {
        runtime.block_on(async {
            let mut cookies = Vec::new();
            let mut session = factory.load(&http::HeaderMap::new()).await.unwrap();
            session.insert("cart", "tea");
            let mut response = http::HeaderMap::new();
            factory.save(&session, &mut response).await.unwrap();
            let request = cookie_pair(&response);
            cookies.push(request["cookie"].to_str().unwrap().to_owned());

            let mut session = factory.load(&request).await.unwrap();
            auth.login(&mut session, &auth.backend().user("grace"));
            let auth_hash = session.get_as::<String>(AUTH_HASH_KEY).unwrap().unwrap();
            let mut response = http::HeaderMap::new();
            factory.save(&session, &mut response).await.unwrap();
            let request = cookie_pair(&response);
            cookies.push(request["cookie"].to_str().unwrap().to_owned());

            auth.backend().change_password("grace");
            let mut session = factory.load(&request).await.unwrap();
            assert!(auth.user(&mut session).await.unwrap().is_none());
            factory
                .save(&session, &mut http::HeaderMap::new())
                .await
                .unwrap();
            (cookies, auth_hash)
        })
    });
    let ids = store.ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 2, "two records written");
    for kind in [
        "created",
        "loaded",
        "saved",
        "regenerated",
        "revoked",
        "invalidated",
    ] {
        assert!(
            logged.contains(&format!("event=\"{kind}\"")),
            "`{kind}` logged: {logged}"
        );
    }
    assert!(logged.contains("typed_sessions::events"), "{logged}");
    for id in &ids {
        assert!(!logged.contains(id.as_str()), "an id in the logs: {logged}");
        let digest = SessionDigest::of(id).to_string();
        assert!(logged.contains(&digest), "its digest is: {logged}");
    }
    let cookie_values = cookies.iter().map(|c| c.split_once('=').unwrap().1);
    for secret in cookie_values.chain([SECRET, auth_hash.as_str()]) {
        assert!(!logged.contains(secret), "{secret} in the logs: {logged}");
    }
    assert!(!logged.contains("grace"), "no user id either: {logged}");

    let counts = counters.snapshot();
    assert_eq!(counts.get(EventKind::Created), 1);
    assert_eq!(counts.get(EventKind::Loaded), 2);
    assert_eq!(counts.get(EventKind::Saved), 3);
    assert_eq!(counts.get(EventKind::Regenerated), 1);
    assert_eq!(counts.get(EventKind::Revoked), 1);
    assert_eq!(counts.get(EventKind::Invalidated), 1);
    assert_eq!(counts.get(EventKind::Refused), 0);
}

/// The cookie factory's revocation check, on a manual clock: a signed-in cookie loads
/// until its user's epoch moves, then starts a fresh, signed-out session with
/// `Rejection::Revoked` (logged, reported); an anonymous cookie is never checked; an
/// unchanged epoch keeps loading as time passes.
#[test]
fn a_stale_epoch_revokes_a_cookie_session() {
    let clock = ManualClock::new(1_800_000_000.0);
    let hasher = AuthHasher::new(SECRET);
    let epochs: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let checked = Arc::new(Mutex::new(0));
    let counters = Arc::new(EventCounters::default());
    let factory = {
        let (hasher, epochs, checked) = (hasher.clone(), epochs.clone(), checked.clone());
        SignedCookieSessionFactory::builder(SECRET)
            .clock(clock.clone())
            .events(counters.clone())
            .revocation(move |user: &str, hash: Option<&str>| {
                *checked.lock().unwrap() += 1;
                let epoch = epochs.lock().unwrap().get(user).copied().unwrap_or(0);
                !hash.is_some_and(|hash| hasher.verify(user, &epoch.to_be_bytes(), hash))
            })
            .build()
            .unwrap()
    };
    let auth = Auth::new(Users::default(), hasher);

    let mut anonymous = factory.load_value(None);
    anonymous.insert("cart", "tea");
    let anonymous = factory.encode(&anonymous).unwrap();
    assert_eq!(
        factory.load_value(Some(&anonymous)).load_outcome(),
        LoadOutcome::Loaded
    );
    assert_eq!(
        *checked.lock().unwrap(),
        0,
        "an anonymous session is not checked"
    );

    let mut session = factory.load_value(None);
    auth.login(&mut session, &auth.backend().user("ada"));
    let cookie = factory.encode(&session).unwrap();
    clock.advance(600.0);
    let loaded = factory.load_value(Some(&cookie));
    assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(
        loaded.get_as::<String>(AUTH_USER_KEY).unwrap().as_deref(),
        Some("ada")
    );

    epochs.lock().unwrap().insert("ada".to_owned(), 1);
    let ((), logged) = capture_logs(|| {
        let revoked = factory.load_value(Some(&cookie));
        assert_eq!(
            revoked.load_outcome(),
            LoadOutcome::Rejected(Rejection::Revoked)
        );
        assert!(revoked.is_empty(), "signed out, nothing kept");
        assert!(revoked.is_new());
    });
    assert!(logged.contains("revocation check"), "{logged}");
    assert!(logged.contains("event=\"revoked\""), "{logged}");
    assert_eq!(*checked.lock().unwrap(), 2);
    assert_eq!(counters.get(EventKind::Revoked), 1);
    assert_eq!(counters.get(EventKind::Loaded), 2);
}

/// The same check on a server-side factory: the revoked record is deleted by the next save.
#[tokio::test]
async fn a_stale_epoch_revokes_a_server_session_and_its_record() {
    let store = MemoryStore::new();
    let stale = Arc::new(Mutex::new(false));
    let factory = {
        let stale = stale.clone();
        ServerSessionFactory::builder(SECRET, store.clone())
            .revocation(move |_: &str, _: Option<&str>| *stale.lock().unwrap())
            .build()
            .unwrap()
    };
    let auth = Auth::new(Users::default(), AuthHasher::new(SECRET));
    let mut session = factory.load(&http::HeaderMap::new()).await.unwrap();
    auth.login(&mut session, &auth.backend().user("ada"));
    let mut response = http::HeaderMap::new();
    factory.save(&session, &mut response).await.unwrap();
    let request = cookie_pair(&response);
    assert_eq!(
        factory.load(&request).await.unwrap().load_outcome(),
        LoadOutcome::Loaded
    );

    *stale.lock().unwrap() = true;
    let mut revoked = factory.load(&request).await.unwrap();
    assert_eq!(
        revoked.load_outcome(),
        LoadOutcome::Rejected(Rejection::Revoked)
    );
    assert!(revoked.is_empty());
    assert_eq!(store.len(), 1);
    revoked.insert("cart", "tea");
    factory
        .save(&revoked, &mut http::HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(store.len(), 1, "the revoked record went, the new one came");
    *stale.lock().unwrap() = false;
    assert_eq!(
        factory.load(&request).await.unwrap().load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId),
        "the old cookie names nothing now"
    );
}
