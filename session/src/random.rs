//! The operating system's random source: the one place the crate draws randomness (CSRF
//! tokens, session ids, nonces), so that a failure is an error a request can answer, never a
//! panic. Tests make it fail on purpose.

use crate::error::SessionError;

/// Fills `bytes` from the operating system's random source.
pub(crate) fn fill(bytes: &mut [u8]) -> Result<(), SessionError> {
    #[cfg(test)]
    if failing::ACTIVE.get() {
        return Err(SessionError::random_source(getrandom::Error::UNEXPECTED));
    }
    getrandom::fill(bytes).map_err(SessionError::random_source)
}

/// Makes [`fill`] fail on this thread while a guard from [`failing::start`] lives.
#[cfg(test)]
pub(crate) mod failing {
    use std::cell::Cell;

    thread_local! {
        pub(super) static ACTIVE: Cell<bool> = const { Cell::new(false) };
    }

    /// The random source fails on this thread until the guard drops.
    pub(crate) fn start() -> Guard {
        ACTIVE.set(true);
        Guard(())
    }

    pub(crate) struct Guard(());

    impl Drop for Guard {
        fn drop(&mut self) {
            ACTIVE.set(false);
        }
    }
}
