//! Schemas that survive deploys: a stored value of another shape is migrated, read as
//! missing with a warning, or an error, as the schema says; older keys are read and moved
//! on write; reading never rewrites what is stored; `check` reports without changing
//! anything; values JSON cannot hold are refused at write, naming the key.

use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use typed_sessions::testing::{self, response_session};
use typed_sessions::{
    FieldStatus, FlashExt, ManualClock, Session, SessionError, SessionSchema,
    SignedCookieSessionFactory, flash_queue,
};
use typed_sessions_tests::capture_logs;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const NOW: f64 = 1_700_000_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    product: String,
    qty: u32,
    #[serde(default)]
    price: f64,
}

fn line(product: &str, qty: u32) -> Line {
    Line {
        product: product.to_owned(),
        qty,
        price: 1.5,
    }
}

/// Release 1 stored the cart as a list of product names.
fn cart_v1(stored: Value) -> Result<Vec<Line>, serde_json::Error> {
    let products: Vec<String> = serde_json::from_value(stored)?;
    Ok(products.iter().map(|p| line(p, 1)).collect())
}

#[derive(Debug, SessionSchema)]
pub struct Shop {
    #[session(default, migrate = cart_v1, alias = "basket", alias = "items")]
    cart: Vec<Line>,
    user: Option<String>,
    #[session(on_wrong_type = "error")]
    visits: Option<u32>,
    #[session(rename = "lang", alias = "language")]
    locale: Option<String>,
}

/// The schema strict about every field; in its own module, since its accessors have the
/// same names as `Shop`'s.
mod strict {
    use super::{Line, SessionSchema, cart_v1};

    #[derive(Debug, SessionSchema)]
    #[session(on_wrong_type = "error")]
    pub struct Strict {
        #[session(default, migrate = cart_v1)]
        cart: Vec<Line>,
        user: Option<String>,
        required: u32,
    }
}
use strict::Strict;

fn factory() -> SignedCookieSessionFactory {
    SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .reissue_time(None::<Duration>)
        .timeout(None::<Duration>)
        .build()
        .unwrap()
}

/// The session a request carrying `state` loads.
fn loaded(factory: &SignedCookieSessionFactory, state: Value) -> Session {
    factory.load(&testing::request_with_state(factory, &state).unwrap())
}

/// The state the client holds after `session` is saved, or `None` when no cookie was set.
fn saved_state(factory: &SignedCookieSessionFactory, session: &Session) -> Option<Value> {
    let mut response = HeaderMap::new();
    factory.save(session, &mut response).unwrap();
    let next = response_session(factory, &response)?;
    Some(serde_json::from_str(&next.state_json().unwrap()).unwrap())
}

#[test]
fn by_default_a_value_of_another_type_reads_as_missing_with_a_warning_and_stays() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"user": 42, "cart": {"not": "a list"}}));
    let (user, logged) = capture_logs(|| session.user());
    assert_eq!(user.unwrap(), None);
    assert!(logged.contains("WARN"), "{logged}");
    assert!(
        logged.contains("key=\"user\"") || logged.contains("key=user"),
        "{logged}"
    );
    assert!(logged.contains("Option<alloc::string::String>"), "{logged}");
    // The cart's migration fails too, so it reads as its default.
    let (cart, logged) = capture_logs(|| session.cart());
    assert_eq!(cart.unwrap(), Vec::<Line>::new());
    assert!(logged.contains("its migration failed"), "{logged}");

    // Reading changed nothing: no cookie, and the values are still there.
    assert!(!session.is_dirty());
    assert_eq!(saved_state(&factory, &session), None);
    assert_eq!(session.get("user"), Some(&json!(42)));

    // Writing the field replaces the value.
    session.set_user(Some("ann".into())).unwrap();
    assert_eq!(
        saved_state(&factory, &session).unwrap()["user"],
        json!("ann")
    );
}

#[test]
fn an_error_rule_fails_the_read_naming_key_and_type_and_keeps_the_value() {
    let factory = factory();
    let mut session = loaded(
        &factory,
        json!({"visits": "many", "cart": 5, "required": 1}),
    );
    let err = session.visits().unwrap_err();
    assert!(matches!(&err, SessionError::WrongType { key, .. } if key == "visits"));
    assert!(err.to_string().contains("Option<u32>"), "{err}");
    assert!(session.take_visits().is_err());
    assert_eq!(session.get("visits"), Some(&json!("many")));

    let err = Strict::load(&session).unwrap_err();
    assert_eq!(err.key(), Some("cart"));
    assert!(err.to_string().contains("its migration failed"), "{err}");
    assert!(session.cart_mut().is_ok(), "Shop's cart reads as missing");
}

