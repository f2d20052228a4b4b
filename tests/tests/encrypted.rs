//! The encrypted cookie engine (`EncryptedCookieSessionFactory`) on its own: round trips,
//! tampering, wrong and rotated keys, fresh nonces, the size limit, build-time key checks,
//! the typed accessors and flash queues, and the axum layer, all unchanged from the signed
//! engine. Interop with real `pyramid_nacl_session` is in `encrypted_live.rs`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::codec::{CookieCodec, EncryptedCodec, KEY_LEN, NONCE_LEN, TAG_LEN};
use typed_sessions::{
    BuildError, EncryptedCookieSessionFactory, EncryptionKey, FlashExt, LoadOutcome,
    MAX_COOKIE_VALUE_LEN, ManualClock, Rejection, SameSite, Saved, Session, SessionError,
    SessionSchema, SignedCookieSessionFactory, flash_queue,
};

const KEY: [u8; KEY_LEN] = *b"an encryption key of 32 bytes!!!";
const OLD_KEY: [u8; KEY_LEN] = *b"the previous key, also 32 bytes.";
const NOW: f64 = 1_700_000_000.0;

fn builder(key: [u8; KEY_LEN]) -> typed_sessions::Builder<typed_sessions::EncryptedKeys> {
    EncryptedCookieSessionFactory::builder(key).clock(ManualClock::new(NOW))
}

fn factory(key: [u8; KEY_LEN]) -> EncryptedCookieSessionFactory {
    builder(key).build().unwrap()
}

fn state_of(session: &Session) -> Value {
    serde_json::from_str(&session.state_json().unwrap()).unwrap()
}

/// The cookie value of the response's `Set-Cookie`.
fn set_cookie_value(headers: &HeaderMap) -> String {
    let header = headers["set-cookie"].to_str().unwrap();
    cookie::Cookie::parse(header.to_owned())
        .unwrap()
        .value()
        .to_owned()
}

fn saved_value(factory: &EncryptedCookieSessionFactory, session: &Session) -> String {
    let mut response = HeaderMap::new();
    assert_eq!(
        factory.save(session, &mut response).unwrap(),
        Saved::Written
    );
    set_cookie_value(&response)
}

fn value_with(factory: &EncryptedCookieSessionFactory, state: &Value) -> String {
    let mut session = factory.load_value(None);
    for (key, value) in state.as_object().unwrap() {
        session.insert(key, value.clone());
    }
    factory.encode(&session).unwrap()
}

fn rich_state() -> Value {
    json!({
        "user": {"id": 7, "name": "Zoë", "roles": ["admin", "ops"]},
        "greeting": "héllo ✓ 日本 🎉",
        "price": 9.99,
        "big": 9_007_199_254_740_993_u64,
        "flags": [true, false, null],
        "": "empty key",
    })
}

// --- round trips ---------------------------------------------------------------------------

#[test]
fn a_saved_session_loads_back_with_its_state_and_timestamps() {
    let factory = factory(KEY);
    let mut session = factory.load_value(None);
    for (key, value) in rich_state().as_object().unwrap() {
        session.insert(key, value.clone());
    }
    let value = saved_value(&factory, &session);

    let loaded = factory.load_value(Some(&value));
    assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
    assert!(!loaded.is_new());
    assert_eq!(state_of(&loaded), rich_state());
    assert_eq!(loaded.created(), session.created());
    assert_eq!(loaded.accessed(), session.accessed());
}

#[test]
fn the_cookie_hides_the_state_and_has_the_nacl_layout() {
    let factory = factory(KEY);
    let value = value_with(&factory, &json!({"secret_word": "swordfish"}));
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "unpadded URL-safe base64: {value}"
    );
    let raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
    let payload_len = session_payload(&factory, &value).len();
    assert_eq!(raw.len(), NONCE_LEN + TAG_LEN + payload_len);
    assert!(!String::from_utf8_lossy(&raw).contains("swordfish"));
    assert!(!value.contains("swordfish"));
}

/// The payload inside a value, opened by the factory's codec.
fn session_payload(factory: &EncryptedCookieSessionFactory, value: &str) -> Vec<u8> {
    factory.codec().open(value).unwrap().payload
}

