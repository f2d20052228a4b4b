//! Cookies that never overflow: the whole `Set-Cookie` line and the request's `Cookie`
//! header share are measured to the byte; what does not fit is compressed or chunked when
//! the factory opts in, and otherwise not written (a `507` through the adapters, with the
//! budget and the size in the response's extensions); flash queues cannot fill a cookie by
//! themselves; chunks of different writes never combine and stale chunks are expired.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http::HeaderMap;
use http::header::{COOKIE, SET_COOKIE};
use proptest::prelude::*;
use tower::ServiceExt;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::codec::{CookieCodec, SignedCodec};
use typed_sessions::{
    Budget, BuildError, EncryptedCookieSessionFactory, HashAlg, LoadOutcome, ManualClock, Overflow,
    Rejection, SameSite, Serializer, Session, SessionError, SignedCookieSessionFactory,
};
use typed_sessions_tests::capture_logs;

const SECRET: &str = "a secret of at least thirty-two bytes, for budgets";
const NOW: f64 = 1_700_000_000.0;

fn builder() -> typed_sessions::Builder<typed_sessions::SignedKeys> {
    SignedCookieSessionFactory::builder(SECRET).clock(ManualClock::new(NOW))
}

/// A browser's cookie jar for one site: `Set-Cookie` lines applied in order, a removal
/// (`Max-Age=0`) deleting the name; the `Cookie` header it sends.
#[derive(Debug, Clone, Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn apply(&mut self, response: &HeaderMap) {
        for line in response.get_all(SET_COOKIE) {
            let cookie = cookie::Cookie::parse(line.to_str().unwrap().to_owned()).unwrap();
            if cookie.max_age() == Some(cookie::time::Duration::ZERO) {
                self.0.remove(cookie.name());
            } else {
                self.0
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }

    fn request(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !self.0.is_empty() {
            let header: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
            headers.insert(COOKIE, header.join("; ").parse().unwrap());
        }
        headers
    }
}

/// Every `Set-Cookie` line of `response` fits `budget`, and the `name=value` pairs they set
/// fit `header_budget` together.
fn assert_lines_fit(response: &HeaderMap, budget: usize, header_budget: usize) {
    let mut pairs = 0;
    for line in response.get_all(SET_COOKIE) {
        assert!(line.len() <= budget, "{} > {budget}", line.len());
        if line.to_str().unwrap().contains("Max-Age=0") {
            // A removal: the browser sends nothing back for it.
            continue;
        }
        let pair = line.to_str().unwrap().split(';').next().unwrap();
        pairs += pair.len() + 2;
    }
    assert!(
        pairs.saturating_sub(2) <= header_budget,
        "{pairs} > {header_budget}"
    );
}

fn session_with(factory: &SignedCookieSessionFactory, text_len: usize) -> Session {
    let mut session = factory.load(&HeaderMap::new());
    session.insert("notes", "n".repeat(text_len));
    session
}

fn line_len(factory: &SignedCookieSessionFactory, session: &Session) -> usize {
    let mut response = HeaderMap::new();
    factory.save(session, &mut response).unwrap();
    response[SET_COOKIE].len()
}

/// The `Set-Cookie` budget counts the whole line, attributes included: a cookie exactly
/// at the budget is written, one byte over it is not, and the error says which budget and
/// by how much.
#[test]
fn the_set_cookie_budget_is_exact_to_the_byte() {
    let attributes = || {
        builder()
            .cookie_name("__Host-shop_session")
            .samesite(SameSite::Strict)
            .max_age(std::time::Duration::from_secs(86_400))
            .partitioned(true)
    };
    let wide = attributes().set_cookie_budget(100_000).build().unwrap();
    let session = session_with(&wide, 2000);
    let len = line_len(&wide, &session);
    assert!(len > 2000 + 100, "{len}: attributes are counted");
    for budget in [len + 1, len] {
        let factory = attributes().set_cookie_budget(budget).build().unwrap();
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).unwrap();
        assert_eq!(response[SET_COOKIE].len(), len);
    }
    let factory = attributes().set_cookie_budget(len - 1).build().unwrap();
    let mut response = HeaderMap::new();
    let err = factory.save(&session, &mut response).unwrap_err();
    assert_eq!(
        err.overflow(),
        Some(Overflow {
            budget: Budget::SetCookie,
            size: len,
            limit: len - 1
        })
    );
    assert!(response.is_empty(), "the client keeps its previous cookie");
    assert!(err.to_string().contains("Set-Cookie line"), "{err}");
}

