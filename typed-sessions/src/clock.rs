//! Where a factory reads the time: the system clock, or a clock a test controls.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in Unix seconds. Factories own one, so tests can move time.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in (possibly fractional) seconds since the Unix epoch.
    fn now(&self) -> f64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        system_now()
    }
}

pub(crate) fn system_now() -> f64 {
    // A clock before 1970 is a broken machine; reading it as the epoch keeps sessions working.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use typed_sessions::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_700_000_000.0);
/// let handle = clock.clone();
/// handle.advance(30.0);
/// assert_eq!(clock.now(), 1_700_000_030.0);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<f64>>);

impl ManualClock {
    /// A clock stopped at `now` (Unix seconds).
    pub fn new(now: f64) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: f64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += seconds;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
