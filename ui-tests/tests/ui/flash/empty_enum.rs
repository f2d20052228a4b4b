use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {}

fn main() {}
