use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = "a")]
    #[session(rename = "b")]
    cart: Vec<u32>,
}

fn main() {}
