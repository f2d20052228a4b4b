//! Golden vectors minted by real Pyramid 2.1 (`tests/pyramid/gen_vectors.py`, committed as
//! `tests/vectors/pyramid.json`): every cookie Pyramid wrote loads here with the same state
//! and timestamps, every cookie Pyramid refused is refused here, and the load / reissue /
//! timeout policy writes (or does not write) the same payload.

use std::sync::LazyLock;
use std::time::Duration;

use cookie::Cookie;
use http::HeaderMap;
use serde_json::Value;
use session::codec::{CookieCodec, SignedCodec};
use session::{
    Builder, HashAlg, LoadOutcome, ManualClock, Rejection, SameSite, Session,
    SignedCookieSessionFactory, SignedKeys,
};

static VECTORS: LazyLock<Value> = LazyLock::new(|| {
    let text = include_str!("../vectors/pyramid.json");
    serde_json::from_str(text).expect("the vectors file is JSON")
});

fn list(name: &str) -> &'static [Value] {
    VECTORS[name].as_array().expect("a list of vectors")
}

fn hash_alg(v: &Value) -> HashAlg {
    v["hashalg"].as_str().unwrap().parse().unwrap()
}

fn builder(v: &Value, now: f64) -> Builder<SignedKeys> {
    SignedCookieSessionFactory::builder(v["secret"].as_str().unwrap())
        .salt(v["salt"].as_str().unwrap())
        .hashalg(hash_alg(v))
        .allow_short_secret()
        .clock(ManualClock::new(now))
}

fn state_of(session: &Session) -> Value {
    serde_json::from_str(&session.state_json().unwrap()).unwrap()
}

fn seconds(v: &Value) -> Option<Duration> {
    v.as_u64().map(Duration::from_secs)
}

