use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
enum Shop {
    Cart(Vec<u32>),
}

fn main() {}
