//! Instruction counts of the request cycles in `fixtures` (iai-callgrind, under valgrind):
//! exact and repeatable on a shared machine, where wall time drifts with the load, so the
//! ratios between ours, the floors and the hand-written peer hold from run to run.
//!
//! `bench/instructions` (installs the matching `iai-callgrind-runner` and prints one table),
//! or `cargo bench -p typed-sessions --features compression --bench instructions` once the
//! runner is installed.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hmac::Hmac;
use http::HeaderMap;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use sha2::Sha512;
use typed_sessions::codec::SignedCodec;
use typed_sessions::store::{AnyStore, MemoryStore, SessionStore};
use typed_sessions::{
    HashAlg, ManualClock, Saved, ServerSessionFactory, SignedCookieSessionFactory,
    SpillingSessionFactory,
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

/// The state of the fallback rows: a cart of about 5 KiB of JSON, over what one cookie holds
/// (4064 bytes of value), so a save must compress, chunk or spill it.
const OVERSIZED: usize = 5 * 1024;

/// A cookie factory with this crate's defaults (not Pyramid's, which refuse the fallbacks).
fn fallback_builder() -> typed_sessions::Builder<typed_sessions::SignedKeys> {
    SignedCookieSessionFactory::builder(fixtures::SECRET)
        .clock(ManualClock::new(fixtures::NOW))
        .reissue_time(None)
}

/// A cookie factory and the `Cookie` header of a request carrying a session of `size`
/// bytes of state through it.
struct CookieInput {
    factory: SignedCookieSessionFactory,
    request: HeaderMap,
}

fn cookie_input(factory: SignedCookieSessionFactory, size: usize) -> CookieInput {
    let session = fixtures::session_of_size(size);
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).unwrap();
    let request = request_of(&response);
    black_box(cookie_cycle(&factory, &request));
    CookieInput { factory, request }
}

/// The `Cookie` header a browser sends after `response`.
fn request_of(response: &HeaderMap) -> HeaderMap {
    let pairs: Vec<&str> = response
        .get_all("set-cookie")
        .iter()
        .map(|line| line.to_str().unwrap().split(';').next().unwrap())
        .filter(|pair| !pair.ends_with('='))
        .collect();
    let mut request = HeaderMap::new();
    request.insert("cookie", pairs.join("; ").parse().unwrap());
    request
}

/// `cycle` through a factory that reads the whole `Cookie` header (chunks included).
fn cookie_cycle(factory: &SignedCookieSessionFactory, request: &HeaderMap) -> HeaderMap {
    let mut session = factory.load(request);
    black_box(session.user_id().unwrap());
    *session.views_mut().unwrap() += 1;
    let mut headers = HeaderMap::new();
    factory.save(&session, &mut headers).unwrap();
    headers
}

// The cycle at 2.8 KiB under this crate's defaults, where no fallback is needed: what the
// fallback rows compare with.
#[library_benchmark]
#[bench::b2k8(cookie_input(fallback_builder().build().unwrap(), 2870))]
fn fallback_none(input: CookieInput) -> HeaderMap {
    black_box(cookie_cycle(&input.factory, &input.request))
}

// A 5 KiB state that compresses into one cookie (`compress(true)`).
#[library_benchmark]
#[bench::b5k(cookie_input(fallback_builder().compress(true).build().unwrap(), OVERSIZED))]
fn fallback_compressed(input: CookieInput) -> HeaderMap {
    black_box(cookie_cycle(&input.factory, &input.request))
}

// The same state in two chunks (`chunks(3)`, no compression).
#[library_benchmark]
#[bench::b5k(cookie_input(fallback_builder().chunks(3).build().unwrap(), OVERSIZED))]
fn fallback_chunked(input: CookieInput) -> HeaderMap {
    black_box(cookie_cycle(&input.factory, &input.request))
}

/// A spilled session on a memory store, and the request carrying its id cookie.
struct SpillInput {
    factory: SpillingSessionFactory<SignedCodec, MemoryStore>,
    request: HeaderMap,
}

fn spill_input(size: usize) -> SpillInput {
    let server = ServerSessionFactory::builder(fixtures::SECRET, MemoryStore::new())
        .clock(ManualClock::new(fixtures::NOW))
        .cookie_name("session-id")
        .reissue_time(None)
        .build()
        .unwrap();
    let factory = SpillingSessionFactory::new(fallback_builder().build().unwrap(), server).unwrap();
    // Made by the factory, so the session's times are its clock's.
    let mut session = ready(factory.load(&HeaderMap::new())).unwrap();
    for (key, value) in fixtures::session_of_size(size).iter() {
        session.insert(key, value.clone());
    }
    let mut response = HeaderMap::new();
    ready(factory.save(&session, &mut response)).unwrap();
    let request = request_of(&response);
    assert!(
        request["cookie"]
            .to_str()
            .unwrap()
            .starts_with("session-id=")
    );
    let views = |factory: &SpillingSessionFactory<SignedCodec, MemoryStore>| {
        *ready(factory.load(&request)).unwrap().views_mut().unwrap()
    };
    let before = views(&factory);
    assert_eq!(spill_cycle(&factory, &request), Saved::Written);
    assert_eq!(views(&factory), before + 1, "the spilled session was saved");
    SpillInput { factory, request }
}

fn spill_cycle(
    factory: &SpillingSessionFactory<SignedCodec, MemoryStore>,
    request: &HeaderMap,
) -> Saved {
    let mut session = ready(factory.load(request)).unwrap();
    black_box(session.user_id().unwrap());
    *session.views_mut().unwrap() += 1;
    let mut response = HeaderMap::new();
    ready(factory.save(&session, &mut response)).unwrap()
}

// The same state spilled to a memory store: the cookie tried first, then a partial save.
#[library_benchmark]
#[bench::b5k(spill_input(OVERSIZED))]
fn fallback_spilled(input: SpillInput) -> Saved {
    black_box(spill_cycle(&input.factory, &input.request))
}

library_benchmark_group!(
    name = fallbacks;
    benchmarks = fallback_none, fallback_compressed, fallback_chunked, fallback_spilled
);

library_benchmark_group!(
    name = requests;
    benchmarks = cycle, crypto_floor, handwritten_floor, cycle_cart, handwritten_cart
);

library_benchmark_group!(
    name = stores;
    benchmarks = store_memory, store_memory_checked, store_any_memory
);

main!(library_benchmark_groups = requests, stores, fallbacks);
