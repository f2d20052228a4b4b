use serde::{Deserialize, Serialize};
use typed_sessions::SessionSchema;

#[derive(Serialize, Deserialize)]
struct Plan {
    tier: u8,
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default)]
    plan: Plan,
}

fn main() {}
