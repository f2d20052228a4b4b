use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(alias = "_csrft_")]
    token: Option<String>,
    #[session(alias = "_f_error")]
    errors: Option<Vec<String>>,
}

fn main() {}
