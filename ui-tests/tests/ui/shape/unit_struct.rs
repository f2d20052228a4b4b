use session::SessionSchema;

#[derive(SessionSchema)]
struct Shop;

fn main() {}
