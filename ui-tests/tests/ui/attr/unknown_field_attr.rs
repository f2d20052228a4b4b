use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(skip)]
    cart: Vec<u32>,
}

fn main() {}
