//! Quick start on axum: a visit counter kept in a signed session cookie.
//!
//! ```text
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin counter_axum
//! curl -c jar -b jar http://127.0.0.1:3000/    # visits: 1, then 2, 3, ...
//! ```
//!
//! `PORT` picks the port (default 3000; `0`: any free one, printed at start).

use axum::{Router, routing::get};
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::{SessionError, SignedCookieSessionFactory};

async fn count(session: SessionHandle) -> Result<String, SessionError> {
    let mut session = session.lock();
    let visits = session.get_as::<u64>("visits")?.unwrap_or(0) + 1;
    session.insert("visits", visits);
    Ok(format!("visits: {visits}\n"))
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
