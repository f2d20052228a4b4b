//! Hostile cookies and headers: each gives a defined outcome (usually a fresh session with a
//! reason), never a panic, and never unbounded work.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::json;
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::{
    HashAlg, LoadOutcome, MAX_COOKIE_VALUE_LEN, ManualClock, Rejection, SessionError,
    SignedCookieSessionFactory,
};

const SECRET: &str = "a secret for hostile input tests, 32+ bytes";
const NOW: f64 = 1_700_000_000.0;

/// Pyramid's options: where an outcome is said to be Pyramid's, it is under them.
fn factory() -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET)
        .pyramid_defaults()
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap()
}

fn sign(payload: &str) -> String {
    SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512)
        .seal(payload.as_bytes())
        .unwrap()
}

fn headers(raw: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_bytes(raw).unwrap());
    headers
}

#[test]
fn non_utf8_bytes_elsewhere_in_the_header_do_not_hide_the_session() {
    let value = sign(r#"[1700000000, 1700000000, {"a": 1}]"#);
    let mut raw = b"junk=\xff\xfe; session=".to_vec();
    raw.extend_from_slice(value.as_bytes());
    raw.extend_from_slice(b"; more=\xc3\x28");
    let session = factory().load(&headers(&raw));
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(session.get("a"), Some(&json!(1)));
}

#[test]
fn non_utf8_bytes_in_the_session_cookie_are_bad_base64() {
    let session = factory().load(&headers(b"session=abc\xffdef"));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadBase64)
    );
}

#[test]
fn a_64_kib_header_is_handled() {
    let mut raw = Vec::new();
    for i in 0..2000 {
        raw.extend_from_slice(format!("c{i}=xxxxxxxxxxxxxxxxxxxxxxxx; ").as_bytes());
    }
    raw.extend_from_slice(b"session=");
    raw.resize(64 * 1024, b'A');
    let session = factory().load(&headers(&raw));
    assert!(matches!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature | Rejection::BadBase64)
    ));

    // A 64 KiB session cookie that is validly signed still loads: size alone is not a reason.
    let big = format!(
        r#"[1700000000, 1700000000, {{"a": "{}"}}]"#,
        "x".repeat(40_000)
    );
    let session = factory().load_value(Some(&sign(&big)));
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
}

#[test]
fn odd_timestamps_have_defined_outcomes() {
    let factory = factory();
    let load = |accessed: &str, created: &str| {
        factory.load_value(Some(&sign(&format!(
            r#"[{accessed}, {created}, {{"a": 1}}]"#
        ))))
    };
    // The far future: refused, even under Pyramid's defaults (which would never time such a
    // session out), as only the server can sign such a cookie and it never writes one.
    for (accessed, created) in [
        ("99999999999", "0"),
        ("1e300", "1e300"),
        ("1700000000", "1800000000"),
    ] {
        assert_eq!(
            load(accessed, created).load_outcome(),
            LoadOutcome::Rejected(Rejection::FromTheFuture),
            "{accessed}, {created}"
        );
    }
    // Negative and ancient: timed out (Pyramid's defaults have no absolute lifetime).
    assert_eq!(
        load("-5", "-5").load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut)
    );
    // `created` later than `accessed`, both in the past: loaded as it is.
    let session = load("1699999990", "1699999995");
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(session.created(), 1_699_999_995.0);
    // Not numbers at all, or beyond f64.
    for (accessed, reason) in [
        ("NaN", Rejection::NotJson),
        ("Infinity", Rejection::NotJson),
        ("\"1700000000\"", Rejection::BadTimestamp),
        ("true", Rejection::BadTimestamp),
        ("1e400", Rejection::NotJson),
    ] {
        assert_eq!(
            load(accessed, "0").load_outcome(),
            LoadOutcome::Rejected(reason),
            "{accessed}"
        );
    }
    // With the builder's own defaults, an ancient session is past its absolute lifetime.
    let safe = SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let ancient = sign(r#"[1699999990, -5, {"a": 1}]"#);
    assert_eq!(
        safe.load_value(Some(&ancient)).load_outcome(),
        LoadOutcome::Rejected(Rejection::TooOld)
    );
}