/// The default budget is 4096, and Safari's 4093 is one call away: a line of 4094 bytes
/// passes the first and not the second.
#[test]
fn the_default_budget_is_4096_and_safaris_is_4093() {
    let factory = builder().build().unwrap();
    let session = (1000..4000)
        .map(|len| session_with(&factory, len))
        .find(|session| {
            let mut response = HeaderMap::new();
            factory.save(session, &mut response).is_ok()
                && response[SET_COOKIE].len() > typed_sessions::SAFARI_SET_COOKIE_BUDGET
        })
        .expect("a line between 4094 and 4096 bytes");
    let len = line_len(&factory, &session);
    assert!((4094..=4096).contains(&len), "{len}");
    let safari = builder()
        .set_cookie_budget(typed_sessions::SAFARI_SET_COOKIE_BUDGET)
        .build()
        .unwrap();
    let err = safari.save(&session, &mut HeaderMap::new()).unwrap_err();
    assert_eq!(err.overflow().unwrap().limit, 4093);
}

/// The request header budget counts `name=value`, to the byte.
#[test]
fn the_cookie_header_budget_is_exact_to_the_byte() {
    let wide = builder().build().unwrap();
    let session = session_with(&wide, 500);
    let value = wide.encode(&session).unwrap();
    let pair = "session=".len() + value.len();
    for budget in [pair + 1, pair] {
        let factory = builder().cookie_header_budget(budget).build().unwrap();
        factory.save(&session, &mut HeaderMap::new()).unwrap();
    }
    let factory = builder().cookie_header_budget(pair - 1).build().unwrap();
    let err = factory.save(&session, &mut HeaderMap::new()).unwrap_err();
    assert_eq!(
        err.overflow(),
        Some(Overflow {
            budget: Budget::CookieHeader,
            size: pair,
            limit: pair - 1
        })
    );
}

/// The length of a `blob` whose cookie value is under Pyramid's 4064 bytes and whose
/// line, with the default attributes, is over 4096: the cookie Rails would write and
/// browsers drop.
fn line_over_value_under() -> usize {
    let factory = builder().set_cookie_budget(100_000).build().unwrap();
    (2800..3100)
        .find(|&len| {
            let mut session = factory.load(&HeaderMap::new());
            session.insert("blob", "x".repeat(len));
            factory.encode(&session).is_ok() && line_len(&factory, &session) > 4096
        })
        .expect("such a length")
}

async fn answer(layer: SessionLayer<SignedCookieSessionFactory>) -> axum::response::Response {
    let len = line_over_value_under();
    let app = Router::new()
        .route(
            "/big",
            get(move |session: SessionHandle| async move {
                session.lock().insert("blob", "x".repeat(len));
                "stored"
            }),
        )
        .layer(layer);
    let request = Request::get("/big").body(Body::empty()).unwrap();
    app.oneshot(request).await.unwrap()
}

