//! `BeakerStore` against the real Beaker 1.14.1 through pyramid_beaker 0.9
//! (`tests/pyramid/beaker_peer.py`), on each back end it shares (`file`, `ext:redis`,
//! `ext:database` on SQLite and PostgreSQL) and with both data serializers: state both ways,
//! `_accessed_time` and `new`, tampered cookies, expiry, the layouts, the file lock, and
//! pickles that would run code.
//!
//! Needs `REDIS_URL` (`scripts/redis.sh`), `POSTGRES_URL` (`scripts/postgres.sh`) and the
//! venv of `scripts/pyenv.sh`; without them these tests fail, never skip. They use Redis
//! database 8 and delete only their own keys, the PostgreSQL table `beaker_live`, and
//! directories of their own under the system's temporary directory.

mod store_common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use typed_sessions::Serializer;
use typed_sessions::codec::BeakerIdCodec;
use typed_sessions::pickle::{self, Value as Py};
use typed_sessions::store::BeakerStore;
use typed_sessions::{
    Clock, LoadOutcome, ManualClock, Rejection, Saved, ServerSessionFactory, Session,
};
use typed_sessions_tests::PyramidPeer;

const SECRET: &str = "the session.secret of the Pyramid app";
const TIMEOUT: u64 = 600;
const USER: &str = "ann";

/// One test at a time: they share the peer's back ends (and the PostgreSQL table).
/// (tokio's: held across `.await`s, and not poisoned by a failed test.)
static SERIAL: Mutex<()> = Mutex::const_new(());

fn env(name: &str, script: &str) -> String {
    match std::env::var(name) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!("{name} is not set: run scripts/{script} (or scripts/test.sh) and export it"),
    }
}

