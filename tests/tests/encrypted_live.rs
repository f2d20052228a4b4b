//! Live round trips with real `pyramid_nacl_session` 1.0.0 on PyNaCl 1.6.2 and Pyramid 2.1:
//! sessions encrypted by Python load in Rust with the same state and timestamps and back,
//! values sealed under one nonce are byte for byte the same on both sides, tampering and
//! wrong keys are refused by both, and key rotation re-seals for Python to read.
//!
//! The peer is `tests/pyramid/nacl_peer.py`; `scripts/pyenv.sh` builds its venv when
//! missing. These tests never skip: without Python, `pyramid_nacl_session` or PyNaCl they
//! fail.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use typed_sessions::codec::{CookieCodec, NONCE_LEN, TAG_LEN};
use typed_sessions::{
    EncryptedCookieSessionFactory, EncryptionKey, LoadOutcome, ManualClock, Rejection,
};
use typed_sessions_tests::{PyramidPeer, rich_state, set_ops, state_of};

/// 32 bytes as hex, the form of `pyramid_nacl_session`'s `session.secret` setting.
const KEY_HEX: &str = "5f0c8e2a9b7d4163a8e1f2c3d4b5a69788796a5b4c3d2e1f00112233445566ff";
const OLD_KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const NOW: f64 = 1_700_000_000.5;

fn key(hex: &str) -> EncryptionKey {
    EncryptionKey::from_hex(hex).unwrap()
}

fn factory(hex: &str) -> EncryptedCookieSessionFactory {
    EncryptedCookieSessionFactory::builder(key(hex))
        .pyramid_defaults()
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap()
}

fn peer() -> PyramidPeer {
    let mut peer = PyramidPeer::start_script("nacl_peer.py");
    let versions = peer.request(&json!({"cmd": "versions"}));
    // The pins of tests/pyramid/requirements.txt: the wire format was read from these.
    assert_eq!(
        versions["versions"]["pyramid_nacl_session"], "1.0.0",
        "{versions}"
    );
    assert_eq!(versions["versions"]["PyNaCl"], "1.6.2", "{versions}");
    peer
}

fn python_factory(hex: &str, via: &str) -> Value {
    json!({"secret": hex, "via": via})
}

fn decrypt_in_python(peer: &mut PyramidPeer, hex: &str, value: &str) -> Value {
    peer.request(&json!({"cmd": "decrypt", "secret": hex, "value": value}))
}

#[test]
fn python_sessions_load_in_rust_and_rust_sessions_load_in_python() {
    let mut peer = peer();
    let ours = factory(KEY_HEX);
    let state = rich_state();
    // Both ways Python gets its key: the factory given raw bytes, and the paste settings
    // that unhexlify `session.secret`.
    for via in ["factory", "settings"] {
        let theirs = python_factory(KEY_HEX, via);

        // Python -> Rust.
        let minted = peer.run(&theirs, None, NOW, set_ops(&state));
        let value = minted["cookie_value"]
            .as_str()
            .expect("Python wrote a cookie");
        let session = ours.load_value(Some(value));
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{via}");
        assert_eq!(state_of(&session), state, "{via}");
        assert_eq!(session.created(), minted["created"].as_f64().unwrap());
        assert_eq!(session.accessed(), minted["accessed"].as_f64().unwrap());
        // What Python sealed is Pyramid's JSON payload, which Rust opened as it is.
        let payload = ours.codec().open(value).unwrap().payload;
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            minted["payload"].as_str().unwrap()
        );

        // Rust -> Python: change it, flash, save.
        let mut session = session;
        session.insert("greeting", "bonjour");
        session.remove("negative");
        session.flash_to("", "from Rust").unwrap();
        session.flash_to("error", json!({"code": 409})).unwrap();
        let expected = state_of(&session);
        let rust_value = ours.encode(&session).unwrap();

        let read = peer.run(
            &theirs,
            Some(&rust_value),
            NOW + 1.0,
            json!([
                {"op": "get_state"},
                {"op": "pop_flash"},
                {"op": "pop_flash", "queue": "error"},
                {"op": "set", "key": "python_was_here", "value": true},
            ]),
        );
        assert_eq!(read["new"], false, "{via}: {read}");
        assert_eq!(read["results"][0], expected, "{via}");
        assert_eq!(read["results"][1], json!(["from Rust"]));
        assert_eq!(read["results"][2], json!([{"code": 409}]));
        assert_eq!(read["created"].as_f64().unwrap(), session.created());

        // And back once more: Python's write of Rust's session.
        let back = ours.load_value(read["cookie_value"].as_str());
        assert_eq!(back.load_outcome(), LoadOutcome::Loaded);
        assert_eq!(back.get("python_was_here"), Some(&json!(true)));
        assert_eq!(back.get("greeting"), Some(&json!("bonjour")));
        assert!(!back.contains_key("_f_") && !back.contains_key("_f_error"));
    }
}

