use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    #[flash(queue = error)]
    Failure(String),
}

fn main() {}
