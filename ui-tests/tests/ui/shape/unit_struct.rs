use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop;

fn main() {}
