use session::flash_queue;

#[flash_queue(on_wrong_type = "missing")]
enum Notice {
    Success(String),
}

fn main() {}
