//! The client address the failure limiter counts: the TCP peer, or, when the peer is a trusted
//! proxy, the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Without trusted proxies every request behind a load balancer has the balancer's address;
//! with them, a client cannot choose its address by sending its own `X-Forwarded-For`, because
//! only what the trusted hops appended is read.

use std::net::IpAddr;

/// Why a trusted-proxy list does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyListError {
    /// An entry that is neither an address nor `address/prefix`.
    #[error("COMPOSERP_API_TRUSTED_PROXIES: {0:?} is not an IP address or CIDR block")]
    Entry(String),
}

/// Networks whose peers may name the client in `X-Forwarded-For`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR blocks (`10.0.0.0/8, ::1`); empty trusts
    /// no one.
    pub fn parse(list: &str) -> Result<Self, ProxyListError> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || ProxyListError::Entry(entry.to_owned());
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err(bad());
            }
            nets.push((addr, prefix));
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `ip` is in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, prefix)| match (canonical(*net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => same_prefix(&n.octets(), &a.octets(), *prefix),
                (IpAddr::V6(n), IpAddr::V6(a)) => same_prefix(&n.octets(), &a.octets(), *prefix),
                _ => false,
            })
    }

    /// The client of a request from `peer` carrying `forwarded_for` (`X-Forwarded-For`).
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for.unwrap_or("").rsplit(',').map(str::trim) {
            // A hop that does not parse was written by someone untrusted: stop at the last
            // address a trusted hop vouched for.
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// An address of `X-Forwarded-For`, with or without a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// IPv4-mapped IPv6 addresses as IPv4, so `::ffff:10.0.0.1` matches `10.0.0.0/8`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn same_prefix(net: &[u8], addr: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if net[..whole] != addr[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[whole] & mask == addr[whole] & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), Some("1.2.3.4")), ip("10.0.0.5"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let p = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").expect("valid");
        // The client forged a first entry; the balancer appended the real address.
        let xff = Some("6.6.6.6, 203.0.113.7, 10.1.2.3");
        assert_eq!(p.client(ip("10.0.0.5"), xff), ip("203.0.113.7"));
        assert_eq!(p.client(ip("::ffff:10.0.0.5"), xff), ip("203.0.113.7"));
        assert_eq!(
            p.client(ip("192.168.1.1"), Some("198.51.100.1:4431")),
            ip("198.51.100.1")
        );
        // An untrusted peer's header is ignored; a garbled hop stops the walk.
        assert_eq!(p.client(ip("203.0.113.9"), xff), ip("203.0.113.9"));
        assert_eq!(
            p.client(ip("10.0.0.5"), Some("1.1.1.1, junk, 10.0.0.6")),
            ip("10.0.0.6")
        );
        assert_eq!(p.client(ip("10.0.0.5"), None), ip("10.0.0.5"));
    }

    #[test]
    fn proxy_lists_parse_addresses_and_blocks_only() {
        assert!(TrustedProxies::parse("").is_ok_and(|p| p == TrustedProxies::default()));
        let p = TrustedProxies::parse("fd00::/8,172.16.0.0/12").expect("valid");
        assert!(p.contains(ip("fd12::1")));
        assert!(p.contains(ip("172.31.255.255")));
        assert!(!p.contains(ip("172.32.0.1")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }
}
