//! A whole `Cookie` header of arbitrary bytes: header parsing, base64, signature check.
#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use typed_sessions::{LoadOutcome, SignedCookieSessionFactory};

static FACTORY: LazyLock<SignedCookieSessionFactory> = LazyLock::new(|| {
    SignedCookieSessionFactory::builder("fuzzing secret of thirty-two bytes!!")
        .timeout(None)
        .build()
        .unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("cookie", value);
    let session = FACTORY.load(&headers);
    if session.load_outcome() == LoadOutcome::Loaded {
        let _ = session.state_json();
    }
});
