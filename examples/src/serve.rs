//! Serving an axum router the way a server on the open internet must: `axum::serve` sets no
//! timeouts, so a client that sends half a request holds its connection (and a task) for as
//! long as it likes, and a few hundred such clients exhaust the server. This loop is
//! `axum::serve` with HTTP/1.1 timeouts, for the demo binaries and for apps that copy them.

use std::future::Future;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_layer::Layer;

/// How long a client may take to send a request's headers, and how long a kept-alive
/// connection may stay idle before its next request: hyper's header-read timer also runs
/// while a connection waits for its next request. Five seconds, as actix-web's default
/// `client_request_timeout`.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request may take from its headers to its response, reading its body
/// included; a slower one is answered `408 Request Timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, closing connections whose client
/// is too slow (see [`HEADER_READ_TIMEOUT`] and [`REQUEST_TIMEOUT`]). Each request carries
/// its connection's peer address as `ConnectInfo<SocketAddr>`, as with axum's
/// `into_make_service_with_connect_info`.
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    let app = app.layer(TimeoutLayer::with_status_code(
        http::StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(app.clone()));
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection closed");
            }
        });
    }
}

/// The log filter from `RUST_LOG` (for example `RUST_LOG=debug`, or
/// `RUST_LOG=info,typed_sessions=debug`), `info` when it is unset or unreadable.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}
