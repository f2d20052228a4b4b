//! The value `pyramid_session_redis` keeps under a session's key, `{m, c, v, t, x}`, and
//! its rules: which payload is a live session, and what `t` and `x` a save writes.

use super::PyramidRedisOptions;
use crate::store::StoreError;

/// `pyramid_session_redis.util.SESSION_API_VERSION`: a payload without `v`, or with an older
/// one, is a legacy session that the package replaces with a new one.
pub(super) const API_VERSION: i64 = 1;

/// One session's payload, its values in the serializer's own form `V` (so that a key this
/// side never touched is written back as it was read).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Payload<V> {
    /// `m`, the managed dict: the session's keys in their stored order.
    pub managed: Vec<(String, V)>,
    /// Items of `m` whose key is not a `str` (a pickled app may use `int` keys): kept for
    /// the app and written back as they were, but no session key on this side.
    pub hidden: Vec<(V, V)>,
    /// `c`, when the session was created (Unix seconds).
    pub created: f64,
    /// `t`, the session's timeout in seconds, when it has one.
    pub timeout: Option<f64>,
    /// `x`, when it expires (Unix seconds), when Python tracks it (`python_expires`).
    pub expires: Option<f64>,
}

/// What a decoded value is.
#[derive(Debug)]
pub(super) enum Decoded<V> {
    /// A session of the current API version.
    Live(Payload<V>),
    /// A payload without `v` or with an older one: the package starts a new session.
    Legacy,
}

impl<V> Payload<V> {
    /// The payload of a save at `now` (whole seconds), as
    /// `pyramid_session_redis.util.encode_session_payload` computes it: `t` is the
    /// configured timeout, `x` moves to `now + t` unless a `timeout_trigger` says the old
    /// one is still far enough away.
    pub(super) fn stamp(&mut self, options: &PyramidRedisOptions, now: f64) {
        let Some(timeout) = options.timeout.map(|t| t as f64) else {
            self.timeout = None;
            self.expires = None;
            return;
        };
        self.timeout = Some(timeout);
        if !options.tracks_expiry() {
            self.expires = None;
            return;
        }
        let renew = match (options.timeout_trigger, self.expires) {
            (Some(trigger), Some(expires)) => now >= expires - trigger as f64,
            _ => true,
        };
        if renew {
            self.expires = Some(now + timeout);
        }
    }

    /// The `accessed` time the factory counts its timeout from, so that its rule
    /// `now - accessed > timeout` is the package's `now > x` exactly (both sides compare in
    /// whole seconds): `x - timeout`. Without `x` the factory has no timeout (see
    /// [`PyramidRedisStore::factory`](super::PyramidRedisStore::factory)), and `c` stands in.
    pub(super) fn accessed(&self, options: &PyramidRedisOptions) -> f64 {
        match (
            self.expires,
            options.timeout.map(|t| t as f64).or(self.timeout),
        ) {
            (Some(expires), Some(timeout)) => expires - timeout,
            (Some(expires), None) => expires,
            (None, _) => self.created,
        }
    }
}

/// A number field of the payload as the package reads it (`int`, or a `float` some other
/// writer put there); anything else is corrupt, named by its field.
pub(super) fn number(field: &str, value: Option<f64>) -> Result<f64, StoreError> {
    value
        .filter(|n| n.is_finite())
        .ok_or_else(|| StoreError::Corrupt {
            key: field.to_owned(),
            reason: "the pyramid_session_redis payload has no such number".to_owned(),
        })
}

/// A stored payload that is not one: the package fails the request on it too.
pub(super) fn corrupt(reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: "(payload)".to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(expires: Option<f64>) -> Payload<()> {
        Payload {
            managed: Vec::new(),
            hidden: Vec::new(),
            created: 100.0,
            timeout: Some(1200.0),
            expires,
        }
    }

    #[test]
    fn stamps_t_and_x_as_the_package_does() {
        let defaults = PyramidRedisOptions::default();
        let mut p = payload(Some(1300.0));
        p.stamp(&defaults, 500.0);
        assert_eq!((p.timeout, p.expires), (Some(1200.0), Some(1700.0)));

        let no_timeout = PyramidRedisOptions::default().timeout(None);
        p.stamp(&no_timeout, 600.0);
        assert_eq!((p.timeout, p.expires), (None, None));

        let no_x = PyramidRedisOptions::default().python_expires(false);
        let mut p = payload(Some(1300.0));
        p.stamp(&no_x, 500.0);
        assert_eq!((p.timeout, p.expires), (Some(1200.0), None));

        // timeout 1200, trigger 600: x moves only once it is 600 s away or less.
        let trigger = PyramidRedisOptions::default().timeout_trigger(Some(600));
        let mut p = payload(Some(1300.0));
        p.stamp(&trigger, 699.0);
        assert_eq!(p.expires, Some(1300.0));
        p.stamp(&trigger, 700.0);
        assert_eq!(p.expires, Some(1900.0));
    }

    #[test]
    fn accessed_makes_the_factory_timeout_the_packages_expiry() {
        let defaults = PyramidRedisOptions::default();
        assert_eq!(payload(Some(1300.0)).accessed(&defaults), 100.0);
        assert_eq!(payload(None).accessed(&defaults), 100.0);
        let mut p = payload(Some(5000.0));
        p.timeout = Some(60.0);
        // The store's timeout, not the payload's, pairs with the factory's.
        assert_eq!(p.accessed(&defaults), 3800.0);
    }
}
