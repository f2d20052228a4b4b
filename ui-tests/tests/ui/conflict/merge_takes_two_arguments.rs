use typed_sessions::SessionSchema;

fn newest(ours: Vec<String>, theirs: Vec<String>) -> Vec<String> {
    if ours.len() >= theirs.len() { ours } else { theirs }
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default, merge = newest)]
    cart: Vec<String>,
}

fn main() {}
