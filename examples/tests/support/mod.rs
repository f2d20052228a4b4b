//! What the tests that start the example binaries share: a server process, started with
//! its stdout read up to the line that names its `http://…` address, killed when dropped.

#![allow(dead_code)] // each test file uses what it needs

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

/// A started server process; killed (and waited for) when dropped.
pub struct Process {
    child: Child,
    /// The address it printed, without the final `/` (`http://localhost:PORT`).
    pub base: String,
    /// The line it printed it in.
    pub line: String,
}

impl Process {
    /// Starts `command` (with its stderr as the caller set it) and waits for the first line
    /// it prints, which names its address.
    pub fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self { child, base, line }
    }

    /// The `host:port` of [`base`](Self::base), for a raw TCP connection.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Stops the process and returns what it wrote to its stderr (when the caller piped it).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut logged = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut logged);
        }
        logged
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The secret the shop and the Pyramid apps of `examples/pyramid_app/` share in the tests.
pub const SHARED_SECRET: &str = "a secret the shop and the Pyramid app share, for tests";

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Database `db` of the test Redis (`REDIS_URL`): the Python packages' keys are bare ids or
/// their own prefixes, so each test file keeps to a database of its own.
pub fn redis_db_url(db: u8) -> String {
    let base = std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: run `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"`")
    });
    let (scheme, rest) = base.split_once("://").expect("REDIS_URL is a URL");
    let host = rest.split('/').next().unwrap();
    format!("{scheme}://{host}/{db}")
}

/// The Python with Pyramid and its session packages: `PYRAMID_PYTHON`, or the venv
/// `scripts/pyenv.sh` makes.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("PYRAMID_PYTHON") {
        return python.into();
    }
    let output = Command::new("bash")
        .arg(workspace().join("scripts/pyenv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/pyenv.sh runs");
    assert!(
        output.status.success(),
        "scripts/pyenv.sh failed: the test needs its venv"
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .into()
}

/// Starts `command` (the shop or a Pyramid app) with [`SHARED_SECRET`] on a port the system
/// picks, its log on the test's stderr.
pub fn start_server(mut command: Command) -> Process {
    Process::start(
        command
            .env("SESSION_SECRET", SHARED_SECRET)
            .env("PORT", "0")
            .env("NO_COLOR", "1")
            .stderr(Stdio::inherit()),
    )
}

/// The value of the first hidden `csrf_token` field of a page's HTML.
pub fn csrf_token(body: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = body.find(marker).expect("the page has a form") + marker.len();
    let end = start + body[start..].find('"').unwrap();
    body[start..end].to_owned()
}

/// The number in the cart link of a shop page's HTML.
pub fn cart_count(body: &str) -> u64 {
    let marker = r#"<span id="cart-count">"#;
    let start = body.find(marker).unwrap() + marker.len();
    let end = start + body[start..].find('<').unwrap();
    body[start..end].parse().unwrap()
}

/// Every session cookie value a [`Browser`] of this test binary was given, so a test can
/// delete what it left in a shared store.
pub static COOKIES_SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A browser's one session cookie, named `cookie_name`, for 127.0.0.1: cookies do not tell
/// ports apart, so the shop and a Pyramid app on two ports see the same one.
pub struct Browser {
    client: reqwest::Client,
    cookie_name: &'static str,
    /// The cookie's value, as the last response that set it left it.
    pub cookie: Option<String>,
}

impl Browser {
    /// A browser with no cookie yet, that shows redirects instead of following them.
    pub fn new(cookie_name: &'static str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie_name,
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> (StatusCode, String) {
        let request = match &self.cookie {
            Some(cookie) => request.header(COOKIE, format!("{}={cookie}", self.cookie_name)),
            None => request,
        };
        let response = request.send().await.unwrap();
        for header in response.headers().get_all(SET_COOKIE) {
            let pair = header.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if name.trim() == self.cookie_name {
                self.cookie = Some(value.to_owned()).filter(|v| !v.is_empty());
                COOKIES_SEEN.lock().unwrap().push(value.to_owned());
            }
        }
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// `GET url`, which must answer `200`; its body.
    pub async fn get(&mut self, url: String) -> String {
        let request = self.client.get(url);
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST url` with `form`, which must answer `303`.
    pub async fn post(&mut self, url: String, form: &[(&str, &str)]) {
        let request = self.client.post(url).form(form);
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    }

    /// The session the Pyramid app at `app` sees (its `/session.json`).
    pub async fn pyramid_session(&mut self, app: &Process) -> Value {
        serde_json::from_str(&self.get(format!("{}/session.json", app.base)).await).unwrap()
    }
}

/// The test PostgreSQL's URL; a message saying how to start one when it is not set.
pub fn postgres_url() -> String {
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

/// A name no other test (or run) uses: letters, digits and underscores after `what`.
pub fn unique(what: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{what}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A schema of its own on the test PostgreSQL (named after `what`), and the URL whose
/// `search_path` is it, so that a shop's tables there are this test's alone.
pub async fn postgres_schema(what: &str) -> (String, String) {
    let schema = unique(what);
    let base = postgres_url();
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    // `schema` is `unique`'s letters, digits and underscores.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    (schema, url)
}

/// Drops a schema of [`postgres_schema`] and everything in it.
pub async fn drop_schema(schema: &str) {
    let admin = sqlx::PgPool::connect(&postgres_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
