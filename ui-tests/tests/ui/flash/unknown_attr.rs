use session::flash_queue;

#[flash_queue]
enum Notice {
    #[flash(name = "ok")]
    Success(String),
}

fn main() {}
