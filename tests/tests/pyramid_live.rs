//! Live round trips with real Pyramid 2.1: cookies minted on one side load on the other
//! with the same state and timestamps, flash messages cross over, CSRF tokens agree.
//!
//! The peer is `tests/pyramid/peer.py`; `scripts/pyenv.sh` builds its venv when missing.
//! These tests never skip: without Python and Pyramid they fail.

use std::time::Duration;

use serde_json::{Value, json};
use typed_sessions::{HashAlg, LoadOutcome, ManualClock, SignedCookieSessionFactory};
use typed_sessions_tests::{PyramidPeer, rich_state, set_ops, state_of};

const SECRET: &str = "interop secret shared by both apps";
const NOW: f64 = 1_700_000_000.5;

/// Ours, as `pyramid_factory` makes Pyramid's: Pyramid's defaults, this salt and hash.
fn factory(salt: &str, alg: HashAlg) -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET)
        .pyramid_defaults()
        .salt(salt)
        .hashalg(alg)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap()
}

fn pyramid_factory(salt: &str, alg: HashAlg) -> Value {
    json!({"secret": SECRET, "salt": salt, "hashalg": alg.as_str()})
}

#[test]
fn pyramid_cookies_load_in_rust_and_rust_cookies_load_in_pyramid() {
    let mut peer = PyramidPeer::start();
    let state = rich_state();
    for alg in [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        for salt in ["pyramid.session.", "custom-salt."] {
            let ours = factory(salt, alg);
            let theirs = pyramid_factory(salt, alg);

            // Pyramid -> Rust.
            let minted = peer.run(&theirs, None, NOW, set_ops(&state));
            let value = minted["cookie_value"]
                .as_str()
                .expect("Pyramid wrote a cookie");
            let session = ours.load_value(Some(value));
            assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{alg} {salt}");
            assert_eq!(state_of(&session), state, "{alg} {salt}");
            assert_eq!(session.created(), minted["created"].as_f64().unwrap());
            assert_eq!(session.accessed(), minted["accessed"].as_f64().unwrap());

            // Rust -> Pyramid.
            let mut session = ours.load_value(None);
            session.extend(state.as_object().unwrap().clone());
            let value = ours.encode(&session).unwrap();
            let read = peer.run(&theirs, Some(&value), NOW, json!([{"op": "get_state"}]));
            assert_eq!(
                read["new"],
                json!(false),
                "{alg} {salt}: Pyramid refused our cookie"
            );
            assert_eq!(read["state"], state, "{alg} {salt}");
            assert_eq!(read["created"].as_f64().unwrap(), session.created());
            assert_eq!(read["accessed"].as_f64().unwrap(), session.accessed());
        }
    }
}

#[test]
fn a_mismatched_secret_is_refused_on_both_sides() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let other = json!({"secret": "another secret entirely, also long enough"});
    let minted = peer.run(
        &other,
        None,
        NOW,
        json!([{"op": "set", "key": "a", "value": 1}]),
    );
    let session = ours.load_value(minted["cookie_value"].as_str());
    assert!(matches!(session.load_outcome(), LoadOutcome::Rejected(_)));

    let mut session = ours.load_value(None);
    session.insert("a", 1);
    let value = ours.encode(&session).unwrap();
    let read = peer.run(&other, Some(&value), NOW, json!([{"op": "get_state"}]));
    assert_eq!(read["new"], json!(true));
    assert_eq!(read["state"], json!({}));
}

#[test]
fn tampered_rust_cookie_is_refused_by_pyramid() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let mut session = ours.load_value(None);
    session.insert("admin", false);
    let value = ours.encode(&session).unwrap();
    let mut bytes = value.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let read = peer.run(
        &pyramid_factory("pyramid.session.", HashAlg::Sha512),
        Some(&tampered),
        NOW,
        json!([{"op": "get_state"}]),
    );
    assert_eq!(read["new"], json!(true));
}

