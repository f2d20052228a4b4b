use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
#[session(rename_all = "camelCase")]
struct Shop {
    cart: Vec<u32>,
}

fn main() {}
