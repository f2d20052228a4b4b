//! Pyramid's own cookie-session tests (`tests/test_session.py`, the signed cookie session
//! classes), written anew in Rust: each test states the behaviour Pyramid asserts. Every
//! factory starts from `pyramid_defaults()`, the options Pyramid's tests run with.

use std::time::Duration;

use http::HeaderMap;
use serde_json::{Value, json};
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::{
    Builder, HashAlg, LoadOutcome, ManualClock, Rejection, SameSite, Saved, SessionError,
    SignedCookieSessionFactory, SignedKeys,
};

const SECRET: &str = "secret";
const NOW: f64 = 1_700_000_000.25;

fn builder(clock: &ManualClock) -> Builder<SignedKeys> {
    SignedCookieSessionFactory::builder(SECRET)
        .pyramid_defaults()
        .allow_short_secret()
        .clock(clock.clone())
}

fn factory() -> (SignedCookieSessionFactory, ManualClock) {
    let clock = ManualClock::new(NOW);
    (builder(&clock).build().unwrap(), clock)
}

/// A cookie value holding `payload` exactly, signed as Pyramid signs it.
fn sign(payload: &str) -> String {
    sign_with(payload, SECRET, "pyramid.session.", HashAlg::Sha512)
}

fn sign_with(payload: &str, secret: &str, salt: &str, alg: HashAlg) -> String {
    SignedCodec::new(secret, salt, alg)
        .seal(payload.as_bytes())
        .unwrap()
}

fn cookie(accessed: f64, created: f64, state: Value) -> String {
    sign(&json!([accessed, created, state]).to_string())
}

fn state_of(session: &typed_sessions::Session) -> Value {
    Value::Object(
        session
            .iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect(),
    )
}

fn saved_header(
    factory: &SignedCookieSessionFactory,
    session: &typed_sessions::Session,
) -> Option<String> {
    let mut headers = HeaderMap::new();
    factory.save(session, &mut headers).unwrap();
    headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn ctor_no_cookie() {
    let (factory, _) = factory();
    let session = factory.load(&HeaderMap::new());
    assert_eq!(state_of(&session), json!({}));
    assert!(session.is_new());
    assert_eq!(session.load_outcome(), LoadOutcome::NoCookie);
    assert_eq!(session.created(), NOW);
}

#[test]
fn ctor_with_cookie_still_valid() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(NOW, 0.0, json!({"state": 1}))));
    assert_eq!(state_of(&session), json!({"state": 1}));
    assert!(!session.is_new());
    assert_eq!(session.created(), 0.0);
}

#[test]
fn ctor_with_cookie_expired() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(NOW - 2000.0, 0.0, json!({"state": 1}))));
    assert_eq!(state_of(&session), json!({}));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut)
    );
    // As Pyramid: the timestamps survive, and the session is not new.
    assert_eq!(session.created(), 0.0);
    assert!(!session.is_new());
}

#[test]
fn repeated_session_cookie_last_one_wins_as_in_webob() {
    let (factory, _) = factory();
    let first = cookie(NOW, 0.0, json!({"n": 1}));
    let second = cookie(NOW, 0.0, json!({"n": 2}));
    let mut headers = HeaderMap::new();
    let header = format!("session={first}; other=x; session={second}");
    headers.insert("cookie", header.parse().unwrap());
    assert_eq!(factory.load(&headers).get("n"), Some(&json!(2)));
    // Across several `Cookie` headers too, and even when the last one is bad.
    let mut headers = HeaderMap::new();
    headers.append("cookie", format!("session={first}").parse().unwrap());
    headers.append("cookie", "session=garbage".parse().unwrap());
    let session = factory.load(&headers);
    assert!(matches!(session.load_outcome(), LoadOutcome::Rejected(_)));
}

#[test]
fn ctor_with_bad_cookie_cannot_deserialize() {
    let (factory, _) = factory();
    let session = factory.load_value(Some("abc"));
    assert_eq!(state_of(&session), json!({}));
    assert!(matches!(session.load_outcome(), LoadOutcome::Rejected(_)));
}

#[test]
fn ctor_with_bad_cookie_not_tuple() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&sign("\"abc\"")));
    assert_eq!(state_of(&session), json!({}));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::NotArray)
    );
}

#[test]
fn timeout() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let session = factory.load_value(Some(&cookie(NOW - 5.0, 0.0, json!({"state": 1}))));
    assert_eq!(state_of(&session), json!({}));
}

#[test]
fn timeout_is_strictly_greater_than() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let at_limit = factory.load_value(Some(&cookie(NOW - 5.0, 0.0, json!({"state": 1}))));
    assert_eq!(state_of(&at_limit), json!({"state": 1}));
}

