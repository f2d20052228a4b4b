use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    Success(String),
    LoggedOut,
}

fn main() {}
