use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
#[session(default)]
struct Shop {
    cart: Vec<u32>,
}

fn main() {}
