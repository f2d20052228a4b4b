//! `PyramidRedisStore` against the real `pyramid_session_redis` 1.8.1
//! (`tests/pyramid/psr_peer.py`): both sides read and write one Redis, and every layout
//! fact (key, TTL, payload, cookie, `Vary`) is checked against what the package does.
//!
//! Needs `REDIS_URL` (`scripts/redis.sh`) and the venv of `scripts/pyenv.sh`; without them
//! these tests fail, never skip. They use Redis database 7 and delete only their own keys.

mod store_common;

use base64::Engine;
use http::HeaderMap;
use serde_json::{Value, json};
use typed_sessions::Serializer;
use typed_sessions::store::{PyramidRedisOptions, PyramidRedisStore};
use typed_sessions::{LoadOutcome, ManualClock, Rejection, Saved, ServerSessionFactory};
use typed_sessions_tests::PyramidPeer;

const SECRET: &str = "a secret shared with the Pyramid app, long enough";

/// One peer at a time: the tests also count the keys of database 7.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn redis_url() -> String {
    let base = match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "REDIS_URL is not set: run `export REDIS_URL=\"$(scripts/redis.sh | tail -n 1)\"` \
             or scripts/test.sh"
        ),
    };
    // Database 7 of that server: the package's keys are bare ids, without a prefix.
    let (scheme, rest) = base.split_once("://").expect("REDIS_URL is a URL");
    let host = rest.split('/').next().unwrap();
    format!("{scheme}://{host}/7")
}

/// What the peer's factory gets, as the Pyramid app's settings would say it.
fn python_spec(serializer: &str, extra: Value) -> Value {
    let mut spec = json!({"secret": SECRET, "redis_url": redis_url(), "serializer": serializer});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    spec
}

struct Side {
    factory: ServerSessionFactory<PyramidRedisStore>,
    conn: redis::aio::MultiplexedConnection,
}

async fn rust_side(serializer: Serializer, options: PyramidRedisOptions) -> Side {
    rust_side_with(serializer, options, None).await
}

async fn rust_side_with(
    serializer: Serializer,
    options: PyramidRedisOptions,
    clock: Option<ManualClock>,
) -> Side {
    let url = redis_url();
    let store = PyramidRedisStore::connect(&url, serializer)
        .await
        .unwrap()
        .with_options(options);
    let mut builder = store.factory(SECRET);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|err| panic!("no Redis at {url} ({err}): start it with scripts/redis.sh"));
    Side {
        factory: builder.build().unwrap(),
        conn,
    }
}

impl Side {
    async fn load(&self, cookie: Option<&str>) -> typed_sessions::Session {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert("cookie", format!("session={cookie}").parse().unwrap());
        }
        self.factory.load(&headers).await.unwrap()
    }

    async fn save(&self, session: &typed_sessions::Session) -> (Saved, HeaderMap) {
        let mut response = HeaderMap::new();
        let saved = self.factory.save(session, &mut response).await.unwrap();
        (saved, response)
    }

    async fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap()
    }

    async fn raw(&self, key: &str) -> Option<Vec<u8>> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap()
    }

    async fn set_raw(&self, key: &str, value: &[u8]) {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }

    async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
        keys.sort();
        keys
    }

    async fn forget(&self, key: &str) {
        let _: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }
}

/// The session id a cookie value carries: after the 64-byte HMAC-SHA512.
fn id_of(cookie: &str) -> String {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cookie.trim_end_matches('='))
        .unwrap();
    String::from_utf8(raw[64..].to_vec()).unwrap()
}

/// The cookie's value in a `Set-Cookie` header.
fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

fn rust_cookie(response: &HeaderMap) -> String {
    value_of(response["set-cookie"].to_str().unwrap())
}

fn run(peer: &mut PyramidPeer, spec: &Value, cookie: Option<&str>, ops: Value) -> Value {
    run_at(peer, spec, cookie, None, ops)
}

fn run_at(
    peer: &mut PyramidPeer,
    spec: &Value,
    cookie: Option<&str>,
    now: Option<f64>,
    ops: Value,
) -> Value {
    let response =
        peer.request(&json!({"factory": spec, "cookie": cookie, "now": now, "ops": ops}));
    assert!(
        response["error"].is_null(),
        "pyramid_session_redis failed: {response}"
    );
    response
}

