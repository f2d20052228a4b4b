use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(crate = session)]
    cart: Vec<u32>,
}

fn main() {}
