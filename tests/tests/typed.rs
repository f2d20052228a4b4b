//! `#[derive(SessionSchema)]` at run time: typed accessors, the rules for missing and
//! wrongly typed keys, the write-back guard and whole-struct load and store, through real
//! signed cookies, and typed keys read and written by real Pyramid.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use typed_sessions::{
    ManualClock, Saved, Session, SessionError, SessionSchema, SignedCookieSessionFactory,
};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const NOW: f64 = 1_700_000_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    sku: String,
    qty: u32,
}

fn item(sku: &str, qty: u32) -> Item {
    Item {
        sku: sku.to_owned(),
        qty,
    }
}

/// Strict about stored values of another type (the default reads them as missing: see
/// `schema_evolution.rs`).
#[derive(Debug, Clone, PartialEq, SessionSchema)]
#[session(on_wrong_type = "error")]
pub struct Shop {
    #[session(default)]
    cart: Vec<Item>,
    user_id: Option<u64>,
    #[session(rename = "lang")]
    language: Option<String>,
    visits: u32,
    #[session(default)]
    seen: BTreeMap<u32, bool>,
}

// --- factories and cookies -----------------------------------------------------------

/// A factory that never reissues a cookie just because the session was read, so that
/// `is_dirty` is about writes only.
fn factory() -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .reissue_time(None::<Duration>)
        .build()
        .unwrap()
}

/// Saves `session` and returns the cookie a browser would send back, if one was set.
fn save(factory: &SignedCookieSessionFactory, session: &Session) -> Option<String> {
    let mut response = HeaderMap::new();
    match factory.save(session, &mut response).unwrap() {
        Saved::Written => {}
        _ => return None,
    }
    let header = response["set-cookie"].to_str().unwrap();
    Some(header.split(';').next().unwrap().to_owned())
}

fn load(factory: &SignedCookieSessionFactory, cookie: &str) -> Session {
    let mut request = HeaderMap::new();
    request.insert("cookie", cookie.parse().unwrap());
    factory.load(&request)
}

/// A session loaded from a cookie that holds `state`, and not dirty.
fn loaded(factory: &SignedCookieSessionFactory, state: serde_json::Value) -> Session {
    let mut session = factory.load(&HeaderMap::new());
    for (key, value) in state.as_object().unwrap() {
        session.insert(key, value.clone());
    }
    let cookie = save(factory, &session).unwrap();
    let session = load(factory, &cookie);
    assert!(!session.is_dirty());
    session
}

// --- reads -----------------------------------------------------------------------------

#[test]
fn accessors_read_and_write_typed_values() {
    let mut session = Session::new();
    session.set_cart(vec![item("apple", 2)]).unwrap();
    session.set_user_id(Some(7)).unwrap();
    session.set_language(Some("fr".into())).unwrap();
    session.set_visits(3).unwrap();

    assert_eq!(session.cart().unwrap(), vec![item("apple", 2)]);
    assert_eq!(session.user_id().unwrap(), Some(7));
    assert_eq!(session.language().unwrap().as_deref(), Some("fr"));
    assert_eq!(session.visits().unwrap(), 3);
    // The renamed field lives under its key; the values are plain JSON.
    assert_eq!(session.get("lang"), Some(&json!("fr")));
    assert!(!session.contains_key("language"));
    assert_eq!(
        session.get("cart"),
        Some(&json!([{"sku": "apple", "qty": 2}]))
    );
    assert_eq!(Shop::KEYS, ["cart", "user_id", "lang", "visits", "seen"]);
}