fn python_cookie(response: &Value) -> String {
    let headers = response["set_cookie"].as_array().unwrap();
    assert_eq!(headers.len(), 1, "{response}");
    value_of(headers[0].as_str().unwrap())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

const USER: &str = "ann";

fn cart() -> Value {
    json!([{"product": "sencha", "qty": 2}, {"product": "ü-matcha", "qty": 1}])
}

/// Python writes, Rust reads the same state; Rust changes it, Python reads it as not new.
async fn state_crosses_both_ways(serializer: Serializer, name: &str) {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec(name, json!({}));
    let side = rust_side(serializer, PyramidRedisOptions::default()).await;

    let written = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER},
               {"op": "set", "key": "cart", "value": cart()}]),
    );
    let cookie = python_cookie(&written);
    let id = id_of(&cookie);

    let mut session = side.load(Some(&cookie)).await;
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(session.get("user"), Some(&json!(USER)));
    assert_eq!(session.get("cart"), Some(&cart()));
    session.insert("cart", json!([{"product": "oolong", "qty": 3}]));
    session.insert("from_rust", json!({"n": 1.5, "ok": true, "none": null}));
    let (saved, response) = side.save(&session).await;
    assert_eq!(saved, Saved::Written);
    assert!(
        response.get("set-cookie").is_none(),
        "an existing session gets no new cookie, as with the package"
    );

    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(false), "{read}");
    assert_eq!(
        read["state"],
        json!({"user": USER, "cart": [{"product": "oolong", "qty": 3}],
               "from_rust": {"n": 1.5, "ok": true, "none": null}})
    );
    assert!(read["set_cookie"].as_array().unwrap().is_empty());

    // A session Rust starts: its cookie and key are the package's.
    let mut fresh = side.load(None).await;
    fresh.insert("user", USER);
    let (_, response) = side.save(&fresh).await;
    let set_cookie = response["set-cookie"].to_str().unwrap();
    assert!(set_cookie.ends_with("; HttpOnly; Path=/") || set_cookie.contains("Path=/"));
    assert!(set_cookie.contains("HttpOnly") && !set_cookie.contains("SameSite"));
    assert_eq!(response["vary"], "Cookie");
    let rust_cookie = rust_cookie(&response);
    assert_eq!(
        rust_cookie.len(),
        171,
        "the package's cookies are 171 characters"
    );
    let rust_id = id_of(&rust_cookie);
    assert_eq!(rust_id.len(), 64);
    let read = run(
        &mut peer,
        &spec,
        Some(&rust_cookie),
        json!([{"op": "get", "key": "user"}]),
    );
    assert_eq!(
        (&read["new"], &read["results"][0]),
        (&json!(false), &json!(USER))
    );

    side.forget(&id).await;
    side.forget(&rust_id).await;
}

#[tokio::test]
async fn json_state_crosses_both_ways() {
    state_crosses_both_ways(Serializer::Json, "json").await;
}

#[tokio::test]
async fn pickled_state_crosses_both_ways() {
    state_crosses_both_ways(Serializer::Pickle, "pickle").await;
}

/// With pickle, what JSON cannot say survives: a tuple, bytes and a set the app stored are
/// read as arrays here and, untouched by a Rust save, still are a tuple, bytes and a set.
#[tokio::test]
async fn pickled_python_types_survive_a_rust_save() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("pickle", json!({}));
    let side = rust_side(Serializer::Pickle, PyramidRedisOptions::default()).await;
    let written = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set_literal", "key": "pair", "literal": "(1, b'ab', {3})"}]),
    );
    let cookie = python_cookie(&written);
    let mut session = side.load(Some(&cookie)).await;
    assert_eq!(session.get("pair"), Some(&json!([1, [97, 98], [3]])));
    session.insert("user", USER);
    side.save(&session).await;
    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "repr", "key": "pair"}, {"op": "get", "key": "user"}]),
    );
    assert_eq!(read["results"], json!(["(1, b'ab', {3})", USER]));

    // A pickle that would run code is refused, never run, and left as it is.
    let id = id_of(&cookie);
    let evil = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.";
    side.set_raw(&id, evil).await;
    let mut headers = HeaderMap::new();
    headers.insert("cookie", format!("session={cookie}").parse().unwrap());
    // Refused (os.system): a fresh session with the reason logged, never an error on
    // every request of that session.
    let session = side.factory.load(&headers).await.expect("a fresh session");
    assert_eq!(
        session.load_outcome(),
        typed_sessions::LoadOutcome::Rejected(typed_sessions::Rejection::CorruptRecord),
        "os.system"
    );
    assert!(session.is_empty());
    assert_eq!(side.raw(&id).await.unwrap(), evil);
    side.forget(&id).await;
}

