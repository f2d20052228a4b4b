//! `#[session(crate = ..)]` and `#[flash_queue(crate = ..)]` for code that reaches the
//! runtime through a re-export.

mod framework {
    pub use typed_sessions as sessions;
}

mod app {
    use crate::framework::sessions::{Session, SessionSchema, flash_queue};

    #[derive(SessionSchema)]
    #[session(crate = crate::framework::sessions)]
    pub struct Shop {
        #[session(default)]
        pub cart: Vec<u32>,
    }

    #[derive(SessionSchema)]
    #[session(crate = "crate::framework::sessions")]
    pub struct Auth {
        pub token: Option<String>,
    }

    #[flash_queue(crate = crate::framework::sessions)]
    pub enum Notice {
        Success(String),
    }

    pub fn run() {
        let mut session = Session::new();
        session.cart_mut().unwrap().push(1);
        session.set_token(None).unwrap();
        session.flash(Notice::Success("ok".into())).unwrap();
    }
}

fn main() {
    app::run();
}
