use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    #[flash(queue = "")]
    Plain(String),
    #[flash(queue = "")]
    Other(String),
}

fn main() {}
