use session::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, alias = "cart")]
    cart: Vec<String>,
}

fn main() {}
