use typed_sessions::flash_queue;

#[flash_queue(rename_all = "kebab-case")]
enum Notice {
    Success(String),
}

fn main() {}
