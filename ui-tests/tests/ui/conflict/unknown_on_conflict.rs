use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(on_conflict = "merge")]
    user_id: Option<u64>,
}

fn main() {}
