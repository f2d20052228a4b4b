use typed_sessions::flash_queue;

#[flash_queue(on_wrong_type = "missing")]
enum Notice {
    Success(String),
}

fn main() {}
