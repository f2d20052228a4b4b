//! The shop's devices page over real HTTP, on the shop binary and each server store (Redis,
//! SQLite, PostgreSQL): two clients signed in as one user; `POST /devices/sign-out-others`
//! from the first signs the second out on its next request, `GET /devices` then lists one
//! session, and the store's own per-user index holds no entry for the revoked one. And live
//! revocation across processes: an open `GET /events` stream on one shop ends within a
//! second of "sign out everywhere else" posted to another shop on the same store.
//!
//! Needs `REDIS_URL` and `POSTGRES_URL` (`scripts/redis.sh`, `scripts/postgres.sh`); fails,
//! never skips, without. Each test keeps to its own user name, Redis database, SQLite file
//! or PostgreSQL schema, so the shared servers stay clean.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use support::{Process, csrf_token, redis_db_url, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use typed_sessions_examples::shop::DEMO_PASSWORD;
use typed_sessions_examples::shop::store::REDIS_PREFIX;

/// The Redis database of this file's shops (the other test files keep to theirs).
const REDIS_DB: u8 = 9;

/// How soon an open event stream must end after the revocation's response.
const LIVE_WITHIN: Duration = Duration::from_secs(1);

fn postgres_url() -> String {
    std::env::var("POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "POSTGRES_URL is not set: run `export POSTGRES_URL=\"$(scripts/postgres.sh | tail \
             -n 1)\"`{}",
            if std::env::var_os("CI").is_some() {
                " (CI: .ci/run must start PostgreSQL)"
            } else {
                ""
            }
        )
    })
}

/// A name no other test (or run) signs in with: the stores index sessions by it.
fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{what}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts the shop binary on `store`.
fn shop(store: &str) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
    // Warnings only: the tests print the figure they measure.
    command.env("SESSION_STORE", store).env("RUST_LOG", "warn");
    start_server(command)
}

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
        let page = self.get(format!("{}/login", shop.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let token = csrf_token(&page.body);
        let answer = self
            .post(
                format!("{}/login", shop.base),
                &[
                    ("csrf_token", &token),
                    ("username", user),
                    ("password", DEMO_PASSWORD),
                ],
            )
            .await;
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

/// The scenario of the devices page, on the shop at `store`, whose index `index` reads.
async fn one_signs_the_other_out(store: &str, index: &impl Index) {
    let shop = shop(store);
    let user = unique("dev");
    let (mut first, mut second) = (Client::new(), Client::new());
    first.sign_in(&shop, &user).await;
    second.sign_in(&shop, &user).await;

    let page = first.devices(&shop).await;
    assert_eq!(
        listed(&page),
        (2, 1),
        "two sessions, this one marked: {page}"
    );
    assert_eq!(index.entries(&user).await, 2, "both sessions in the index");
    let page = second.devices(&shop).await;
    assert_eq!(listed(&page), (2, 1), "{page}");

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
    let schema = unique("shop_devices");
    let base = postgres_url();
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    // `schema` is `unique`'s letters, digits and underscores.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    (PostgresIndex(pool), url, schema)
}

async fn drop_schema(schema: &str) {
    let admin = sqlx::PgPool::connect(&postgres_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn on_redis_one_device_signs_the_others_out() {
    let index = redis_index().await;
    one_signs_the_other_out(&redis_db_url(REDIS_DB), &index).await;
}

#[tokio::test]
async fn on_sqlite_one_device_signs_the_others_out() {
    let db = std::env::temp_dir().join(format!("{}.db", unique("shop-devices")));
    let url = format!("sqlite://{}", db.display());
    {
        let _created = shop(&url); // migrates the file, then stops
    }
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    one_signs_the_other_out(&url, &SqliteIndex(pool.clone())).await;
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[tokio::test]
async fn on_postgres_one_device_signs_the_others_out() {
    let (index, url, schema) = postgres_schema().await;
    {
        let _created = shop(&url); // migrates the schema's table, then stops
    }
    one_signs_the_other_out(&url, &index).await;
    index.0.close().await;
    drop_schema(&schema).await;
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

/// Two shops on `store`: B's event stream on the first ends within [`LIVE_WITHIN`] of A's
/// "sign out everywhere else" answered by the second.
async fn a_live_stream_ends_when_another_process_revokes(kind: &str, store: &str) {
    let (one, two) = (shop(store), shop(store));
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
        "{kind}: the event stream ended {:?} after the revocation was sent, {after:?} after \
         its answer (which took {:?})",
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

#[tokio::test]
async fn on_redis_a_live_stream_ends_when_another_process_revokes() {
    a_live_stream_ends_when_another_process_revokes("Redis", &redis_db_url(REDIS_DB)).await;
}

#[tokio::test]
async fn on_postgres_a_live_stream_ends_when_another_process_revokes() {
    let (index, url, schema) = postgres_schema().await;
    {
        let _created = shop(&url); // migrates before the two shops race to
    }
    a_live_stream_ends_when_another_process_revokes("PostgreSQL", &url).await;
    index.0.close().await;
    drop_schema(&schema).await;
}
