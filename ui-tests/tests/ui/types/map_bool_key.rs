use std::collections::HashMap;

use session::SessionSchema;

#[derive(SessionSchema)]
struct Flags {
    counts: HashMap<bool, u32>,
}

fn main() {}