#[test]
fn missing_keys_read_as_none_default_or_an_error_naming_the_key() {
    let session = Session::new();
    assert_eq!(session.user_id().unwrap(), None);
    assert_eq!(session.language().unwrap(), None);
    assert_eq!(session.cart().unwrap(), Vec::<Item>::new());
    assert!(session.seen().unwrap().is_empty());
    let err = session.visits().unwrap_err();
    assert!(
        matches!(&err, SessionError::Missing { key } if key == "visits"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "session key `visits` is missing");
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_and_stays() {
    let factory = factory();
    // An older deploy stored the cart as a count, and the language as a number.
    let mut session = loaded(
        &factory,
        json!({"cart": 3, "user_id": 9, "lang": 12, "visits": 1}),
    );

    let err = session.cart().unwrap_err();
    assert_eq!(err.key(), Some("cart"));
    let message = err.to_string();
    assert!(message.contains("session key `cart`"), "{message}");
    assert!(message.contains("Vec<typed::Item>"), "{message}");
    assert!(matches!(err, SessionError::WrongType { .. }));

    // Neither the guard nor take nor load touch it.
    assert!(session.cart_mut().is_err());
    assert!(session.take_cart().is_err());
    assert!(Shop::load(&session).is_err());
    assert_eq!(session.get("cart"), Some(&json!(3)));
    // Other keys read fine.
    assert_eq!(session.user_id().unwrap(), Some(9));
    assert_eq!(session.visits().unwrap(), 1);
    assert!(session.language().is_err());
    // Nothing was written: no cookie.
    assert!(!session.is_dirty());
    assert_eq!(save(&factory, &session), None);

    // remove_ clears it whatever it holds, and then the default applies.
    assert!(session.remove_cart());
    assert!(!session.remove_cart());
    assert_eq!(session.cart().unwrap(), Vec::<Item>::new());
}

#[test]
fn take_removes_and_returns_the_value() {
    let mut session = Session::new();
    session.set_visits(4).unwrap();
    assert_eq!(session.take_visits().unwrap(), 4);
    assert!(!session.contains_key("visits"));
    assert!(matches!(
        session.take_visits(),
        Err(SessionError::Missing { .. })
    ));
    assert_eq!(session.take_user_id().unwrap(), None);
    assert_eq!(session.take_cart().unwrap(), Vec::<Item>::new());
}

#[test]
fn option_fields_store_null_for_none() {
    let mut session = Session::new();
    session.set_user_id(None).unwrap();
    assert_eq!(session.get("user_id"), Some(&json!(null)));
    assert_eq!(session.user_id().unwrap(), None);
}

// --- the guard -------------------------------------------------------------------------

#[test]
fn a_guard_that_was_only_read_leaves_the_session_unchanged() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"cart": [{"sku": "pear", "qty": 1}]}));
    {
        let cart = session.cart_mut().unwrap();
        assert_eq!(cart.len(), 1);
        assert_eq!(cart[0].sku, "pear");
        assert!(!cart.is_mutated());
    }
    // A guard over a missing key, only read, writes nothing either.
    assert_eq!(session.seen_mut().unwrap().len(), 0);
    assert!(!session.contains_key("seen"));
    assert!(!session.is_dirty());
    assert_eq!(save(&factory, &session), None);
}

#[test]
fn a_mutated_guard_writes_back_and_marks_the_session_changed() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"cart": [{"sku": "pear", "qty": 1}]}));
    session.cart_mut().unwrap().push(item("fig", 3));
    assert!(session.is_dirty());

    let cookie = save(&factory, &session).expect("a changed session sets a cookie");
    let session = load(&factory, &cookie);
    assert_eq!(
        session.cart().unwrap(),
        vec![item("pear", 1), item("fig", 3)]
    );
}

#[test]
fn a_guard_over_a_missing_default_field_creates_the_key_when_mutated() {
    let mut session = Session::new();
    session.seen_mut().unwrap().insert(5, true);
    assert_eq!(session.get("seen"), Some(&json!({"5": true})));
    let mut user = session.user_id_mut().unwrap();
    *user = Some(1);
    user.commit().unwrap();
    assert_eq!(session.user_id().unwrap(), Some(1));
}

#[test]
fn a_required_missing_field_has_no_guard() {
    let mut session = Session::new();
    assert!(matches!(
        session.visits_mut(),
        Err(SessionError::Missing { .. })
    ));
}

#[test]
fn accessors_work_through_a_lock() {
    let shared = Mutex::new(Session::new());
    {
        let mut s = shared.lock().unwrap();
        s.cart_mut().unwrap().push(item("kiwi", 1));
        s.set_visits(1).unwrap();
    }
    let s = shared.lock().unwrap();
    assert_eq!(s.cart().unwrap(), vec![item("kiwi", 1)]);
    assert!(s.is_dirty());
}

/// A value whose serialization fails at run time, as a map with a key JSON cannot hold
/// would; the derive's compile-time checks cannot see inside it.
#[derive(Debug, Default, Deserialize)]
struct Flaky {
    fail: bool,
}

impl Serialize for Flaky {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.fail {
            return Err(serde::ser::Error::custom("flaky refuses"));
        }
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Flaky", 1)?;
        state.serialize_field("fail", &self.fail)?;
        state.end()
    }
}

#[derive(SessionSchema)]
pub struct Fragile {
    #[session(default)]
    flaky: Flaky,
    #[session(default)]
    count: u32,
}

#[test]
fn a_guard_that_cannot_write_back_makes_the_save_fail_without_a_cookie() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"count": 1}));
    session.set_count(2).unwrap();
    session.flaky_mut().unwrap().fail = true;

    let mut response = HeaderMap::new();
    let err = factory.save(&session, &mut response).unwrap_err();
    assert_eq!(err.key(), Some("flaky"));
    assert!(err.to_string().contains("flaky refuses"), "{err}");
    assert!(response.get("set-cookie").is_none());
    assert!(factory.encode(&session).is_err());
}

