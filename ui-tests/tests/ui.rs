//! Compile-fail cases (`ui/<topic>/*.rs`, each with the `.stderr` it must produce) and
//! compile-pass cases (`pass/*.rs`) for `#[derive(SessionSchema)]` and `#[flash_queue]`.
//! See `DEVELOPMENT.md` to regenerate the `.stderr` files.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
    t.pass("tests/pass/*.rs");
}
