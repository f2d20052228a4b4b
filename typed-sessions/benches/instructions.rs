//! Instruction counts of the request cycles in `fixtures` (iai-callgrind, under valgrind):
//! exact and repeatable on a shared machine, where wall time drifts with the load, so the
//! ratios between ours, the floors and the hand-written peer hold from run to run.
//!
//! `bench/instructions` (installs the matching `iai-callgrind-runner` and prints one table),
//! or `cargo bench -p typed-sessions --bench instructions` once the runner is installed.

use std::hint::black_box;

use hmac::Hmac;
use http::HeaderMap;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use sha2::Sha512;
use typed_sessions::{HashAlg, SignedCookieSessionFactory};

mod fixtures;

/// What every benchmark starts from: the factory, the floors' key and a cookie of `size`
/// bytes of state. Built outside the counted region.
struct Input {
    factory: SignedCookieSessionFactory,
    keyed: Hmac<Sha512>,
    cookie: String,
}

fn input(size: usize) -> Input {
    let factory = fixtures::factory(HashAlg::Sha512);
    let cookie = fixtures::cookie_of_size(&factory, size);
    fixtures::check_same_output(&factory, &cookie);
    // One warm call, so lazy one-time work (CPU feature detection) is not counted.
    black_box(fixtures::cycle(&factory, &cookie));
    Input {
        factory,
        keyed: fixtures::keyed_mac(),
        cookie,
    }
}

#[library_benchmark]
#[bench::b200(input(200))]
#[bench::b1k(input(1024))]
#[bench::b2k8(input(2870))]
fn cycle(input: Input) -> HeaderMap {
    black_box(fixtures::cycle(&input.factory, &input.cookie))
}

#[library_benchmark]
#[bench::b200(input(200))]
#[bench::b1k(input(1024))]
#[bench::b2k8(input(2870))]
fn crypto_floor(input: Input) -> HeaderMap {
    black_box(fixtures::crypto_floor(&input.keyed, &input.cookie))
}

#[library_benchmark]
#[bench::b200(input(200))]
#[bench::b1k(input(1024))]
#[bench::b2k8(input(2870))]
fn handwritten_floor(input: Input) -> HeaderMap {
    black_box(fixtures::handwritten_floor(&input.keyed, &input.cookie))
}

#[library_benchmark]
#[bench::b200(input(200))]
#[bench::b1k(input(1024))]
#[bench::b2k8(input(2870))]
fn cycle_cart(input: Input) -> HeaderMap {
    black_box(fixtures::cycle_cart(&input.factory, &input.cookie))
}

#[library_benchmark]
#[bench::b200(input(200))]
#[bench::b1k(input(1024))]
#[bench::b2k8(input(2870))]
fn handwritten_cart(input: Input) -> HeaderMap {
    black_box(fixtures::handwritten_cart(&input.keyed, &input.cookie))
}

library_benchmark_group!(
    name = requests;
    benchmarks = cycle, crypto_floor, handwritten_floor, cycle_cart, handwritten_cart
);

main!(library_benchmark_groups = requests);
