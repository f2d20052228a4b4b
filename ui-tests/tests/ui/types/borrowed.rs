use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    name: &'static str,
}

fn main() {}
