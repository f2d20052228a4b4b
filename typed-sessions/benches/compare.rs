//! One request cycle measured for this crate and for what an axum user writes by hand today
//! (`cookie`'s `SignedJar` + `serde_json` into a struct, with the percent-encoding a valid
//! `Set-Cookie` needs, as axum-extra's `SignedCookieJar` does it; and, for SHA-512, the
//! crypto floor and the hand-written typed floor of `cycle.rs`), on the same payloads and
//! two workloads: `views` (read the user id, bump a counter) and `cart` (change the cart,
//! most of the state). Prints one JSON line per measurement, and writes the cookies to
//! `target/bench-cookies.json` for the Pyramid side of `bench/compare`.
//!
//! Times are the measuring thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), as the Pyramid
//! side's (`time.thread_time`): on a shared machine, time spent waiting for a core would
//! otherwise count, and more for whichever side ran while the machine was busier.
//!
//! `cargo bench -p typed-sessions --bench compare`

use std::hint::black_box;
use std::time::Duration;

use cookie::{Cookie, CookieJar, Key, SameSite};
use http::HeaderValue;
use typed_sessions::HashAlg;

mod fixtures;
use fixtures::{HandState, SIZES, cookie_of_size, factory, session_of_size};

/// The CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes the `timespec` it is given and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "the thread CPU clock is readable");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Median CPU nanoseconds per call of `f`, over 15 batches of about 50 ms each.
fn measure(mut f: impl FnMut()) -> f64 {
    // `SMOKE=1` (bench/smoke): a check that every figure is produced, not a measurement.
    let smoke = std::env::var_os("SMOKE").is_some();
    let (calibrate, batches) = if smoke { (1, 3) } else { (50, 15) };
    let start = thread_cpu_time();
    let mut calibration = 0u64;
    while thread_cpu_time() - start < Duration::from_millis(calibrate) {
        f();
        calibration += 1;
    }
    let per_batch = if smoke { 1 } else { calibration.max(10) };
    let mut samples: Vec<f64> = (0..batches)
        .map(|_| {
            let t = thread_cpu_time();
            for _ in 0..per_batch {
                f();
            }
            (thread_cpu_time() - t).as_nanos() as f64 / per_batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The hand-written peer's request: the `Cookie` header parsed and percent-decoded, the
/// signature checked, the JSON into `HandState`, `change`, and the new cookie signed and
/// percent-encoded into a `Set-Cookie` header value.
fn signed_jar(key: &Key, header: &str, change: impl FnOnce(&mut HandState)) -> HeaderValue {
    let mut jar = CookieJar::new();
    for cookie in Cookie::split_parse_encoded(header.to_owned()).flatten() {
        jar.add_original(cookie);
    }
    let value = jar.signed(key).get("session").unwrap();
    let mut state: HandState = serde_json::from_str(value.value()).unwrap();
    change(&mut state);
    let json = serde_json::to_string(&state).unwrap();
    jar.signed_mut(key).add(
        Cookie::build(("session", json))
            .path("/")
            .same_site(SameSite::Lax),
    );
    let cookie = jar.delta().next().unwrap();
    HeaderValue::try_from(cookie.encoded().to_string()).unwrap()
}

fn line(implementation: &str, hash: &str, size: &str, workload: &str, ns: f64) {
    println!(
        r#"{{"impl": "{implementation}", "hash": "{hash}", "size": "{size}", "workload": "{workload}", "ns": {ns:.0}}}"#
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let mut cookies = serde_json::Map::new();
    for (label, size) in SIZES {
        for alg in [HashAlg::Sha512, HashAlg::Sha256] {
            let factory = factory(alg);
            let cookie = cookie_of_size(&factory, size);
            let ns = measure(|| {
                black_box(fixtures::cycle(&factory, black_box(&cookie)));
            });
            line("session", alg.as_str(), label, "views", ns);
            let ns = measure(|| {
                black_box(fixtures::cycle_cart(&factory, black_box(&cookie)));
            });
            line("session", alg.as_str(), label, "cart", ns);
            if alg == HashAlg::Sha512 {
                // The floors of `cycle.rs` in this harness: what no design avoids (the same
                // for both workloads: no JSON), and the same request written by hand.
                let keyed = fixtures::keyed_mac();
                let ns = measure(|| {
                    black_box(fixtures::crypto_floor(&keyed, black_box(&cookie)));
                });
                line("crypto floor", "sha512", label, "views", ns);
                line("crypto floor", "sha512", label, "cart", ns);
                let ns = measure(|| {
                    black_box(fixtures::handwritten_floor(&keyed, black_box(&cookie)));
                });
                line("hand-written typed", "sha512", label, "views", ns);
                let ns = measure(|| {
                    black_box(fixtures::handwritten_cart(&keyed, black_box(&cookie)));
                });
                line("hand-written typed", "sha512", label, "cart", ns);
            }
            cookies.insert(format!("{label}/{alg}"), cookie.into());
        }

        // The hand-written peer: SignedJar (HMAC-SHA256) around serde_json of a struct.
        let key = Key::derive_from(fixtures::SECRET.as_bytes());
        let state = session_of_size(size).state_json().unwrap();
        let mut jar = CookieJar::new();
        jar.signed_mut(&key).add(Cookie::new("session", state));
        let header = jar.get("session").unwrap().encoded().to_string();
        assert!(
            HeaderValue::try_from(header.as_str()).is_ok(),
            "a valid header"
        );
        let ns = measure(|| {
            black_box(signed_jar(&key, black_box(&header), |state| {
                black_box(state.user_id);
                state.views += 1;
            }));
        });
        line("signedjar+serde_json", "sha256", label, "views", ns);
        let ns = measure(|| {
            black_box(signed_jar(&key, black_box(&header), |state| {
                state.cart[0].qty += 1;
            }));
        });
        line("signedjar+serde_json", "sha256", label, "cart", ns);
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
