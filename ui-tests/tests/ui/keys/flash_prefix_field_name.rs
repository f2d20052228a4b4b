use session::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    _f_success: Vec<String>,
}

fn main() {}
