use typed_sessions::flash_queue;

#[flash_queue]
enum Notice {
    Failure {
        #[flash(queue = "error")]
        text: String,
    },
}

fn main() {}
