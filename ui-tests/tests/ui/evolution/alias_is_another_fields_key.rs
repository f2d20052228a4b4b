use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, alias = "basket")]
    cart: Vec<String>,
    basket: Option<u32>,
}

fn main() {}
