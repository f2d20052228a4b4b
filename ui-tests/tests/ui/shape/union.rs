use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
union Shop {
    count: u32,
}

fn main() {}
