use std::collections::HashMap;

use session::SessionSchema;

#[derive(SessionSchema)]
struct Board {
    cells: HashMap<(u8, u8), char>,
}

fn main() {}