#[test]
fn timeout_never() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).timeout(None).build().unwrap();
    let session = factory.load_value(Some(&cookie(0.0, 0.0, json!({"state": 1}))));
    assert_eq!(state_of(&session), json!({"state": 1}));
}

#[test]
fn changed_marks_dirty() {
    let (factory, _) = factory();
    let mut session = factory.load_value(Some(&cookie(NOW.floor(), 0.0, json!({}))));
    assert!(!session.is_dirty());
    session.changed();
    assert!(session.is_dirty());
}

#[test]
fn invalidate_empties_and_writes_a_replacing_cookie() {
    let (factory, _) = factory();
    let mut session = factory.load_value(Some(&cookie(NOW.floor(), 5.0, json!({"state": 1}))));
    session.invalidate();
    assert_eq!(state_of(&session), json!({}));
    let header = saved_header(&factory, &session).expect("invalidate writes a cookie");
    assert!(header.starts_with("session="));
    let value = header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session=");
    let reloaded = factory.load_value(Some(value));
    assert_eq!(state_of(&reloaded), json!({}));
    assert_eq!(
        reloaded.created(),
        5.0,
        "Pyramid keeps `created` across invalidate"
    );
}

#[test]
fn reissue_triggered() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(NOW - 2.0, 0.0, json!({"state": 1}))));
    assert!(!session.is_dirty());
    assert_eq!(session.get("state"), Some(&json!(1)));
    assert!(
        session.is_dirty(),
        "a read after reissue_time (0) asks for a new cookie"
    );
    assert!(saved_header(&factory, &session).is_some());
}

#[test]
fn reissue_not_triggered() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock)
        .reissue_time(Duration::from_secs(1))
        .build()
        .unwrap();
    let session = factory.load_value(Some(&cookie(NOW, 0.0, json!({"state": 1}))));
    assert_eq!(session.get("state"), Some(&json!(1)));
    assert!(!session.is_dirty());
    assert!(saved_header(&factory, &session).is_none());
}

#[test]
fn reissue_never() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock)
        .reissue_time(None)
        .timeout(None)
        .build()
        .unwrap();
    let session = factory.load_value(Some(&cookie(0.0, 0.0, json!({"state": 1}))));
    assert_eq!(session.get("state"), Some(&json!(1)));
    assert!(!session.is_dirty());
}

#[test]
fn fresh_session_read_in_same_second_is_not_reissued() {
    let (factory, _) = factory();
    let session = factory.load(&HeaderMap::new());
    assert_eq!(session.get("x"), None);
    assert!(!session.is_dirty());
    assert!(saved_header(&factory, &session).is_none());
}

#[test]
fn set_cookie_on_exception_true_writes() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let mut headers = HeaderMap::new();
    assert_eq!(
        factory.save_after_error(&session, &mut headers).unwrap(),
        Saved::Written
    );
    assert!(headers.contains_key("set-cookie"));
}

#[test]
fn set_cookie_on_exception_false_skips_only_on_error() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).set_on_exception(false).build().unwrap();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let mut headers = HeaderMap::new();
    assert_eq!(
        factory.save_after_error(&session, &mut headers).unwrap(),
        Saved::SkippedOnError
    );
    assert!(headers.is_empty());
    assert_eq!(
        factory.save(&session, &mut headers).unwrap(),
        Saved::Written
    );
}

#[test]
fn cookie_value_too_long_is_an_error_naming_the_size() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("abc", "x".repeat(100_000));
    let mut headers = HeaderMap::new();
    let err = factory.save(&session, &mut headers).unwrap_err();
    assert!(
        matches!(err, SessionError::TooLarge { size, limit: 4064, .. } if size > 100_000),
        "{err}"
    );
    assert!(err.to_string().contains("bytes"));
    assert!(headers.is_empty(), "the client keeps its previous cookie");
}

#[test]
fn set_cookie_default_attributes() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let header = saved_header(&factory, &session).unwrap();
    let value = factory.encode(&session).unwrap();
    assert_eq!(header, format!("session={value}; SameSite=Lax; Path=/"));
}