fn redis_url() -> String {
    let base = env("REDIS_URL", "redis.sh");
    let base = base.trim_end_matches(|c: char| c.is_ascii_digit());
    format!("{}/8", base.trim_end_matches('/'))
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn cart() -> Value {
    json!([{"product": "sencha", "qty": 2}, {"product": "ü-matcha", "qty": 1}])
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    File,
    Redis,
    Sqlite,
    Postgres,
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "beaker-live-{name}-{}-{}",
            std::process::id(),
            now() as u64
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Both sides of one back end with one serializer.
struct Pair {
    kind: Kind,
    serializer: &'static str,
    dir: TempDir,
    peer: PyramidPeer,
}

impl Pair {
    fn new(kind: Kind, serializer: &'static str) -> Self {
        Self {
            kind,
            serializer,
            dir: TempDir::new(&format!("{kind:?}-{serializer}")),
            peer: PyramidPeer::start_script("beaker_peer.py"),
        }
    }

    fn serializer(&self) -> Serializer {
        match self.serializer {
            "json" => Serializer::Json,
            _ => Serializer::Pickle,
        }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.0.join("sessions.db")
    }

    /// The Pyramid app's settings, as its .ini would say them.
    fn settings(&self) -> Value {
        let mut settings = json!({
            "session.secret": SECRET,
            "session.timeout": TIMEOUT.to_string(),
            "session.data_serializer": self.serializer,
        });
        let more = match self.kind {
            Kind::File => json!({"session.type": "file",
                                 "session.data_dir": self.dir.0.to_str().unwrap()}),
            Kind::Redis => json!({"session.type": "ext:redis", "session.url": redis_url()}),
            Kind::Sqlite => json!({"session.type": "ext:database",
                "session.url": format!("sqlite:///{}", self.sqlite_path().display())}),
            Kind::Postgres => json!({"session.type": "ext:database",
                "session.url": env("POSTGRES_URL", "postgres.sh")
                    .replacen("postgres://", "postgresql://", 1),
                "session.table_name": "beaker_live"}),
        };
        settings
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        settings
    }

    async fn store(&self) -> BeakerStore {
        let serializer = self.serializer();
        let store = match self.kind {
            Kind::File => BeakerStore::file(&self.dir.0, serializer),
            Kind::Redis => BeakerStore::redis(&redis_url(), serializer).await.unwrap(),
            Kind::Sqlite => BeakerStore::sqlite(
                &format!("sqlite://{}", self.sqlite_path().display()),
                serializer,
            )
            .await
            .unwrap(),
            Kind::Postgres => {
                BeakerStore::postgres(&env("POSTGRES_URL", "postgres.sh"), serializer)
                    .await
                    .unwrap()
                    .with_table_name("beaker_live")
                    .unwrap()
            }
        };
        store.migrate().await.unwrap();
        store
    }

    async fn factory(&self, clock: Option<ManualClock>) -> ServerSessionFactory<BeakerStore> {
        let mut builder = self
            .store()
            .await
            .factory(BeakerIdCodec::new(SECRET).unwrap())
            .timeout(Duration::from_secs(TIMEOUT));
        if let Some(clock) = clock {
            builder = builder.clock(clock);
        }
        builder.build().unwrap()
    }

    /// One request through the Pyramid app.
    fn python(&mut self, cookie: Option<&str>, now: Option<f64>, ops: Value) -> Value {
        let request =
            json!({"settings": self.settings(), "cookie": cookie, "now": now, "ops": ops});
        let response = self.peer.request(&request);
        assert!(response["error"].is_null(), "Beaker failed: {response}");
        response
    }
}

async fn load(factory: &ServerSessionFactory<BeakerStore>, cookie: Option<&str>) -> Session {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = cookie {
        headers.insert(
            "cookie",
            format!("beaker.session.id={cookie}").parse().unwrap(),
        );
    }
    factory.load(&headers).await.unwrap()
}

async fn save(
    factory: &ServerSessionFactory<BeakerStore>,
    session: &Session,
) -> (Saved, HeaderMap) {
    let mut response = HeaderMap::new();
    let saved = factory.save(session, &mut response).await.unwrap();
    (saved, response)
}

/// The cookie's value in a `Set-Cookie` header.
fn value_of(set_cookie: &str) -> String {
    let pair = set_cookie.trim().split(';').next().unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "beaker.session.id");
    value.to_owned()
}

fn python_cookie(response: &Value) -> String {
    let headers = response["set_cookie"].as_array().unwrap();
    assert_eq!(headers.len(), 1, "{response}");
    value_of(headers[0].as_str().unwrap())
}

/// Python writes, Rust reads the same state; Rust changes it (and only touches it), Python
/// reads it as not new with `_accessed_time` moved; a session Rust starts reads in Python.
async fn state_crosses_both_ways(pair: &mut Pair) {
    let factory = pair.factory(None).await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set", "key": "user", "value": USER},
               {"op": "set", "key": "cart", "value": cart()}]),
    );
    assert_eq!(written["new"], json!(true));
    let cookie = python_cookie(&written);
    let python_accessed = written["state"]["_accessed_time"].as_f64().unwrap();

    let mut session = load(&factory, Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Loaded,
        "{:?}",
        pair.kind
    );
    assert_eq!(session.get("user"), Some(&json!(USER)));
    assert_eq!(session.get("cart"), Some(&cart()));
    assert!(
        session.get("_accessed_time").is_none(),
        "Beaker's own keys stay hidden"
    );
    session.insert("cart", json!([{"product": "oolong", "qty": 3}]));
    session.insert("from_rust", json!({"n": 1.5, "ok": true, "none": null}));
    let (saved, response) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    assert!(
        response.get("set-cookie").is_none(),
        "an existing id gets no new cookie"
    );

    let read = pair.python(Some(&cookie), None, json!([]));
    assert_eq!(read["new"], json!(false), "{read}");
    let state = &read["state"];
    assert_eq!(state["user"], json!(USER));
    assert_eq!(state["cart"], json!([{"product": "oolong", "qty": 3}]));
    assert_eq!(
        state["from_rust"],
        json!({"n": 1.5, "ok": true, "none": null})
    );
    assert_eq!(state["_path"], json!("/"));
    assert_eq!(read["id"].as_str().unwrap(), &cookie[40..]);

    // A request that only reads: Rust saves the new `_accessed_time`, as Beaker does.
    let clock = ManualClock::new(now() + 30.0);
    let factory_later = pair.factory(Some(clock.clone())).await;
    let session = load(&factory_later, Some(&cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
    let (saved, _) = save(&factory_later, &session).await;
    assert_eq!(saved, Saved::Written);
    let read = pair.python(Some(&cookie), None, json!([]));
    assert_eq!(read["new"], json!(false));
    // What Beaker found stored is Rust's `_accessed_time`, 30 s ahead of Python's.
    let stored = read["last_accessed"].as_f64().unwrap();
    assert!((stored - clock.now()).abs() < 1.0, "{read}");
    assert!(stored > python_accessed + 25.0, "{read}");

    // A session Rust starts: Beaker's cookie, and Python reads it as not new.
    let mut fresh = load(&factory, None).await;
    fresh.insert("user", USER);
    let (_, response) = save(&factory, &fresh).await;
    let set_cookie = response["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.contains("Path=/") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("HttpOnly") && !set_cookie.contains("Max-Age"),
        "{set_cookie}"
    );
    let rust_cookie = value_of(set_cookie);
    assert_eq!(
        rust_cookie.len(),
        72,
        "40 hex of HMAC-SHA1 + 32 hex of uuid4"
    );
    let read = pair.python(
        Some(&rust_cookie),
        None,
        json!([{"op": "get", "key": "user"}]),
    );
    assert_eq!(
        (&read["new"], &read["results"][0]),
        (&json!(false), &json!(USER)),
        "{read}"
    );
    assert!(read["set_cookie"].as_array().unwrap().is_empty());
}

/// A Rust save reads the session again and writes only its own changes: a key Python
/// wrote since the Rust request loaded survives it.
async fn a_rust_save_keeps_a_concurrent_python_write(pair: &mut Pair) {
    let factory = pair.factory(None).await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&written);
    let mut session = load(&factory, Some(&cookie)).await;
    // Meanwhile, a Python request of the same session puts the cart in.
    pair.python(
        Some(&cookie),
        None,
        json!([{"op": "set", "key": "cart", "value": cart()}]),
    );
    session.insert("seen", true);
    let (saved, _) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    let read = pair.python(Some(&cookie), None, json!([]));
    assert_eq!(read["state"]["cart"], cart(), "{read}");
    assert_eq!(read["state"]["seen"], json!(true), "{read}");
    assert_eq!(read["state"]["user"], json!(USER), "{read}");
}

