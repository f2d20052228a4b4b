//! The conflict policies: a merge per field (a path, or a path in a string), `reject` as the
//! struct's default, and a field that overrides it back to `overwrite`.

use serde::{Deserialize, Serialize};
use typed_sessions::{Session, SessionSchema};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    product: String,
    qty: u32,
}

mod merges {
    /// This request's change applied to what the store holds now.
    pub fn cart(base: Vec<super::Line>, ours: Vec<super::Line>, theirs: Vec<super::Line>) -> Vec<super::Line> {
        let _ = base;
        if ours.len() >= theirs.len() { ours } else { theirs }
    }
}

fn visits(base: u32, ours: u32, theirs: u32) -> u32 {
    theirs + ours.saturating_sub(base)
}

#[derive(SessionSchema)]
#[session(on_conflict = "reject")]
pub struct Shop {
    #[session(default, merge = merges::cart)]
    cart: Vec<Line>,
    #[session(default, merge = "visits")]
    visits: u32,
    user: Option<String>,
    #[session(on_conflict = "overwrite")]
    theme: Option<String>,
}

fn main() {
    let mut session = Session::new();
    session.set_visits(3).unwrap();
    session.set_user(Some("ada".into())).unwrap();
    session.set_theme(None).unwrap();
    session.cart_mut().unwrap().push(Line { product: "sencha".into(), qty: 1 });
    assert_eq!(session.visits().unwrap(), 3);
    assert_eq!(session.cart().unwrap().len(), 1);
}
