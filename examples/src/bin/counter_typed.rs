//! The axum quick start, typed: the counter is a field of a `#[derive(SessionSchema)]`
//! struct, read and changed through generated accessors instead of a string key.
//!
//! ```text
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin counter_typed
//! curl -c jar -b jar http://127.0.0.1:3000/    # visits: 1, then 2, 3, ...
//! ```
//!
//! `PORT` picks the port (default 3000; `0`: any free one, printed at start).

use axum::{Router, routing::get};
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::{SessionError, SessionSchema, SignedCookieSessionFactory};

/// What this app keeps in its session; the derive generates the trait `CounterExt`.
#[derive(SessionSchema)]
#[allow(dead_code)] // never built: read through the generated accessors only
struct Counter {
    /// Pages seen; a new session reads as 0.
    #[session(default)]
    visits: u64,
}

async fn count(session: SessionHandle) -> Result<String, SessionError> {
    let mut session = session.lock();
    let mut visits = session.visits_mut()?; // written back, and the session marked changed,
    *visits += 1; //                           when the guard drops
    Ok(format!("visits: {}\n", *visits))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSION_SECRET").map_err(|_| "set SESSION_SECRET (32+ bytes)")?;
    let factory = SignedCookieSessionFactory::builder(secret)
        .httponly(true)
        .build()?;
    let app = Router::new()
        .route("/", get(count))
        .layer(SessionLayer::new(factory));

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
