//! Tea Shop on actix-web: the axum shop's schema, pages and CSRF rule through
//! `typed_sessions::actix`. With the same `SESSION_SECRET`, it shares the session cookie with the
//! axum `shop`: run both, fill the cart in one, see it in the other.
//!
//! ```text
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin actix_shop
//! SESSION_STORE=sqlite://target/shop.db cargo run -p typed-sessions-examples --bin actix_shop
//! SESSION_STORE=redis://127.0.0.1:6379/ cargo run -p typed-sessions-examples --bin actix_shop
//! ```
//!
//! Serves on 127.0.0.1 only, port `PORT` (default 3001), and prints its address as
//! `http://localhost:PORT/`, where browsers and curl keep its `Secure` cookie over plain
//! HTTP (see the `shop` binary). Without `SESSION_SECRET` it signs
//! cookies with a random secret made at start, so sessions end when it restarts.
//! `SESSION_STORE` and `TRUSTED_PROXIES` take the same values as the axum `shop`'s (see
//! `typed_sessions_examples::shop::store` and `typed_sessions_examples::shop::client_ip`).

use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;

use typed_sessions_examples::{actix_shop, config, shop};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(typed_sessions_examples::serve::log_filter())
        .with_writer(std::io::stderr)
        .init();

    let port = match config::port(3001) {
        Ok(port) => port,
        Err(code) => return code,
    };
    let secret = config::secret();
    let store = config::session_store();
    let settings = match config::shop_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    actix_web::rt::System::new().block_on(async move {
        let sessions = match shop::store::sessions(secret, store.as_deref()).await {
            Ok(sessions) => sessions,
            Err(err) => return config::bad_store(err),
        };
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {err}");
                return ExitCode::FAILURE;
            }
        };
        // The bound port, not `PORT`: with `PORT=0` the system picks one.
        let port = listener.local_addr().map_or(port, |addr| addr.port());
        let addr = format!("127.0.0.1:{port}");
        println!(
            "Tea Shop (actix-web) is open at http://localhost:{port}/ (sessions in {}; Ctrl-C \
             to close)",
            sessions.kind
        );
        let _cleanup = sessions.cleanup;
        let _listener = sessions.listener;
        let served = match actix_shop::server_with_settings(sessions.factory, settings, listener) {
            Ok(server) => server.await,
            Err(err) => Err(err),
        };
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: cannot serve on {addr}: {err}");
                ExitCode::FAILURE
            }
        }
    })
}
