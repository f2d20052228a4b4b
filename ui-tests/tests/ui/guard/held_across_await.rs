use typed_sessions::{Session, SessionSchema};

#[derive(SessionSchema)]
struct Shop {
    #[session(default)]
    cart: Vec<u32>,
}

fn require_send<F: std::future::Future + Send>(_: F) {}

async fn handler(session: &mut Session) {
    let mut cart = session.cart_mut().unwrap();
    std::future::ready(()).await;
    cart.push(1);
}

fn main() {
    let mut session = Session::new();
    require_send(handler(&mut session));
}
