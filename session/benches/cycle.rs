//! What a request pays for its session, next to the floor no design can avoid.
//!
//! `cargo bench -p session --bench cycle`

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use session::HashAlg;
use sha2::Sha512;

mod fixtures;
use fixtures::{Item, SIZES, cookie_of_size, factory, item};

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
                |session| black_box(session.get_as::<Vec<Item>>("cart").unwrap()),
                BatchSize::SmallInput,
            )
        });

        group.bench_function("typed_mutate_save", |b| {
            b.iter_batched_ref(
                || factory.load_value(Some(&cookie)),
                |session| {
                    let mut cart: Vec<Item> = session.get_as("cart").unwrap().unwrap();
                    cart[0].qty += 1;
                    session.insert_as("cart", &cart).unwrap();
                    black_box(factory.encode(session).unwrap())
                },
                BatchSize::SmallInput,
            )
        });

        // A typical request: read who the user is, change one small value, save.
        group.bench_function("cycle", |b| {
            b.iter(|| {
                let mut session = factory.load_value(Some(black_box(&cookie)));
                let user: Option<u64> = session.get_as("user_id").unwrap();
                black_box(user);
                let views: u64 = session.get_as("views").unwrap().unwrap_or(0);
                session.insert_as("views", &(views + 1)).unwrap();
                black_box(factory.encode(&session).unwrap())
            })
        });

        // The heaviest request: change the cart, which is most of the state.
        group.bench_function("cycle_cart", |b| {
            b.iter(|| {
                let mut session = factory.load_value(Some(black_box(&cookie)));
                let mut cart: Vec<Item> = session.get_as("cart").unwrap().unwrap();
                cart.push(item(99));
                cart.pop();
                cart[0].qty += 1;
                session.insert_as("cart", &cart).unwrap();
                black_box(factory.encode(&session).unwrap())
            })
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
