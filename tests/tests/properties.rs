//! Properties of the engine over generated input: state round-trips exactly, every change
//! of one byte of a cookie header (all 255 other byte values at every position, as bytes)
//! and any truncation or extension is refused, and typed reads of arbitrary values never
//! panic.

use std::collections::HashMap;

use http::HeaderMap;
use http::header::{COOKIE, HeaderValue};
use proptest::prelude::*;
use serde_json::{Map, Value};
use typed_sessions::{LoadOutcome, ManualClock, Rejection, Session, SignedCookieSessionFactory};

fn factory() -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder("property tests use a secret of 32+ bytes")
        .timeout(None)
        .clock(ManualClock::new(1_700_000_000.0))
        .build()
        .unwrap()
}

/// Any JSON value: unicode strings, large integers, finite floats, nesting.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_state() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::hash_map("\\PC{0,10}", json_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

fn state_of(session: &Session) -> Map<String, Value> {
    serde_json::from_str(&session.state_json().unwrap()).unwrap()
}

/// Every single-byte change of a valid cookie, at every position to every other byte value
/// (all 255 of them, as bytes: not a sample, and not mapped through UTF-8), is refused when
/// it arrives in the `Cookie` header of a request. A changed byte that `http` does not take
/// in a header value (the controls 0x00-0x08, 0x0A-0x1F and DEL 0x7F; tab and 0x80-0xFF
/// are taken) cannot reach the factory at all, and is counted as such; every other one is
/// loaded through [`SignedCookieSessionFactory::load`] and must give a fresh session.
#[test]
fn every_single_byte_change_is_refused() {
    let factory = factory();
    let mut session = factory.load_value(None);
    session.insert("user", 7);
    let value = factory.encode(&session).unwrap();
    let header = format!("session={value}").into_bytes();
    let start = header.len() - value.len();
    let (mut loaded, mut not_header_values) = (0, 0);
    for i in start..header.len() {
        for byte in 0..=u8::MAX {
            if header[i] == byte {
                continue;
            }
            let mut bytes = header.clone();
            bytes[i] = byte;
            let Ok(tampered) = HeaderValue::from_bytes(&bytes) else {
                assert!(
                    byte < 0x20 && byte != b'\t' || byte == 0x7f,
                    "http refused byte {byte:#04x}"
                );
                not_header_values += 1;
                continue;
            };
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, tampered);
            let outcome = factory.load(&headers).load_outcome();
            assert!(
                matches!(outcome, LoadOutcome::Rejected(_)),
                "{outcome:?} for byte {byte:#04x} at {}",
                i - start
            );
            loaded += 1;
        }
    }
    // The untampered header loads, so the refusals above are the changes' doing.
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_bytes(&header).unwrap());
    assert_eq!(factory.load(&headers).load_outcome(), LoadOutcome::Loaded);
    assert_eq!(loaded + not_header_values, value.len() * 255);
    assert_eq!(not_header_values, value.len() * 32);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_state_round_trips(state in json_state()) {
        let factory = factory();
        let mut session = factory.load_value(None);
        session.extend(state.clone());
        let value = factory.encode(&session).unwrap();
        let loaded = factory.load_value(Some(&value));
        prop_assert_eq!(loaded.load_outcome(), LoadOutcome::Loaded);
        prop_assert_eq!(state_of(&loaded), state.clone());
        // And again, untouched: bytes are copied, values unchanged.
        let again = factory.load_value(Some(&factory.encode(&loaded).unwrap()));
        prop_assert_eq!(state_of(&again), state);
    }

    #[test]
    fn deep_nesting_up_to_the_limit_round_trips(depth in 1usize..120) {
        let mut value = Value::from(1);
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        let factory = factory();
        let mut session = factory.load_value(None);
        session.insert("deep", value.clone());
        let loaded = factory.load_value(Some(&factory.encode(&session).unwrap()));
        prop_assert_eq!(loaded.get("deep"), Some(&value));
    }

    #[test]
    fn any_truncation_or_extension_is_refused(cut in 0usize..200, tail in "[A-Za-z0-9_=-]{1,8}") {
        let factory = factory();
        let mut session = factory.load_value(None);
        session.insert("user", 7);
        let value = factory.encode(&session).unwrap();
        let cut = cut.min(value.len() - 1);
        for candidate in [value[..cut].to_owned(), format!("{value}{tail}")] {
            let outcome = factory.load_value(Some(&candidate)).load_outcome();
            let padding_only = candidate.len() > value.len()
                && candidate[value.len()..].bytes().all(|b| b == b'=')
                && candidate.len() % 4 == 0
                && candidate.len() - value.len() <= 2;
            if padding_only {
                prop_assert_eq!(outcome, LoadOutcome::Loaded, "correct padding is accepted");
            } else {
                prop_assert!(
                    matches!(outcome, LoadOutcome::Rejected(
                        Rejection::BadSignature | Rejection::BadBase64 | Rejection::TooShort
                    )),
                    "{:?} for {:?}", outcome, candidate
                );
            }
        }
    }

    #[test]
    fn typed_reads_of_any_value_never_panic(value in json_value()) {
        let factory = factory();
        let mut session = factory.load_value(None);
        session.insert("k", value.clone());
        let loaded = factory.load_value(Some(&factory.encode(&session).unwrap()));
        fn check<T: serde::de::DeserializeOwned>(s: &Session) -> Result<(), TestCaseError> {
            if let Err(err) = s.get_as::<T>("k") {
                prop_assert_eq!(err.key(), Some("k"));
                prop_assert!(err.to_string().contains(std::any::type_name::<T>()));
            }
            Ok(())
        }
        check::<u32>(&loaded)?;
        check::<i64>(&loaded)?;
        check::<f64>(&loaded)?;
        check::<String>(&loaded)?;
        check::<bool>(&loaded)?;
        check::<Vec<u8>>(&loaded)?;
        check::<Option<Vec<String>>>(&loaded)?;
        check::<HashMap<String, u64>>(&loaded)?;
        check::<(u8, String)>(&loaded)?;
        prop_assert_eq!(loaded.get("k"), Some(&value));
    }
}