/// A cookie whose signature does not match is a new session on both sides.
async fn tampered_cookies_are_refused(pair: &mut Pair) {
    let factory = pair.factory(None).await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&written);
    // Another id under the same signature, and the same id under a changed signature.
    let mut other_id = cookie.clone().into_bytes();
    other_id[50] = if other_id[50] == b'0' { b'1' } else { b'0' };
    let mut other_sig = cookie.clone().into_bytes();
    other_sig[3] = if other_sig[3] == b'0' { b'1' } else { b'0' };
    for tampered in [other_id, other_sig] {
        let tampered = String::from_utf8(tampered).unwrap();
        let session = load(&factory, Some(&tampered)).await;
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature)
        );
        assert!(session.get("user").is_none());
        let read = pair.python(Some(&tampered), None, json!([{"op": "get", "key": "user"}]));
        assert_eq!(
            (&read["new"], &read["results"][0]),
            (&json!(true), &Value::Null)
        );
    }
    // Signed with another secret: refused by Beaker too.
    let foreign = pair
        .store()
        .await
        .factory(BeakerIdCodec::new("another secret").unwrap())
        .build()
        .unwrap();
    let mut session = load(&foreign, None).await;
    session.insert("user", "mallory");
    let (_, response) = save(&foreign, &session).await;
    let value = value_of(response["set-cookie"].to_str().unwrap());
    let read = pair.python(Some(&value), None, json!([{"op": "get", "key": "user"}]));
    assert_eq!(
        (&read["new"], &read["results"][0]),
        (&json!(true), &Value::Null)
    );
    assert_ne!(read["id"].as_str().unwrap(), &value[40..]);
}