#[test]
fn set_cookie_options() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock)
        .cookie_name("abc")
        .path(Some("/foo".to_owned()))
        .domain(Some("localhost".to_owned()))
        .secure(true)
        .httponly(true)
        .samesite(SameSite::Strict)
        .max_age(Duration::from_secs(100))
        .build()
        .unwrap();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let header = saved_header(&factory, &session).unwrap();
    let value = factory.encode(&session).unwrap();
    for part in [
        format!("abc={value}"),
        "Path=/foo".into(),
        "Domain=localhost".into(),
        "Secure".into(),
        "HttpOnly".into(),
        "SameSite=Strict".into(),
        "Max-Age=100".into(),
        "Expires=Tue, 14 Nov 2023 22:15:00 GMT".into(),
    ] {
        assert!(
            header.split("; ").any(|p| p == part),
            "{part} missing from {header}"
        );
    }
}

#[test]
fn samesite_not_sent() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).samesite(None).build().unwrap();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let header = saved_header(&factory, &session).unwrap();
    assert!(!header.contains("SameSite"), "{header}");
}

#[test]
fn flash_default() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.flash("msg1").unwrap();
    session.flash("msg2").unwrap();
    assert_eq!(session.get("_f_"), Some(&json!(["msg1", "msg2"])));
}

#[test]
fn flash_allow_duplicate_false() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.flash("msg1").unwrap();
    assert!(!session.flash_unique("msg1").unwrap());
    assert_eq!(session.get("_f_"), Some(&json!(["msg1"])));
}

#[test]
fn flash_allow_duplicate_true_and_msg_not_in_storage() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.flash("msg1").unwrap();
    assert_eq!(session.get("_f_"), Some(&json!(["msg1"])));
}

#[test]
fn flash_allow_duplicate_false_and_msg_not_in_storage() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    assert!(session.flash_unique("msg1").unwrap());
    assert_eq!(session.get("_f_"), Some(&json!(["msg1"])));
}

#[test]
fn flash_mixed() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.flash_to("warn", "warn1").unwrap();
    session.flash_to("warn", "warn2").unwrap();
    session.flash_to("error", "err1").unwrap();
    session.flash_to("error", "err2").unwrap();
    assert_eq!(session.get("_f_warn"), Some(&json!(["warn1", "warn2"])));
    assert_eq!(session.get("_f_error"), Some(&json!(["err1", "err2"])));
}

#[test]
fn pop_flash_default_queue() {
    let (factory, _) = factory();
    let mut session = factory.load_value(Some(&cookie(
        NOW.floor(),
        0.0,
        json!({"_f_": ["one", "two"]}),
    )));
    assert_eq!(
        session.pop_flash("").unwrap(),
        vec![json!("one"), json!("two")]
    );
    assert_eq!(session.get("_f_"), None);
    assert!(session.pop_flash("").unwrap().is_empty());
    assert!(
        session.is_dirty(),
        "pop_flash marks the session changed, as in Pyramid"
    );
}

#[test]
fn pop_flash_nodefault_queue() {
    let (factory, _) = factory();
    let mut session = factory.load_value(Some(&cookie(
        NOW.floor(),
        0.0,
        json!({"_f_error": ["one"], "_f_": ["other"]}),
    )));
    assert_eq!(session.pop_flash("error").unwrap(), vec![json!("one")]);
    assert_eq!(session.get("_f_error"), None);
    assert_eq!(session.get("_f_"), Some(&json!(["other"])));
}

#[test]
fn peek_flash_default_queue() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(NOW.floor(), 0.0, json!({"_f_": ["one"]}))));
    assert_eq!(session.peek_flash("").unwrap(), vec![json!("one")]);
    assert_eq!(session.peek_flash("").unwrap(), vec![json!("one")]);
    assert!(!session.is_dirty());
}

#[test]
fn peek_flash_nodefault_queue() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(
        NOW.floor(),
        0.0,
        json!({"_f_error": ["one"]}),
    )));
    assert_eq!(session.peek_flash("error").unwrap(), vec![json!("one")]);
    assert!(session.peek_flash("").unwrap().is_empty());
}

#[test]
fn flash_onto_a_value_that_is_not_a_list_is_an_error_and_keeps_it() {
    let (factory, _) = factory();
    let mut session = factory.load_value(Some(&cookie(NOW.floor(), 0.0, json!({"_f_": "text"}))));
    let err = session.flash("msg").unwrap_err();
    assert_eq!(err.key(), Some("_f_"));
    assert_eq!(session.get("_f_"), Some(&json!("text")));
    assert!(session.pop_flash("").is_err());
    assert_eq!(session.get("_f_"), Some(&json!("text")));
}

#[test]
fn new_csrf_token() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    let token = session.new_csrf_token().unwrap();
    assert_eq!(token.len(), 40);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(session.get("_csrft_"), Some(&json!(token)));
    assert_ne!(session.new_csrf_token().unwrap(), token);
}

