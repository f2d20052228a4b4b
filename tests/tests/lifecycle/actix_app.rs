//! The suite's routes on actix-web, served by a one-worker `HttpServer` on its own thread
//! (actix-web runs its own single-threaded runtime).

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use typed_sessions::actix::{SessionHandle, SessionMiddleware};
use typed_sessions::lifecycle::SessionFactory;
use typed_sessions::{FlashExt, Overflow, Saved, SessionError};

use super::{Framework, Notice, SuiteExt, saved_header};

pub struct Actix;

impl Framework for Actix {
    async fn serve<F: SessionFactory>(factory: Arc<F>) -> String {
        serve(SessionMiddleware::from_arc(factory))
    }
}

/// Serves the routes on a thread of their own until the test process ends.
fn serve<F: SessionFactory>(middleware: SessionMiddleware<F>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .wrap(middleware.clone())
                    .wrap(from_fn(tell_saved)) // the last `wrap` is the outermost
                    .route("/untouched", web::get().to(untouched))
                    .route("/handle", web::get().to(handle))
                    .route("/user", web::get().to(user))
                    .route("/visit", web::get().to(visit))
                    .route("/flashes", web::get().to(flashes))
                    .route("/fail", web::get().to(fail))
                    .route("/big", web::get().to(big))
                    .route("/break", web::get().to(broken))
                    .route("/logout", web::get().to(logout))
                    .service(
                        web::resource("/shared")
                            .wrap(from_fn(around))
                            .route(web::get().to(shared)),
                    )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    format!("http://{addr}")
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

async fn fail(session: SessionHandle) -> HttpResponse {
    session.lock().insert("attempted", true);
    HttpResponse::new(StatusCode::INTERNAL_SERVER_ERROR)
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

async fn around(
    session: SessionHandle,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    {
        let mut s = session.lock();
        let seen = s.get_as::<u64>("seen").unwrap().unwrap_or(0);
        s.insert("seen", seen + 1);
    }
    let mut response = next.call(request).await?;
    let handled = session.lock().get("handled").cloned();
    let handled = handled.map_or("none".to_owned(), |v| v.to_string());
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-handled"),
        handled.parse().unwrap(),
    );
    Ok(response)
}

async fn shared(session: SessionHandle) -> String {
    let mut s = session.lock();
    s.insert("handled", "yes");
    s.get("seen").map_or("unseen".to_owned(), |v| v.to_string())
}

/// Outside the middleware: a save outcome it surfaced, as header `x-saved`.
async fn tell_saved(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let saved = response
        .response()
        .extensions()
        .get::<Saved>()
        .map(saved_header);
    if let Some(saved) = saved {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-saved"),
            saved.parse().unwrap(),
        );
    }
    let overflow = response
        .response()
        .extensions()
        .get::<Overflow>()
        .map(ToString::to_string);
    if let Some(overflow) = overflow {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-overflow"),
            overflow.parse().unwrap(),
        );
    }
    Ok(response)
}