/// A session idle past the timeout is gone on both sides.
async fn sessions_expire_on_both_sides(pair: &mut Pair) {
    let factory = pair.factory(None).await;
    let then = now() - TIMEOUT as f64 - 30.0;
    let written = pair.python(
        None,
        Some(then),
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&written);
    let session = load(&factory, Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut)
    );
    assert!(session.get("user").is_none());

    let old = pair.factory(Some(ManualClock::new(then))).await;
    let mut session = load(&old, None).await;
    session.insert("user", USER);
    let (_, response) = save(&old, &session).await;
    let rust_cookie = value_of(response["set-cookie"].to_str().unwrap());
    let read = pair.python(
        Some(&rust_cookie),
        None,
        json!([{"op": "get", "key": "user"}]),
    );
    assert_eq!(read["results"][0], Value::Null, "{read}");
    assert_ne!(
        read["id"].as_str().unwrap(),
        &rust_cookie[40..],
        "Beaker invalidated it"
    );
    // Within the timeout, both read it.
    let session = load(&old, Some(&rust_cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
}

/// With pickle, what JSON cannot say survives a Rust save; a session holding a class
/// instance, a datetime or a REDUCE of a callable is refused, never run.
async fn pickles_keep_python_types_and_refuse_code(pair: &mut Pair) {
    let factory = pair.factory(None).await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set_literal", "key": "pair", "literal": "(1, b'ab', {3})"}]),
    );
    let cookie = python_cookie(&written);
    let mut session = load(&factory, Some(&cookie)).await;
    assert_eq!(session.get("pair"), Some(&json!([1, [97, 98], [3]])));
    session.insert("user", USER);
    save(&factory, &session).await;
    let read = pair.python(
        Some(&cookie),
        None,
        json!([{"op": "repr", "key": "pair"}, {"op": "get", "key": "user"}]),
    );
    assert_eq!(read["results"], json!(["(1, b'ab', {3})", USER]));

    for (op, found) in [
        ("set_datetime", "datetime.datetime"),
        ("set_instance", "Thing"),
    ] {
        let written = pair.python(None, None, json!([{"op": op, "key": "bad"}]));
        let cookie = python_cookie(&written);
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            format!("beaker.session.id={cookie}").parse().unwrap(),
        );
        // The store names what it refused; the factory starts a fresh session (the reason
        // logged), never an error on every request of that session.
        let id = &cookie[cookie.len() - 32..];
        let err = typed_sessions::store::SessionStore::load(factory.store(), id)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(found), "{op}: {err}");
        let session = factory.load(&headers).await.expect("a fresh session");
        assert_eq!(
            session.load_outcome(),
            typed_sessions::LoadOutcome::Rejected(typed_sessions::Rejection::CorruptRecord),
            "{op}"
        );
    }
}

/// `os.system` under REDUCE, as a stored session's pickle: refused, and the value left.
fn evil_inner() -> Vec<u8> {
    b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00touch /tmp\x85R.".to_vec()
}

fn wrap(inner: &[u8], dict: bool) -> Vec<u8> {
    use base64::Engine;
    let text = Py::Str(base64::engine::general_purpose::STANDARD.encode(inner));
    pickle::dumps(&if dict {
        Py::Dict(vec![(Py::from("session"), text)])
    } else {
        text
    })
}

#[tokio::test]
async fn file_back_end() {
    let _serial = SERIAL.lock().await;
    for serializer in ["pickle", "json"] {
        let mut pair = Pair::new(Kind::File, serializer);
        state_crosses_both_ways(&mut pair).await;
        a_rust_save_keeps_a_concurrent_python_write(&mut pair).await;
        tampered_cookies_are_refused(&mut pair).await;
        sessions_expire_on_both_sides(&mut pair).await;
        if serializer == "pickle" {
            pickles_keep_python_types_and_refuse_code(&mut pair).await;
        }
    }
}

