use session::flash_queue;

#[flash_queue]
enum Notice {}

fn main() {}