#[test]
fn pyramid_cookies_load_with_the_same_state_and_timestamps() {
    for v in list("good") {
        let name = v["name"].as_str().unwrap();
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).timeout(None).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{name}");
        assert_eq!(state_of(&session), v["state"], "{name}");
        assert_eq!(
            session.accessed(),
            v["accessed"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(session.created(), v["created"].as_f64().unwrap(), "{name}");
    }
}

#[test]
fn signing_pyramids_payload_gives_pyramids_exact_cookie() {
    for v in list("good") {
        let name = v["name"].as_str().unwrap();
        let codec = SignedCodec::new(
            v["secret"].as_str().unwrap(),
            v["salt"].as_str().unwrap(),
            hash_alg(v),
        );
        let payload = v["payload"].as_str().unwrap();
        assert_eq!(
            codec.seal(payload.as_bytes()).unwrap(),
            v["cookie_value"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn rust_cookies_carry_what_pyramid_would_write() {
    // Re-saving a loaded Pyramid session writes a payload with the same values.
    for v in list("good") {
        let name = v["name"].as_str().unwrap();
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).timeout(None).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        let value = factory.encode(&session).unwrap();
        let reloaded = factory.load_value(Some(&value));
        assert_eq!(state_of(&reloaded), v["state"], "{name}");
        assert_eq!(reloaded.created(), session.created(), "{name}");
    }
}

#[test]
fn set_cookie_attributes_match_pyramid() {
    let v = &list("good")[0];
    let now = v["now"].as_f64().unwrap();
    for case in v["set_cookie"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let options = &case["options"];
        let mut b = builder(v, now).timeout(None);
        if let Some(cookie_name) = options["cookie_name"].as_str() {
            b = b.cookie_name(cookie_name);
        }
        if let Some(max_age) = seconds(&options["max_age"]) {
            b = b.max_age(max_age);
        }
        if let Some(path) = options["path"].as_str() {
            b = b.path(Some(path.to_owned()));
        }
        if let Some(domain) = options["domain"].as_str() {
            b = b.domain(Some(domain.to_owned()));
        }
        b = b
            .secure(options["secure"].as_bool().unwrap_or(false))
            .httponly(options["httponly"].as_bool().unwrap_or(false));
        match options.get("samesite") {
            Some(Value::Null) => b = b.samesite(None),
            Some(Value::String(s)) => {
                b = b.samesite(match s.as_str() {
                    "Strict" => SameSite::Strict,
                    "Lax" => SameSite::Lax,
                    _ => SameSite::None,
                });
            }
            _ => {}
        }
        let Some(expected) = case["header"].as_str() else {
            // Pyramid fails when it writes the response; this fails when it is configured.
            assert!(b.build().is_err(), "{name}: {}", case["error"]);
            continue;
        };
        let factory = b.build().unwrap();
        let mut session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        session.changed();
        let mut headers = HeaderMap::new();
        factory.save(&session, &mut headers).unwrap();
        let ours = Cookie::parse(headers["set-cookie"].to_str().unwrap().to_owned()).unwrap();
        let theirs = Cookie::parse(expected.to_owned()).unwrap();
        assert_eq!(ours.name(), theirs.name(), "{name}");
        assert_eq!(ours.path(), theirs.path(), "{name}");
        assert_eq!(ours.domain(), theirs.domain(), "{name}");
        assert_eq!(ours.secure(), theirs.secure(), "{name}");
        assert_eq!(ours.http_only(), theirs.http_only(), "{name}");
        assert_eq!(ours.same_site(), theirs.same_site(), "{name}");
        assert_eq!(ours.max_age(), theirs.max_age(), "{name}");
        assert_eq!(
            ours.expires_datetime(),
            theirs.expires_datetime(),
            "{name}: {expected}"
        );
    }
}

#[test]
fn cookies_pyramid_refuses_are_refused() {
    for v in list("bad") {
        let name = v["name"].as_str().unwrap();
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        let LoadOutcome::Rejected(reason) = session.load_outcome() else {
            panic!("{name}: loaded a cookie Pyramid does not load as a session");
        };
        assert!(
            session.is_new() && state_of(&session) == serde_json::json!({}),
            "{name}"
        );
        let expected: &[Rejection] = match v["category"].as_str().unwrap() {
            "tampered_signature" | "tampered_payload" | "wrong_secret" | "wrong_salt" => {
                &[Rejection::BadSignature]
            }
            "wrong_hashalg" => &[Rejection::BadSignature, Rejection::TooShort],
            "truncated" => &[
                Rejection::BadBase64,
                Rejection::TooShort,
                Rejection::BadSignature,
            ],
            // An appended character can still be base64: the signature catches it then.
            "bad_base64" => &[
                Rejection::BadBase64,
                Rejection::TooShort,
                Rejection::BadSignature,
            ],
            "bad_json" => &[Rejection::NotJson, Rejection::NotUtf8],
            "not_3_array" => &[Rejection::NotArray],
            // An integer past f64's range fails in serde_json's number parser, as bad JSON.
            "bad_timestamp" => &[Rejection::BadTimestamp, Rejection::NotJson],
            "bad_state" => &[Rejection::StateNotObject],
            other => panic!("{name}: unknown category {other}"),
        };
        assert!(
            expected.contains(&reason),
            "{name}: {reason:?} not in {expected:?}"
        );
    }
}

#[test]
fn lenient_cookies_never_panic_and_padding_is_accepted() {
    for v in list("lenient") {
        let name = v["name"].as_str().unwrap();
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        if v["must_accept"].as_bool().unwrap() {
            assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{name}");
            assert_eq!(state_of(&session), v["pyramid"]["state"], "{name}");
        } else if session.load_outcome() == LoadOutcome::Loaded {
            // Where this crate also accepts what Pyramid accepts, it reads the same state;
            // text serde_json cannot decode (a lone surrogate) is kept for the save.
            let text = session.state_json().unwrap();
            match serde_json::from_str::<Value>(&text) {
                Ok(state) => assert_eq!(state, v["pyramid"]["state"], "{name}"),
                Err(_) => assert_eq!(
                    session.keys().count(),
                    v["pyramid"]["state"].as_object().unwrap().len(),
                    "{name}"
                ),
            }
        }
    }
}

#[test]
fn load_reissue_and_timeout_policy_matches_pyramid() {
    for v in list("load") {
        let name = v["name"].as_str().unwrap();
        let f = &v["factory"];
        let now = v["now"].as_f64().unwrap();
        let factory = builder(f, now)
            .timeout(seconds(&f["timeout"]))
            .reissue_time(seconds(&f["reissue_time"]))
            .build()
            .unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        if v["touch"].as_bool().unwrap() {
            let _ = session.get("a");
        }
        let expect = &v["expect"];
        assert_eq!(session.is_new(), expect["new"].as_bool().unwrap(), "{name}");
        assert_eq!(
            session.created(),
            expect["created"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(
            session.renewed(),
            expect["renewed"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(state_of(&session), expect["state"], "{name}");
        let mut headers = HeaderMap::new();
        factory.save(&session, &mut headers).unwrap();
        match expect["payload_written"].as_str() {
            None => assert!(
                headers.is_empty(),
                "{name}: wrote a cookie Pyramid does not"
            ),
            Some(payload) => {
                let pyramid: Value = serde_json::from_str(payload).unwrap();
                let header = headers["set-cookie"].to_str().unwrap();
                let value = Cookie::parse(header.to_owned()).unwrap().value().to_owned();
                let opened = factory.codec().open(&value).unwrap();
                let ours: Value = serde_json::from_slice(&opened.payload).unwrap();
                assert_eq!(ours, numbers_as_f64(&pyramid), "{name}");
            }
        }
    }
}

/// Timestamps compare by value: Pyramid writes `1000.0` where this crate writes `1000`.
fn numbers_as_f64(v: &Value) -> Value {
    let mut v = v.clone();
    for i in 0..2 {
        let t = v[i].as_f64().unwrap();
        v[i] = if t.fract() == 0.0 {
            Value::from(t as i64)
        } else {
            Value::from(t)
        };
    }
    v
}
