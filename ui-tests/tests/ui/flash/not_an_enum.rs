use session::flash_queue;

#[flash_queue]
struct Notice {
    text: String,
}

fn main() {}
