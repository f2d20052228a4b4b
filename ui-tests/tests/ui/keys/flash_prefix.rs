use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = "_f_notes")]
    notes: Vec<String>,
}

fn main() {}