#[test]
fn every_save_draws_a_new_nonce() {
    let factory = factory(KEY);
    let mut session = factory.load_value(None);
    session.insert("n", 1);
    let values: Vec<String> = (0..8).map(|_| saved_value(&factory, &session)).collect();
    let nonces: std::collections::HashSet<Vec<u8>> = values
        .iter()
        .map(|v| URL_SAFE_NO_PAD.decode(v).unwrap()[..NONCE_LEN].to_vec())
        .collect();
    assert_eq!(nonces.len(), values.len(), "a nonce repeated");
    for value in &values {
        assert_eq!(state_of(&factory.load_value(Some(value))), json!({"n": 1}));
        assert_eq!(
            session_payload(&factory, value),
            session_payload(&factory, &values[0])
        );
    }
}

#[test]
fn padded_values_load_as_pyramid_nacl_session_accepts_them() {
    let factory = factory(KEY);
    for n in 0..3 {
        let value = value_with(&factory, &json!({"pad": "x".repeat(n)}));
        let padded = format!("{value}{}", "=".repeat((4 - value.len() % 4) % 4));
        let session = factory.load_value(Some(&padded));
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{padded}");
    }
}

// --- what is rejected ----------------------------------------------------------------------

#[test]
fn changing_any_character_of_the_value_is_rejected() {
    let factory = factory(KEY);
    let value = value_with(&factory, &json!({"user": 7}));
    for i in 0..value.len() {
        let mut tampered = value.clone().into_bytes();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let session = factory.load_value(Some(&tampered));
        // The last character also carries unused bits: a change there may only be
        // non-canonical base64, refused as such.
        let outcome = session.load_outcome();
        assert!(
            outcome == LoadOutcome::Rejected(Rejection::BadSignature)
                || (i == value.len() - 1 && outcome == LoadOutcome::Rejected(Rejection::BadBase64)),
            "character {i}: {outcome:?}"
        );
        assert!(session.is_new() && session.is_empty(), "character {i}");
    }
}

#[test]
fn every_byte_of_the_sealed_value_is_authenticated() {
    let factory = factory(KEY);
    let value = value_with(&factory, &json!({"user": 7}));
    let raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
    for i in 0..raw.len() {
        let mut tampered = raw.clone();
        tampered[i] ^= 0x01;
        let session = factory.load_value(Some(&URL_SAFE_NO_PAD.encode(&tampered)));
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature),
            "byte {i}"
        );
    }
    for cut in [1, TAG_LEN, raw.len() - NONCE_LEN - TAG_LEN] {
        let session = factory.load_value(Some(&URL_SAFE_NO_PAD.encode(&raw[..raw.len() - cut])));
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature),
            "cut {cut}"
        );
    }
}

