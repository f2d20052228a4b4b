use std::collections::HashMap;

use typed_sessions::SessionSchema;

// The map is inside a Vec and an Option: serde would only fail when saving.
#[derive(SessionSchema)]
struct History {
    #[session(default)]
    pages: Vec<Option<HashMap<Vec<u8>, String>>>,
}

fn main() {}
