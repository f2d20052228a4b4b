//! The client's IP address the shop records for the devices page: the connection's peer,
//! or, behind a reverse proxy the shop is told to trust, the address that proxy forwarded
//! in `X-Forwarded-For`.
//!
//! The header is whatever the sender wrote: any client can send
//! `X-Forwarded-For: 203.0.113.7`. So it is never believed by default
//! ([`TrustedProxies::none`]); only a request whose peer is a listed proxy has its header
//! read, from the right (the entry the proxy appended) leftwards while the entries are
//! themselves listed proxies. The first entry that is not one is the client: whatever lies to
//! its left was written by the client or by proxies nobody vouched for, and is ignored.
//!
//! ```
//! use std::net::IpAddr;
//! use typed_sessions_examples::shop::client_ip::TrustedProxies;
//!
//! let peer: IpAddr = "10.0.0.2".parse().unwrap();
//! let header = ["198.51.100.1, 203.0.113.7"];
//! // By default the header is ignored: the client is the peer.
//! assert_eq!(TrustedProxies::none().client_ip(Some(peer), header), Some(peer));
//! // Behind the proxy 10.0.0.2, the client is the address it appended.
//! let behind: TrustedProxies = "10.0.0.2".parse().unwrap();
//! assert_eq!(behind.client_ip(Some(peer), header), Some("203.0.113.7".parse().unwrap()));
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// The request header a reverse proxy appends the address of its own peer to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The reverse proxies whose `X-Forwarded-For` the shop believes, by exact address: none
/// unless configured (the binaries read `TRUSTED_PROXIES`, a comma-separated list).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpAddr]>);

impl TrustedProxies {
    /// No proxy is trusted: the client is always the connection's peer (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// The proxies at `addresses`.
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        Self(addresses.into_iter().map(|ip| ip.to_canonical()).collect())
    }

    /// Whether no proxy is trusted.
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }

    /// The client's address for a request from `peer` (`None` when the server did not say)
    /// whose `X-Forwarded-For` header lines are `forwarded_for`, in the order received (a
    /// line that is not text should be passed as `""`: it stops the walk there). `None`
    /// when the peer is unknown: a header alone is never believed.
    pub fn client_ip<'h>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'h str>,
    ) -> Option<IpAddr> {
        let mut client = peer?.to_canonical();
        if !self.trusts(client) {
            return Some(client);
        }
        // Only a trusted proxy's request gets here. The header lines are bounded by the
        // server's header limits.
        let lines: Vec<&str> = forwarded_for.into_iter().collect();
        for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
            let Some(hop) = parse_hop(entry.trim()) else {
                // Unreadable (`unknown`, an obfuscated name, garbage): what lies beyond it
                // cannot be placed, so the client is the last proxy that was believed.
                tracing::debug!(
                    entry = entry.trim(),
                    "X-Forwarded-For: an entry that is no address"
                );
                break;
            };
            client = hop;
            if !self.trusts(client) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TrustedProxies").field(&&*self.0).finish()
    }
}

/// A `TRUSTED_PROXIES` value that is not a comma-separated list of IP addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address (TRUSTED_PROXIES lists proxies' addresses, comma-separated)")]
pub struct NotAnAddress(String);

/// A comma-separated list of addresses (`10.0.0.2, ::1`); blank: [`TrustedProxies::none`].
impl FromStr for TrustedProxies {
    type Err = NotAnAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let addresses = text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpAddr>()
                    .map_err(|_| NotAnAddress(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(addresses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(text: &str) -> TrustedProxies {
        text.parse().unwrap()
    }

    #[test]
    fn by_default_the_header_is_ignored() {
        let none = TrustedProxies::none();
        assert!(none.is_none());
        for peer in ["127.0.0.1", "10.0.0.2", "::1"] {
            assert_eq!(
                none.client_ip(Some(ip(peer)), ["203.0.113.7"]),
                Some(ip(peer))
            );
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies("10.0.0.2");
        assert_eq!(
            trusted.client_ip(Some(ip("198.51.100.9")), ["203.0.113.7"]),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn without_a_peer_there_is_no_address() {
        assert_eq!(proxies("10.0.0.2").client_ip(None, ["203.0.113.7"]), None);
        assert_eq!(TrustedProxies::none().client_ip(None, []), None);
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = proxies("10.0.0.2, 10.0.0.3");
        // The client wrote `1.1.1.1` itself; the proxies appended the rest.
        let header = ["1.1.1.1, 203.0.113.7, 10.0.0.3"];
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), header),
            Some(ip("203.0.113.7"))
        );
        // The same entries over several header lines, in order.
        let lines = ["1.1.1.1", "203.0.113.7", "10.0.0.3"];
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), lines),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_header_is_the_client() {
        assert_eq!(
            proxies("10.0.0.2").client_ip(Some(ip("10.0.0.2")), []),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_ends_at_the_leftmost() {
        let trusted = proxies("10.0.0.2, 10.0.0.3");
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), ["10.0.0.3"]),
            Some(ip("10.0.0.3"))
        );
    }

    #[test]
    fn an_unreadable_entry_stops_at_the_last_believed_proxy() {
        let trusted = proxies("10.0.0.2, 10.0.0.3");
        for header in [
            "203.0.113.7, unknown",
            "203.0.113.7, ",
            "203.0.113.7, _hidden",
            "203.0.113.7, not an address",
        ] {
            assert_eq!(
                trusted.client_ip(Some(ip("10.0.0.2")), [header]),
                Some(ip("10.0.0.2")),
                "{header:?}"
            );
        }
        // A trusted hop read before the unreadable entry is the last believed.
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), ["203.0.113.7, unknown, 10.0.0.3"]),
            Some(ip("10.0.0.3"))
        );
        // A line that is not text, passed as "", stops the walk before older lines.
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), ["203.0.113.7", ""]),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn entries_with_ports_and_mapped_addresses_are_read() {
        let trusted = proxies("127.0.0.1");
        assert_eq!(
            trusted.client_ip(Some(ip("::ffff:127.0.0.1")), ["192.0.2.1:4711"]),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            trusted.client_ip(Some(ip("127.0.0.1")), ["[2001:db8::1]:4711"]),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            TrustedProxies::none().client_ip(Some(ip("::ffff:192.0.2.1")), []),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn the_setting_parses_or_names_what_it_cannot_read() {
        assert_eq!(proxies(""), TrustedProxies::none());
        assert_eq!(proxies(" , "), TrustedProxies::none());
        assert_eq!(
            proxies("10.0.0.2,::1"),
            TrustedProxies::new([ip("10.0.0.2"), ip("::1")])
        );
        assert_eq!(
            "10.0.0.2, proxy.internal".parse::<TrustedProxies>(),
            Err(NotAnAddress("proxy.internal".to_owned()))
        );
        assert_eq!(
            "10.0.0.0/8".parse::<TrustedProxies>(),
            Err(NotAnAddress("10.0.0.0/8".to_owned()))
        );
    }
}