/// Through the adapter, a session that does not fit is answered `507` by default, another
/// status when configured, or (with `None`) the handler's response; never with a
/// `Set-Cookie`, always with the `Overflow` in the extensions.
#[tokio::test]
async fn an_oversized_session_is_answered_with_the_configured_status_and_its_overflow() {
    let cases = [
        (builder(), StatusCode::INSUFFICIENT_STORAGE),
        (
            builder().on_oversized(StatusCode::PAYLOAD_TOO_LARGE),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (builder().on_oversized(None), StatusCode::OK),
    ];
    for (builder, status) in cases {
        let response = answer(SessionLayer::new(builder.build().unwrap())).await;
        assert_eq!(response.status(), status);
        assert!(response.headers().get(SET_COOKIE).is_none());
        let overflow = response
            .extensions()
            .get::<Overflow>()
            .expect("the app sees why");
        assert_eq!(overflow.budget, Budget::SetCookie);
        assert_eq!(overflow.limit, 4096);
        assert!(overflow.size > 4096, "{overflow}");
    }
}

/// A flash queue keeps its newest 20 messages by default, dropping the oldest with a
/// warning that names the queue; the cap is configurable, and off under Pyramid's
/// defaults.
#[test]
fn flash_queues_are_capped_and_say_so() {
    let factory = builder().build().unwrap();
    let mut session = factory.load(&HeaderMap::new());
    let ((), logs) = capture_logs(|| {
        for n in 0..25 {
            session.flash_to("cart", format!("added {n}")).unwrap();
        }
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("queue=\"cart\"") || logs.contains("queue=cart"),
        "{logs}"
    );
    let messages = session.peek_flash("cart").unwrap();
    assert_eq!(messages.len(), typed_sessions::DEFAULT_FLASH_QUEUE_CAP);
    assert_eq!(messages[0], "added 5");
    assert_eq!(messages[19], "added 24");
    // The cap survives the round trip: the loaded session caps too.
    let mut jar = Jar::default();
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).unwrap();
    jar.apply(&response);
    let mut again = factory.load(&jar.request());
    again.flash_to("cart", "one more").unwrap();
    assert_eq!(again.peek_flash("cart").unwrap().len(), 20);

    let three = builder().flash_queue_cap(3).build().unwrap();
    let mut session = three.load(&HeaderMap::new());
    for n in 0..5 {
        session.flash(n).unwrap();
    }
    assert_eq!(session.peek_flash("").unwrap(), [2, 3, 4]);

    let pyramid = builder().pyramid_defaults().build().unwrap();
    let mut session = pyramid.load(&HeaderMap::new());
    for n in 0..50 {
        session.flash(n).unwrap();
    }
    assert_eq!(session.peek_flash("").unwrap().len(), 50);
}

/// A state that compresses well, too big for one plain cookie.
fn repetitive(factory: &SignedCookieSessionFactory) -> Session {
    let mut session = factory.load(&HeaderMap::new());
    session.insert("log", "the same line again; ".repeat(400));
    session
}

#[test]
fn compression_is_used_only_when_the_plain_cookie_does_not_fit() {
    let factory = builder().compress(true).build().unwrap();
    // Small: written plain, readable JSON under the signature, as Pyramid writes it.
    let small = session_with(&factory, 10);
    let value = factory.encode(&small).unwrap();
    let plain = builder().build().unwrap();
    assert_eq!(value, plain.encode(&small).unwrap());
    // Big: over the budget plain, under it compressed, and it reads back.
    let big = repetitive(&factory);
    assert!(plain.save(&big, &mut HeaderMap::new()).is_err());
    let mut response = HeaderMap::new();
    factory.save(&big, &mut response).unwrap();
    assert_lines_fit(&response, 4096, 8192);
    let mut jar = Jar::default();
    jar.apply(&response);
    let loaded = factory.load(&jar.request());
    assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(loaded.get("log"), big.get("log"));
    // A factory without compression refuses the marked payload.
    let refused = plain.load(&jar.request());
    assert!(
        matches!(
            refused.load_outcome(),
            LoadOutcome::Rejected(Rejection::NotUtf8 | Rejection::NotJson)
        ),
        "{:?}",
        refused.load_outcome()
    );
}

/// A signed payload that inflates past the cap (a megabyte of zeros, in about a
/// kilobyte) is refused, as is one that is not DEFLATE; both only after the signature.
#[test]
fn decompression_bombs_are_refused() {
    let factory = builder().compress(true).build().unwrap();
    let codec = SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512);
    let mut bomb = vec![0x01];
    bomb.extend(deflate(&[b' '; 1 << 20]));
    let value = codec.seal(&bomb).unwrap();
    assert!(value.len() < 4064, "{}", value.len());
    let session = factory.load_value(Some(&value));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::Decompression)
    );
    let garbage = codec.seal(b"\x01 not deflate at all").unwrap();
    assert_eq!(
        factory.load_value(Some(&garbage)).load_outcome(),
        LoadOutcome::Rejected(Rejection::Decompression)
    );
    // Forged under another secret: refused at the signature, never inflated.
    let forged = SignedCodec::new(
        "another secret of at least 32 bytes!",
        "pyramid.session.",
        HashAlg::Sha512,
    )
    .seal(&bomb)
    .unwrap();
    assert_eq!(
        factory.load_value(Some(&forged)).load_outcome(),
        LoadOutcome::Rejected(Rejection::BadSignature)
    );
}

