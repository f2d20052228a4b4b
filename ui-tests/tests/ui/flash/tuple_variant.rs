use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    Failure(u16, String),
}

fn main() {}
