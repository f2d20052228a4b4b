use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop(Vec<u32>, Option<u64>);

fn main() {}
