use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    Success(&'static str),
}

fn main() {}