fn deflate(input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(input).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn fallbacks_are_refused_in_pyramid_mode_and_with_pickle() {
    let err = builder()
        .pyramid_defaults()
        .compress(true)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::NotInPyramidMode { option: "compress" });
    let err = builder().pyramid_defaults().chunks(2).build().unwrap_err();
    assert_eq!(err, BuildError::NotInPyramidMode { option: "chunks" });
    // Set before the preset, they are turned off by it.
    let factory = builder()
        .compress(true)
        .chunks(3)
        .pyramid_defaults()
        .build()
        .unwrap();
    let big = repetitive(&factory);
    assert!(factory.save(&big, &mut HeaderMap::new()).is_err());
    let err = EncryptedCookieSessionFactory::builder([7; 32])
        .serializer(Serializer::Pickle)
        .compress_revealing_length(true)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::NotInPyramidMode { .. }), "{err}");
    let err = EncryptedCookieSessionFactory::builder([7; 32])
        .serializer(Serializer::Pickle)
        .chunks(2)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::NotInPyramidMode { .. }), "{err}");
    assert_eq!(
        builder().chunks(0).build().unwrap_err(),
        BuildError::ChunkCount { max: 0 }
    );
    assert_eq!(
        builder().chunks(10).build().unwrap_err(),
        BuildError::ChunkCount { max: 10 }
    );
}

/// Encrypted cookies compress only with the explicit opt-in, and then read back.
#[test]
fn encrypted_cookies_compress_with_the_explicit_opt_in() {
    let mut state = Session::new();
    state.insert("log", "the same line again; ".repeat(400));
    let plain = EncryptedCookieSessionFactory::builder([7; 32])
        .build()
        .unwrap();
    let mut session = plain.load(&HeaderMap::new());
    session.insert("log", "the same line again; ".repeat(400));
    assert!(plain.save(&session, &mut HeaderMap::new()).is_err());
    let compressing = EncryptedCookieSessionFactory::builder([7; 32])
        .compress_revealing_length(true)
        .build()
        .unwrap();
    let mut response = HeaderMap::new();
    compressing.save(&session, &mut response).unwrap();
    let mut jar = Jar::default();
    jar.apply(&response);
    assert_eq!(
        compressing.load(&jar.request()).get("log"),
        state.get("log")
    );
}

/// A state of random-looking text, which neither compresses nor fits one cookie.
fn incompressible(factory: &SignedCookieSessionFactory, len: usize, seed: u64) -> Session {
    let mut session = factory.load(&HeaderMap::new());
    let mut x = seed | 1;
    let text: String = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    session.insert("notes", text);
    session
}

fn save(factory: &SignedCookieSessionFactory, session: &Session) -> HeaderMap {
    let mut response = HeaderMap::new();
    factory.save(session, &mut response).unwrap();
    assert_lines_fit(&response, 4096, 12_000);
    response
}

