//! An arbitrary cookie value opened by the encrypted codec: base64, nonce, authentication.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use typed_sessions::{EncryptedCookieSessionFactory, EncryptionKey, LoadOutcome};

static FACTORY: LazyLock<EncryptedCookieSessionFactory> = LazyLock::new(|| {
    EncryptedCookieSessionFactory::builder(EncryptionKey::from_bytes([7u8; 32]))
        .timeout(None)
        .build()
        .unwrap()
});

fuzz_target!(|value: &str| {
    let session = FACTORY.load_value(Some(value));
    // Random bytes never authenticate: anything that loads was sealed by this key.
    assert!(!matches!(session.load_outcome(), LoadOutcome::Loaded));
});
