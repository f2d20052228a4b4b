use typed_sessions::flash_queue;

#[flash_queue]
struct Notice {
    text: String,
}

fn main() {}