#[test]
fn a_chunked_session_round_trips_and_every_save_expires_unused_chunk_names() {
    let factory = builder()
        .chunks(3)
        .cookie_header_budget(12_000)
        .build()
        .unwrap();
    let big = incompressible(&factory, 6000, 1);
    let response = save(&factory, &big);
    let names: Vec<String> = response
        .get_all(SET_COOKIE)
        .iter()
        .map(|line| {
            cookie::Cookie::parse(line.to_str().unwrap())
                .unwrap()
                .name()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["session", "session.1", "session.2"]);
    let mut jar = Jar::default();
    jar.apply(&response);
    assert_eq!(factory.load(&jar.request()).get("notes"), big.get("notes"));
    // The same chunks through `load_cookie_header`; the first alone is refused.
    let header = jar.request()[COOKIE].to_str().unwrap().to_owned();
    assert_eq!(
        factory.load_cookie_header(&header).get("notes"),
        big.get("notes")
    );
    let first = jar.0["session"].clone();
    assert_eq!(
        factory.load_value(Some(&first)).load_outcome(),
        LoadOutcome::Rejected(Rejection::Chunks)
    );
    // A session in two chunks expires the third name; one in one cookie, both others.
    let medium = incompressible(&factory, 4000, 2);
    let response = save(&factory, &medium);
    assert_eq!(response.get_all(SET_COOKIE).iter().count(), 3);
    jar.apply(&response);
    assert_eq!(jar.0.len(), 2);
    assert_eq!(
        factory.load(&jar.request()).get("notes"),
        medium.get("notes")
    );
    let small = incompressible(&factory, 100, 3);
    jar.apply(&save(&factory, &small));
    assert_eq!(jar.0.keys().collect::<Vec<_>>(), ["session"]);
    assert_eq!(
        factory.load(&jar.request()).get("notes"),
        small.get("notes")
    );
}

/// A big session shrinks; an old chunk replayed next to the new cookies changes nothing,
/// and next to a new chunked write it is refused, never combined.
#[test]
fn stale_chunks_never_combine() {
    let factory = builder()
        .chunks(3)
        .cookie_header_budget(12_000)
        .build()
        .unwrap();
    let mut jar = Jar::default();
    jar.apply(&save(&factory, &incompressible(&factory, 7000, 4)));
    let old = jar.clone();
    assert_eq!(old.0.len(), 3);
    // Shrinks to one cookie: the old chunks are expired; replaying one is ignored.
    let small = incompressible(&factory, 100, 5);
    jar.apply(&save(&factory, &small));
    let mut replayed = jar.clone();
    replayed
        .0
        .insert("session.1".into(), old.0["session.1"].clone());
    assert_eq!(
        factory.load(&replayed.request()).get("notes"),
        small.get("notes")
    );
    // Shrinks to two chunks: the old second chunk under the new first is refused.
    let two = incompressible(&factory, 4500, 6);
    jar.apply(&save(&factory, &two));
    assert_eq!(jar.0.len(), 2);
    let mut replayed = jar.clone();
    replayed
        .0
        .insert("session.1".into(), old.0["session.1"].clone());
    let (session, logs) = capture_logs(|| factory.load(&replayed.request()));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::Chunks)
    );
    assert!(session.is_empty());
    assert!(logs.contains("chunks"), "{logs}");
    // The old first chunk with the new second: refused as well.
    let mut replayed = jar.clone();
    replayed
        .0
        .insert("session".into(), old.0["session"].clone());
    assert_eq!(
        factory.load(&replayed.request()).load_outcome(),
        LoadOutcome::Rejected(Rejection::Chunks)
    );
    // A chunk changed under its own write's generation: the pieces combine, and the
    // signature over them refuses the result.
    let mut forged = jar.clone();
    let second = forged.0["session.1"].clone();
    let (header, piece) = second.split_at(second.rfind('.').unwrap() + 1);
    let flipped: String = piece
        .chars()
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .collect();
    forged
        .0
        .insert("session.1".into(), format!("{header}{flipped}"));
    let session = factory.load(&forged.request());
    assert!(
        matches!(session.load_outcome(), LoadOutcome::Rejected(r) if r != Rejection::Chunks),
        "{:?}",
        session.load_outcome()
    );
    assert!(session.is_empty());
}

