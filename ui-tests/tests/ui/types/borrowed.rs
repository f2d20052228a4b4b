use session::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    name: &'static str,
}

fn main() {}
