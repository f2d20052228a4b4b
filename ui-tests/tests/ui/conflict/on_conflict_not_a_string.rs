use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
#[session(on_conflict = reject)]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
