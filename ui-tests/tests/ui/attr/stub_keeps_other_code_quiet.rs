// With a bad attribute, the only error is about it: the accessors and `load` still exist,
// so the code that uses them does not add errors of its own.
use typed_sessions::{Session, SessionSchema};

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = 1)]
    cart: Vec<u32>,
}

fn main() {
    let mut session = Session::new();
    session.cart_mut().unwrap().push(1);
    let _shop = Shop::load(&session);
}
