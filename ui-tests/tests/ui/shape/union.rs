use session::SessionSchema;

#[derive(SessionSchema)]
union Shop {
    count: u32,
}

fn main() {}