#[test]
fn malformed_and_short_values_are_rejected_without_panicking() {
    let factory = factory(KEY);
    let cases: [(&str, Rejection); 6] = [
        ("", Rejection::TooShort),
        ("AAAA", Rejection::TooShort),
        (&"A".repeat(52), Rejection::TooShort), // 39 bytes
        ("not base64!", Rejection::BadBase64),
        ("a+b/", Rejection::BadBase64),
        ("A", Rejection::BadBase64),
    ];
    for (value, rejection) in cases {
        let session = factory.load_value(Some(value));
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(rejection),
            "{value:?}"
        );
        assert!(session.is_new());
    }
    // Nonce and tag of zeros: the right length, not authentic.
    let zeros = URL_SAFE_NO_PAD.encode([0; NONCE_LEN + TAG_LEN + 8]);
    assert_eq!(
        factory.load_value(Some(&zeros)).load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

#[test]
fn a_cookie_sealed_with_another_key_is_rejected() {
    let value = value_with(&factory(OLD_KEY), &json!({"user": 7}));
    let session = factory(KEY).load_value(Some(&value));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
    assert!(session.is_new() && session.is_empty());
}

#[test]
fn signed_and_encrypted_cookies_do_not_open_each_other() {
    let signed = SignedCookieSessionFactory::builder(KEY.as_slice())
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let mut session = signed.load_value(None);
    session.insert("user", 7);
    let signed_value = signed.encode(&session).unwrap();
    let encrypted = factory(KEY);
    assert_eq!(
        encrypted.load_value(Some(&signed_value)).load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
    let encrypted_value = encrypted.encode(&session).unwrap();
    assert_eq!(
        signed.load_value(Some(&encrypted_value)).load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

#[test]
fn an_authentic_payload_that_is_not_a_session_is_rejected_as_such() {
    let codec = EncryptedCodec::new(KEY).unwrap();
    let factory = factory(KEY);
    let cases: [(&[u8], Rejection); 4] = [
        (b"\xff\xfe", Rejection::NotUtf8),
        (b"(dp0\n.", Rejection::NotJson), // what a pickled state looks like
        (b"{}", Rejection::NotArray),
        (b"[1, 1, []]", Rejection::StateNotObject),
    ];
    for (payload, rejection) in cases {
        let session = factory.load_value(Some(&codec.seal(payload).unwrap()));
        assert_eq!(session.load_outcome(), LoadOutcome::Rejected(rejection));
    }
}

proptest! {
    /// Whatever a client sends, opening never panics, and nothing but a sealed value loads.
    #[test]
    fn arbitrary_values_never_load(
        value in "\\PC{0,200}",
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let factory = factory(KEY);
        let loaded = factory.load_value(Some(&value)).load_outcome();
        prop_assert!(matches!(loaded, LoadOutcome::Rejected(_)), "{:?}", loaded);
        let encoded = URL_SAFE_NO_PAD.encode(&bytes);
        let loaded = factory.load_value(Some(&encoded)).load_outcome();
        prop_assert!(matches!(loaded, LoadOutcome::Rejected(_)), "{:?}", loaded);
    }

    /// Any string state survives sealing and opening exactly.
    #[test]
    fn states_round_trip(
        state in prop::collection::hash_map("\\PC{0,8}", any::<String>(), 0..8),
    ) {
        let factory = factory(KEY);
        let state = Value::Object(state.into_iter().map(|(k, v)| (k, Value::from(v))).collect());
        let value = value_with(&factory, &state);
        let loaded = factory.load_value(Some(&value));
        prop_assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
        prop_assert_eq!(state_of(&loaded), state);
    }
}

// --- policy --------------------------------------------------------------------------------

#[test]
fn the_timeout_applies_as_for_signed_cookies() {
    let clock = ManualClock::new(NOW);
    let factory = EncryptedCookieSessionFactory::builder(KEY)
        .clock(clock.clone())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let value = value_with(&factory, &json!({"user": 7}));
    clock.advance(61.0);
    let session = factory.load_value(Some(&value));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::TimedOut)
    );
    assert!(session.is_empty());
    assert_eq!(session.created(), NOW);
}

#[test]
fn cookie_options_are_the_signed_factorys() {
    let factory = builder(KEY)
        .cookie_name("enc")
        .path(Some("/app".to_owned()))
        .secure(false)
        .httponly(false)
        .samesite(SameSite::Strict)
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut session = factory.load_value(None);
    session.insert("a", 1);
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).unwrap();
    let header = response["set-cookie"].to_str().unwrap();
    assert!(header.starts_with("enc="), "{header}");
    for attribute in ["Path=/app", "SameSite=Strict", "Max-Age=3600"] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    // Both on by default: turned off here, so this shows they are the builder's options.
    for attribute in ["Secure", "HttpOnly"] {
        assert!(!header.contains(attribute), "no {attribute} in {header}");
    }
    let mut request = HeaderMap::new();
    request.insert("cookie", header.split(';').next().unwrap().parse().unwrap());
    assert_eq!(factory.load(&request).get_as::<u64>("a").unwrap(), Some(1));
}

#[test]
fn an_untouched_session_writes_no_cookie() {
    let factory = builder(KEY).reissue_time(None::<Duration>).build().unwrap();
    let value = value_with(&factory, &json!({"user": 7}));
    let session = factory.load_value(Some(&value));
    assert_eq!(session.get_as::<u64>("user").unwrap(), Some(7));
    let mut response = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut response).unwrap(),
        Saved::Unchanged
    );
    assert!(response.is_empty());
}

