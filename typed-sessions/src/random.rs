//! The operating system's random source: the one place the crate draws randomness (CSRF
//! tokens, session ids, nonces) and writes it as hex, so that a failure is an error a
//! request can answer, never a panic. Tests make it fail on purpose: the crate's own, and an
//! app's through `testing::failing_random_source` (feature `testing`).

use crate::error::SessionError;

/// Fills `bytes` from the operating system's random source.
pub(crate) fn fill(bytes: &mut [u8]) -> Result<(), SessionError> {
    #[cfg(any(test, feature = "testing"))]
    if failing::active() {
        return Err(SessionError::random_source(getrandom::Error::UNEXPECTED));
    }
    getrandom::fill(bytes).map_err(SessionError::random_source)
}

/// `N` random bytes as `2 * N` lowercase hex characters: CSRF tokens (20 bytes, as
/// Pyramid's) and server-side session ids (32 bytes).
pub(crate) fn hex_token<const N: usize>() -> Result<String, SessionError> {
    let mut bytes = [0u8; N];
    fill(&mut bytes)?;
    Ok(to_hex(&bytes))
}

/// A new server-side session id: 256 random bits as 64 lowercase hex characters.
pub(crate) fn session_id() -> Result<String, SessionError> {
    hex_token::<SESSION_ID_BYTES>()
}

const SESSION_ID_BYTES: usize = 32;

/// Whether `id` has the shape of an id from [`session_id`].
pub(crate) fn is_session_id(id: &[u8]) -> bool {
    id.len() == 2 * SESSION_ID_BYTES && id.iter().all(|b| HEX.contains(b))
}

/// `bytes` in lowercase hex: the crate's one hex encoder.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    text
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Makes [`fill`] fail on this thread while a guard from [`failing::start`] lives. A
/// thread-local, so that tests running at the same time on other threads are not disturbed;
/// a count, so that guards may nest.
#[cfg(any(test, feature = "testing"))]
pub(crate) mod failing {
    use std::cell::Cell;
    use std::marker::PhantomData;

    thread_local! {
        static GUARDS: Cell<usize> = const { Cell::new(0) };
    }

    /// Whether a guard lives on this thread.
    pub(super) fn active() -> bool {
        GUARDS.get() > 0
    }

    /// The random source fails on this thread until the guard drops.
    pub(crate) fn start() -> Guard {
        GUARDS.set(GUARDS.get() + 1);
        Guard(PhantomData)
    }

    /// Not `Send`: the failure belongs to the thread that started it, and so must its end.
    pub(crate) struct Guard(PhantomData<*const ()>);

    impl Drop for Guard {
        fn drop(&mut self) {
            GUARDS.set(GUARDS.get() - 1);
        }
    }
}
