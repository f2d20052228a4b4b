use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default = "Vec::new")]
    cart: Vec<u32>,
}

fn main() {}
