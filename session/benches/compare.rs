//! One request cycle (load, typed read, mutate, save) measured for this crate and for what
//! an axum user writes by hand today (`cookie`'s `SignedJar` + `serde_json` into a struct),
//! on the same payloads. Prints one JSON line per measurement, and writes the cookies to
//! `target/bench-cookies.json` for the Pyramid side of `bench/compare`.
//!
//! `cargo bench -p session --bench compare`

use std::hint::black_box;
use std::time::{Duration, Instant};

use cookie::{Cookie, CookieJar, Key};
use serde::{Deserialize, Serialize};
use session::HashAlg;

mod fixtures;
use fixtures::{BenchSessionExt, Item, SIZES, cookie_of_size, factory, session_of_size};

/// The typed struct a hand-written app would keep in its cookie.
#[derive(Serialize, Deserialize)]
struct HandState {
    user_id: u64,
    views: u64,
    #[serde(rename = "_csrft_")]
    csrf: String,
    #[serde(rename = "_f_success", default)]
    flash: Vec<String>,
    cart: Vec<Item>,
}

/// Median nanoseconds per call of `f`, over 15 batches of about 50 ms each.
fn measure(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calibration = 0u64;
    while start.elapsed() < Duration::from_millis(50) {
        f();
        calibration += 1;
    }
    let per_batch = calibration.max(10);
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let mut cookies = serde_json::Map::new();
    for (label, size) in SIZES {
        for alg in [HashAlg::Sha512, HashAlg::Sha256] {
            let factory = factory(alg);
            let cookie = cookie_of_size(&factory, size);
            let ns = measure(|| {
                let mut session = factory.load_value(Some(black_box(&cookie)));
                black_box(session.user_id().unwrap());
                *session.views_mut().unwrap() += 1;
                let mut headers = http::HeaderMap::new();
                factory.save(&session, &mut headers).unwrap();
                black_box(headers);
            });
            println!(r#"{{"impl": "session", "hash": "{alg}", "size": "{label}", "ns": {ns:.0}}}"#);
            cookies.insert(format!("{label}/{alg}"), cookie.into());
        }

        // The hand-written peer: SignedJar (HMAC-SHA256) around serde_json of a struct.
        let key = Key::derive_from(fixtures::SECRET.as_bytes());
        let state = session_of_size(size).state_json().unwrap();
        let mut jar = CookieJar::new();
        jar.signed_mut(&key).add(Cookie::new("session", state));
        let signed = jar.get("session").unwrap().value().to_owned();
        let ns = measure(|| {
            let mut request = CookieJar::new();
            request.add_original(Cookie::new("session", black_box(signed.clone())));
            let value = request.signed(&key).get("session").unwrap();
            let mut state: HandState = serde_json::from_str(value.value()).unwrap();
            black_box(state.user_id);
            state.views += 1;
            let json = serde_json::to_string(&state).unwrap();
            request.signed_mut(&key).add(Cookie::new("session", json));
            black_box(request.delta().next().unwrap().to_string());
        });
        println!(
            r#"{{"impl": "signedjar+serde_json", "hash": "sha256", "size": "{label}", "ns": {ns:.0}}}"#
        );
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cookies.json");
    let record = serde_json::json!({
        "secret": fixtures::SECRET,
        "now": fixtures::NOW,
        "cookies": cookies,
    });
    std::fs::write(&path, record.to_string()).expect("target/ is writable");
}
