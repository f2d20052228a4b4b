//! Tea Shop on actix-web: the axum shop's schema, pages and CSRF rule through
//! `typed_sessions::actix`. With the same `SESSION_SECRET`, it shares the session cookie with the
//! axum `shop`: run both, fill the cart in one, see it in the other.
//!
//! ```text
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin actix_shop
//! ```
//!
//! Serves on 127.0.0.1 only, port `PORT` (default 3001), and prints its address as
//! `http://localhost:PORT/`, where browsers and curl keep its `Secure` cookie over plain
//! HTTP (see the `shop` binary). Without `SESSION_SECRET` it signs
//! cookies with a random secret made at start, so sessions end when it restarts.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use actix_web::{App, HttpServer};
use typed_sessions::actix::SessionMiddleware;
use typed_sessions_examples::{actix_shop, shop};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();

    let port = match typed_sessions_examples::config::port(3001) {
        Ok(port) => port,
        Err(code) => return code,
    };
    let secret = typed_sessions_examples::config::secret();
    let middleware = match shop::factory(secret) {
        Ok(factory) => SessionMiddleware::new(factory),
        Err(err) => {
            return typed_sessions_examples::config::bad_secret(err);
        }
    };

    println!("Tea Shop (actix-web) is open at http://localhost:{port}/ (Ctrl-C to close)");
    let served = actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .configure(actix_shop::routes)
                .wrap(middleware.clone())
        })
        .workers(2)
        .bind((Ipv4Addr::LOCALHOST, port))?
        .run()
        .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot serve on 127.0.0.1:{port}: {err}");
            ExitCode::FAILURE
        }
    }
}