#[test]
fn get_csrf_token() {
    let (factory, _) = factory();
    let mut session =
        factory.load_value(Some(&cookie(NOW.floor(), 0.0, json!({"_csrft_": "token"}))));
    assert_eq!(session.get_csrf_token().unwrap(), "token");
    assert!(session.check_csrf_token("token"));
    assert!(!session.check_csrf_token("tokem"));
    assert!(!session.check_csrf_token(""));
}

#[test]
fn get_csrf_token_new() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    assert!(!session.check_csrf_token(""), "no token: nothing matches");
    let token = session.get_csrf_token().unwrap();
    assert_eq!(token.len(), 40);
    assert_eq!(session.get_csrf_token().unwrap(), token);
    assert!(session.is_dirty());
}

#[test]
fn no_cookie_when_nothing_changed() {
    let (factory, _) = factory();
    let session = factory.load(&HeaderMap::new());
    assert!(saved_header(&factory, &session).is_none());
}

#[test]
fn cookie_is_set_after_a_change_and_round_trips() {
    let (factory, _) = factory();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let header = saved_header(&factory, &session).unwrap();
    let mut request = HeaderMap::new();
    request.insert("cookie", header.split(';').next().unwrap().parse().unwrap());
    let loaded = factory.load(&request);
    assert_eq!(state_of(&loaded), json!({"a": 1}));
    assert_eq!(loaded.created(), NOW);
    assert_eq!(loaded.accessed(), NOW.floor());
}

#[test]
fn custom_salt() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).salt("f.").build().unwrap();
    let payload = json!([NOW, 0, {"state": 1}]).to_string();
    let session = factory.load_value(Some(&sign_with(&payload, SECRET, "f.", HashAlg::Sha512)));
    assert_eq!(state_of(&session), json!({"state": 1}));
}

#[test]
fn salt_mismatch() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).salt("g.").build().unwrap();
    let payload = json!([NOW, 0, {"state": 1}]).to_string();
    let session = factory.load_value(Some(&sign_with(&payload, SECRET, "f.", HashAlg::Sha512)));
    assert_eq!(state_of(&session), json!({}));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

#[test]
fn custom_hashalg() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).hashalg(HashAlg::Sha1).build().unwrap();
    let payload = json!([NOW, 0, {"state": 1}]).to_string();
    let session = factory.load_value(Some(&sign_with(
        &payload,
        SECRET,
        "pyramid.session.",
        HashAlg::Sha1,
    )));
    assert_eq!(state_of(&session), json!({"state": 1}));
}

#[test]
fn hashalg_mismatch() {
    let clock = ManualClock::new(NOW);
    let factory = builder(&clock).hashalg(HashAlg::Sha256).build().unwrap();
    let payload = json!([NOW, 0, {"state": 1}]).to_string();
    let session = factory.load_value(Some(&sign_with(
        &payload,
        SECRET,
        "pyramid.session.",
        HashAlg::Sha1,
    )));
    assert_eq!(state_of(&session), json!({}));
    assert!(matches!(session.load_outcome(), LoadOutcome::Rejected(_)));
}

#[test]
fn secret_mismatch() {
    let (factory, _) = factory();
    let payload = json!([NOW, 0, {"state": 1}]).to_string();
    let session = factory.load_value(Some(&sign_with(
        &payload,
        "wrong",
        "pyramid.session.",
        HashAlg::Sha512,
    )));
    assert_eq!(state_of(&session), json!({}));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

#[test]
fn invalid_data_size() {
    use base64::Engine;
    let (factory, _) = factory();
    let short = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"invalid");
    let session = factory.load_value(Some(&short));
    assert_eq!(state_of(&session), json!({}));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TooShort)
    );
}

#[test]
fn very_long_key() {
    let clock = ManualClock::new(NOW);
    let secret = "a".repeat(1024);
    let factory = SignedCookieSessionFactory::builder(secret.as_str())
        .pyramid_defaults()
        .clock(clock)
        .build()
        .unwrap();
    let mut session = factory.load(&HeaderMap::new());
    session.insert("a", 1);
    let value = factory.encode(&session).unwrap();
    assert_eq!(state_of(&factory.load_value(Some(&value))), json!({"a": 1}));
}

#[test]
fn reading_marks_accessed_in_whole_seconds() {
    let (factory, _) = factory();
    let session = factory.load_value(Some(&cookie(NOW - 10.5, 3.0, json!({"a": 1}))));
    assert_eq!(session.accessed(), NOW - 10.5);
    assert_eq!(session.renewed(), NOW - 10.5);
    let _ = session.contains_key("a");
    assert_eq!(session.accessed(), NOW.floor());
    assert_eq!(session.renewed(), NOW - 10.5);
}
