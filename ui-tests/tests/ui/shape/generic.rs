use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop<T> {
    cart: Vec<T>,
}

fn main() {}
