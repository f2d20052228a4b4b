//! Arbitrary bytes read by the strict pickle reader: it refuses or reads, never panics and
//! never allocates beyond its budget; whatever it reads, the writer writes back to a pickle
//! that reads to the same value, and every view of it (JSON, serde) works without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use typed_sessions::pickle;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = pickle::loads(bytes) else {
        return;
    };
    let written = pickle::dumps(&value);
    let again = pickle::loads(&written).expect("what the writer writes reads back");
    // Byte equality, so that NaNs compare equal.
    assert_eq!(pickle::dumps(&again), written);
    let _ = value.to_json();
    let _ = value.to_json_exact();
    let _: Result<serde_json::Value, _> = serde::Deserialize::deserialize(&value);
});