#[test]
fn commit_returns_the_error_instead_of_recording_it() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"count": 1}));
    let mut guard = session.flaky_mut().unwrap();
    guard.fail = true;
    let err = guard.commit().unwrap_err();
    assert_eq!(err.key(), Some("flaky"));
    // Nothing was recorded and nothing written: the session saves as it was.
    assert!(!session.contains_key("flaky"));
    assert_eq!(save(&factory, &session), None);
}

// --- load and store --------------------------------------------------------------------

#[test]
fn a_whole_struct_round_trips_through_a_cookie() {
    let factory = factory();
    let shop = Shop {
        cart: vec![item("plum", 6)],
        user_id: Some(42),
        language: None,
        visits: 2,
        seen: BTreeMap::from([(1, true), (2, false)]),
    };
    let mut session = factory.load(&HeaderMap::new());
    shop.store(&mut session).unwrap();
    assert!(session.is_dirty());
    let cookie = save(&factory, &session).unwrap();

    let session = load(&factory, &cookie);
    assert_eq!(Shop::load(&session).unwrap(), shop);
    assert_eq!(session.get("seen"), Some(&json!({"1": true, "2": false})));
}

#[test]
fn load_applies_each_fields_missing_rule() {
    let mut session = Session::new();
    let err = Shop::load(&session).unwrap_err();
    assert_eq!(err.key(), Some("visits"));
    session.set_visits(1).unwrap();
    let shop = Shop::load(&session).unwrap();
    assert_eq!(shop.cart, []);
    assert_eq!(shop.user_id, None);
    assert_eq!(shop.visits, 1);
}

#[test]
fn store_writes_nothing_when_a_field_cannot_be_serialized() {
    let mut session = Session::new();
    let fragile = Fragile {
        flaky: Flaky { fail: true },
        count: 3,
    };
    let err = fragile.store(&mut session).unwrap_err();
    assert_eq!(err.key(), Some("flaky"));
    assert!(!session.contains_key("count"));
}

#[test]
fn clear_removes_the_schemas_keys_only() {
    let mut session = Session::new();
    session.set_visits(1).unwrap();
    session.set_language(Some("de".into())).unwrap();
    session.insert("other", 1);
    Shop::clear(&mut session);
    assert_eq!(session.keys().collect::<Vec<_>>(), ["other"]);
}

// --- other shapes ----------------------------------------------------------------------

mod nested {
    use super::*;

    /// A schema in another module with a raw identifier field and keys in maps.
    #[derive(SessionSchema)]
    pub(crate) struct Prefs {
        #[session(default)]
        pub r#type: String,
        #[session(default)]
        pub by_name: Vec<HashMap<String, u8>>,
    }
}

#[test]
fn raw_identifiers_and_schemas_in_other_modules() {
    use nested::PrefsExt;
    let mut session = Session::new();
    session.set_type("dark".into()).unwrap();
    session
        .by_name_mut()
        .unwrap()
        .push(HashMap::from([("a".into(), 1)]));
    assert_eq!(session.r#type().unwrap(), "dark");
    assert_eq!(session.get("type"), Some(&json!("dark")));
    assert_eq!(session.get("by_name"), Some(&json!([{"a": 1}])));
    let prefs = nested::Prefs::load(&session).unwrap();
    assert_eq!(prefs.r#type, "dark");
    assert_eq!(prefs.by_name.len(), 1);
}

/// With real Pyramid 2.1 (`tests/pyramid/peer.py`): typed writes are plain JSON a Pyramid
/// view reads, and what a Pyramid view stores reads typed here.
#[test]
fn typed_keys_cross_over_with_real_pyramid() {
    let mut peer = typed_sessions_tests::PyramidPeer::start();
    let ours = SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let theirs = json!({"secret": SECRET});

    let mut session = ours.load_value(None);
    session.cart_mut().unwrap().push(item("tea", 2));
    session.set_language(Some("fr".into())).unwrap();
    let cookie = ours.encode(&session).unwrap();
    let read = peer.run(
        &theirs,
        Some(&cookie),
        NOW,
        json!([
            {"op": "get", "key": "cart"},
            {"op": "get", "key": "lang"},
            {"op": "set", "key": "visits", "value": 3},
            {"op": "set", "key": "user_id", "value": 12},
        ]),
    );
    assert_eq!(
        read["results"],
        json!([[{"sku": "tea", "qty": 2}], "fr", null, null])
    );

    let session = ours.load_value(read["cookie_value"].as_str());
    let shop = Shop::load(&session).unwrap();
    assert_eq!(shop.cart, vec![item("tea", 2)]);
    assert_eq!(shop.user_id, Some(12));
    assert_eq!(shop.visits, 3);
}
