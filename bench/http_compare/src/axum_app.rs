//! The axum engines: tower-sessions (memory and Redis stores) and ours (memory, Redis,
//! signed cookie).

use std::net::TcpListener;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tower_sessions::{
    MemoryStore as TowerMemoryStore, Session as TowerSession, SessionManagerLayer,
};
use tower_sessions_redis_store::RedisStore as TowerRedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::store::{MemoryStore, RedisStore};
use typed_sessions::{Builder, ServerSessionFactory, SessionError, SignedCookieSessionFactory};

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = match engine {
            "tower-memory" => tower_routes().layer(tower_layer(TowerMemoryStore::default())),
            "tower-redis" => {
                let pool = Pool::new(
                    Config::from_url(redis_url).expect("a Redis URL"),
                    None,
                    None,
                    None,
                    1,
                )
                .expect("a fred pool");
                // The connection task runs for the server's life, so its handle is not kept.
                drop(pool.init().await.expect("Redis answers"));
                tower_routes().layer(tower_layer(TowerRedisStore::new(pool)))
            }
            "ours-memory" => our_routes().layer(SessionLayer::new(
                ours(ServerSessionFactory::builder(
                    &SECRET[..],
                    MemoryStore::new(),
                ))
                .build()
                .expect("valid options"),
            )),
            "ours-redis" => {
                let store = RedisStore::connect(redis_url).await.expect("Redis answers");
                our_routes().layer(SessionLayer::new(
                    ours(ServerSessionFactory::builder(&SECRET[..], store))
                        .build()
                        .expect("valid options"),
                ))
            }
            "ours-signed" => our_routes().layer(SessionLayer::new(
                ours(SignedCookieSessionFactory::builder(&SECRET[..]))
                    .build()
                    .expect("valid options"),
            )),
            other => panic!("unknown axum engine {other}"),
        };
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!("LISTENING={port}");
        axum::serve(listener, app).await
    })
}

/// Our options beside the peers' defaults: the cookie name, and cookies for writes only
/// (the peers never rewrite a cookie on a read).
pub fn ours<K>(builder: Builder<K>) -> Builder<K> {
    builder.cookie_name(COOKIE_NAME).reissue_time(None)
}

fn tower_layer<S: tower_sessions::SessionStore + Clone>(store: S) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store).with_name(COOKIE_NAME)
}

async fn plain() -> &'static str {
    PLAIN_BODY
}

fn our_routes() -> Router {
    Router::new()
        .route("/plain", get(plain))
        .route("/seed", get(our_seed))
        .route("/read", get(our_read))
        .route("/bump", get(our_bump))
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

fn tower_routes() -> Router {
    Router::new()
        .route("/plain", get(plain))
        .route("/seed", get(tower_seed))
        .route("/read", get(tower_read))
        .route("/bump", get(tower_bump))
}

fn internal(_: tower_sessions::session::Error) -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn tower_seed(session: TowerSession) -> Result<&'static str, StatusCode> {
    session
        .insert("user_id", SEED_USER)
        .await
        .map_err(internal)?;
    session.insert("views", 0u64).await.map_err(internal)?;
    session
        .insert("cart", seed_cart())
        .await
        .map_err(internal)?;
    Ok(SEED_BODY)
}

async fn tower_read(session: TowerSession) -> Result<String, StatusCode> {
    let user: Option<u64> = session.get("user_id").await.map_err(internal)?;
    let views: Option<u64> = session.get("views").await.map_err(internal)?;
    let cart: Option<Vec<Line>> = session.get("cart").await.map_err(internal)?;
    Ok(read_body(
        user,
        views.unwrap_or(0),
        &cart.unwrap_or_default(),
    ))
}

async fn tower_bump(session: TowerSession) -> Result<String, StatusCode> {
    let user: Option<u64> = session.get("user_id").await.map_err(internal)?;
    let views = session
        .get::<u64>("views")
        .await
        .map_err(internal)?
        .unwrap_or(0)
        + 1;
    session.insert("views", views).await.map_err(internal)?;
    Ok(bump_body(user, views))
}
