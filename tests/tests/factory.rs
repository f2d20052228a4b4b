//! Factory behaviour beyond Pyramid's: secret rotation, build-time checks, secrets kept out
//! of `Debug`, and cookies that replace a session carrying the same attributes.

use std::time::Duration;

use http::HeaderMap;
use serde_json::json;
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::{
    BuildError, HashAlg, LoadOutcome, ManualClock, SameSite, Saved, SignedCookieSessionFactory,
};

const OLD: &str = "the old secret, thirty-two bytes or more";
const NEW: &str = "the new secret, also thirty-two bytes long";
const NOW: f64 = 1_700_000_000.0;

fn factory(secret: &str) -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(secret)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap()
}

fn set_cookie_value(headers: &HeaderMap) -> String {
    let header = headers["set-cookie"].to_str().unwrap();
    cookie::Cookie::parse(header.to_owned())
        .unwrap()
        .value()
        .to_owned()
}

#[test]
fn a_cookie_signed_with_a_fallback_secret_is_re_signed_with_the_current_one() {
    let old = factory(OLD);
    let mut session = old.load_value(None);
    session.insert("user", 7);
    let old_cookie = old.encode(&session).unwrap();

    let rotated = SignedCookieSessionFactory::builder(NEW)
        .fallback_secret(OLD)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let session = rotated.load_value(Some(&old_cookie));
    assert_eq!(session.load_outcome(), LoadOutcome::LoadedWithOldSecret);
    assert_eq!(session.get("user"), Some(&json!(7)));

    // The save re-signs even though nothing changed, and signs with the current secret only.
    let mut headers = HeaderMap::new();
    assert_eq!(
        rotated.save(&session, &mut headers).unwrap(),
        Saved::Written
    );
    let new_cookie = set_cookie_value(&headers);
    assert_eq!(
        factory(NEW).load_value(Some(&new_cookie)).load_outcome(),
        LoadOutcome::Loaded
    );
    assert!(matches!(
        factory(OLD).load_value(Some(&new_cookie)).load_outcome(),
        LoadOutcome::Rejected(_)
    ));
    let reloaded = rotated.load_value(Some(&new_cookie));
    assert_eq!(reloaded.load_outcome(), LoadOutcome::Loaded);
    assert!(!reloaded.is_dirty());
}

#[test]
fn a_session_changed_under_a_rotated_factory_is_never_signed_with_the_fallback() {
    // CVE-2025-47278 (Flask): signing with the last fallback key instead of the current one.
    let rotated = SignedCookieSessionFactory::builder(NEW)
        .fallback_secret(OLD)
        .fallback_secret("an even older secret, thirty-two bytes")
        .build()
        .unwrap();
    let mut session = rotated.load_value(None);
    session.insert("a", 1);
    let value = rotated.encode(&session).unwrap();
    let only_new = SignedCodec::new(NEW, "pyramid.session.", HashAlg::Sha512);
    assert!(!only_new.open(&value).unwrap().stale_key);
}

#[test]
fn bad_configuration_fails_at_build_time() {
    let build = |b: typed_sessions::Builder<typed_sessions::SignedKeys>| b.build().unwrap_err();
    let ok = || SignedCookieSessionFactory::builder(NEW);
    assert_eq!(
        build(SignedCookieSessionFactory::builder("short")),
        BuildError::ShortSecret { len: 5, min: 32 }
    );
    assert!(matches!(
        build(ok().fallback_secret("short")),
        BuildError::ShortSecret { len: 5, .. }
    ));
    assert_eq!(
        build(ok().cookie_name("bad name")),
        BuildError::InvalidCookieName("bad name".into())
    );
    assert_eq!(
        build(ok().cookie_name("")),
        BuildError::InvalidCookieName("".into())
    );
    assert!(matches!(
        build(ok().path(Some("/a;b".to_owned()))),
        BuildError::InvalidAttribute {
            attribute: "path",
            ..
        }
    ));
    assert!(matches!(
        build(ok().domain(Some("exa\nmple.com".to_owned()))),
        BuildError::InvalidAttribute {
            attribute: "domain",
            ..
        }
    ));
    assert_eq!(
        build(ok().samesite(SameSite::None).secure(false)),
        BuildError::SameSiteNoneWithoutSecure
    );
    assert!(
        ok().samesite(SameSite::None).build().is_ok(),
        "Secure by default"
    );
    assert!(
        SignedCookieSessionFactory::builder("short")
            .allow_short_secret()
            .build()
            .is_ok()
    );
    assert_eq!(
        "md5".parse::<HashAlg>().unwrap_err(),
        BuildError::UnknownHashAlg("md5".into())
    );
}

