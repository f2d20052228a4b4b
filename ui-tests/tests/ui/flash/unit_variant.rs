use session::flash_queue;

#[flash_queue]
enum Notice {
    Success(String),
    LoggedOut,
}

fn main() {}