/// An app without `session.secret` sends bare ids; `BeakerIdCodec::unsigned` reads and
/// writes them, and a signed factory refuses them.
#[tokio::test]
async fn unsigned_ids_only_when_asked_for() {
    let _serial = SERIAL.lock().await;
    let mut pair = Pair::new(Kind::File, "pickle");
    let mut settings = pair.settings();
    settings.as_object_mut().unwrap().remove("session.secret");
    let request = json!({"settings": settings, "cookie": null,
                         "ops": [{"op": "set", "key": "user", "value": USER}]});
    let written = pair.peer.request(&request);
    let cookie = python_cookie(&written);
    assert_eq!(cookie.len(), 32, "a bare uuid4 hex");
    let unsigned = pair
        .store()
        .await
        .factory(BeakerIdCodec::unsigned())
        .build()
        .unwrap();
    let mut session = load(&unsigned, Some(&cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
    session.insert("cart", cart());
    save(&unsigned, &session).await;
    let request =
        json!({"settings": settings, "cookie": cookie, "ops": [{"op": "get", "key": "cart"}]});
    let read = pair.peer.request(&request);
    assert_eq!(
        (&read["new"], &read["results"][0]),
        (&json!(false), &cart()),
        "{read}"
    );
    let signed = pair.factory(None).await;
    let session = load(&signed, Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TooShort)
    );
}

/// The file layout of Beaker, and its lock: a Rust save waits while Python holds the
/// session's `flock`, and answers unavailable (`503`) after its bounded wait.
#[tokio::test]
async fn file_layout_and_lock() {
    let _serial = SERIAL.lock().await;
    let mut pair = Pair::new(Kind::File, "pickle");
    let factory = pair.factory(None).await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&written);
    let id = &cookie[40..];
    let file = pair.dir.0.join(format!(
        "container_file/{}/{}/{id}.cache",
        &id[..1],
        &id[..2]
    ));
    assert!(file.is_file(), "{}", file.display());
    let lock_dir = pair.dir.0.join("container_file_lock");
    let locks: Vec<_> = walk(&lock_dir);
    assert_eq!(locks.len(), 1, "{locks:?}");

    // Rust writes the same file (`{"session": str}`), Beaker's lock file, no other.
    let mut session = load(&factory, Some(&cookie)).await;
    session.insert("cart", cart());
    save(&factory, &session).await;
    let bytes = std::fs::read(&file).unwrap();
    let Py::Dict(items) = pickle::loads(&bytes).unwrap() else {
        panic!("a dict")
    };
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].0, Py::from("session"));
    assert!(matches!(items[0].1, Py::Str(_)));
    assert_eq!(walk(&lock_dir), locks, "the same lock file as Beaker's");
    assert!(
        !walk(&pair.dir.0.join("container_file"))
            .iter()
            .any(|p| p.ends_with(".temp"))
    );

    // Python holds the lock for 0.6 s: Rust's save waits for it, then writes.
    let hold = |pair: &mut Pair, seconds: f64| {
        let answer = pair.peer.request(&json!({"hold_lock": {
            "lock_dir": lock_dir.to_str().unwrap(), "id": id, "seconds": seconds}}));
        assert_eq!(answer["locked"], json!(true), "{answer}");
    };
    hold(&mut pair, 0.6);
    let started = Instant::now();
    // The load waits for the lock as the save does.
    let mut session = load(&factory, Some(&cookie)).await;
    session.insert("after_lock", true);
    let (saved, _) = save(&factory, &session).await;
    assert_eq!(saved, Saved::Written);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );

    // Held for 3 s against a wait of 0.3 s: unavailable, nothing written.
    let impatient = BeakerStore::file(&pair.dir.0, Serializer::Pickle)
        .with_lock_wait(Duration::from_millis(300))
        .factory(BeakerIdCodec::new(SECRET).unwrap())
        .build()
        .unwrap();
    hold(&mut pair, 3.0);
    let before = std::fs::read(&file).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        format!("beaker.session.id={cookie}").parse().unwrap(),
    );
    let started = Instant::now();
    let err = impatient.load(&headers).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    std::thread::sleep(Duration::from_millis(2800));

    // A REDUCE of `os.system` in the file: refused, never run, left as it is.
    let evil = wrap(&evil_inner(), true);
    std::fs::write(&file, &evil).unwrap();
    // Refused (os.system): a fresh session with the reason logged, never an error on
    // every request of that session.
    let session = factory.load(&headers).await.expect("a fresh session");
    assert_eq!(
        session.load_outcome(),
        typed_sessions::LoadOutcome::Rejected(typed_sessions::Rejection::CorruptRecord),
        "os.system"
    );
    assert!(session.is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), evil);

    // An id that is not uuid4 hex never becomes a path.
    let codec = BeakerIdCodec::new(SECRET).unwrap();
    use typed_sessions::codec::CookieCodec;
    let sneaky = codec.seal(b"../../../../../../../tmp/x").unwrap();
    let session = load(&factory, Some(&sneaky)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSessionId)
    );
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn redis_back_end() {
    let _serial = SERIAL.lock().await;
    for serializer in ["pickle", "json"] {
        let mut pair = Pair::new(Kind::Redis, serializer);
        state_crosses_both_ways(&mut pair).await;
        a_rust_save_keeps_a_concurrent_python_write(&mut pair).await;
        tampered_cookies_are_refused(&mut pair).await;
        sessions_expire_on_both_sides(&mut pair).await;
        if serializer == "pickle" {
            pickles_keep_python_types_and_refuse_code(&mut pair).await;
        }
    }
    forget_redis_keys().await;
}