#[test]
fn a_migration_reads_an_older_shape_and_reading_never_rewrites_it() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"cart": ["tea", "mug"], "visits": 1}));
    let (cart, logged) = capture_logs(|| session.cart());
    assert_eq!(cart.unwrap(), [line("tea", 1), line("mug", 1)]);
    assert!(
        logged.contains("older shape"),
        "the migration is logged: {logged}"
    );
    assert!(!logged.contains("WARN"), "{logged}");

    // Another key changes: the cart is written back exactly as it was stored.
    session.set_visits(Some(2)).unwrap();
    let state = saved_state(&factory, &session).unwrap();
    assert_eq!(state["cart"], json!(["tea", "mug"]));

    // The field is written (a guard that mutates): now it is stored in today's shape.
    session.cart_mut().unwrap().push(line("pot", 2));
    let state = saved_state(&factory, &session).unwrap();
    assert_eq!(
        state["cart"][0],
        json!({"product": "tea", "qty": 1, "price": 1.5})
    );
    assert_eq!(state["cart"].as_array().unwrap().len(), 3);

    // A guard that was only read writes nothing.
    let mut session = loaded(&factory, json!({"cart": ["tea"]}));
    assert_eq!(session.cart_mut().unwrap().len(), 1);
    assert!(!session.is_dirty());
}

#[test]
fn an_older_key_is_read_when_the_key_is_absent_and_moved_on_write() {
    let factory = factory();
    let mut session = loaded(&factory, json!({"items": ["tea"], "language": "fr"}));
    assert_eq!(session.cart().unwrap(), [line("tea", 1)]);
    assert_eq!(session.locale().unwrap().as_deref(), Some("fr"));
    assert!(!session.is_dirty());

    // The first alias wins over a later one, and the key over both.
    let both = loaded(&factory, json!({"items": ["b"], "basket": ["a"]}));
    assert_eq!(both.cart().unwrap(), [line("a", 1)]);
    let all = loaded(
        &factory,
        json!({"items": ["b"], "cart": [], "lang": "de", "language": "fr"}),
    );
    assert_eq!(all.cart().unwrap(), []);
    assert_eq!(all.locale().unwrap().as_deref(), Some("de"));

    // Writing moves the value to its key.
    session.set_locale(Some("es".into())).unwrap();
    session.cart_mut().unwrap().push(line("mug", 1));
    let state = saved_state(&factory, &session).unwrap();
    assert_eq!(state["lang"], json!("es"));
    assert_eq!(state["cart"].as_array().unwrap().len(), 2);
    assert!(state.get("language").is_none(), "{state}");
    assert!(state.get("items").is_none(), "{state}");

    // take_ and remove_ clear the older keys too; so do store and clear.
    let mut session = loaded(&factory, json!({"basket": ["tea"], "items": ["x"]}));
    assert_eq!(session.take_cart().unwrap(), [line("tea", 1)]);
    assert!(!session.contains_key("basket") && !session.contains_key("items"));
    let mut session = loaded(&factory, json!({"basket": ["tea"]}));
    assert!(session.remove_cart());
    assert!(!session.remove_cart());
    let mut session = loaded(&factory, json!({"basket": ["tea"], "language": "fr"}));
    let shop = Shop::load(&session).unwrap();
    shop.store(&mut session).unwrap();
    assert!(!session.contains_key("basket") && !session.contains_key("language"));
    assert_eq!(session.get("lang"), Some(&json!("fr")));
    let mut session = loaded(&factory, json!({"basket": ["tea"], "language": "fr"}));
    Shop::clear(&mut session);
    assert!(session.is_empty());
    assert_eq!(Shop::ALIASES, ["basket", "items", "language"]);
}

