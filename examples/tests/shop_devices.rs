//! The shop's devices page over real HTTP, on both shop binaries (axum `shop`, actix-web
//! `actix_shop`) and each server store (Redis, SQLite, PostgreSQL): two clients signed in
//! as one user; `POST /devices/sign-out-others` from the first signs the second out on its
//! next request, `GET /devices` then lists one session, and the store's own per-user index
//! holds no entry for the revoked one. Each session's address is the connection's peer, a
//! client's own `X-Forwarded-For` ignored, unless `TRUSTED_PROXIES` names the peer. And live
//! revocation across processes: an open `GET /events` stream on one shop ends within a
//! second of "sign out everywhere else" posted to another shop on the same store, the
//! stream on either framework and the revocation from the other.
//!
//! Needs `REDIS_URL` and `POSTGRES_URL` (`scripts/redis.sh`, `scripts/postgres.sh`); fails,
//! never skips, without. Each test keeps to its own user name, Redis database, SQLite file
//! or PostgreSQL schema, so the shared servers stay clean.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use support::{Process, csrf_token, drop_schema, redis_db_url, start_server, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use typed_sessions_examples::shop::DEMO_PASSWORD;
use typed_sessions_examples::shop::store::REDIS_PREFIX;

/// The Redis database of this file's shops (the other test files keep to theirs).
const REDIS_DB: u8 = 9;

/// How soon an open event stream must end after the revocation's response.
const LIVE_WITHIN: Duration = Duration::from_secs(1);

/// Which shop binary a test runs: the scenarios are the same on both.
#[derive(Debug, Clone, Copy)]
enum Framework {
    Axum,
    Actix,
}

impl Framework {
    fn binary(self) -> &'static str {
        match self {
            Self::Axum => env!("CARGO_BIN_EXE_shop"),
            Self::Actix => env!("CARGO_BIN_EXE_actix_shop"),
        }
    }
}

/// Starts the `framework`'s shop binary on `store`.
fn shop(framework: Framework, store: &str) -> Process {
    shop_with(framework, store, &[])
}

/// [`shop`] with more environment `vars`.
fn shop_with(framework: Framework, store: &str, vars: &[(&str, &str)]) -> Process {
    let mut command = Command::new(framework.binary());
    // Warnings only: the tests print the figure they measure.
    command.env("SESSION_STORE", store).env("RUST_LOG", "warn");
    command.envs(vars.iter().copied());
    start_server(command)
}

/// What a client sends as its own `X-Forwarded-For` when it signs in: an address no test
/// connects from, that must never be recorded unless the peer is a trusted proxy.
const SPOOFED: &str = "203.0.113.66";

