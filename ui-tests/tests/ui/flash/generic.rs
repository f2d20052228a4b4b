use typed_sessions::flash_queue;

#[flash_queue]
enum Notice<T> {
    Success(T),
}

fn main() {}
