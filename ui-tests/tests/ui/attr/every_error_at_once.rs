// One compile reports every bad attribute, not only the first.
use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
#[session(crate = session, flatten)]
struct Shop {
    #[session(rename = 1, default, default)]
    cart: Vec<u32>,
    #[session(skip)]
    user_id: Option<u64>,
}

fn main() {}
