use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    _f_success: Vec<String>,
}

fn main() {}