#[test]
fn values_sealed_under_one_nonce_are_the_same_bytes_in_rust_and_python() {
    let mut peer = peer();
    let ours = factory(KEY_HEX);
    for state in [json!({}), json!({"a": 1}), rich_state()] {
        let mut session = ours.load_value(None);
        for (k, v) in state.as_object().unwrap() {
            session.insert(k, v.clone());
        }
        let value = ours.encode(&session).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
        let payload = ours.codec().open(&value).unwrap().payload;
        let payload = String::from_utf8(payload).unwrap();

        // Python's `EncryptedSerializer.dumps` with the nonce Rust drew: the same value.
        let nonce: String = raw[..NONCE_LEN]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let theirs = peer.request(&json!({
            "cmd": "encrypt", "secret": KEY_HEX, "payload": payload, "nonce": nonce,
        }));
        assert_eq!(theirs["error"], Value::Null, "{theirs}");
        assert_eq!(theirs["value"], value.as_str());

        // And its `loads` opens Rust's value to the same payload.
        let opened = decrypt_in_python(&mut peer, KEY_HEX, &value);
        assert_eq!(opened["payload"], payload.as_str(), "{opened}");

        // A random nonce on Python's side too: Rust opens it.
        let theirs =
            peer.request(&json!({"cmd": "encrypt", "secret": KEY_HEX, "payload": payload}));
        let theirs = theirs["value"].as_str().unwrap();
        assert_ne!(theirs, value);
        assert_eq!(
            String::from_utf8(ours.codec().open(theirs).unwrap().payload).unwrap(),
            payload
        );
    }
}

