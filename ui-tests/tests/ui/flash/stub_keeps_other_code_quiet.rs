// With a bad attribute, the only error is about it: the enum is still there, and still a
// `Flash`, so the code that uses it does not add errors of its own.
use typed_sessions::{Session, flash_queue};

#[flash_queue]
enum Notice {
    #[flash(queue = 1)]
    Success(String),
}

fn main() {
    let mut session = Session::new();
    session.flash(Notice::Success("Saved".into())).unwrap();
}