#[test]
fn a_state_too_large_for_a_cookie_is_an_error_and_writes_nothing() {
    let factory = factory(KEY);
    let mut session = factory.load_value(None);
    session.insert("blob", "x".repeat(2900));
    let fits = factory.encode(&session).unwrap();
    assert!(fits.len() <= MAX_COOKIE_VALUE_LEN);
    let payload_len = session_payload(&factory, &fits).len();

    session.insert("blob", "x".repeat(3100));
    let mut response = HeaderMap::new();
    match factory.save(&session, &mut response) {
        Err(SessionError::TooLarge { size, limit, .. }) => {
            assert_eq!(limit, MAX_COOKIE_VALUE_LEN);
            // Unpadded base64 of nonce, tag and the payload.
            let sealed_len = NONCE_LEN + TAG_LEN + payload_len + 200;
            assert_eq!(size, (4 * sealed_len).div_ceil(3));
            assert!(size > limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(response.is_empty(), "the client keeps its previous cookie");
}

// --- keys ----------------------------------------------------------------------------------

#[test]
fn a_cookie_sealed_with_a_fallback_key_is_re_sealed_with_the_current_one() {
    let old = factory(OLD_KEY);
    let old_value = value_with(&old, &json!({"user": 7}));

    let rotated = builder(KEY).fallback_key(OLD_KEY).build().unwrap();
    let session = rotated.load_value(Some(&old_value));
    assert_eq!(session.load_outcome(), LoadOutcome::LoadedWithOldSecret);
    assert_eq!(state_of(&session), json!({"user": 7}));
    assert!(session.is_dirty(), "a stale cookie is due for a new one");

    let new_value = saved_value(&rotated, &session);
    // Sealed with the current key only: the new-key factory opens it, the old one cannot.
    let current_only = factory(KEY).load_value(Some(&new_value));
    assert_eq!(current_only.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(state_of(&current_only), json!({"user": 7}));
    assert_eq!(
        old.load_value(Some(&new_value)).load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
    assert_eq!(
        rotated.load_value(Some(&new_value)).load_outcome(),
        LoadOutcome::Loaded
    );
}

#[test]
fn keys_that_are_not_32_bytes_fail_the_build() {
    for len in [0, 1, 16, 31, 33, 64] {
        let err = EncryptedCookieSessionFactory::builder(vec![7; len])
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::KeyLength { len, expected: 32 });
        let err = EncryptedCookieSessionFactory::builder(KEY)
            .fallback_key(vec![7; len])
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::KeyLength { len, expected: 32 });
    }
    // A hex key given as its text is 64 bytes; the error says what to do.
    let hex = EncryptionKey::from(KEY).to_hex();
    let err = EncryptedCookieSessionFactory::builder(hex.as_bytes())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("EncryptionKey::from_hex"), "{err}");
    let from_hex = EncryptedCookieSessionFactory::builder(EncryptionKey::from_hex(&hex).unwrap())
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let value = value_with(&factory(KEY), &json!({"user": 7}));
    assert_eq!(
        from_hex.load_value(Some(&value)).load_outcome(),
        LoadOutcome::Loaded
    );
    assert_eq!(
        EncryptionKey::from_hex("xyz").unwrap_err(),
        BuildError::KeyNotHex
    );
    // Other options are still checked.
    assert!(matches!(
        builder(KEY).cookie_name("bad name").build(),
        Err(BuildError::InvalidCookieName(_))
    ));
}

#[test]
fn debug_output_never_shows_a_key() {
    let key_text = String::from_utf8_lossy(&KEY).into_owned();
    let builder = builder(KEY).fallback_key(OLD_KEY);
    let shown = format!("{builder:?}");
    let factory = builder.build().unwrap();
    for shown in [
        shown,
        format!("{factory:?}"),
        format!("{:?}", factory.codec()),
        format!("{:?}", EncryptionKey::from(KEY)),
    ] {
        assert!(!shown.contains(&key_text), "{shown}");
        assert!(!shown.contains("encryption key"), "{shown}");
        assert!(!shown.contains("previous key"), "{shown}");
        assert!(
            !shown.contains(&EncryptionKey::from(KEY).to_hex()),
            "{shown}"
        );
    }
}

// --- the typed layer, unchanged ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    sku: String,
    qty: u32,
}

#[derive(SessionSchema)]
pub struct Shop {
    #[session(default)]
    cart: Vec<Item>,
    user_id: Option<u64>,
    #[session(rename = "lang")]
    language: Option<String>,
}

#[flash_queue]
#[derive(Debug, PartialEq)]
pub enum Notice {
    Success(String),
    #[flash(queue = "error")]
    Failure {
        code: u16,
        text: String,
    },
}

#[test]
fn typed_accessors_and_flash_queues_work_on_encrypted_cookies() {
    let factory = factory(KEY);
    let mut session = factory.load_value(None);
    session.cart_mut().unwrap().push(Item {
        sku: "apple".into(),
        qty: 2,
    });
    session.set_user_id(Some(7)).unwrap();
    session.set_language(Some("fr".into())).unwrap();
    session.flash(Notice::Success("Added".into())).unwrap();
    session
        .flash(Notice::Failure {
            code: 409,
            text: "Out of pears".into(),
        })
        .unwrap();
    let value = saved_value(&factory, &session);

    let mut loaded = factory.load_value(Some(&value));
    assert_eq!(
        loaded.cart().unwrap(),
        [Item {
            sku: "apple".into(),
            qty: 2
        }]
    );
    assert_eq!(loaded.user_id().unwrap(), Some(7));
    assert_eq!(
        loaded.get_as::<String>("lang").unwrap().as_deref(),
        Some("fr")
    );
    // Pyramid's layout: `_f_success`, `_f_error`.
    assert_eq!(loaded.peek_flash("success").unwrap(), [json!("Added")]);
    assert_eq!(
        loaded.pop_flashes::<Notice>().unwrap(),
        [
            Notice::Success("Added".into()),
            Notice::Failure {
                code: 409,
                text: "Out of pears".into()
            }
        ]
    );
    let token = loaded.get_csrf_token().unwrap();
    let value = saved_value(&factory, &loaded);
    let reloaded = factory.load_value(Some(&value));
    assert!(reloaded.check_csrf_token(&token));
    assert_eq!(reloaded.peek_flash("success").unwrap(), Vec::<Value>::new());
}

// --- the axum layer, unchanged -------------------------------------------------------------

async fn count_visit(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    let visits = s.get_as::<u64>("visits")?.unwrap_or(0) + 1;
    s.insert("visits", visits);
    Ok(visits.to_string())
}

async fn add_to_cart(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    s.cart_mut()?.push(Item {
        sku: "pear".into(),
        qty: 1,
    });
    s.flash(Notice::Success("Added a pear".into()))?;
    Ok(s.cart()?.len().to_string())
}

async fn untouched() -> &'static str {
    "no session here"
}

