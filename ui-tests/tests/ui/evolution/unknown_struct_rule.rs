use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
#[session(on_wrong_type = "skip")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
