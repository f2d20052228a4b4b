use session::flash_queue;

#[flash_queue]
enum Notice<T> {
    Success(T),
}

fn main() {}
