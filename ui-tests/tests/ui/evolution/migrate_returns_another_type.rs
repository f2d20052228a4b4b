use typed_sessions::SessionSchema;

fn cart_v1(_stored: serde_json::Value) -> Result<Vec<u32>, String> {
    Ok(Vec::new())
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default, migrate = cart_v1)]
    cart: Vec<String>,
}

fn main() {}
