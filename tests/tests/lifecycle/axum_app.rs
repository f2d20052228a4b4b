//! The suite's routes on axum.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::{FlashExt, Overflow, Saved, SessionError};

use super::{Framework, Notice, SuiteExt, saved_header};

pub struct Axum;

impl Framework for Axum {
    async fn serve<F: SessionFactory>(factory: Arc<F>) -> String {
        let shared = Router::new()
            .route("/shared", get(shared))
            .layer(middleware::from_fn(around));
        let app = Router::new()
            .route("/untouched", get(untouched))
            .route("/handle", get(handle))
            .route("/user", get(user))
            .route("/visit", get(visit))
            .route("/flashes", get(flashes))
            .route("/fail", get(fail))
            .route("/big", get(big))
            .route("/break", get(broken))
            .route("/logout", get(logout))
            .merge(shared)
            .layer(SessionLayer::from_arc(factory))
            .layer(middleware::map_response(tell_saved));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }
}

async fn untouched() -> &'static str {
    "untouched"
}

async fn handle(_session: SessionHandle) -> &'static str {
    "extracted, never locked"
}

async fn user(session: SessionHandle) -> Result<String, SessionError> {
    let user = session.lock().get_as::<String>("user")?;
    Ok(user.unwrap_or_else(|| "anonymous".to_owned()))
}

async fn visit(session: SessionHandle) -> Result<String, SessionError> {
    let mut s = session.lock();
    *s.visits_mut()? += 1;
    s.flash(Notice::Info("counted".into()))?;
    Ok(s.visits()?.to_string())
}

async fn flashes(session: SessionHandle) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.lock().pop_flashes::<Notice>()?))
}

async fn fail(session: SessionHandle) -> StatusCode {
    session.lock().insert("attempted", true);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn big(session: SessionHandle) -> &'static str {
    session.lock().insert("blob", "x".repeat(5000));
    "stored"
}

async fn broken(session: SessionHandle) -> &'static str {
    let mut s = session.lock();
    *s.visits_mut().unwrap() += 1;
    s.fragile_mut().unwrap().broken = true;
    "looks fine"
}

async fn logout(session: SessionHandle) -> &'static str {
    session.lock().invalidate();
    "bye"
}

async fn around(session: SessionHandle, request: Request, next: Next) -> Response {
    {
        let mut s = session.lock();
        let seen = s.get_as::<u64>("seen").unwrap().unwrap_or(0);
        s.insert("seen", seen + 1);
    }
    let mut response = next.run(request).await;
    let handled = session.lock().get("handled").cloned();
    let handled = handled.map_or("none".to_owned(), |v| v.to_string());
    response
        .headers_mut()
        .insert("x-handled", handled.parse().unwrap());
    response
}

async fn shared(session: SessionHandle) -> String {
    let mut s = session.lock();
    s.insert("handled", "yes");
    s.get("seen").map_or("unseen".to_owned(), |v| v.to_string())
}

/// Outside the layer: a save outcome the layer surfaced, as header `x-saved`.
async fn tell_saved(mut response: Response) -> Response {
    if let Some(saved) = response.extensions().get::<Saved>() {
        let value = saved_header(saved).parse().unwrap();
        response.headers_mut().insert("x-saved", value);
    }
    if let Some(overflow) = response.extensions().get::<Overflow>() {
        let value = overflow.to_string().parse().unwrap();
        response.headers_mut().insert("x-overflow", value);
    }
    response
}
