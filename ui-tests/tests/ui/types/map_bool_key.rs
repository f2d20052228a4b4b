use std::collections::HashMap;

use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Flags {
    counts: HashMap<bool, u32>,
}

fn main() {}