/// Two tabs load the same chunked session and save different ones at once: whichever
/// response the browser applies last wins whole, in either order; a jar that mixed them
/// chunk by chunk would be refused, never read as a blend.
#[test]
fn two_tabs_writing_chunked_sessions_at_once() {
    let factory = builder()
        .chunks(3)
        .cookie_header_budget(12_000)
        .build()
        .unwrap();
    let mut jar = Jar::default();
    jar.apply(&save(&factory, &incompressible(&factory, 6000, 7)));
    let request = jar.request();
    let mut tab_a = factory.load(&request);
    let mut tab_b = factory.load(&request);
    tab_a.insert("tab", "a");
    tab_b.insert("tab", "b");
    tab_b.insert("notes", "b".repeat(10));
    let response_a = save(&factory, &tab_a);
    let response_b = save(&factory, &tab_b);
    for (first, second, winner) in [
        (&response_a, &response_b, "b"),
        (&response_b, &response_a, "a"),
    ] {
        let mut both = jar.clone();
        both.apply(first);
        both.apply(second);
        assert_eq!(
            factory
                .load(&both.request())
                .get_as::<String>("tab")
                .unwrap()
                .unwrap(),
            winner
        );
    }
    // Chunks of A mixed with each other's first cookie: refused.
    let mut a_only = jar.clone();
    a_only.apply(&response_a);
    let mut mixed = jar.clone();
    mixed.apply(&response_a);
    let other = incompressible(&factory, 6000, 8);
    let mut c = Jar::default();
    c.apply(&save(&factory, &other));
    mixed.0.insert("session.2".into(), c.0["session.2"].clone());
    assert_eq!(
        factory.load(&mixed.request()).load_outcome(),
        LoadOutcome::Rejected(Rejection::Chunks)
    );
    assert_eq!(
        factory
            .load(&a_only.request())
            .get_as::<String>("tab")
            .unwrap()
            .unwrap(),
        "a"
    );
}

/// Chunks must fit the request header budget together: with the default 8 KiB, a session
/// needing three full cookies is refused (and says so) even when three are allowed.
#[test]
fn chunks_respect_the_request_header_budget() {
    let factory = builder().chunks(3).build().unwrap();
    let huge = incompressible(&factory, 7000, 9);
    let err = factory.save(&huge, &mut HeaderMap::new()).unwrap_err();
    let overflow = err.overflow().unwrap();
    assert_eq!(overflow.budget, Budget::CookieHeader);
    assert_eq!(overflow.limit, 8192);
    // More than three cookies' worth: over the Set-Cookie budget of one cookie.
    let factory = builder()
        .chunks(2)
        .cookie_header_budget(100_000)
        .build()
        .unwrap();
    let err = factory
        .save(&incompressible(&factory, 9000, 10), &mut HeaderMap::new())
        .unwrap_err();
    assert_eq!(err.overflow().unwrap().budget, Budget::CookieValue);
}

fn attributes()
-> impl Strategy<Value = (String, Option<String>, Option<String>, Option<u64>, usize)> {
    (
        "[a-z_]{1,24}",
        proptest::option::of("/[a-z/]{0,40}"),
        proptest::option::of("[a-z]{1,30}\\.example"),
        proptest::option::of(0u64..10_000_000),
        3900usize..=4096,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Over random states, attributes and budgets, with and without the fallbacks: a save
    /// either writes cookies that all fit and read back to the same state, or fails with
    /// the budget it would break and writes nothing.
    #[test]
    fn written_cookies_always_fit_and_read_back(
        (name, path, domain, max_age, budget) in attributes(),
        filler in 0usize..9000,
        seed in any::<u64>(),
        repeat in any::<bool>(),
        compress in any::<bool>(),
        chunks in 1usize..=3,
    ) {
        let factory = builder()
            .cookie_name(name)
            .path(path)
            .domain(domain)
            .max_age(max_age.map(std::time::Duration::from_secs))
            .set_cookie_budget(budget)
            .cookie_header_budget(12_000)
            .compress(compress)
            .chunks(chunks)
            .build()
            .unwrap();
        let session = if repeat {
            let mut session = factory.load(&HeaderMap::new());
            session.insert("notes", "ab".repeat(filler / 2));
            session
        } else {
            incompressible(&factory, filler, seed)
        };
        let mut response = HeaderMap::new();
        match factory.save(&session, &mut response) {
            Ok(_) => {
                assert_lines_fit(&response, budget, 12_000);
                let mut jar = Jar::default();
                jar.apply(&response);
                let loaded = factory.load(&jar.request());
                prop_assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
                prop_assert_eq!(loaded.get("notes"), session.get("notes"));
            }
            Err(err) => {
                prop_assert!(matches!(err, SessionError::TooLarge { .. }), "{}", err);
                prop_assert!(response.is_empty());
            }
        }
    }
}

/// The test kit's `assert_fits` measures an app's largest state, chunked or not, and
/// fails, naming the budget, when it does not fit.
#[test]
fn assert_fits_measures_the_largest_state_and_fails_when_it_does_not_fit() {
    let factory = builder().build().unwrap();
    let fit = typed_sessions::testing::assert_fits(&factory, &session_with(&factory, 1000));
    assert_eq!(fit.cookies, 1);
    assert!(
        fit.longest_line > 1000 && fit.longest_line <= 4096,
        "{fit:?}"
    );
    let chunking = builder().chunks(2).build().unwrap();
    let big = incompressible(&chunking, 4000, 11);
    let fit = typed_sessions::testing::assert_fits(&chunking, &big);
    assert_eq!(fit.cookies, 2);
    assert!(
        fit.cookie_header > 4096 && fit.cookie_header <= 8192,
        "{fit:?}"
    );
    // The kit reads a chunked response back whole.
    let response = save(&chunking, &big);
    let read = typed_sessions::testing::response_session(&chunking, &response).unwrap();
    assert_eq!(read.get("notes"), big.get("notes"));
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        typed_sessions::testing::assert_fits(&factory, &incompressible(&factory, 4000, 12))
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("does not fit") && message.contains("4064"),
        "{message}"
    );
}

