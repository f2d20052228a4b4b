use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session]
    cart: Vec<u32>,
}

fn main() {}
