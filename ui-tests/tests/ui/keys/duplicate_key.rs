use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    cart: Vec<u32>,
    #[session(rename = "cart")]
    old_cart: Vec<u32>,
}

fn main() {}
