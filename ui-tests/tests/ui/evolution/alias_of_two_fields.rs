use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, alias = "items")]
    cart: Vec<String>,
    #[session(alias = "items")]
    wishlist: Option<Vec<String>>,
}

fn main() {}