/// The short-secret check counts the bytes of the HMAC key, not of the text's UTF-8: with an
/// ASCII salt, text Latin-1 can encode is signed as Latin-1 (as WebOb does), one byte per
/// character; with a salt Latin-1 cannot encode, both are UTF-8.
#[test]
fn short_secrets_are_counted_in_the_bytes_the_key_holds() {
    let twenty_e = "\u{e9}".repeat(20); // 40 bytes of UTF-8, 20 of Latin-1
    assert_eq!(twenty_e.len(), 40);
    let err = SignedCookieSessionFactory::builder(twenty_e.as_str())
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ShortSecret { len: 20, min: 32 });
    let err = SignedCookieSessionFactory::builder(NEW)
        .fallback_secret(twenty_e.as_str())
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ShortSecret { len: 20, min: 32 });
    let err = typed_sessions::ServerSessionFactory::builder(
        twenty_e.as_str(),
        typed_sessions::store::MemoryStore::new(),
    )
    .build()
    .unwrap_err();
    assert_eq!(err, BuildError::ShortSecret { len: 20, min: 32 });
    // The same text under a salt Latin-1 cannot encode is signed as its 40 UTF-8 bytes.
    assert!(
        SignedCookieSessionFactory::builder(twenty_e.as_str())
            .salt("\u{2713}.")
            .build()
            .is_ok()
    );
    // 32 characters of Latin-1 are 32 bytes of key.
    assert!(
        SignedCookieSessionFactory::builder("\u{e9}".repeat(32))
            .build()
            .is_ok()
    );
    // Raw bytes count as they are.
    let err = SignedCookieSessionFactory::builder(vec![0xe9; 31])
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ShortSecret { len: 31, min: 32 });
}

#[test]
fn debug_output_never_shows_a_secret() {
    let builder = SignedCookieSessionFactory::builder(NEW).fallback_secret(OLD);
    let shown = format!("{builder:?}");
    let factory = builder.build().unwrap();
    let shown = format!("{shown} {factory:?} {:?}", factory.codec());
    for secret in [NEW, OLD] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains(&secret[..12]), "{shown}");
    }
    let err = SignedCookieSessionFactory::builder("hunter2")
        .build()
        .unwrap_err();
    assert!(!format!("{err:?} {err}").contains("hunter2"));
}

#[test]
fn replacing_cookies_carry_the_same_attributes() {
    let factory = SignedCookieSessionFactory::builder(NEW)
        .cookie_name("sid")
        .path(Some("/app".to_owned()))
        .domain(Some("example.com".to_owned()))
        .secure(true)
        .httponly(true)
        .samesite(SameSite::Strict)
        .max_age(Duration::from_secs(600))
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let mut session = factory.load_value(None);
    session.insert("a", 1);
    let mut first = HeaderMap::new();
    factory.save(&session, &mut first).unwrap();

    let mut session = factory.load_value(Some(&set_cookie_value(&first)));
    session.invalidate();
    let mut second = HeaderMap::new();
    factory.save(&session, &mut second).unwrap();

    let parse = |h: &HeaderMap| {
        cookie::Cookie::parse(h["set-cookie"].to_str().unwrap().to_owned()).unwrap()
    };
    let (a, b) = (parse(&first), parse(&second));
    assert_eq!(a.name(), b.name());
    assert_eq!(a.path(), b.path());
    assert_eq!(a.domain(), b.domain());
    assert_eq!(a.secure(), b.secure());
    assert_eq!(a.http_only(), b.http_only());
    assert_eq!(a.same_site(), b.same_site());
    assert_eq!(a.max_age(), b.max_age());
    assert_eq!(b.path(), Some("/app"));
    assert_eq!(
        factory.load_value(Some(b.value())).get("a"),
        None,
        "the replacing cookie holds the emptied session"
    );
}

