use typed_sessions::SessionSchema;

fn cart_v1(stored: &str) -> Result<Vec<String>, String> {
    Ok(vec![stored.to_owned()])
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default, migrate = cart_v1)]
    cart: Vec<String>,
}

fn main() {}