fn get_request(path: &str, cookie: Option<&str>) -> Request {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).unwrap()
}

/// The `name=value` part of the response's `Set-Cookie`, if it has one.
fn response_cookie(response: &Response) -> Option<String> {
    let header = response.headers().get("set-cookie")?.to_str().unwrap();
    Some(header.split(';').next().unwrap().to_owned())
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn the_axum_layer_carries_encrypted_sessions() {
    let app = Router::new()
        .route("/visit", get(count_visit))
        .route("/add", get(add_to_cart))
        .route("/plain", get(untouched))
        .layer(SessionLayer::new(factory(KEY)));

    let mut cookie: Option<String> = None;
    for expected in 1..=3 {
        let response = app
            .clone()
            .oneshot(get_request("/visit", cookie.as_deref()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        cookie = Some(response_cookie(&response).expect("a visit writes the cookie"));
        assert_eq!(body_text(response).await, expected.to_string());
    }
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("session="));

    let response = app
        .clone()
        .oneshot(get_request("/add", Some(&cookie)))
        .await
        .unwrap();
    let after_add = response_cookie(&response).unwrap();
    assert_eq!(body_text(response).await, "1");
    let value = after_add.trim_start_matches("session=");
    let mut session = factory(KEY).load_value(Some(value));
    assert_eq!(session.get_as::<u64>("visits").unwrap(), Some(3));
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        [Notice::Success("Added a pear".into())]
    );

    // A request that never touches its session writes no cookie.
    let response = app
        .clone()
        .oneshot(get_request("/plain", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response_cookie(&response), None);

    // A cookie sealed under another key is a fresh session, not an error.
    let foreign = format!(
        "session={}",
        value_with(&factory(OLD_KEY), &json!({"visits": 99}))
    );
    let response = app
        .oneshot(get_request("/visit", Some(&foreign)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "1");
}
