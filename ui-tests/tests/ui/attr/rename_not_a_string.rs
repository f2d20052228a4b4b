use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = cart_v2)]
    cart: Vec<u32>,
}

fn main() {}
