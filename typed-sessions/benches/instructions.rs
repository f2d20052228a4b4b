//! Instruction counts of the request cycles in `fixtures` (iai-callgrind, under valgrind):
//! exact and repeatable on a shared machine, where wall time drifts with the load, so the
//! ratios between ours, the floors and the hand-written peer hold from run to run.
//!
//! `bench/instructions` (installs the matching `iai-callgrind-runner` and prints one table),
//! or `cargo bench -p typed-sessions --bench instructions` once the runner is installed.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hmac::Hmac;
use http::HeaderMap;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use sha2::Sha512;
use typed_sessions::store::{AnyStore, MemoryStore, SessionStore};
use typed_sessions::{
    HashAlg, ManualClock, Saved, ServerSessionFactory, SignedCookieSessionFactory,
};

mod fixtures;

use fixtures::BenchSessionExt;

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

/// A server-side session on a store, and the `Cookie` header of a request that carries it.
struct StoreInput<S> {
    factory: ServerSessionFactory<S>,
    request: HeaderMap,
}

/// The memory store's futures are ready at once: polled once, with no runtime to count.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

/// A session of `size` bytes of state saved in `store`, and a request carrying its id.
fn store_input<S: SessionStore>(store: S, size: usize) -> StoreInput<S> {
    let factory = ServerSessionFactory::builder(fixtures::SECRET, store)
        .clock(ManualClock::new(fixtures::NOW))
        .build()
        .unwrap();
    let state = fixtures::session_of_size(size);
    let mut session = ready(factory.load(&HeaderMap::new())).unwrap();
    for (key, value) in state.iter() {
        session.insert(key, value.clone());
    }
    let mut response = HeaderMap::new();
    assert_eq!(
        ready(factory.save(&session, &mut response)).unwrap(),
        Saved::Written
    );
    let pair = response["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut request = HeaderMap::new();
    request.insert("cookie", pair.parse().unwrap());
    // One warm cycle, so lazy one-time work is not counted.
    black_box(store_cycle(&factory, &request));
    StoreInput { factory, request }
}

/// `cycle` on a server-side session: load the record, read the user, bump `views`, save
/// the one changed key.
fn store_cycle<S: SessionStore>(factory: &ServerSessionFactory<S>, request: &HeaderMap) -> Saved {
    let mut session = ready(factory.load(request)).unwrap();
    black_box(session.user_id().unwrap());
    *session.views_mut().unwrap() += 1;
    let mut response = HeaderMap::new();
    ready(factory.save(&session, &mut response)).unwrap()
}

// The server-side cycle on a `MemoryStore`, the concrete type.
#[library_benchmark]
#[bench::b1k(store_input(MemoryStore::new(), 1024))]
fn store_memory(input: StoreInput<MemoryStore>) -> Saved {
    black_box(store_cycle(&input.factory, &input.request))
}

/// `views` as a field with a merge policy (what `#[session(merge = add)]` generates), so
/// that its save carries a conflict check ([`Commit::expect`](typed_sessions::store::Commit::expect)).
const CHECKED_VIEWS: typed_sessions::__private::Field<u64> =
    typed_sessions::__private::field::<u64>("views").merge_conflicts(merge_views);

fn add(base: u64, ours: u64, theirs: u64) -> u64 {
    theirs + ours - base
}

fn merge_views(
    base: Option<&str>,
    ours: Option<&str>,
    theirs: Option<&str>,
) -> Result<Option<String>, typed_sessions::SessionError> {
    typed_sessions::__private::merge(&CHECKED_VIEWS, add, base, ours, theirs)
}

/// [`store_cycle`] with `views` bumped through [`CHECKED_VIEWS`]: the save expects the
/// loaded `views`, which the store compares before it writes.
fn store_cycle_checked<S: SessionStore>(
    factory: &ServerSessionFactory<S>,
    request: &HeaderMap,
) -> Saved {
    let mut session = ready(factory.load(request)).unwrap();
    black_box(session.user_id().unwrap());
    let views = CHECKED_VIEWS.read(&session).unwrap();
    CHECKED_VIEWS.write(&mut session, &(views + 1)).unwrap();
    let mut response = HeaderMap::new();
    ready(factory.save(&session, &mut response)).unwrap()
}

// `store_memory` with a conflict check on the changed key (no conflict: one request).
#[library_benchmark]
#[bench::b1k(store_input(MemoryStore::new(), 1024))]
fn store_memory_checked(input: StoreInput<MemoryStore>) -> Saved {
    black_box(store_cycle_checked(&input.factory, &input.request))
}

// The same cycle on the same store through `AnyStore`, as an app that picks its store at
// run time has it.
#[library_benchmark]
#[bench::b1k(store_input(AnyStore::from(MemoryStore::new()), 1024))]
fn store_any_memory(input: StoreInput<AnyStore>) -> Saved {
    black_box(store_cycle(&input.factory, &input.request))
}

library_benchmark_group!(
    name = requests;
    benchmarks = cycle, crypto_floor, handwritten_floor, cycle_cart, handwritten_cart
);

library_benchmark_group!(
    name = stores;
    benchmarks = store_memory, store_memory_checked, store_any_memory
);

main!(library_benchmark_groups = requests, stores);