#[test]
fn flash_messages_cross_over_both_ways() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let theirs = pyramid_factory("pyramid.session.", HashAlg::Sha512);

    // Rust flashes, Pyramid pops.
    let mut session = ours.load_value(None);
    session.flash("Saved ✓").unwrap();
    session
        .flash_to("error", json!({"code": 7, "text": "nope"}))
        .unwrap();
    assert!(!session.flash_unique("Saved ✓").unwrap());
    let value = ours.encode(&session).unwrap();
    let popped = peer.run(
        &theirs,
        Some(&value),
        NOW,
        json!([
            {"op": "pop_flash"},
            {"op": "peek_flash", "queue": "error"},
            {"op": "pop_flash", "queue": "error"},
            {"op": "pop_flash"},
        ]),
    );
    assert_eq!(
        popped["results"],
        json!([["Saved ✓"], [{"code": 7, "text": "nope"}], [{"code": 7, "text": "nope"}], []])
    );

    // Pyramid flashes, Rust pops; and the queue Pyramid left empty stays empty here.
    let minted = peer.run(
        &theirs,
        popped["cookie_value"].as_str(),
        NOW,
        json!([
            {"op": "flash", "msg": "from pyramid"},
            {"op": "flash", "msg": "from pyramid", "allow_duplicate": false},
            {"op": "flash", "msg": "warned", "queue": "warn"},
        ]),
    );
    let mut session = ours.load_value(minted["cookie_value"].as_str());
    assert_eq!(session.peek_flash("warn").unwrap(), vec![json!("warned")]);
    assert_eq!(session.pop_flash("").unwrap(), vec![json!("from pyramid")]);
    assert!(session.pop_flash("").unwrap().is_empty());
    assert!(session.pop_flash("error").unwrap().is_empty());

    // What Rust popped stays popped in Pyramid.
    let value = ours.encode(&session).unwrap();
    let read = peer.run(
        &theirs,
        Some(&value),
        NOW,
        json!([{"op": "pop_flash"}, {"op": "pop_flash", "queue": "warn"}]),
    );
    assert_eq!(read["results"], json!([[], ["warned"]]));
}

#[test]
fn csrf_tokens_agree_both_ways() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let theirs = pyramid_factory("pyramid.session.", HashAlg::Sha512);

    let minted = peer.run(&theirs, None, NOW, json!([{"op": "get_csrf_token"}]));
    let token = minted["results"][0].as_str().unwrap().to_owned();
    let mut session = ours.load_value(minted["cookie_value"].as_str());
    assert!(session.check_csrf_token(&token));
    assert_eq!(session.get_csrf_token().unwrap(), token);

    let fresh = session.new_csrf_token().unwrap();
    let value = ours.encode(&session).unwrap();
    let read = peer.run(
        &theirs,
        Some(&value),
        NOW,
        json!([{"op": "get_csrf_token"}]),
    );
    assert_eq!(read["results"][0], json!(fresh));
}

#[test]
fn invalidate_in_rust_empties_the_session_in_pyramid() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let theirs = pyramid_factory("pyramid.session.", HashAlg::Sha512);
    let minted = peer.run(
        &theirs,
        None,
        NOW,
        json!([{"op": "set", "key": "user", "value": 1}]),
    );
    let mut session = ours.load_value(minted["cookie_value"].as_str());
    session.invalidate();
    let value = ours.encode(&session).unwrap();
    let read = peer.run(&theirs, Some(&value), NOW, json!([{"op": "get_state"}]));
    assert_eq!(read["state"], json!({}));
    assert_eq!(
        read["created"], minted["created"],
        "created survives invalidate, as in Pyramid"
    );
}

#[test]
fn reissue_and_timeout_agree_with_pyramid() {
    let mut peer = PyramidPeer::start();
    let theirs = json!({"secret": SECRET, "timeout": 60, "reissue_time": 10});
    let minted = peer.run(
        &theirs,
        None,
        NOW,
        json!([{"op": "set", "key": "a", "value": 1}]),
    );
    let value = minted["cookie_value"].as_str().unwrap();
    for (later, touched) in [(5.0, true), (11.0, true), (11.0, false), (61.0, true)] {
        let clock = ManualClock::new(NOW + later);
        let ours = SignedCookieSessionFactory::builder(SECRET)
            .pyramid_defaults()
            .timeout(Duration::from_secs(60))
            .reissue_time(Duration::from_secs(10))
            .clock(clock)
            .build()
            .unwrap();
        let session = ours.load_value(Some(value));
        let ops = if touched {
            json!([{"op": "get", "key": "a"}])
        } else {
            json!([])
        };
        if touched {
            let _ = session.get("a");
        }
        let read = peer.run(&theirs, Some(value), NOW + later, ops);
        let mut headers = http::HeaderMap::new();
        ours.save(&session, &mut headers).unwrap();
        assert_eq!(
            headers.contains_key("set-cookie"),
            !read["set_cookie"].is_null(),
            "+{later}s touched={touched}: Rust and Pyramid disagree on writing a cookie"
        );
        assert_eq!(state_of(&session), read["state"], "+{later}s");
    }
}

/// The attributes of a `Set-Cookie` header, lowercased and sorted: what a browser reads
/// from it, whatever order they are written in.
fn attributes(header: &str) -> Vec<String> {
    let mut attributes: Vec<String> = header
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect();
    attributes.sort();
    attributes
}