/// The key is the id, its TTL the timeout; the payload is `{m, c, v, x, t}` as the package
/// writes it, under each option that changes it.
#[tokio::test]
async fn the_key_ttl_and_payload_are_the_packages() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let cases = [
        // (the app's settings, the store's options, TTL, `t`, whether `x` is there)
        (
            json!({}),
            PyramidRedisOptions::default(),
            1200,
            Some(1200),
            true,
        ),
        (
            json!({"timeout": null}),
            PyramidRedisOptions::default().timeout(None),
            -1,
            None,
            false,
        ),
        (
            json!({"set_redis_ttl": false}),
            PyramidRedisOptions::default().set_redis_ttl(false),
            -1,
            Some(1200),
            true,
        ),
        (
            json!({"python_expires": false}),
            PyramidRedisOptions::default().python_expires(false),
            1200,
            Some(1200),
            false,
        ),
        (
            json!({"timeout": 600, "timeout_trigger": 300}),
            PyramidRedisOptions::default()
                .timeout(Some(600))
                .timeout_trigger(Some(300)),
            600,
            Some(600),
            true,
        ),
    ];
    for ((extra, options, ttl, t, has_x), (name, serializer)) in
        cases.into_iter().flat_map(|case| {
            [("json", Serializer::Json), ("pickle", Serializer::Pickle)].map(|s| (case.clone(), s))
        })
    {
        let spec = python_spec(name, extra.clone());
        let side = rust_side(serializer, options).await;
        let python = run(
            &mut peer,
            &spec,
            None,
            json!([{"op": "set", "key": "k", "value": 1}]),
        );
        let python_id = id_of(&python_cookie(&python));
        let mut session = side.load(None).await;
        session.insert("k", 1);
        let (_, response) = side.save(&session).await;
        let rust_id = id_of(&rust_cookie(&response));

        let mut shapes = Vec::new();
        for id in [&python_id, &rust_id] {
            let got = side.ttl(id).await;
            assert!(
                (got - ttl).abs() <= 1 && (got >= 0) == (ttl >= 0),
                "{extra}: TTL {got}, want {ttl}"
            );
            let raw = side.raw(id).await.unwrap();
            let value: Value = match serializer {
                Serializer::Json => serde_json::from_slice(&raw).unwrap(),
                _ => typed_sessions::pickle::loads(&raw).unwrap().to_json(),
            };
            let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
            shapes.push(
                keys.iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            assert_eq!(value["m"], json!({"k": 1}), "{extra}");
            assert_eq!(value["v"], json!(1));
            assert!(value["c"].is_i64());
            assert_eq!(value.get("x").is_some(), has_x, "{extra}: {value}");
            assert_eq!(
                value.get("t").and_then(Value::as_i64),
                t,
                "{extra}: {value}"
            );
            if let (Some(t), Some(x)) = (t, value.get("x").and_then(Value::as_i64)) {
                let c = value["c"].as_i64().unwrap();
                assert!((x - c - t).abs() <= 1, "{extra}: {value}");
            }
        }
        let mut sorted = shapes.clone();
        sorted.iter_mut().for_each(|s| {
            let mut parts: Vec<&str> = s.split(',').collect();
            parts.sort_unstable();
            *s = parts.join(",");
        });
        assert_eq!(
            sorted[0], sorted[1],
            "{extra}: python {} rust {}",
            shapes[0], shapes[1]
        );
        side.forget(&python_id).await;
        side.forget(&rust_id).await;
    }
}

