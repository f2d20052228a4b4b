use typed_sessions::SessionSchema;

// `cart` gets `cart_mut()`, and so does `cart_mut`.
#[derive(SessionSchema)]
struct Shop {
    cart: Vec<u32>,
    cart_mut: bool,
}

fn main() {}
