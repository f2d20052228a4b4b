use session::SessionSchema;

#[derive(SessionSchema)]
struct Shop<T> {
    cart: Vec<T>,
}

fn main() {}