#[test]
fn a_payload_nested_10000_deep_fails_fast() {
    let depth = 10_000;
    let payload = format!(
        r#"[1700000000, 1700000000, {{"a": {}{}}}]"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let session = factory().load_value(Some(&sign(&payload)));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::NotJson)
    );
    let objects = format!(
        r#"[1700000000, 1700000000, {}1{}]"#,
        r#"{"a": "#.repeat(depth),
        "}".repeat(depth)
    );
    assert!(matches!(
        factory().load_value(Some(&sign(&objects))).load_outcome(),
        LoadOutcome::Rejected(_)
    ));
}

/// A state whose cookie value is exactly `target` bytes long, found by growing a filler.
fn session_with_value_len(target: usize) -> Option<typed_sessions::Session> {
    let factory = factory();
    (0..4000).find_map(|filler| {
        let mut session = factory.load_value(None);
        session.insert("k", "x".repeat(filler));
        let len = match factory.encode(&session) {
            Ok(value) => value.len(),
            Err(SessionError::TooLarge { size, .. }) => size,
            Err(e) => panic!("{e}"),
        };
        (len == target).then_some(session)
    })
}

#[test]
fn the_size_limit_is_exact() {
    let factory = factory();
    let at_limit = session_with_value_len(MAX_COOKIE_VALUE_LEN).expect("a state of that size");
    let mut headers = HeaderMap::new();
    factory.save(&at_limit, &mut headers).unwrap();
    assert!(headers.contains_key("set-cookie"));

    let over = session_with_value_len(MAX_COOKIE_VALUE_LEN + 2)
        .or_else(|| session_with_value_len(MAX_COOKIE_VALUE_LEN + 1))
        .expect("a state just over");
    let mut headers = HeaderMap::new();
    let err = factory.save(&over, &mut headers).unwrap_err();
    assert!(matches!(err, SessionError::TooLarge { limit: 4064, size, .. } if size > 4064));
    assert!(headers.is_empty());
}

#[test]
fn a_cookie_at_the_limit_round_trips() {
    let factory = factory();
    let session = session_with_value_len(MAX_COOKIE_VALUE_LEN).unwrap();
    let value = factory.encode(&session).unwrap();
    let loaded = factory.load_value(Some(&value));
    assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(loaded.get("k"), session.get("k"));
}

#[test]
fn a_stored_value_of_the_wrong_type_is_an_error_and_is_not_overwritten_by_reads() {
    let factory = factory();
    let mut session = factory.load_value(Some(&sign(
        r#"[1700000000, 1700000000, {"count": "seven", "other": 1}]"#,
    )));
    let err = session.get_as::<u32>("count").unwrap_err();
    assert_eq!(err.key(), Some("count"));
    assert!(err.to_string().contains("u32"), "{err}");
    assert!(session.remove_as::<u32>("count").is_err());
    assert_eq!(session.get("count"), Some(&json!("seven")));
    assert_eq!(session.get("other"), Some(&json!(1)));
    let _ = session.get_csrf_token().unwrap();
    let value = factory.encode(&session).unwrap();
    assert_eq!(
        factory.load_value(Some(&value)).get("count"),
        Some(&json!("seven"))
    );
}

#[test]
fn rejections_are_logged_at_info_with_their_reason() {
    let ((), logged) = typed_sessions_tests::capture_logs(|| {
        factory().load_value(Some("not-a-cookie!"));
    });
    assert!(
        logged.contains("INFO typed_sessions::rejected"),
        "a cookie this factory did not write is worth an operator's eye: {logged}"
    );
    assert!(logged.contains("not URL-safe base64"), "{logged}");
    assert!(
        !logged.contains("not-a-cookie"),
        "the cookie value is not logged: {logged}"
    );
}

#[test]
fn timeout_none_and_reissue_none_never_rewrite() {
    let factory = SignedCookieSessionFactory::builder(SECRET)
        .timeout(None)
        .reissue_time(None)
        .max_lifetime(None)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let session = factory.load_value(Some(&sign(r#"[0, 0, {"a": 1}]"#)));
    assert_eq!(session.get("a"), Some(&json!(1)));
    let mut headers = HeaderMap::new();
    factory.save(&session, &mut headers).unwrap();
    assert!(headers.is_empty());
    let _ = Duration::ZERO;
}
