//! Tea Shop: a small web shop whose state lives in a signed session cookie, or on the
//! server.
//!
//! ```text
//! cargo run -p typed-sessions-examples --bin shop
//! PORT=8080 SESSION_SECRET=$(openssl rand -hex 32) cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=sqlite://target/shop.db cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=postgres://user:password@127.0.0.1:5432/shop cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=redis://127.0.0.1:6379/ cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=rediss://127.0.0.1:6391/ SSL_CERT_FILE=target/tls/ca.pem cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=redis+cluster://10.0.0.1:7000/ cargo run -p typed-sessions-examples --bin shop
//! SESSION_STORE=memory: cargo run -p typed-sessions-examples --bin shop
//! SESSION_SECRET=<the Pyramid app's> SESSION_STORE=pyramid-session-redis+redis://127.0.0.1:6379/0 \
//!     SESSION_SERIALIZER=pickle cargo run -p typed-sessions-examples --bin shop
//! SESSION_SECRET=<the app's session.secret> SESSION_STORE=beaker+file:///var/lib/app/sessions \
//!     SESSION_SERIALIZER=pickle cargo run -p typed-sessions-examples --bin shop
//! ```
//!
//! Serves on 127.0.0.1 only, port `PORT` (default 3000), and prints its address as
//! `http://localhost:PORT/`: the session cookie is `Secure`, and over plain HTTP browsers
//! and curl keep and send a `Secure` cookie to `localhost` (and `127.0.0.1`), not to other
//! hosts. Without `SESSION_SECRET` it signs
//! cookies with a random secret made at start, so sessions end when it restarts. With
//! `SESSION_STORE` the session is kept in that store and the cookie carries its signed id
//! (the SQL stores' tables are created at start). `rediss://` and PostgreSQL's `sslmode`
//! connect over TLS, trusting the system's roots, or the CA file `SSL_CERT_FILE` names
//! (`scripts/redis-tls.sh` starts a TLS Redis on 6391 with such a test CA). `RUST_LOG` sets
//! the log level (default `info`); connections whose client is slow to send a request are
//! closed (see [`serve`](typed_sessions_examples::serve)). The devices page shows each
//! session's address as the connection's peer; behind a reverse proxy, `TRUSTED_PROXIES`
//! (its addresses, comma-separated; unset: none) makes the shop believe the proxy's
//! `X-Forwarded-For`, which it never does by default (see
//! [`client_ip`](typed_sessions_examples::shop::client_ip)).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use typed_sessions_examples::shop;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(typed_sessions_examples::serve::log_filter())
        .with_writer(std::io::stderr)
        .init();

    let port = match typed_sessions_examples::config::port(3000) {
        Ok(port) => port,
        Err(code) => return code,
    };
    let secret = typed_sessions_examples::config::secret();
    let store = typed_sessions_examples::config::session_store();
    let settings = match typed_sessions_examples::config::shop_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let shop = match shop::store::open_with(secret, store.as_deref(), settings).await {
        Ok(shop) => shop,
        Err(err) => return typed_sessions_examples::config::bad_store(err),
    };

    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The bound port, not `PORT`: with `PORT=0` the system picks one (the tests do).
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    println!(
        "Tea Shop is open at http://localhost:{port}/ (sessions in {}; Ctrl-C to close)",
        shop.kind
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let _cleanup = shop.cleanup;
    let _listener = shop.listener;
    typed_sessions_examples::serve::serve(listener, shop.app, shutdown).await;
    ExitCode::SUCCESS
}
