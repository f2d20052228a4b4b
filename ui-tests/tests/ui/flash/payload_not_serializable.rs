use typed_sessions::flash_queue;

struct Detail {
    code: u16,
}

#[flash_queue]
enum Notice {
    Success(String),
    Failure { detail: Detail, text: String },
}

fn main() {}