/// The last fallback, through the axum adapter: a session that grows past what its cookie
/// (here chunked into two) holds moves to the store, every response fitting the budgets and
/// answering 200; when it shrinks it moves back and the record goes.
#[tokio::test]
async fn a_growing_session_spills_to_the_store_and_comes_back() {
    use typed_sessions::store::MemoryStore;
    use typed_sessions::{ServerSessionFactory, SpillingSessionFactory};

    let store = MemoryStore::new();
    let cookie = builder().chunks(2).build().unwrap();
    // The two factories share a clock: a spilled session keeps its times.
    let server = ServerSessionFactory::builder(SECRET, store.clone())
        .clock(ManualClock::new(NOW))
        .cookie_name("session-id")
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/add",
            get(|session: SessionHandle| async move {
                let mut session = session.lock();
                let mut notes = session
                    .get_as::<Vec<String>>("notes")
                    .unwrap()
                    .unwrap_or_default();
                notes.push(format!("{:0>400}", notes.len()));
                session.insert_as("notes", &notes).unwrap();
                notes.len().to_string()
            }),
        )
        .route(
            "/clear",
            get(|session: SessionHandle| async move {
                session.lock().remove("notes");
                "cleared"
            }),
        )
        .layer(SessionLayer::new(
            SpillingSessionFactory::new(cookie, server).unwrap(),
        ));
    let mut jar = Jar::default();
    let mut spilled_at = None;
    for n in 1..=40 {
        let mut request = Request::get("/add").body(Body::empty()).unwrap();
        *request.headers_mut() = jar.request();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "add {n}");
        assert_lines_fit(response.headers(), 4096, 8192);
        jar.apply(response.headers());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, n.to_string(), "every note kept");
        if spilled_at.is_none() && jar.0.contains_key("session-id") {
            spilled_at = Some(n);
            assert!(
                !jar.0.contains_key("session"),
                "the cookie went with the spill"
            );
        }
    }
    let spilled_at = spilled_at.expect("40 notes of 400 bytes do not fit two cookies");
    assert!(
        spilled_at > 10,
        "two chunks were used first: spilled at {spilled_at}"
    );
    assert_eq!(store.len(), 1);

    let mut request = Request::get("/clear").body(Body::empty()).unwrap();
    *request.headers_mut() = jar.request();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    jar.apply(response.headers());
    assert_eq!(store.len(), 0, "the record went when the session fit again");
    assert!(jar.0.contains_key("session") && !jar.0.contains_key("session-id"));
}
