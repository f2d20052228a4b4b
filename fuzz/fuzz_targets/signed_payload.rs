//! Arbitrary payload bytes, validly signed, so every input reaches the payload parser and
//! the session built from it: parse, read every key, write a key, save, load again.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use typed_sessions::codec::CookieCodec;
use typed_sessions::{LoadOutcome, SignedCookieSessionFactory};

static FACTORY: LazyLock<SignedCookieSessionFactory> = LazyLock::new(|| {
    SignedCookieSessionFactory::builder("fuzzing secret of thirty-two bytes!!")
        .timeout(None)
        .build()
        .unwrap()
});

fuzz_target!(|payload: &[u8]| {
    let value = FACTORY
        .codec()
        .seal(payload)
        .expect("signing draws no randomness");
    let mut session = FACTORY.load_value(Some(&value));
    if session.load_outcome() != LoadOutcome::Loaded {
        return;
    }
    let keys: Vec<String> = session.keys().map(str::to_owned).collect();
    for key in &keys {
        let _ = session.get(key);
        let _ = session.get_as::<Vec<String>>(key);
    }
    let _ = session.flash("fuzz");
    session.insert("fuzz", 1);
    if let Ok(saved) = FACTORY.encode(&session) {
        let again = FACTORY.load_value(Some(&saved));
        assert_eq!(again.load_outcome(), LoadOutcome::Loaded, "a saved session loads");
        assert_eq!(again.keys().count(), session.keys().count());
    }
});