#[test]
fn tampered_values_and_wrong_keys_are_refused_on_both_sides() {
    let mut peer = peer();
    let ours = factory(KEY_HEX);
    let mut session = ours.load_value(None);
    session.insert("user", 7);
    let value = ours.encode(&session).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&value).unwrap();

    // One flipped bit in the nonce, the tag and the ciphertext.
    for i in [0, NONCE_LEN, NONCE_LEN + TAG_LEN, raw.len() - 1] {
        let mut tampered = raw.clone();
        tampered[i] ^= 0x80;
        let tampered = URL_SAFE_NO_PAD.encode(&tampered);
        let python = decrypt_in_python(&mut peer, KEY_HEX, &tampered);
        assert!(
            python["error"]
                .as_str()
                .is_some_and(|e| e.contains("Possible tampering")),
            "byte {i}: {python}"
        );
        assert_eq!(
            ours.load_value(Some(&tampered)).load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature)
        );
        // Through Pyramid: a fresh session.
        let cycle = peer.run(
            &python_factory(KEY_HEX, "factory"),
            Some(&tampered),
            NOW,
            json!([{"op": "get_state"}]),
        );
        assert_eq!(cycle["new"], true);
        assert_eq!(cycle["results"][0], json!({}));
    }

    // Another key: refused by both.
    let python = decrypt_in_python(&mut peer, OLD_KEY_HEX, &value);
    assert!(python["error"].as_str().is_some(), "{python}");
    let minted = peer.run(
        &python_factory(OLD_KEY_HEX, "factory"),
        None,
        NOW,
        json!([{"op": "set", "key": "user", "value": 7}]),
    );
    assert_eq!(
        ours.load_value(minted["cookie_value"].as_str())
            .load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

#[test]
fn rotation_re_seals_python_cookies_with_the_new_key() {
    let mut peer = peer();
    // A cookie Python sealed with the old key...
    let minted = peer.run(
        &python_factory(OLD_KEY_HEX, "factory"),
        None,
        NOW,
        json!([{"op": "set", "key": "user", "value": 7}]),
    );
    let old_value = minted["cookie_value"].as_str().unwrap();

    // ...loads in Rust with the old key as a fallback, and is re-sealed with the new one.
    let rotated = EncryptedCookieSessionFactory::builder(key(KEY_HEX))
        .pyramid_defaults()
        .fallback_key(key(OLD_KEY_HEX))
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let session = rotated.load_value(Some(old_value));
    assert_eq!(session.load_outcome(), LoadOutcome::LoadedWithOldSecret);
    assert!(session.is_dirty());
    let mut response = http::HeaderMap::new();
    rotated.save(&session, &mut response).unwrap();
    let header = response["set-cookie"].to_str().unwrap();
    let new_value = header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session=");

    // Python with the new key reads it; Python with only the old key no longer can.
    let new_side = peer.run(
        &python_factory(KEY_HEX, "settings"),
        Some(new_value),
        NOW,
        json!([{"op": "get", "key": "user"}]),
    );
    assert_eq!(new_side["new"], false);
    assert_eq!(new_side["results"][0], 7);
    let old_side = peer.run(
        &python_factory(OLD_KEY_HEX, "factory"),
        Some(new_value),
        NOW,
        json!([{"op": "get", "key": "user"}]),
    );
    assert_eq!(old_side["new"], true);
    assert_eq!(old_side["results"][0], Value::Null);
}

#[test]
fn the_timeout_is_read_the_same_way_on_both_sides() {
    let mut peer = peer();
    let ours = factory(KEY_HEX);
    let mut session = ours.load_value(None);
    session.insert("user", 7);
    let value = ours.encode(&session).unwrap();
    let theirs = python_factory(KEY_HEX, "factory");
    // Pyramid's default timeout, 1200 s: one second inside, one second past.
    let inside = peer.run(
        &theirs,
        Some(&value),
        NOW + 1199.0,
        json!([{"op": "get_state"}]),
    );
    assert_eq!(inside["results"][0], json!({"user": 7}));
    let past = peer.run(
        &theirs,
        Some(&value),
        NOW + 1201.0,
        json!([{"op": "get_state"}]),
    );
    assert_eq!(past["results"][0], json!({}));
    assert_eq!(
        past["new"], false,
        "a timed-out session keeps its timestamps"
    );
}

/// Python's base64 decoder ignores the unused bits of the last character; this crate
/// refuses such a value (one spelling per cookie), as its signed codec does. Nothing a
/// sealer writes has them set.
#[test]
fn python_is_more_lenient_about_base64_than_rust_on_purpose() {
    let mut peer = peer();
    let ours = factory(KEY_HEX);
    // Find a value whose last character carries unused bits (length 2 or 3 mod 4).
    let mut n = 0;
    let value = loop {
        let mut session = ours.load_value(None);
        session.insert("pad", "x".repeat(n));
        let value = ours.encode(&session).unwrap();
        if !value.len().is_multiple_of(4) {
            break value;
        }
        n += 1;
    };
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = value.as_bytes()[value.len() - 1];
    let index = alphabet.iter().position(|&c| c == last).unwrap();
    let mut lenient = value.clone().into_bytes();
    *lenient.last_mut().unwrap() = alphabet[index | 1];
    let lenient = String::from_utf8(lenient).unwrap();
    assert_ne!(lenient, value);

    let python = decrypt_in_python(&mut peer, KEY_HEX, &lenient);
    assert_eq!(python["error"], Value::Null, "{python}");
    assert_eq!(
        ours.codec().open(&lenient),
        Err(Rejection::BadBase64),
        "stricter than Python, on purpose"
    );
}
