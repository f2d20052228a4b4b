use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    Error(String),
    #[flash(queue = "error")]
    Failure { code: u16, text: String },
}

fn main() {}