/// A client with a cookie jar of its own (the shop sets one cookie), that shows redirects
/// instead of following them.
struct Client {
    http: reqwest::Client,
    /// `name=value` of the session cookie, as the last response that set it left it.
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Client {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        if let Some(header) = response.headers().get(SET_COOKIE) {
            let header = header.to_str().unwrap();
            let pair = header.split(';').next().unwrap().trim();
            let deleted = pair.ends_with('=') || header.to_ascii_lowercase().contains("max-age=0");
            self.cookie = (!deleted).then(|| pair.to_owned());
        }
        Answer {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: String) -> Answer {
        let request = self.http.get(url);
        self.send(request).await
    }

    async fn post(&mut self, url: String, form: &[(&str, &str)]) -> Answer {
        let request = self.http.post(url).form(form);
        self.send(request).await
    }

    /// Signs in as `user` on `shop` through its login form.
    async fn sign_in(&mut self, shop: &Process, user: &str) {
        self.sign_in_forwarded(shop, user, None).await;
    }

    /// [`sign_in`](Self::sign_in), its `POST /login` with `X-Forwarded-For: forwarded_for`.
    async fn sign_in_forwarded(&mut self, shop: &Process, user: &str, forwarded_for: Option<&str>) {
        let page = self.get(format!("{}/login", shop.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let token = csrf_token(&page.body);
        let mut request = self.http.post(format!("{}/login", shop.base)).form(&[
            ("csrf_token", token.as_str()),
            ("username", user),
            ("password", DEMO_PASSWORD),
        ]);
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        let answer = self.send(request).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/"));
        let home = self.get(format!("{}/", shop.base)).await;
        assert!(home.body.contains(user), "signed in: {}", home.body);
    }

    /// `GET /devices`, which must answer the page: its body.
    async fn devices(&mut self, shop: &Process) -> String {
        let page = self.get(format!("{}/devices", shop.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.body
    }

    /// `POST /devices/sign-out-others` with the token of the devices page `page`.
    async fn sign_out_others(&mut self, shop: &Process, page: &str) {
        let token = csrf_token(page);
        let answer = self
            .post(
                format!("{}/devices/sign-out-others", shop.base),
                &[("csrf_token", &token)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/devices"));
    }
}

/// The rows of the devices page's table, and how many are marked as this device.
fn listed(page: &str) -> (usize, usize) {
    (
        page.matches(r#"<tr class="device""#).count(),
        page.matches("this device").count(),
    )
}

/// How many entries the store's own index holds for a user.
trait Index {
    async fn entries(&self, user: &str) -> i64;
}

struct RedisIndex(redis::aio::MultiplexedConnection);

impl Index for RedisIndex {
    async fn entries(&self, user: &str) -> i64 {
        // The user's sorted set, as `RedisStore::user_key` names it.
        let key = format!("{REDIS_PREFIX}user:{user}");
        self.0.clone().zcard(key).await.unwrap()
    }
}

struct SqliteIndex(sqlx::SqlitePool);

impl Index for SqliteIndex {
    async fn entries(&self, user: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = ?")
            .bind(user)
            .fetch_one(&self.0)
            .await
            .unwrap()
    }
}

struct PostgresIndex(sqlx::PgPool);

impl Index for PostgresIndex {
    async fn entries(&self, user: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(user)
            .fetch_one(&self.0)
            .await
            .unwrap()
    }
}

/// How many rows of a devices page show `ip` as their address.
fn at_address(page: &str, ip: &str) -> usize {
    page.matches(&format!("<td>{ip}</td>")).count()
}

/// The scenario of the devices page, on the `framework`'s shop at `store`, whose index
/// `index` reads.
async fn one_signs_the_other_out(framework: Framework, store: &str, index: &impl Index) {
    let shop = shop(framework, store);
    let user = unique("dev");
    let (mut first, mut second) = (Client::new(), Client::new());
    first.sign_in(&shop, &user).await;
    // The second claims to be forwarded: the shop trusts no proxy, so it records the peer.
    second.sign_in_forwarded(&shop, &user, Some(SPOOFED)).await;

    let page = first.devices(&shop).await;
    assert_eq!(
        listed(&page),
        (2, 1),
        "two sessions, this one marked: {page}"
    );
    assert_eq!(
        at_address(&page, "127.0.0.1"),
        2,
        "the peer's address: {page}"
    );
    assert!(
        !page.contains(SPOOFED),
        "a client's own header is ignored: {page}"
    );
    assert_eq!(index.entries(&user).await, 2, "both sessions in the index");
    let page = second.devices(&shop).await;
    assert_eq!(listed(&page), (2, 1), "{page}");

    // Without the page's CSRF token the form is refused, and nobody is signed out.
    let refused = first
        .post(
            format!("{}/devices/sign-out-others", shop.base),
            &[("csrf_token", "not the token")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let page = second.devices(&shop).await;
    assert_eq!(listed(&page), (2, 1), "still two sessions: {page}");

    let page = first.devices(&shop).await;
    first.sign_out_others(&shop, &page).await;

    // The second's next request is signed out.
    let answer = second.get(format!("{}/devices", shop.base)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location.as_deref(), Some("/login"));
    let home = second.get(format!("{}/", shop.base)).await;
    assert!(!home.body.contains(&user), "signed out: {}", home.body);

    let page = first.devices(&shop).await;
    assert!(page.contains("Signed out 1 other session(s)."), "{page}");
    assert_eq!(listed(&page), (1, 1), "only this session: {page}");
    let home = first.get(format!("{}/", shop.base)).await;
    assert!(home.body.contains(&user), "the first stays signed in");
    assert_eq!(
        index.entries(&user).await,
        1,
        "no entry for the revoked session"
    );
}

async fn redis_index() -> RedisIndex {
    let client = redis::Client::open(redis_db_url(REDIS_DB)).unwrap();
    RedisIndex(client.get_multiplexed_async_connection().await.unwrap())
}

/// A schema of its own on the test PostgreSQL, and the `SESSION_STORE` URL whose
/// `search_path` is it, so the shop's `sessions` table is this test's.
async fn postgres_schema() -> (PostgresIndex, String, String) {
    let (schema, url) = support::postgres_schema("shop_devices").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    (PostgresIndex(pool), url, schema)
}

async fn on_redis(framework: Framework) {
    let index = redis_index().await;
    one_signs_the_other_out(framework, &redis_db_url(REDIS_DB), &index).await;
}

async fn on_sqlite(framework: Framework) {
    let db = std::env::temp_dir().join(format!("{}.db", unique("shop-devices")));
    let url = format!("sqlite://{}", db.display());
    {
        let _created = shop(framework, &url); // migrates the file, then stops
    }
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    one_signs_the_other_out(framework, &url, &SqliteIndex(pool.clone())).await;
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

async fn on_postgres(framework: Framework) {
    let (index, url, schema) = postgres_schema().await;
    {
        let _created = shop(framework, &url); // migrates the schema's table, then stops
    }
    one_signs_the_other_out(framework, &url, &index).await;
    index.0.close().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn axum_on_redis_one_device_signs_the_others_out() {
    on_redis(Framework::Axum).await;
}

#[tokio::test]
async fn actix_on_redis_one_device_signs_the_others_out() {
    on_redis(Framework::Actix).await;
}

#[tokio::test]
async fn axum_on_sqlite_one_device_signs_the_others_out() {
    on_sqlite(Framework::Axum).await;
}

#[tokio::test]
async fn actix_on_sqlite_one_device_signs_the_others_out() {
    on_sqlite(Framework::Actix).await;
}

#[tokio::test]
async fn axum_on_postgres_one_device_signs_the_others_out() {
    on_postgres(Framework::Axum).await;
}

#[tokio::test]
async fn actix_on_postgres_one_device_signs_the_others_out() {
    on_postgres(Framework::Actix).await;
}

/// With `TRUSTED_PROXIES` naming the peer (the test connects from 127.0.0.1, as a proxy on
/// the same host would), the address recorded is the one the proxy appended, not what the
/// client itself wrote to the left of it.
async fn a_trusted_proxy_forwards_the_address(framework: Framework) {
    let shop = shop_with(framework, "memory:", &[("TRUSTED_PROXIES", "127.0.0.1")]);
    let user = unique("proxied");
    let mut client = Client::new();
    let forwarded = format!("198.51.100.1, {SPOOFED}");
    client
        .sign_in_forwarded(&shop, &user, Some(&forwarded))
        .await;
    let page = client.devices(&shop).await;
    assert_eq!(listed(&page), (1, 1), "{page}");
    assert_eq!(
        at_address(&page, SPOOFED),
        1,
        "the forwarded address: {page}"
    );
    assert!(!page.contains("198.51.100.1"), "{page}");
    assert_eq!(at_address(&page, "127.0.0.1"), 0, "{page}");
}

#[tokio::test]
async fn axum_a_trusted_proxy_forwards_the_address() {
    a_trusted_proxy_forwards_the_address(Framework::Axum).await;
}

#[tokio::test]
async fn actix_a_trusted_proxy_forwards_the_address() {
    a_trusted_proxy_forwards_the_address(Framework::Actix).await;
}

/// An open `GET /events` on `shop` with `cookie`, read raw: the response's head, once the
/// first event has arrived.
async fn open_events(shop: &Process, cookie: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(shop.addr()).await.unwrap();
    let request = format!(
        "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCookie: \
         {cookie}\r\nConnection: close\r\n\r\n",
        shop.addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&seen).contains("signed in") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the first event within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "the stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..n]);
    }
    let head = String::from_utf8_lossy(&seen);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    stream
}

/// Two shops on `store`, the first `streaming`'s, the second the other framework's: B's
/// event stream on the first ends within [`LIVE_WITHIN`] of A's "sign out everywhere else"
/// answered by the second.
async fn a_live_stream_ends_when_another_process_revokes(
    kind: &str,
    streaming: Framework,
    store: &str,
) {
    let revoking = match streaming {
        Framework::Axum => Framework::Actix,
        Framework::Actix => Framework::Axum,
    };
    let (one, two) = (shop(streaming, store), shop(revoking, store));
    let user = unique("live");
    let (mut a, mut b) = (Client::new(), Client::new());
    b.sign_in(&one, &user).await;
    let mut events = open_events(&one, b.cookie.as_deref().unwrap()).await;

    a.sign_in(&two, &user).await;
    let page = a.devices(&two).await;
    assert_eq!(listed(&page), (2, 1), "{page}");
    let reading = tokio::spawn(async move {
        let mut rest = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            match events.read(&mut buffer).await {
                Ok(0) | Err(_) => return (Instant::now(), rest),
                Ok(n) => rest.extend_from_slice(&buffer[..n]),
            }
        }
    });
    let sent = Instant::now();
    a.sign_out_others(&two, &page).await;
    let answered = Instant::now();
    let (ended, rest) = tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .expect("the event stream ends within 10 s of the revocation")
        .unwrap();
    // The stream may end before the answer arrives (the store hears of the revocation
    // first): then 0.
    let after = ended.saturating_duration_since(answered);
    eprintln!(
        "{kind}, stream on {streaming:?}, revoked on {revoking:?}: the event stream ended \
         {:?} after the revocation was sent, {after:?} after its answer (which took {:?})",
        ended.duration_since(sent),
        answered.duration_since(sent)
    );
    assert!(
        after <= LIVE_WITHIN,
        "ended {after:?} after the revocation's answer, more than {LIVE_WITHIN:?}"
    );
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.ends_with("0\r\n\r\n"), "a complete response: {rest:?}");
    let answer = b.get(format!("{}/devices", one.base)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "B is signed out");
}

async fn live_on_redis(streaming: Framework) {
    let url = redis_db_url(REDIS_DB);
    a_live_stream_ends_when_another_process_revokes("Redis", streaming, &url).await;
}

async fn live_on_postgres(streaming: Framework) {
    let (index, url, schema) = postgres_schema().await;
    {
        let _created = shop(streaming, &url); // migrates before the two shops race to
    }
    a_live_stream_ends_when_another_process_revokes("PostgreSQL", streaming, &url).await;
    index.0.close().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn axum_on_redis_a_live_stream_ends_when_another_process_revokes() {
    live_on_redis(Framework::Axum).await;
}

#[tokio::test]
async fn actix_on_redis_a_live_stream_ends_when_another_process_revokes() {
    live_on_redis(Framework::Actix).await;
}

#[tokio::test]
async fn axum_on_postgres_a_live_stream_ends_when_another_process_revokes() {
    live_on_postgres(Framework::Axum).await;
}

#[tokio::test]
async fn actix_on_postgres_a_live_stream_ends_when_another_process_revokes() {
    live_on_postgres(Framework::Actix).await;
}
