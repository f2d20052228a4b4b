//! Wall time of what a request pays for its session, next to the floor no design can avoid
//! and what a user writes by hand (criterion, medians). `benches/instructions.rs` counts the
//! instructions of the same functions, which do not drift with the machine's load.
//!
//! `cargo bench -p typed-sessions --bench cycle`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use typed_sessions::HashAlg;

mod fixtures;
use fixtures::{BenchSessionExt, SIZES, cookie_of_size, factory};

fn benches(c: &mut Criterion) {
    let factory = factory(HashAlg::Sha512);
    let keyed = fixtures::keyed_mac();
    for (label, size) in SIZES {
        let cookie = cookie_of_size(&factory, size);
        fixtures::check_same_output(&factory, &cookie);
        let mut group = c.benchmark_group(label);

        group.bench_function("cycle", |b| {
            b.iter(|| fixtures::cycle(&factory, black_box(&cookie)))
        });
        group.bench_function("crypto_floor", |b| {
            b.iter(|| fixtures::crypto_floor(&keyed, black_box(&cookie)))
        });
        group.bench_function("handwritten_floor", |b| {
            b.iter(|| fixtures::handwritten_floor(&keyed, black_box(&cookie)))
        });
        group.bench_function("cycle_cart", |b| {
            b.iter(|| fixtures::cycle_cart(&factory, black_box(&cookie)))
        });
        group.bench_function("handwritten_cart", |b| {
            b.iter(|| fixtures::handwritten_cart(&keyed, black_box(&cookie)))
        });

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
