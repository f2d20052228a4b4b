//! Allocations per request cycle, counted by a global allocator: a count, not a timing, so
//! it is exact on any machine. Run with `--nocapture` to see the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use typed_sessions::{ManualClock, Session, SignedCookieSessionFactory};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    ALLOCATIONS.with(|n| n.set(n.get() + 1));
}

// SAFETY: delegates to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// A 1 KiB state like the benchmarks': user id, counter, CSRF token, a flash, a cart.
fn cookie(factory: &SignedCookieSessionFactory) -> String {
    let cart: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "name": format!("Product number {i}"), "qty": 1, "price_cents": 199}))
        .collect();
    let mut session = Session::new();
    session.insert("user_id", 48_213);
    session.insert("views", 17);
    session.insert("_csrft_", "0123456789abcdef0123456789abcdef01234567");
    session.flash_to("success", "Welcome back!").unwrap();
    session.insert("cart", cart);
    let state = session.state_json().unwrap();
    assert!((900..1100).contains(&state.len()), "{}", state.len());
    factory
        .encode(&Session::from_json(&state, 1_700_000_000.0, 1_699_999_000.0).unwrap())
        .unwrap()
}

#[test]
fn allocations_per_cycle_are_few_and_fixed() {
    let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
        .clock(ManualClock::new(1_700_000_000.0))
        .build()
        .unwrap();
    let cookie = cookie(&factory);
    // What a request does: load the cookie, read, write one value, and `save` into the
    // response headers (the `Set-Cookie` header included), as the axum layer calls it.
    let cycle = || {
        let mut session = factory.load_value(Some(&cookie));
        let user: Option<u64> = session.get_as("user_id").unwrap();
        let views: u64 = session.get_as("views").unwrap().unwrap_or(0);
        session.insert_as("views", &(views + 1)).unwrap();
        let mut response = http::HeaderMap::new();
        let saved = factory.save(&session, &mut response).unwrap();
        assert_eq!(saved, typed_sessions::Saved::Written);
        (user, response)
    };
    let (load, _) = count(|| factory.load_value(Some(&cookie)));
    let (total, (_, response)) = count(cycle);
    let (again, _) = count(cycle);
    assert!(response.contains_key("set-cookie"));
    println!("allocations: load {load}, whole cycle {total}");
    assert_eq!(total, again, "the count is deterministic");
    // A fixed handful, whatever the number of keys and items: load the decoded bytes, the
    // scanner's key list, the state's slots; the written value; save the payload JSON, the
    // signed bytes, their base64, the `Set-Cookie` text and its shared `Bytes`, and the
    // response map's two tables.
    assert!(
        total <= ALLOCATIONS_PER_CYCLE,
        "{total} allocations per cycle"
    );
}

/// The bound the README states, checked here.
const ALLOCATIONS_PER_CYCLE: usize = 11;

#[test]
fn saving_an_unchanged_session_allocates_nothing() {
    let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
        .clock(ManualClock::new(1_700_000_000.0))
        .build()
        .unwrap();
    let cookie = cookie(&factory);
    let session = factory.load_value(Some(&cookie));
    let mut headers = http::HeaderMap::new();
    let (n, saved) = count(|| factory.save(&session, &mut headers).unwrap());
    assert_eq!(saved, typed_sessions::Saved::Unchanged);
    assert_eq!(n, 0);
}
