use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, migrate = 5)]
    cart: Vec<String>,
}

fn main() {}
