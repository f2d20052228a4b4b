use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename)]
    cart: Vec<u32>,
}

fn main() {}