#[test]
fn check_reports_every_field_without_changing_anything() {
    // A factory that reissues on any read in a later second (Pyramid's reissue time of 0):
    // a read would make the session dirty.
    let factory = SignedCookieSessionFactory::builder(SECRET)
        .reissue_time(Duration::ZERO)
        .clock(ManualClock::new(NOW + 10.0))
        .build()
        .unwrap();
    let session = factory.load(
        &testing::request_with(
            &factory,
            &Session::from_json(r#"{"basket": ["tea"], "user": 42, "visits": 3}"#, NOW, NOW)
                .unwrap(),
        )
        .unwrap(),
    );
    let report = Shop::check(&session);
    assert!(
        !session.is_dirty(),
        "check does not mark the session accessed"
    );
    let status: Vec<_> = report
        .fields
        .iter()
        .map(|field| (field.key, field.found_under, format!("{:?}", field.status)))
        .collect();
    assert_eq!(status[0].0, "cart");
    assert_eq!(status[0].1, Some("basket"));
    assert!(matches!(report.fields[0].status, FieldStatus::Migrates));
    assert!(matches!(report.fields[1].status, FieldStatus::Fails(_)));
    assert!(matches!(report.fields[2].status, FieldStatus::Decodes));
    assert!(matches!(report.fields[3].status, FieldStatus::Absent));
    assert!(!report.is_ok());
    assert_eq!(report.problems().count(), 1);
    assert!(
        report.to_string().contains("session key `user`"),
        "{report}"
    );

    // A required field that is absent is a problem; a present one is not.
    let strict = Strict::check(&session);
    assert!(
        strict
            .to_string()
            .contains("session key `required` is missing"),
        "{strict}"
    );
}

#[test]
fn nan_and_infinity_are_refused_at_write_naming_the_key() {
    let mut session = Session::new();
    session.set_cart(vec![line("tea", 1)]).unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut nan_line = line("tea", 1);
        nan_line.price = bad;
        let err = session.set_cart(vec![nan_line.clone()]).unwrap_err();
        assert!(
            matches!(&err, SessionError::Unserializable { key, .. } if key == "cart"),
            "{err}"
        );
        assert!(err.to_string().contains("NaN and infinity"), "{err}");
        let err = session.insert_as("price", &bad).unwrap_err();
        assert_eq!(err.key(), Some("price"));
        let mut guard = session.cart_mut().unwrap();
        guard.push(nan_line.clone());
        assert_eq!(guard.commit().unwrap_err().key(), Some("cart"));
        let shop = Shop {
            cart: vec![nan_line],
            user: Some("ann".into()),
            visits: None,
            locale: None,
        };
        assert_eq!(shop.store(&mut session).unwrap_err().key(), Some("cart"));
    }
    // Nothing of it was written.
    assert_eq!(session.cart().unwrap(), [line("tea", 1)]);
    assert!(!session.contains_key("price") && !session.contains_key("user"));

    #[flash_queue]
    enum Reading {
        Temperature(f64),
    }
    let err = session.flash(Reading::Temperature(f64::NAN)).unwrap_err();
    assert_eq!(err.key(), Some("_f_temperature"));
    assert!(session.peek_flashes::<Reading>().unwrap().is_empty());
}

#[test]
fn a_guard_that_fails_on_drop_makes_the_save_an_error_naming_the_key() {
    let factory = factory();
    let mut session = Session::new();
    session.cart_mut().unwrap().push(Line {
        product: "tea".into(),
        qty: 1,
        price: f64::NAN,
    });
    let err = factory.save(&session, &mut HeaderMap::new()).unwrap_err();
    assert_eq!(err.key(), Some("cart"));
}

#[flash_queue]
#[derive(Debug, PartialEq)]
enum Notice {
    Success(String),
}

#[test]
fn the_test_kit_reads_back_what_a_response_sets() {
    let factory = factory();
    let request = testing::request_with_state(&factory, &json!({"basket": ["tea"]})).unwrap();
    let mut session = factory.load(&request);
    session.cart_mut().unwrap().push(line("mug", 2));
    session.flash(Notice::Success("Added".into())).unwrap();
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).unwrap();

    let next = response_session(&factory, &response).unwrap();
    assert_eq!(next.cart().unwrap(), [line("tea", 1), line("mug", 2)]);
    testing::assert_flashes(&next, &[Notice::Success("Added".into())]);
    assert!(response_session(&factory, &HeaderMap::new()).is_none());

    let minted = testing::session_with(
        &factory,
        &Shop {
            cart: vec![line("pot", 1)],
            user: None,
            visits: Some(1),
            locale: None,
        },
    )
    .unwrap();
    let again = factory.load(&testing::request_with(&factory, &minted).unwrap());
    assert_eq!(again.visits().unwrap(), Some(1));
    assert!(testing::request_with_state(&factory, &json!([1])).is_err());
}

#[test]
#[should_panic(expected = "flash messages")]
fn assert_flashes_fails_on_other_messages() {
    let mut session = Session::new();
    session.flash(Notice::Success("one".into())).unwrap();
    testing::assert_flashes(&session, &[Notice::Success("two".into())]);
}
