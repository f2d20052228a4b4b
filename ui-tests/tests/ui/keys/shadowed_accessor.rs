use typed_sessions::SessionSchema;

// `session.len()` would call `Session::len`, never this field's accessor.
#[derive(SessionSchema)]
struct Shop {
    len: u32,
}

fn main() {}