/// A cookie whose signature does not check is refused on both sides, and the key it named
/// stays as it was.
#[tokio::test]
async fn tampered_cookies_are_refused_on_both_sides() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("json", json!({}));
    let side = rust_side(Serializer::Json, PyramidRedisOptions::default()).await;

    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let mut session = side.load(None).await;
    session.insert("user", USER);
    let (_, response) = side.save(&session).await;
    let rust = rust_cookie(&response);

    for good in [&cookie, &rust] {
        let mut bytes = good.clone().into_bytes();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let session = side.load(Some(&tampered)).await;
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature)
        );
        assert!(session.is_empty());
        let read = run(
            &mut peer,
            &spec,
            Some(&tampered),
            json!([{"op": "get_state"}]),
        );
        assert_eq!((&read["new"], &read["state"]), (&json!(true), &json!({})));
        assert!(read["set_cookie"].as_array().unwrap().is_empty());
    }
    // Signed with another secret: refused too.
    let other = python_spec(
        "json",
        json!({"secret": "another secret, just as long as ours"}),
    );
    let read = run(&mut peer, &other, Some(&rust), json!([{"op": "get_state"}]));
    assert_eq!(read["new"], json!(true));
    for good in [&cookie, &rust] {
        let session = side.load(Some(good)).await;
        assert_eq!(
            session.get("user"),
            Some(&json!(USER)),
            "the record is untouched"
        );
        side.forget(&id_of(good)).await;
    }
}

/// `x` is the expiry on both sides: a session past it is a new one for the package and for
/// the factory, whoever wrote it.
#[tokio::test]
async fn expiry_agrees_on_both_sides() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("json", json!({"timeout": 60}));
    let options = PyramidRedisOptions::default().timeout(Some(60));
    let start = now().floor();

    // Python writes at `start`: x = start + 60.
    let python = run_at(
        &mut peer,
        &spec,
        None,
        Some(start),
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let clock = ManualClock::new(start + 59.5);
    let side = rust_side_with(Serializer::Json, options, Some(clock.clone())).await;
    let session = side.load(Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Loaded,
        "alive before x"
    );
    clock.set(start + 61.0);
    let session = side.load(Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut),
        "expired after x"
    );
    let read = run_at(
        &mut peer,
        &spec,
        Some(&cookie),
        Some(start + 61.0),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(true), "and the package agrees");

    // Rust writes at `start`: the package sees it alive until x, new after.
    clock.set(start);
    let mut session = side.load(None).await;
    session.insert("user", USER);
    let (_, response) = side.save(&session).await;
    let rust = rust_cookie(&response);
    // (After x first: a live read would move x.)
    let read = run_at(
        &mut peer,
        &spec,
        Some(&rust),
        Some(start + 61.0),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(true));
    let read = run_at(
        &mut peer,
        &spec,
        Some(&rust),
        Some(start + 59.0),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(
        (&read["new"], &read["state"]),
        (&json!(false), &json!({"user": USER}))
    );

    side.forget(&id_of(&cookie)).await;
    side.forget(&id_of(&rust)).await;
}

/// Emptying a session deletes its key and expires its cookie, on both sides; a session
/// never given a value leaves no key and sends no cookie.
#[tokio::test]
async fn emptied_sessions_are_deleted_and_empty_ones_never_stored() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("json", json!({}));
    let side = rust_side(Serializer::Json, PyramidRedisOptions::default()).await;
    let before = side.keys().await;

    // Untouched, read only, or filled and emptied in the same request: nothing anywhere.
    for touch in 0..3 {
        let mut session = side.load(None).await;
        match touch {
            0 => {}
            1 => assert_eq!(session.get("user"), None),
            _ => {
                session.insert("user", USER);
                session.remove("user");
            }
        }
        let (_, response) = side.save(&session).await;
        assert!(response.is_empty(), "no cookie, no Vary: {response:?}");
    }
    let read = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "get", "key": "user"}]),
    );
    assert!(read["set_cookie"].as_array().unwrap().is_empty() && read["vary"].is_null());
    assert_eq!(side.keys().await, before, "no key was written");

    // Python writes, Rust empties: the key goes and the cookie is expired.
    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let mut session = side.load(Some(&cookie)).await;
    session.remove("user");
    let (_, response) = side.save(&session).await;
    assert!(
        side.raw(&id_of(&cookie)).await.is_none(),
        "the key is deleted"
    );
    let removal = response["set-cookie"].to_str().unwrap();
    assert!(
        removal.starts_with("session=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );

    // Rust writes, Python empties: the package does the same.
    let mut session = side.load(None).await;
    session.insert("user", USER);
    let (_, response) = side.save(&session).await;
    let rust = rust_cookie(&response);
    let read = run(
        &mut peer,
        &spec,
        Some(&rust),
        json!([{"op": "delete", "key": "user"}]),
    );
    assert!(
        read["set_cookie"][0]
            .as_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(side.raw(&id_of(&rust)).await.is_none());
    assert_eq!(side.keys().await, before);
}

/// A Rust save merges its changes onto the value Python wrote meanwhile: a key Python
/// added after the Rust load survives the Rust save.
#[tokio::test]
async fn a_rust_save_keeps_what_python_wrote_since_its_load() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("json", json!({}));
    let side = rust_side(Serializer::Json, PyramidRedisOptions::default()).await;

    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let mut session = side.load(Some(&cookie)).await;
    // Meanwhile, the Pyramid app handles another request of the same session.
    run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "set", "key": "cart", "value": cart()}]),
    );
    session.insert("lang", "de");
    let (saved, _) = side.save(&session).await;
    assert_eq!(saved, Saved::Written);
    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(
        read["state"],
        json!({"user": USER, "cart": cart(), "lang": "de"})
    );

    // A key the Rust request removed goes, the others stay.
    let mut session = side.load(Some(&cookie)).await;
    session.remove("lang");
    side.save(&session).await;
    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["state"], json!({"user": USER, "cart": cart()}));

    // Deleted by the app since the load: the Rust changes are dropped, not resurrected.
    let mut session = side.load(Some(&cookie)).await;
    run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "invalidate"}]),
    );
    session.insert("lang", "fr");
    let (saved, _) = side.save(&session).await;
    assert_eq!(saved, Saved::Discarded);
    assert!(side.raw(&id_of(&cookie)).await.is_none());
}

