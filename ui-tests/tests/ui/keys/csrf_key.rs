use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = "_csrft_")]
    token: String,
}

fn main() {}
