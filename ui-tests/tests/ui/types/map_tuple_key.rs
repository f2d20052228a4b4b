use std::collections::HashMap;

use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Board {
    cells: HashMap<(u8, u8), char>,
}

fn main() {}