/// A payload the package would not read (legacy, no `v`) is a new session here too; one
/// it cannot deserialize is an error on both sides, never an empty session over it.
#[tokio::test]
async fn legacy_and_corrupt_payloads_are_handled_as_the_package_does() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("json", json!({}));
    let side = rust_side(Serializer::Json, PyramidRedisOptions::default()).await;
    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let id = id_of(&cookie);

    side.set_raw(&id, br#"{"m":{"user":"old"},"c":1}"#).await;
    let session = side.load(Some(&cookie)).await;
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId)
    );
    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(true));

    side.set_raw(&id, b"not json").await;
    let mut headers = HeaderMap::new();
    headers.insert("cookie", format!("session={cookie}").parse().unwrap());
    // Refused (not a JSON session payload): a fresh session with the reason logged, never an error on
    // every request of that session.
    let session = side.factory.load(&headers).await.expect("a fresh session");
    assert_eq!(
        session.load_outcome(),
        typed_sessions::LoadOutcome::Rejected(typed_sessions::Rejection::CorruptRecord),
        "not a JSON session payload"
    );
    assert!(session.is_empty());
    let read =
        peer.request(&json!({"factory": spec, "cookie": cookie, "ops": [{"op": "get_state"}]}));
    assert!(!read["error"].is_null(), "the package fails too: {read}");
    assert_eq!(side.raw(&id).await.unwrap(), b"not json", "left as it was");
    side.forget(&id).await;
}

/// Concurrent Rust saves of one session, each writing its own key, all survive: each save
/// merges onto the value it finds and writes only if nobody wrote since (the
/// compare-and-set retries; a plain read-modify-write would lose most of them).
#[tokio::test]
async fn concurrent_rust_saves_of_other_keys_all_survive() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("pickle", json!({}));
    let side =
        std::sync::Arc::new(rust_side(Serializer::Pickle, PyramidRedisOptions::default()).await);
    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);

    // As many writers as the store tries: each can lose to every other one once at most.
    let writers = PyramidRedisStore::MAX_ATTEMPTS;
    let mut sessions = Vec::new();
    for n in 0..writers {
        let mut session = side.load(Some(&cookie)).await;
        session.insert(format!("k{n}"), n);
        sessions.push(session);
    }
    let saves: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let side = side.clone();
            tokio::spawn(async move {
                let mut response = HeaderMap::new();
                side.factory.save(&session, &mut response).await.unwrap()
            })
        })
        .collect();
    for save in saves {
        assert_eq!(save.await.unwrap(), Saved::Written);
    }
    let read = run(
        &mut peer,
        &spec,
        Some(&cookie),
        json!([{"op": "get_state"}]),
    );
    let mut want = json!({"user": USER});
    for n in 0..writers {
        want[format!("k{n}")] = json!(n);
    }
    assert_eq!(read["state"], want);
    side.forget(&id_of(&cookie)).await;
}