#[test]
fn a_save_error_writes_nothing_and_names_the_size() {
    let factory = factory(NEW);
    let mut session = factory.load_value(None);
    session.insert("blob", "x".repeat(2800));
    let mut headers = HeaderMap::new();
    factory.save(&session, &mut headers).unwrap();
    let value = set_cookie_value(&headers);
    assert!(value.len() <= typed_sessions::MAX_COOKIE_VALUE_LEN);

    let mut session = factory.load_value(Some(&value));
    session.insert("more", "y".repeat(1000));
    let mut headers = HeaderMap::new();
    let err = factory.save(&session, &mut headers).unwrap_err();
    assert!(err.to_string().contains("4064-byte limit"), "{err}");
    assert!(headers.is_empty());
}

#[test]
fn the_factory_clock_drives_timeout() {
    let clock = ManualClock::new(NOW);
    let factory = SignedCookieSessionFactory::builder(NEW)
        .timeout(Duration::from_secs(100))
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut session = factory.load_value(None);
    session.insert("a", 1);
    let value = factory.encode(&session).unwrap();
    clock.advance(100.0);
    assert_eq!(factory.load_value(Some(&value)).get("a"), Some(&json!(1)));
    clock.advance(1.0);
    let session = factory.load_value(Some(&value));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(typed_sessions::Rejection::TimedOut)
    );
}

#[test]
fn a_codec_producing_an_invalid_header_value_is_an_error_not_a_panic() {
    use typed_sessions::codec::Opened;
    struct Broken;
    impl CookieCodec for Broken {
        fn seal(&self, _payload: &[u8]) -> Result<String, typed_sessions::SessionError> {
            Ok("line\nbreak".to_owned())
        }
        fn open(&self, _value: &str) -> Result<Opened, typed_sessions::Rejection> {
            Err(typed_sessions::Rejection::BadSignature)
        }
    }
    let factory = typed_sessions::CookieSessionFactory::with_codec(Broken)
        .build()
        .unwrap();
    let mut session = factory.load_value(None);
    session.insert("a", 1);
    let mut headers = HeaderMap::new();
    let err = factory.save(&session, &mut headers).unwrap_err();
    assert!(matches!(
        err,
        typed_sessions::SessionError::InvalidCookieValue
    ));
    assert!(headers.is_empty());
}

