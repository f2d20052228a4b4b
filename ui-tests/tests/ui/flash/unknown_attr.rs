use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    #[flash(name = "ok")]
    Success(String),
}

fn main() {}