/// `timeout_trigger`: a read moves `x` only once the session is within the trigger of
/// expiring, on this side as in the package.
#[tokio::test]
async fn a_timeout_trigger_moves_x_only_near_expiry() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("pickle", json!({"timeout": 600, "timeout_trigger": 300}));
    let options = PyramidRedisOptions::default()
        .timeout(Some(600))
        .timeout_trigger(Some(300));
    let start = now().floor();
    let python = run_at(
        &mut peer,
        &spec,
        None,
        Some(start),
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let id = id_of(&cookie);
    let clock = ManualClock::new(start + 100.0);
    let side = rust_side_with(Serializer::Pickle, options, Some(clock.clone())).await;
    let expires = |raw: Vec<u8>| {
        typed_sessions::pickle::loads(&raw).unwrap().to_json()["x"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(expires(side.raw(&id).await.unwrap()), start + 600.0);

    // 100 s in: 500 s left, more than the trigger: a read writes nothing.
    let session = side.load(Some(&cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
    let (saved, _) = side.save(&session).await;
    assert_eq!(saved, Saved::Unchanged);
    assert_eq!(expires(side.raw(&id).await.unwrap()), start + 600.0);

    // 350 s in: 250 s left: the read moves x to now + 600, as the package would.
    clock.set(start + 350.0);
    let session = side.load(Some(&cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
    let (saved, _) = side.save(&session).await;
    assert_eq!(saved, Saved::Written);
    assert_eq!(expires(side.raw(&id).await.unwrap()), start + 950.0);
    let read = run_at(
        &mut peer,
        &spec,
        Some(&cookie),
        Some(start + 900.0),
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(false), "alive past the old x: {read}");
    side.forget(&id).await;
}

/// `python_expires=False`: no `x`, Redis's TTL alone ends the session, and a read renews
/// only the TTL (the package's `EXPIRE` on exit), never rewriting the value.
#[tokio::test]
async fn without_python_expires_a_read_renews_only_the_ttl() {
    let _serial = serial().await;
    let mut peer = PyramidPeer::start_script("psr_peer.py");
    let spec = python_spec("pickle", json!({"python_expires": false}));
    let options = PyramidRedisOptions::default().python_expires(false);
    let clock = ManualClock::new(now().floor() + 5.0);
    let side = rust_side_with(Serializer::Pickle, options, Some(clock)).await;
    let python = run(
        &mut peer,
        &spec,
        None,
        json!([{"op": "set", "key": "user", "value": USER}]),
    );
    let cookie = python_cookie(&python);
    let id = id_of(&cookie);
    let before = side.raw(&id).await.unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg(&id)
        .arg(100)
        .query_async(&mut side.conn.clone())
        .await
        .unwrap();

    let session = side.load(Some(&cookie)).await;
    assert_eq!(session.get("user"), Some(&json!(USER)));
    let (saved, response) = side.save(&session).await;
    assert_eq!(saved, Saved::Written);
    assert!(response.is_empty());
    assert!(side.ttl(&id).await > 1100, "the TTL is renewed");
    assert_eq!(
        side.raw(&id).await.unwrap(),
        before,
        "the value is not rewritten"
    );
    side.forget(&id).await;
}

/// Concurrent writers of one checked key (#22) lose nothing: the check runs inside the
/// compare-and-set of each save (`store_common::conflicts`). No Python here: these sessions
/// are Rust's only, and go when the test ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_one_checked_key_lose_nothing() {
    let _serial = serial().await;
    let side = rust_side(Serializer::Json, PyramidRedisOptions::default()).await;
    let before = side.keys().await;
    for serializer in [Serializer::Pickle, Serializer::Json] {
        let factory = || async {
            PyramidRedisStore::connect(&redis_url(), serializer)
                .await
                .unwrap()
                .factory(SECRET)
                .flash_queue_cap(None)
                .build()
                .unwrap()
        };
        store_common::conflicts::all(&factory().await).await;
        store_common::conflicts::many_writers_of_one_flash_queue_lose_no_message(
            factory().await,
            16,
            4,
        )
        .await;
    }
    for key in side.keys().await {
        if !before.contains(&key) {
            side.forget(&key).await;
        }
    }
}