/// The 10,000-key session of the store tests (`store_common`) does not fit a cookie: even
/// the shortest entries (`"k0000":0,`) make 100 KB of JSON, 25 times the 4064-byte limit. A
/// cookie session of that many keys is therefore an error at save, never a panic or a cut
/// cookie; its state still loads, changes and serializes in linear time. As many keys as a
/// cookie holds round-trip through it.
#[test]
fn ten_thousand_keys_exceed_a_cookie_and_the_most_that_fit_round_trip() {
    const KEYS: usize = 10_000;
    let factory = factory(NEW);
    let entries: Vec<String> = (0..KEYS).map(|i| format!(r#""k{i:04}":{i}"#)).collect();
    let state = format!("{{{}}}", entries.join(","));
    let mut session = typed_sessions::Session::from_json(&state, NOW, NOW).unwrap();
    for i in 0..KEYS {
        let key = format!("k{i:04}");
        assert_eq!(session.get_as::<usize>(&key).unwrap(), Some(i));
        session.insert(key, i + 1);
    }
    let json = session.state_json().unwrap();
    let reloaded = typed_sessions::Session::from_json(&json, NOW, NOW).unwrap();
    assert_eq!(reloaded.len(), KEYS);
    assert_eq!(reloaded.get_as::<usize>("k9999").unwrap(), Some(10_000));
    let mut headers = HeaderMap::new();
    let err = factory.save(&session, &mut headers).unwrap_err();
    assert!(
        matches!(err, typed_sessions::SessionError::TooLarge { size, .. } if size > 25 * 4064),
        "{err}"
    );
    assert!(headers.is_empty());

    // The most keys of this shape a cookie holds, each changed, through a real cookie.
    let mut session = factory.load_value(None);
    let mut fits = 0;
    loop {
        session.insert(format!("k{fits:04}"), fits);
        if factory.encode(&session).is_err() {
            session.remove(&format!("k{fits:04}"));
            break;
        }
        fits += 1;
    }
    assert!(fits > 250, "{fits} keys");
    let loaded = factory.load_value(Some(&factory.encode(&session).unwrap()));
    let mut loaded_again = factory.load_value(Some(&factory.encode(&loaded).unwrap()));
    for i in 0..fits {
        let key = format!("k{i:04}");
        assert_eq!(loaded_again.get_as::<usize>(&key).unwrap(), Some(i));
        loaded_again.insert(key, i + 1);
    }
    let last = factory.load_value(Some(&factory.encode(&loaded_again).unwrap()));
    assert_eq!(last.len(), fits);
    assert_eq!(last.get_as::<usize>("k0000").unwrap(), Some(1));
}

#[derive(typed_sessions::SessionSchema)]
#[allow(dead_code)] // read through the generated accessors only
struct Cart {
    #[session(default)]
    cart: Vec<String>,
}

/// A guard that was only read does not mark the session changed, but reading is an access:
/// once the cookie is older than the reissue time it asks for a new cookie (README, "Guards
/// mark changes for you"): under Pyramid's `reissue_time` of 0, in any second after the
/// cookie was issued; under the builder's default, after a tenth of the timeout (120 s).
/// `None` stops that.
#[test]
fn a_read_only_guard_reissues_after_the_reissue_time_as_any_read_does() {
    let issued = {
        let mut session = factory(NEW).load_value(None);
        session.insert("cart", json!(["tea"]));
        factory(NEW).encode(&session).unwrap()
    };
    for (later, reissue_time, reissues) in [
        (0.5, Some(Duration::ZERO), false),
        (1.0, Some(Duration::ZERO), true),
        (1.0, None, false),
        (59.0, Some(Duration::from_secs(60)), false),
        (61.0, Some(Duration::from_secs(60)), true),
        // The builder's default.
        (120.0, Some(Duration::from_secs(120)), false),
        (121.0, Some(Duration::from_secs(120)), true),
    ] {
        let builder = SignedCookieSessionFactory::builder(NEW).clock(ManualClock::new(NOW + later));
        // The default's cases leave it unset, so they check it is what they say.
        let factory = if reissue_time == Some(Duration::from_secs(120)) {
            builder
        } else {
            builder.reissue_time(reissue_time)
        };
        let factory = factory.build().unwrap();
        let mut session = factory.load_value(Some(&issued));
        assert_eq!(CartExt::cart_mut(&mut session).unwrap().len(), 1);
        let mut headers = HeaderMap::new();
        let saved = factory.save(&session, &mut headers).unwrap();
        assert_eq!(
            saved == Saved::Written,
            reissues,
            "+{later} s, reissue_time {reissue_time:?}"
        );
    }
}

/// A request that came without a cookie and leaves its session empty gets no `Set-Cookie`,
/// however it touched the session; one that holds something, or that empties a session the
/// client had, gets one.
#[test]
fn a_session_that_needs_no_cookie_gets_none() {
    let factory = factory(NEW);
    let touches: [fn(&mut typed_sessions::Session); 4] = [
        |_| {},
        |s| {
            let _ = s.get("cart");
        },
        |s| {
            s.insert("x", 1);
            s.remove("x");
        },
        |s| {
            s.clear();
            s.invalidate();
        },
    ];
    for (n, touch) in touches.iter().enumerate() {
        let mut session = factory.load_value(None);
        touch(&mut session);
        let mut headers = HeaderMap::new();
        assert_eq!(
            factory.save(&session, &mut headers).unwrap(),
            Saved::Unchanged,
            "touch {n}"
        );
        assert!(headers.is_empty(), "touch {n}: {headers:?}");
    }

    // A token is kept in the cookie: it needs one.
    let mut session = factory.load_value(None);
    session.get_csrf_token().unwrap();
    let mut headers = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut headers).unwrap(),
        Saved::Written
    );
    let value = set_cookie_value(&headers);

    // Emptying the client's session replaces its cookie.
    let mut session = factory.load_value(Some(&value));
    session.clear();
    let mut headers = HeaderMap::new();
    assert_eq!(
        factory.save(&session, &mut headers).unwrap(),
        Saved::Written
    );
    let emptied = factory.load_value(Some(&set_cookie_value(&headers)));
    assert_eq!(emptied.load_outcome(), LoadOutcome::Loaded);
    assert!(emptied.is_empty());
}