async fn redis_conn() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|err| panic!("no Redis at {url} ({err}): start it with scripts/redis.sh"))
}

/// Deletes this suite's keys (all `beaker_cache:*` of database 8), nothing else.
async fn forget_redis_keys() {
    let mut conn = redis_conn().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("beaker_cache:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    for key in keys {
        let _: i64 = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// The key is `beaker_cache:<id>:session`, its TTL the timeout plus two minutes, its value
/// the pickle of a `str`, whoever wrote it.
#[tokio::test]
async fn redis_layout_and_ttl() {
    let _serial = SERIAL.lock().await;
    let mut pair = Pair::new(Kind::Redis, "json");
    let factory = pair.factory(None).await;
    let mut conn = redis_conn().await;
    let written = pair.python(
        None,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let python_id = python_cookie(&written)[40..].to_owned();
    let mut session = load(&factory, None).await;
    session.insert("user", USER);
    let (_, response) = save(&factory, &session).await;
    let rust_id = value_of(response["set-cookie"].to_str().unwrap())[40..].to_owned();
    for id in [&python_id, &rust_id] {
        let key = format!("beaker_cache:{id}:session");
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let expected = (TIMEOUT + 120) as i64;
        assert!((expected - 2..=expected).contains(&ttl), "{key}: TTL {ttl}");
        let value: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            matches!(pickle::loads(&value).unwrap(), Py::Str(_)),
            "{key}"
        );
    }
    // A Rust save of Python's session keeps the layout and renews the TTL.
    let key = format!("beaker_cache:{python_id}:session");
    let _: bool = redis::cmd("EXPIRE")
        .arg(&key)
        .arg(100)
        .query_async(&mut conn)
        .await
        .unwrap();
    let cookie = python_cookie(&written);
    let mut session = load(&factory, Some(&cookie)).await;
    session.insert("more", 1);
    save(&factory, &session).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 700, "TTL {ttl}");

    // The REDUCE of a callable, stored where Beaker reads it: refused, never run.
    let mut pickled = Pair::new(Kind::Redis, "pickle");
    let pickled_factory = pickled.factory(None).await;
    let evil = wrap(&evil_inner(), false);
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(&evil)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        format!("beaker.session.id={cookie}").parse().unwrap(),
    );
    // Refused (os.system): a fresh session with the reason logged, never an error on
    // every request of that session.
    let session = pickled_factory
        .load(&headers)
        .await
        .expect("a fresh session");
    assert_eq!(
        session.load_outcome(),
        typed_sessions::LoadOutcome::Rejected(typed_sessions::Rejection::CorruptRecord),
        "os.system"
    );
    assert!(session.is_empty());
    let left: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, evil);
    let _ = pickled.python(None, None, json!([]));
    forget_redis_keys().await;
}

