use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(on_wrong_type = "ignore")]
    user_id: Option<u64>,
}

fn main() {}
