//! Every supported shape of a schema: attributes, `Option` spelt any way, maps with keys
//! JSON can hold, a user key type, raw identifiers, visibilities, an empty schema, and
//! accessors through a lock.
#![deny(missing_docs, warnings)]

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use typed_sessions::{FieldMut, JsonKey, Session, SessionError, SessionSchema};

/// An item in the cart.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Item {
    sku: String,
}

/// A key type of our own: a unit-only enum serializes as a string.
#[derive(Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// Small.
    Small,
    /// Large.
    Large,
}

impl JsonKey for Size {}

type Maybe<T> = Option<T>;

/// The shop's part of the session.
#[derive(SessionSchema)]
pub struct Shop {
    #[session(default)]
    cart: Vec<Item>,
    user_id: Option<u64>,
    #[session(rename = "lang")]
    language: std::option::Option<String>,
    coupon: Maybe<String>,
    #[session(default, rename = "n")]
    visits: u32,
    #[session(default)]
    by_name: HashMap<String, Vec<BTreeMap<u64, Item>>>,
    #[session(default)]
    by_size: BTreeMap<Size, u32>,
    #[session(default)]
    by_char: Option<Box<HashMap<char, NonZeroU32>>>,
    #[session(default)]
    r#type: String,
    #[session(default)]
    raw: serde_json::Value,
}

mod inner {
    /// A crate-visible schema in another module.
    #[derive(typed_sessions::SessionSchema)]
    pub(crate) struct Auth {
        pub(crate) token: Option<String>,
    }
}

/// A schema with no fields is allowed, if of little use.
#[derive(SessionSchema)]
pub struct Empty {}

fn reads(session: &Session) -> Result<(), SessionError> {
    let _: Vec<Item> = session.cart()?;
    let _: Option<u64> = session.user_id()?;
    let _: Option<String> = session.language()?;
    let _: Option<String> = session.coupon()?;
    let _: u32 = session.visits()?;
    let _: String = session.r#type()?;
    Ok(())
}

fn writes(session: &mut Session) -> Result<(), SessionError> {
    session.set_cart(vec![Item::default()])?;
    let mut cart: FieldMut<'_, Vec<Item>> = session.cart_mut()?;
    cart.push(Item::default());
    cart.commit()?;
    session.by_size_mut()?.insert(Size::Large, 1);
    session.set_type("dark".to_owned())?;
    let _: Vec<Item> = session.take_cart()?;
    let _: bool = session.remove_user_id();
    Ok(())
}

fn whole(session: &mut Session) -> Result<(), SessionError> {
    let shop = Shop::load(session)?;
    shop.store(session)?;
    Shop::clear(session);
    let _ = Empty::load(session)?;
    let _: &[&str] = Shop::KEYS;
    Ok(())
}

fn through_a_lock(shared: &Mutex<Session>) -> Result<(), SessionError> {
    use inner::AuthExt;
    let mut session = shared.lock().unwrap();
    session.cart_mut()?.push(Item::default());
    session.set_token(Some("t".into()))?;
    let _ = inner::Auth::load(&session)?.token;
    Ok(())
}

fn main() {
    let mut session = Session::new();
    let _ = reads(&session);
    let _ = writes(&mut session);
    let _ = whole(&mut session);
    let _ = through_a_lock(&Mutex::new(session));
}