#[tokio::test]
async fn sqlite_back_end() {
    let _serial = SERIAL.lock().await;
    for serializer in ["pickle", "json"] {
        let mut pair = Pair::new(Kind::Sqlite, serializer);
        state_crosses_both_ways(&mut pair).await;
        a_rust_save_keeps_a_concurrent_python_write(&mut pair).await;
        tampered_cookies_are_refused(&mut pair).await;
        sessions_expire_on_both_sides(&mut pair).await;
        if serializer == "pickle" {
            pickles_keep_python_types_and_refuse_code(&mut pair).await;
        }
        sql_layout(&pair).await;
    }
}

#[tokio::test]
async fn postgres_back_end() {
    let _serial = SERIAL.lock().await;
    drop_postgres_table().await;
    for serializer in ["pickle", "json"] {
        let mut pair = Pair::new(Kind::Postgres, serializer);
        state_crosses_both_ways(&mut pair).await;
        a_rust_save_keeps_a_concurrent_python_write(&mut pair).await;
        tampered_cookies_are_refused(&mut pair).await;
        sessions_expire_on_both_sides(&mut pair).await;
        if serializer == "pickle" {
            pickles_keep_python_types_and_refuse_code(&mut pair).await;
        }
        sql_layout(&pair).await;
    }
    drop_postgres_table().await;
}

async fn drop_postgres_table() {
    let pool = sqlx::PgPool::connect(&env("POSTGRES_URL", "postgres.sh"))
        .await
        .unwrap_or_else(|err| panic!("no PostgreSQL ({err}): start it with scripts/postgres.sh"));
    sqlx::query("DROP TABLE IF EXISTS beaker_live")
        .execute(&pool)
        .await
        .unwrap();
}

/// Every row, whoever wrote it, has the namespace (the id) and `data` the pickle
/// `{"session": str}`; the table is the one SQLAlchemy made (or Rust, identically).
async fn sql_layout(pair: &Pair) {
    let rows: Vec<(String, Vec<u8>)> = match pair.kind {
        Kind::Sqlite => {
            let pool =
                sqlx::SqlitePool::connect(&format!("sqlite://{}", pair.sqlite_path().display()))
                    .await
                    .unwrap();
            sqlx::query_as("SELECT namespace, data FROM beaker_cache")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        _ => {
            let pool = sqlx::PgPool::connect(&env("POSTGRES_URL", "postgres.sh"))
                .await
                .unwrap();
            sqlx::query_as("SELECT namespace, data FROM beaker_live")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert!(rows.len() >= 4, "{}", rows.len());
    let mut good = 0;
    for (namespace, data) in &rows {
        assert_eq!(namespace.len(), 32, "{namespace}");
        if let Ok(Py::Dict(items)) = pickle::loads(data) {
            assert_eq!(items[0].0, Py::from("session"));
            good += 1;
        }
    }
    // The sessions holding a datetime or an instance are the only ones refused.
    assert!(good + 2 >= rows.len(), "{good} of {}", rows.len());
}

/// Concurrent writers of one checked key (#22) lose nothing on Beaker's back ends: the
/// check runs inside the compare-and-set of each save (`store_common::conflicts`). No Python
/// here: these sessions are Rust's only.
mod conflicts {
    use super::*;
    use crate::store_common::conflicts;

    async fn check(store: BeakerStore) {
        let factory = || {
            store
                .clone()
                .factory(BeakerIdCodec::new(SECRET).unwrap())
                .timeout(Duration::from_secs(TIMEOUT))
                .flash_queue_cap(None)
                .build()
                .unwrap()
        };
        conflicts::all(&factory()).await;
        conflicts::many_writers_of_one_flash_queue_lose_no_message(factory(), 16, 4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_and_redis_writers_of_one_checked_key_lose_nothing() {
        let _serial = SERIAL.lock().await;
        for serializer in [Serializer::Pickle, Serializer::Json] {
            let dir = TempDir::new(&format!("conflicts-{serializer:?}"));
            check(BeakerStore::file(&dir.0, serializer)).await;
            check(BeakerStore::redis(&redis_url(), serializer).await.unwrap()).await;
        }
    }
}