/// `pyramid_defaults()` is a default Pyramid factory, checked against the live peer: the
/// same `Set-Cookie` attributes for a new session (neither `Secure` nor `HttpOnly`), and a
/// second later the same new cookie for a mere read (reissue time 0). The builder's own
/// defaults differ on both counts, on purpose.
#[test]
fn pyramid_defaults_are_a_default_pyramid_factory() {
    let mut peer = PyramidPeer::start();
    let theirs = json!({"secret": SECRET});
    let set = json!([{"op": "set", "key": "a", "value": 1}]);
    let minted = peer.run(&theirs, None, NOW, set);
    let pyramid_header = minted["set_cookie"]
        .as_str()
        .expect("Pyramid wrote a cookie");
    let saved_header = |ours: &SignedCookieSessionFactory| {
        let mut session = ours.load_value(None);
        session.insert("a", 1);
        let mut headers = http::HeaderMap::new();
        ours.save(&session, &mut headers).unwrap();
        headers["set-cookie"].to_str().unwrap().to_owned()
    };
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    assert_eq!(
        attributes(&saved_header(&ours)),
        attributes(pyramid_header),
        "{pyramid_header}"
    );
    assert_eq!(attributes(pyramid_header), ["path=/", "samesite=lax"]);

    let value = minted["cookie_value"].as_str().unwrap();
    let read = peer.run(
        &theirs,
        Some(value),
        NOW + 1.0,
        json!([{"op": "get", "key": "a"}]),
    );
    assert!(
        !read["set_cookie"].is_null(),
        "Pyramid reissues a second later"
    );
    let reissued = |builder: typed_sessions::Builder<typed_sessions::SignedKeys>| {
        let ours = builder.clock(ManualClock::new(NOW + 1.0)).build().unwrap();
        let session = ours.load_value(Some(value));
        let _ = session.get("a");
        let mut headers = http::HeaderMap::new();
        ours.save(&session, &mut headers).unwrap();
        headers.contains_key("set-cookie")
    };
    assert!(reissued(
        SignedCookieSessionFactory::builder(SECRET).pyramid_defaults()
    ));

    // The safe defaults: `Secure` and `HttpOnly`, and no new cookie for a read so soon.
    let safe = SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    assert_eq!(
        attributes(&saved_header(&safe)),
        ["httponly", "path=/", "samesite=lax", "secure"]
    );
    assert!(!reissued(SignedCookieSessionFactory::builder(SECRET)));
}

/// When the `Cookie` header repeats the session cookie, this crate uses the one Pyramid
/// (WebOb) uses, whatever the order and whichever copy is bad. Several `Cookie` headers
/// (as HTTP/2 sends them) read as the one header they join into with `; `, which is what a
/// WSGI server hands Pyramid.
#[test]
fn a_repeated_session_cookie_resolves_as_in_pyramid() {
    let mut peer = PyramidPeer::start();
    let ours = factory("pyramid.session.", HashAlg::Sha512);
    let theirs = pyramid_factory("pyramid.session.", HashAlg::Sha512);
    let mint = |peer: &mut PyramidPeer, n: u64| {
        let minted = peer.run(
            &theirs,
            None,
            NOW,
            json!([{"op": "set", "key": "n", "value": n}]),
        );
        minted["cookie_value"].as_str().unwrap().to_owned()
    };
    let (one, two) = (mint(&mut peer, 1), mint(&mut peer, 2));
    let cookies: [&[&str]; 7] = [
        &[&format!("session={one}"), &format!("session={two}")],
        &[&format!("session={two}"), &format!("session={one}")],
        &[&format!("session={one}"), "other=x", "session=garbage"],
        &["session=garbage", &format!("session={two}")],
        &[&format!("session={one}"), &format!("Session={two}")],
        &[&format!("session={one}"), "session="],
        &[
            &format!("session={one}"),
            &format!("session={two}"),
            &format!("session={one}"),
        ],
    ];
    let mut checked_a_repeat_that_loads = false;
    for pairs in cookies {
        let header = pairs.join("; ");
        let read = peer.request(&json!({
            "factory": theirs,
            "cookie_header": header,
            "now": NOW,
            "ops": [{"op": "get_state"}],
        }));
        assert!(read["error"].is_null(), "{header}: {}", read["error"]);
        let session = ours.load_cookie_header(&header);
        assert_eq!(json!(session.is_new()), read["new"], "{header}");
        assert_eq!(state_of(&session), read["state"], "{header}");
        checked_a_repeat_that_loads |= read["new"] == json!(false) && pairs.len() > 1;

        let mut headers = http::HeaderMap::new();
        for pair in pairs {
            headers.append("cookie", pair.parse().unwrap());
        }
        let session = ours.load(&headers);
        assert_eq!(json!(session.is_new()), read["new"], "{pairs:?} as headers");
        assert_eq!(state_of(&session), read["state"], "{pairs:?} as headers");
    }
    assert!(checked_a_repeat_that_loads);
}

/// The golden vectors `pyramid_vectors.rs` checks against are what this Pyramid mints and
/// decides today: `gen_vectors.py --check` regenerates them and compares.
#[test]
fn the_golden_vectors_are_what_pyramid_makes_of_them_today() {
    let script = typed_sessions_tests::workspace_root().join("tests/pyramid/gen_vectors.py");
    let output = std::process::Command::new(typed_sessions_tests::pyramid_python())
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
