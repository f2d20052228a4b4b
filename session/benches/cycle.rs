//! What a request pays for its session, next to the floor no design can avoid.
//!
//! `cargo bench -p session --bench cycle`

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use session::HashAlg;
use sha2::Sha512;

mod fixtures;
use fixtures::{BenchSessionExt, SIZES, cookie_of_size, factory};

fn benches(c: &mut Criterion) {
    let factory = factory(HashAlg::Sha512);
    for (label, size) in SIZES {
        let cookie = cookie_of_size(&factory, size);
        let mut group = c.benchmark_group(label);

        group.bench_function("load", |b| {
            b.iter(|| black_box(factory.load_value(Some(black_box(&cookie)))))
        });

        group.bench_function("typed_read", |b| {
            b.iter_batched_ref(
                || factory.load_value(Some(&cookie)),
                |session| black_box(session.user_id().unwrap()),
                BatchSize::SmallInput,
            )
        });

        group.bench_function("typed_mutate_save", |b| {
            b.iter_batched_ref(
                || factory.load_value(Some(&cookie)),
                |session| {
                    *session.views_mut().unwrap() += 1;
                    let mut headers = HeaderMap::new();
                    factory.save(session, &mut headers).unwrap();
                    black_box(headers)
                },
                BatchSize::SmallInput,
            )
        });

        // A typical request: read who the user is, change one small value, save.
        group.bench_function("cycle", |b| {
            b.iter(|| {
                let mut session = factory.load_value(Some(black_box(&cookie)));
                black_box(session.user_id().unwrap());
                *session.views_mut().unwrap() += 1;
                let mut headers = HeaderMap::new();
                factory.save(&session, &mut headers).unwrap();
                black_box(headers)
            })
        });

        // The heaviest request: change the cart, which is most of the state.
        group.bench_function("cycle_cart", |b| {
            b.iter(|| {
                let mut session = factory.load_value(Some(black_box(&cookie)));
                session.cart_mut().unwrap()[0].qty += 1;
                let mut headers = HeaderMap::new();
                factory.save(&session, &mut headers).unwrap();
                black_box(headers)
            })
        });

        // A request whose handler never touches its session: with the axum layer the
        // cookie is not even looked at (proved by a count in tests/tests/axum_layer.rs);
        // what is left is finding the cookie header.
        group.bench_function("untouched", |b| {
            let mut request = HeaderMap::new();
            request.insert("cookie", format!("session={cookie}").parse().unwrap());
            b.iter(|| black_box(black_box(&request).get("cookie").is_some()))
        });

        let key = [b"pyramid.session.".as_slice(), fixtures::SECRET.as_bytes()].concat();
        let keyed = Hmac::<Sha512>::new_from_slice(&key).unwrap();
        group.bench_function("crypto_floor", |b| {
            b.iter(|| {
                let raw = URL_SAFE_NO_PAD.decode(black_box(&cookie)).unwrap();
                let (tag, payload) = raw.split_at(64);
                let mut mac = keyed.clone();
                mac.update(payload);
                mac.verify_slice(tag).unwrap();
                let mut mac = keyed.clone();
                mac.update(payload);
                let mut out = mac.finalize().into_bytes().to_vec();
                out.extend_from_slice(payload);
                black_box(URL_SAFE_NO_PAD.encode(out))
            })
        });

        group.bench_function("naive_floor", |b| {
            b.iter(|| {
                let raw = URL_SAFE_NO_PAD.decode(black_box(&cookie)).unwrap();
                let (tag, payload) = raw.split_at(64);
                let mut mac = keyed.clone();
                mac.update(payload);
                mac.verify_slice(tag).unwrap();
                let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
                let payload = serde_json::to_vec(black_box(&value)).unwrap();
                let mut mac = keyed.clone();
                mac.update(&payload);
                let mut out = mac.finalize().into_bytes().to_vec();
                out.extend_from_slice(&payload);
                black_box(URL_SAFE_NO_PAD.encode(out))
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = cycle;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(cycle);
