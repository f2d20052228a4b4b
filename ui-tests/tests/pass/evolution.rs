//! Every schema-evolution attribute together, on the struct, fields and a flash queue.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use typed_sessions::{FlashExt, OnWrongType, Session, SessionSchema, flash_queue};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    product: String,
    qty: u32,
}

mod migrations {
    pub fn cart_v1(stored: serde_json::Value) -> Result<Vec<super::Line>, String> {
        let products: Vec<String> = serde_json::from_value(stored).map_err(|e| e.to_string())?;
        Ok(products
            .into_iter()
            .map(|product| super::Line { product, qty: 1 })
            .collect())
    }
}

fn user_from_id(stored: Value) -> Result<Option<String>, &'static str> {
    stored.as_u64().map(|id| Some(format!("user-{id}"))).ok_or("not an id")
}

#[derive(SessionSchema)]
#[session(on_wrong_type = "error")]
pub struct Shop {
    #[session(default, migrate = migrations::cart_v1, alias = "basket", alias = "items")]
    cart: Vec<Line>,
    #[session(migrate = "user_from_id", on_wrong_type = "missing")]
    user: Option<String>,
}

#[flash_queue(on_wrong_type = "error")]
pub enum Notice {
    Success(String),
}

#[flash_queue(on_wrong_type = "skip")]
pub enum Quiet {
    Info(String),
}

fn main() {
    let session = Session::from_json(r#"{"items": ["tea"], "user": 7}"#, 0.0, 0.0).unwrap();
    assert_eq!(session.cart().unwrap().len(), 1);
    assert_eq!(session.user().unwrap().as_deref(), Some("user-7"));
    assert!(Shop::check(&session).is_ok());
    assert_eq!(Shop::ALIASES, ["basket", "items"]);
    assert_eq!(<Notice as typed_sessions::FlashQueue>::ON_WRONG_TYPE, OnWrongType::Error);
    assert_eq!(<Quiet as typed_sessions::FlashQueue>::ON_WRONG_TYPE, OnWrongType::Ignore);
    let _ = session.peek_flashes::<Notice>();
}
