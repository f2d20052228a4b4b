//! The actix-web twin of `load_server`, for `bench/wrk-frameworks.sh`: the same small JSON
//! response with and without the session middleware.
//!
//! - `GET /load/plain`: no session middleware at all.
//! - `GET /load/untouched`: under the middleware, never touches the session.
//! - `GET /load/session`: under the middleware, reads the user id and bumps a counter in a
//!   ~1 KiB session, so every response carries a new cookie.
//!
//! Prints `COOKIE=<value>` (a 1 KiB session) and `LISTENING=<port>` on stdout, then serves
//! on 127.0.0.1 with one worker until killed. `PORT` picks the port (default: any free one).

use std::net::{Ipv4Addr, TcpListener};

use actix_web::{App, HttpServer, web};
use serde_json::{Value, json};
use typed_sessions::SessionError;
use typed_sessions::actix::{SessionHandle, SessionMiddleware};
use typed_sessions_examples::load::{LoadSessionExt, one_kib_session};
use typed_sessions_examples::shop;

fn body(user: Option<u64>, views: u64) -> web::Json<Value> {
    web::Json(json!({"ok": true, "user": user, "views": views}))
}

async fn plain() -> web::Json<Value> {
    body(None, 0)
}

async fn untouched() -> web::Json<Value> {
    body(None, 0)
}

async fn with_session(session: SessionHandle) -> Result<web::Json<Value>, SessionError> {
    let mut s = session.lock();
    let user = s.user_id()?;
    let mut views = s.views_mut()?;
    *views += 1;
    let views = *views;
    Ok(body(user, views))
}

fn main() -> std::io::Result<()> {
    let factory = shop::factory(shop::random_secret()).expect("a random secret is long enough");
    println!(
        "COOKIE={}",
        factory.encode(&one_kib_session()).expect("1 KiB fits")
    );
    let middleware = SessionMiddleware::new(factory);

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    println!("LISTENING={}", listener.local_addr()?.port());
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .route("/load/plain", web::get().to(plain))
                .service(
                    web::scope("")
                        .wrap(middleware.clone())
                        .route("/load/untouched", web::get().to(untouched))
                        .route("/load/session", web::get().to(with_session)),
                )
        })
        .workers(1)
        .listen(listener)?
        .run()
        .await
    })
}
