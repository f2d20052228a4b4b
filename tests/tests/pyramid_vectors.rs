//! Golden vectors minted by real Pyramid 2.1 (`tests/pyramid/gen_vectors.py`, committed as
//! `tests/vectors/pyramid.json`): every cookie Pyramid wrote loads here with the same state
//! and timestamps, every cookie Pyramid refused is refused here at the same stage of the
//! load, each cookie Pyramid loads loads here the same way or is listed with the reason we
//! refuse it, and the load / reissue / timeout policy writes (or does not write) the same
//! payload. Every check reads what Pyramid did from the vectors.

use std::sync::LazyLock;
use std::time::Duration;

use cookie::Cookie;
use http::HeaderMap;
use serde_json::Value;
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::{
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

/// A factory as the vector's Pyramid factory was made: Pyramid's defaults, and the
/// vector's secret, salt and hash.
fn builder(v: &Value, now: f64) -> Builder<SignedKeys> {
    SignedCookieSessionFactory::builder(v["secret"].as_str().unwrap())
        .pyramid_defaults()
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
        // Only the options the vector gives: the others are `pyramid_defaults()`'s, and
        // the cases without options check that those are Pyramid's.
        if let Some(secure) = options["secure"].as_bool() {
            b = b.secure(secure);
        }
        if let Some(httponly) = options["httponly"].as_bool() {
            b = b.httponly(httponly);
        }
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

/// The stage of Pyramid's loader (as `gen_vectors.py` records it: base64, HMAC, JSON,
/// 3-tuple unpack with `float()`, `dict()`) at which a rejection of ours happens.
fn stage(reason: Rejection) -> &'static str {
    match reason {
        Rejection::BadBase64 => "base64",
        // Python's decoder gives short values too; their signature fails.
        Rejection::TooShort | Rejection::BadSignature => "signature",
        Rejection::NotUtf8 | Rejection::NotJson => "json",
        Rejection::NotArray | Rejection::BadTimestamp => "unpack",
        Rejection::StateNotObject => "state",
        other => panic!("{other:?} is not a cookie rejection"),
    }
}

/// Bad cookies this crate refuses where Pyramid does not refuse them at the same stage, each
/// on purpose (README, "Compatibility with Pyramid, exactly"): what we answer, and why.
/// Every other bad cookie must be one Pyramid answered with a fresh session, refused here
/// at the stage where Pyramid refused it.
const BAD_STRICTER: &[(&str, Rejection, &str)] = &[
    (
        "truncated_1",
        Rejection::BadBase64,
        "the cut leaves stray bits, which Python's decoder drops",
    ),
    (
        "not_base64_at_all",
        Rejection::BadBase64,
        "Python's decoder skips characters outside the alphabet",
    ),
    (
        "timestamp_huge_int",
        Rejection::NotJson,
        "Pyramid raises OverflowError (a 500); serde_json refuses an integer past f64",
    ),
    (
        "state_null",
        Rejection::StateNotObject,
        "Pyramid raises TypeError (a 500)",
    ),
    (
        "state_int",
        Rejection::StateNotObject,
        "Pyramid raises TypeError (a 500)",
    ),
    (
        "state_string",
        Rejection::StateNotObject,
        "Pyramid raises ValueError (a 500)",
    ),
    (
        "state_empty_list",
        Rejection::StateNotObject,
        "Pyramid's dict([]) loads it as an empty session",
    ),
    (
        "state_pair_list",
        Rejection::StateNotObject,
        "Pyramid's dict([[\"a\", 1]]) loads it as {\"a\": 1}",
    ),
    (
        "state_empty_string",
        Rejection::StateNotObject,
        "Pyramid's dict(\"\") loads it as an empty session",
    ),
];

/// Cookies Pyramid loads that this crate refuses on purpose, and why. Every other lenient
/// cookie must load here exactly as Pyramid loaded it.
const LENIENT_REFUSED: &[(&str, Rejection, &str)] = &[
    (
        "over_padded",
        Rejection::BadBase64,
        "Python's decoder ignores excess padding",
    ),
    (
        "std_alphabet",
        Rejection::BadBase64,
        "`+` and `/` are not URL-safe base64",
    ),
    (
        "junk_inside",
        Rejection::BadBase64,
        "Python's decoder skips characters outside the alphabet",
    ),
    (
        "nonzero_trailing_bits",
        Rejection::BadBase64,
        "one spelling per cookie: unused bits must be zero",
    ),
    (
        "timestamps_as_strings",
        Rejection::BadTimestamp,
        "Pyramid's float() reads strings",
    ),
    (
        "timestamps_bool",
        Rejection::BadTimestamp,
        "Pyramid's float() reads booleans",
    ),
    (
        "timestamps_nan",
        Rejection::NotJson,
        "NaN is not JSON; Python's json reads it",
    ),
    (
        "timestamps_infinity",
        Rejection::NotJson,
        "Infinity is not JSON; Python's json reads it",
    ),
    (
        "timestamps_1e400",
        Rejection::NotJson,
        "a number past f64, which Python reads as infinity",
    ),
];

fn listed(table: &[(&str, Rejection, &str)], name: &str) -> Option<Rejection> {
    table
        .iter()
        .find(|(listed, ..)| *listed == name)
        .map(|&(_, reason, _)| reason)
}

/// Every name of `table` is a vector of `list`, so the table cannot outlive its vectors.
fn assert_names_exist(table: &[(&str, Rejection, &str)], list_name: &str) {
    for (name, ..) in table {
        assert!(
            list(list_name).iter().any(|v| v["name"] == *name),
            "{name} is not in the `{list_name}` vectors any more"
        );
    }
}

#[test]
fn bad_cookies_are_refused_where_pyramid_refuses_them_and_elsewhere_on_purpose() {
    assert_names_exist(BAD_STRICTER, "bad");
    for v in list("bad") {
        let name = v["name"].as_str().unwrap();
        let pyramid = &v["pyramid"];
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        let LoadOutcome::Rejected(reason) = session.load_outcome() else {
            panic!("{name}: loaded; Pyramid: {pyramid}");
        };
        assert!(
            session.is_new() && state_of(&session) == serde_json::json!({}),
            "{name}"
        );
        let agrees = pyramid["outcome"] == "fresh" && pyramid["stage"] == stage(reason);
        match listed(BAD_STRICTER, name) {
            Some(expected) => {
                assert_eq!(reason, expected, "{name}");
                assert!(
                    !agrees,
                    "{name}: Pyramid now refuses it as we do ({pyramid}): drop it from \
                     BAD_STRICTER"
                );
            }
            None => {
                assert!(
                    agrees,
                    "{name}: we answer {reason:?} (stage {}), Pyramid {pyramid}",
                    stage(reason)
                );
                // What Pyramid made of it: the same fresh session.
                assert_eq!(pyramid["new"], true, "{name}");
                assert_eq!(pyramid["state"], serde_json::json!({}), "{name}");
            }
        }
    }
}

#[test]
fn lenient_cookies_load_as_in_pyramid_unless_refused_on_purpose() {
    assert_names_exist(LENIENT_REFUSED, "lenient");
    for v in list("lenient") {
        let name = v["name"].as_str().unwrap();
        let pyramid = &v["pyramid"];
        assert_eq!(pyramid["outcome"], "loaded", "{name}: not a lenient vector");
        let now = v["now"].as_f64().unwrap();
        let factory = builder(v, now).build().unwrap();
        let session = factory.load_value(Some(v["cookie_value"].as_str().unwrap()));
        if let Some(expected) = listed(LENIENT_REFUSED, name) {
            assert!(
                !v["must_accept"].as_bool().unwrap(),
                "{name}: must be accepted"
            );
            assert_eq!(
                session.load_outcome(),
                LoadOutcome::Rejected(expected),
                "{name}"
            );
            assert!(session.is_new() && session.is_empty(), "{name}");
            continue;
        }
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{name}");
        assert_eq!(
            session.is_new(),
            pyramid["new"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(
            session.created(),
            pyramid["created"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(
            session.renewed(),
            pyramid["renewed"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(state_text_of(&session), pyramid["state"], "{name}");
    }
}

/// The state as `gen_vectors.py` records Pyramid's: JSON, except that a string with a
/// lone surrogate (which serde_json cannot decode) is `{"$lone_surrogates": <its JSON
/// text>}`. The text comes from the session's raw per-key JSON.
fn state_text_of(session: &Session) -> Value {
    let text = session.state_json().unwrap();
    let raw: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(&text).unwrap();
    let mut state = serde_json::Map::new();
    for (key, raw) in raw {
        let value = serde_json::from_str::<Value>(raw.get())
            .unwrap_or_else(|_| serde_json::json!({"$lone_surrogates": raw.get()}));
        state.insert(key, value);
    }
    Value::Object(state)
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
