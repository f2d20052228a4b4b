use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, alias = "cart")]
    cart: Vec<String>,
}

fn main() {}
