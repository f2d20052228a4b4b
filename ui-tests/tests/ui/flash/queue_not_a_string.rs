use session::flash_queue;

#[flash_queue]
enum Notice {
    #[flash(queue = error)]
    Failure(String),
}

fn main() {}
