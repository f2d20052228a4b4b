//! A codec of the user's own, through the factory and the axum layer: the `Migrate` codec of
//! the `typed_sessions::codec` docs, moving an app from signed to encrypted cookies without logging
//! anybody out.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use tower::ServiceExt;
use typed_sessions::axum::{SessionHandle, SessionLayer};
use typed_sessions::codec::{CookieCodec, EncryptedCodec, HashAlg, Opened, SignedCodec};
use typed_sessions::{
    CookieSessionFactory, LoadOutcome, ManualClock, Rejection, SameSite, SessionError,
};

const SECRET: &str = "the signing secret of the old deploy, 32+ bytes";
const KEY: [u8; 32] = *b"the encryption key of the new!!!";
const NOW: f64 = 1_700_000_000.0;

/// Seals with `new`; opens values of `new` or of `old`, and has those of `old` re-sealed.
struct Migrate<New, Old> {
    new: New,
    old: Old,
}

impl<New: CookieCodec, Old: CookieCodec> CookieCodec for Migrate<New, Old> {
    fn seal(&self, payload: &[u8]) -> Result<String, typed_sessions::SessionError> {
        self.new.seal(payload)
    }

    fn open(&self, value: &str) -> Result<Opened, Rejection> {
        self.new
            .open(value)
            .or_else(|new_says| match self.old.open(value) {
                Ok(opened) => Ok(Opened {
                    stale_key: true,
                    ..opened
                }),
                Err(_) => Err(new_says),
            })
    }
}

type Migrating = Migrate<EncryptedCodec, SignedCodec>;

fn signed() -> SignedCodec {
    SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512)
}

fn factory() -> Arc<CookieSessionFactory<Migrating>> {
    let codec = Migrate {
        new: EncryptedCodec::new(KEY).unwrap(),
        old: signed(),
    };
    Arc::new(
        CookieSessionFactory::with_codec(codec)
            .clock(ManualClock::new(NOW))
            .samesite(SameSite::Strict)
            .build()
            .unwrap(),
    )
}

async fn whoami(session: SessionHandle) -> Result<String, SessionError> {
    let s = session.lock();
    Ok(format!(
        "{} {:?}",
        s.get_as::<u64>("user_id")?.unwrap_or(0),
        s.load_outcome()
    ))
}

fn request(cookie: Option<&str>) -> Request {
    let mut builder = Request::get("/");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", format!("session={cookie}"));
    }
    builder.body(Body::empty()).unwrap()
}

fn cookie_value(response: &Response) -> Option<String> {
    let header = response.headers().get("set-cookie")?.to_str().unwrap();
    assert!(
        header.contains("SameSite=Strict"),
        "the factory's options apply: {header}"
    );
    let pair = header.split(';').next().unwrap();
    Some(pair.trim_start_matches("session=").to_owned())
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_custom_codec_migrates_signed_cookies_to_encrypted_ones_through_the_layer() {
    let factory = factory();
    let app = Router::new()
        .route("/", get(whoami))
        .layer(SessionLayer::from_arc(Arc::clone(&factory)));

    // A cookie of the old, signed deploy.
    let old_value = signed()
        .seal(br#"[1700000000, 1700000000, {"user_id": 7}]"#)
        .unwrap();

    let response = app
        .clone()
        .oneshot(request(Some(&old_value)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let new_value = cookie_value(&response).expect("a stale cookie is re-sealed");
    assert_eq!(body(response).await, "7 LoadedWithOldSecret");

    // The new cookie is encrypted: the signed codec cannot open it, the encrypted one can.
    assert_eq!(signed().open(&new_value), Err(Rejection::BadSignature));
    let encrypted = EncryptedCodec::new(KEY).unwrap();
    assert!(!encrypted.open(&new_value).unwrap().stale_key);

    // Next request: loads as current, and only reading it at the same second writes nothing.
    let response = app
        .clone()
        .oneshot(request(Some(&new_value)))
        .await
        .unwrap();
    assert_eq!(cookie_value(&response), None);
    assert_eq!(body(response).await, "7 Loaded");

    // Anything else is a fresh session, with the encrypted codec's reason (`short`: 5 bytes).
    let response = app.oneshot(request(Some("c2hvcnQ"))).await.unwrap();
    assert_eq!(
        body(response).await,
        format!("0 {:?}", LoadOutcome::Rejected(Rejection::TooShort))
    );
}
