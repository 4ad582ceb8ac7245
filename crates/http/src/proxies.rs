//! Which address an audit row names as the client's.
//!
//! Behind a load balancer every request comes from the balancer, and the
//! client's own address travels in `X-Forwarded-For`. That header is
//! written by whoever sends the request, so it is believed only when the
//! peer is a proxy the operator listed in `SINTRA_TRUSTED_PROXIES`; and
//! then only up to the first hop that is not itself a trusted proxy
//! (reading the list from the right, as each proxy appends the address it
//! saw). Otherwise a caller could write any address into the audit log.

use std::net::IpAddr;

use ipnet::IpNet;

/// The trusted proxies: addresses or networks (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("«{0}» no es una dirección IP ni una red (ejemplos: 10.0.0.5, 10.0.0.0/8, ::1)")]
pub struct InvalidProxy(pub String);

impl TrustedProxies {
    /// Parses a comma-separated list; empty means none.
    pub fn parse(list: &str) -> Result<TrustedProxies, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(s.to_string()))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, unless the peer is trusted; then the
    /// nearest address in the forwarded chain that is not a trusted proxy
    /// (or the farthest one, when every hop is trusted). A malformed entry
    /// ends the walk: what lies beyond it cannot be vouched for.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer.map(canonical)?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// An entry of `X-Forwarded-For`: an address, possibly with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:10.0.0.1`) is the
/// IPv4 address, so a list of IPv4 networks matches it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("198.51.100.9"), ["1.2.3.4"]),
            ip("198.51.100.9")
        );
        let some = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            some.client(ip("198.51.100.9"), ["1.2.3.4"]),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn a_trusted_peer_forwards_the_nearest_untrusted_hop() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        // The client wrote a made-up first entry; the proxies appended the
        // real ones: the made-up one is never believed.
        assert_eq!(
            t.client(ip("10.0.0.2"), ["6.6.6.6, 203.0.113.7, 192.168.1.1"]),
            ip("203.0.113.7")
        );
        // Several headers read as one list, in order.
        assert_eq!(
            t.client(ip("10.0.0.2"), ["6.6.6.6", "203.0.113.7:4711"]),
            ip("203.0.113.7")
        );
        // No header: the proxy itself.
        assert_eq!(t.client(ip("10.0.0.2"), []), ip("10.0.0.2"));
        // Every hop trusted: the farthest.
        assert_eq!(t.client(ip("10.0.0.2"), ["10.1.1.1"]), ip("10.1.1.1"));
        // Garbage ends the walk at the last address vouched for.
        assert_eq!(
            t.client(ip("10.0.0.2"), ["203.0.113.7, nonsense, 192.168.1.1"]),
            ip("192.168.1.1")
        );
        // IPv4 through an IPv6 socket, IPv6 hops with ports.
        assert_eq!(
            t.client(ip("::ffff:10.0.0.2"), ["[2001:db8::1]:80"]),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn the_list_refuses_what_is_not_an_address() {
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
        assert_eq!(
            TrustedProxies::parse("10.0.0.1, proxy.local"),
            Err(InvalidProxy("proxy.local".into()))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
