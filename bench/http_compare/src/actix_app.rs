//! The actix-web engines: actix-session (signed and private cookies, Redis) and ours
//! (signed cookie, encrypted cookie, Redis).

use std::net::TcpListener;

use actix_session::config::CookieContentSecurity;
use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore as TheirStore};
use actix_session::{Session as TheirSession, SessionMiddleware as TheirMiddleware};
use actix_web::cookie::Key;
use actix_web::{App, HttpServer, web};
use typed_sessions::actix::{SessionHandle, SessionMiddleware};
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::store::RedisStore;
use typed_sessions::{
    EncryptedCookieSessionFactory, EncryptionKey, ServerSessionFactory, SessionError,
    SignedCookieSessionFactory,
};

use crate::axum_app::ours;
use crate::{
    COOKIE_NAME, Line, PLAIN_BODY, SECRET, SEED_BODY, SEED_USER, StateExt, bump_body, read_body,
    seed_cart,
};

pub fn serve(
    engine: &str,
    listener: TcpListener,
    redis_url: &str,
    port: u16,
) -> std::io::Result<()> {
    listener.set_nonblocking(false)?;
    actix_web::rt::System::new().block_on(async move {
        match engine {
            "their-signed" => {
                serve_theirs(
                    CookieSessionStore::default,
                    CookieContentSecurity::Signed,
                    listener,
                    port,
                )
                .await
            }
            "their-private" => {
                serve_theirs(
                    CookieSessionStore::default,
                    CookieContentSecurity::Private,
                    listener,
                    port,
                )
                .await
            }
            "their-redis" => {
                let store = RedisSessionStore::new(redis_url)
                    .await
                    .expect("Redis answers");
                serve_theirs(
                    move || store.clone(),
                    CookieContentSecurity::Private,
                    listener,
                    port,
                )
                .await
            }
            "ours-signed" => {
                let factory = ours(SignedCookieSessionFactory::builder(&SECRET[..]));
                serve_ours(factory.build().expect("valid options"), listener, port).await
            }
            "ours-encrypted" => {
                let key = EncryptionKey::from_bytes(&SECRET[..32]);
                let factory = ours(EncryptedCookieSessionFactory::builder(key));
                serve_ours(factory.build().expect("valid options"), listener, port).await
            }
            "ours-redis" => {
                let store = RedisStore::connect(redis_url).await.expect("Redis answers");
                let factory = ours(ServerSessionFactory::builder(&SECRET[..], store));
                serve_ours(factory.build().expect("valid options"), listener, port).await
            }
            other => panic!("unknown actix engine {other}"),
        }
    })
}

/// actix-session on its defaults, but for the cookie name; a Redis store's cookie holds only
/// the session key, whatever the content security. `store` makes the worker's store (the
/// cookie store is not `Clone`).
async fn serve_theirs<S: TheirStore + 'static>(
    store: impl Fn() -> S + Clone + Send + 'static,
    security: CookieContentSecurity,
    listener: TcpListener,
    port: u16,
) -> std::io::Result<()> {
    let key = Key::from(SECRET);
    let server = HttpServer::new(move || {
        let middleware = TheirMiddleware::builder(store(), key.clone())
            .cookie_name(COOKIE_NAME.to_owned())
            .cookie_content_security(security)
            .build();
        App::new()
            .wrap(middleware)
            .route("/plain", web::get().to(plain))
            .route("/seed", web::get().to(their_seed))
            .route("/read", web::get().to(their_read))
            .route("/bump", web::get().to(their_bump))
    })
    .workers(1)
    .listen(listener)?;
    println!("LISTENING={port}");
    server.run().await
}

async fn serve_ours<F: SessionFactory>(
    factory: F,
    listener: TcpListener,
    port: u16,
) -> std::io::Result<()> {
    let middleware = SessionMiddleware::new(factory);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware.clone())
            .route("/plain", web::get().to(plain))
            .route("/seed", web::get().to(our_seed))
            .route("/read", web::get().to(our_read))
            .route("/bump", web::get().to(our_bump))
    })
    .workers(1)
    .listen(listener)?;
    println!("LISTENING={port}");
    server.run().await
}

async fn plain() -> &'static str {
    PLAIN_BODY
}

async fn our_seed(session: SessionHandle) -> Result<&'static str, SessionError> {
    let mut s = session.lock();
    s.set_user_id(Some(SEED_USER))?;
    s.set_views(0)?;
    s.set_cart(seed_cart())?;
    Ok(SEED_BODY)
}

async fn our_read(session: SessionHandle) -> Result<String, SessionError> {
    let s = session.lock();
    Ok(read_body(s.user_id()?, s.views()?, &s.cart()?))
}

async fn our_bump(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    let user = s.user_id()?;
    let mut views = s.views_mut()?;
    *views += 1;
    Ok(bump_body(user, *views))
}

async fn their_seed(session: TheirSession) -> actix_web::Result<&'static str> {
    session.insert("user_id", SEED_USER)?;
    session.insert("views", 0u64)?;
    session.insert("cart", seed_cart())?;
    Ok(SEED_BODY)
}

async fn their_read(session: TheirSession) -> actix_web::Result<String> {
    let user: Option<u64> = session.get("user_id")?;
    let views: Option<u64> = session.get("views")?;
    let cart: Option<Vec<Line>> = session.get("cart")?;
    Ok(read_body(
        user,
        views.unwrap_or(0),
        &cart.unwrap_or_default(),
    ))
}

async fn their_bump(session: TheirSession) -> actix_web::Result<String> {
    let user: Option<u64> = session.get("user_id")?;
    let views = session.get::<u64>("views")?.unwrap_or(0) + 1;
    session.insert("views", views)?;
    Ok(bump_body(user, views))
}
