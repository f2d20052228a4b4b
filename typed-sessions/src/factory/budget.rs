//! How much of a browser's cookie room a session may use: the whole `Set-Cookie` line the
//! browser stores, and the share of the request's `Cookie` header it sends back.
//!
//! Browsers keep a cookie whose name, value and attributes together fit 4096 bytes
//! (RFC 6265 section 6.1; Safari stops at 4093) and silently drop a longer one: the client
//! then keeps its previous cookie, and the server never learns that the write was lost.
//! Servers in front of the app limit the request's header lines (nginx's default is 8 KiB
//! per line, `large_client_header_buffers`), and a request whose `Cookie` header is longer
//! is answered 400 or 431 before the app sees it. So a factory measures what it writes
//! exactly as the browser will, after encoding, and refuses a save that does not fit either
//! budget rather than write a cookie that would be dropped.

use std::fmt;

/// The default budget of one `Set-Cookie` line (the header's value: name, `=`, value and
/// every attribute): 4096 bytes, what Chrome and Firefox keep.
pub const DEFAULT_SET_COOKIE_BUDGET: usize = 4096;

/// Safari's limit for one `Set-Cookie` line, 4093 bytes: set it with
/// [`set_cookie_budget`](crate::Builder::set_cookie_budget) for an app whose users are on
/// Safari (a cookie between 4094 and 4096 bytes is kept by Chrome and Firefox, dropped by
/// Safari).
pub const SAFARI_SET_COOKIE_BUDGET: usize = 4093;

/// The default budget of the session's share of the request's `Cookie` header: 8 KiB,
/// nginx's default header line limit. What the session sends back (`name=value`) must fit;
/// an app with other large cookies sets a smaller one with
/// [`cookie_header_budget`](crate::Builder::cookie_header_budget).
pub const DEFAULT_COOKIE_HEADER_BUDGET: usize = 8192;

/// Which size limit a session's cookie would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Budget {
    /// The cookie value alone, over Pyramid's
    /// [`MAX_COOKIE_VALUE_LEN`](crate::MAX_COOKIE_VALUE_LEN) (4064 bytes), which a
    /// factory keeps for every cookie so that it never writes what Pyramid would refuse.
    CookieValue,
    /// The whole `Set-Cookie` line (name, value and attributes), over the factory's
    /// [`set_cookie_budget`](crate::Builder::set_cookie_budget): a browser would drop it.
    SetCookie,
    /// What the session adds to the request's `Cookie` header, over the factory's
    /// [`cookie_header_budget`](crate::Builder::cookie_header_budget): a proxy would refuse
    /// the next request.
    CookieHeader,
}

impl Budget {
    /// A short phrase naming the budget, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CookieValue => "cookie value",
            Self::SetCookie => "Set-Cookie line",
            Self::CookieHeader => "request Cookie header",
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session was not saved: its cookie would break `budget` with `size` bytes, over
/// `limit`. The adapters put it into the extensions of the response that replaces the
/// handler's (see [`on_oversized`](crate::Builder::on_oversized)), so that a middleware
/// outside the session layer can tell the app's operators which budget to raise or which
/// state to shrink.
///
/// ```
/// use typed_sessions::{Budget, Overflow, SessionError};
///
/// let err = SessionError::TooLarge { budget: Budget::SetCookie, size: 4100, limit: 4096 };
/// let overflow = err.overflow().unwrap();
/// assert_eq!(overflow, Overflow { budget: Budget::SetCookie, size: 4100, limit: 4096 });
/// assert_eq!(overflow.to_string(), "the Set-Cookie line would be 4100 bytes, over 4096");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Overflow {
    /// The budget broken.
    pub budget: Budget,
    /// How many bytes the cookie (or the header share) would have.
    pub size: usize,
    /// The budget's limit in bytes.
    pub limit: usize,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} would be {} bytes, over {}",
            self.budget, self.size, self.limit
        )
    }
}

/// The two budgets of a factory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budgets {
    pub set_cookie: usize,
    pub cookie_header: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            set_cookie: DEFAULT_SET_COOKIE_BUDGET,
            cookie_header: DEFAULT_COOKIE_HEADER_BUDGET,
        }
    }
}

impl Budgets {
    /// Whether a cookie named `name` with `value`, written as the `Set-Cookie` line
    /// `line`, fits: the value under Pyramid's limit, the line under the `Set-Cookie`
    /// budget, and `name=value` under the request header budget. The first budget broken
    /// otherwise.
    pub(crate) fn check(&self, name: &str, value: &str, line: &[u8]) -> Result<(), Overflow> {
        let over = |budget, size, limit| {
            (size > limit).then_some(Overflow {
                budget,
                size,
                limit,
            })
        };
        let value_len = value.len();
        let checks = [
            over(
                Budget::CookieValue,
                value_len,
                super::cookie::MAX_COOKIE_VALUE_LEN,
            ),
            over(Budget::SetCookie, line.len(), self.set_cookie),
            over(
                Budget::CookieHeader,
                name.len() + 1 + value_len,
                self.cookie_header,
            ),
        ];
        match checks.into_iter().flatten().next() {
            Some(overflow) => Err(overflow),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_is_checked_to_the_byte() {
        let budgets = Budgets {
            set_cookie: 20,
            cookie_header: 12,
        };
        let line = |len: usize| vec![b'x'; len];
        assert_eq!(budgets.check("s", "abc", &line(20)), Ok(()));
        assert_eq!(
            budgets.check("s", "abc", &line(21)),
            Err(Overflow {
                budget: Budget::SetCookie,
                size: 21,
                limit: 20
            })
        );
        // `s=` plus 10 bytes is the header budget exactly; one more is over.
        assert_eq!(budgets.check("s", "0123456789", &line(19)), Ok(()));
        assert_eq!(
            budgets.check("s", "0123456789a", &line(19)),
            Err(Overflow {
                budget: Budget::CookieHeader,
                size: 13,
                limit: 12
            })
        );
        let long = "v".repeat(4065);
        let err = Budgets::default().check("s", &long, &line(10)).unwrap_err();
        assert_eq!(err.budget, Budget::CookieValue);
    }
}
