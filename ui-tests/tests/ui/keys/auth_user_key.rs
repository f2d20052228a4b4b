use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(rename = "_auth_user_id")]
    user: String,
}

fn main() {}
