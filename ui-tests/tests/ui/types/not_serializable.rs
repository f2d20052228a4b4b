use typed_sessions::SessionSchema;

struct Item {
    sku: String,
}

#[derive(SessionSchema)]
struct Shop {
    user_id: Option<u64>,
    cart: Vec<Item>,
}

fn main() {}
