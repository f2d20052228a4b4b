//! Quick start on actix-web: a visit counter kept in a signed session cookie.
//!
//! ```text
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin counter_actix
//! curl -c jar -b jar http://127.0.0.1:3000/    # visits: 1, then 2, 3, ...
//! ```
//!
//! `PORT` picks the port (default 3000; `0`: any free one, printed at start).

use std::time::Duration;

use actix_web::{App, HttpServer, web};
use typed_sessions::actix::{SessionHandle, SessionMiddleware};
use typed_sessions::{SessionError, SignedCookieSessionFactory};

async fn count(session: SessionHandle) -> Result<String, SessionError> {
    let mut session = session.lock();
    let visits = session.get_as::<u64>("visits")?.unwrap_or(0) + 1;
    session.insert("visits", visits);
    Ok(format!("visits: {visits}\n"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `#[actix_web::main]` does the same with actix-web's default `macros` feature.
    actix_web::rt::System::new().block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSION_SECRET").map_err(|_| "set SESSION_SECRET (32+ bytes)")?;
    let factory = SignedCookieSessionFactory::builder(secret)
        .httponly(true)
        .build()?;
    let sessions = SessionMiddleware::new(factory); // once, shared by every worker

    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let server = HttpServer::new(move || {
        App::new()
            .route("/", web::get().to(count))
            .wrap(sessions.clone())
    })
    // A client has 5 s to send its request head, then the connection is closed.
    .client_request_timeout(Duration::from_secs(5))
    .bind(("127.0.0.1", port))?;
    println!("listening on http://{}/", server.addrs()[0]);
    server.run().await?;
    Ok(())
}
