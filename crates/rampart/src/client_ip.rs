//! The client's IP address, believing `X-Forwarded-For` only from trusted
//! proxies.
//!
//! Rules:
//! - the socket peer (axum's `ConnectInfo<SocketAddr>`) is the client,
//!   unless it lies in a trusted-proxy block;
//! - from a trusted peer, `X-Forwarded-For` (all such headers, in order) is
//!   read right to left and the first address that is not itself a trusted
//!   proxy is the client; if every entry is trusted, the left-most is used;
//! - an entry that is not an IP address ends the walk: everything left of
//!   it was written by someone unverified, so the last trusted hop is used;
//! - IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are treated as IPv4.
//!
//! [`ClientIpLayer`] stores the result as a [`ClientIp`] request extension.
//! [`ClientIp::rate_key`] groups IPv6 clients by their /64, the block one
//! host usually controls, so rotating addresses does not escape a limit.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use rampart::client_ip::{TrustedProxies, resolve};
//!
//! let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
//! let peer: IpAddr = "10.0.0.5".parse().unwrap();
//! let client = resolve(peer, ["203.0.113.7, 10.0.0.9"].into_iter(), &proxies);
//! assert_eq!(client.to_string(), "203.0.113.7");
//! // An untrusted peer's header is ignored.
//! let client = resolve("198.51.100.1".parse().unwrap(), ["1.2.3.4"].into_iter(), &proxies);
//! assert_eq!(client.to_string(), "198.51.100.1");
//! ```
//!
//! # Deployment caveats
//! List only your own load balancers. Trusting a block that clients can
//! send from (or `0.0.0.0/0`) lets any client choose its address.

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use axum::extract::ConnectInfo;
use http::{HeaderName, Request};
use ipnet::IpNet;
use tower::{Layer, Service};

/// The `X-Forwarded-For` header.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// A proxy entry that is not an address or CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid trusted proxy {0:?}: expected an IP address or CIDR block")]
pub struct InvalidProxy(pub String);

/// The blocks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// Parses addresses and CIDR blocks.
    pub fn new<I, S>(entries: I) -> Result<Self, InvalidProxy>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(e.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets: nets.into() })
    }

    /// From parsed blocks.
    pub fn from_nets(nets: Vec<IpNet>) -> Self {
        Self { nets: nets.into() }
    }

    /// No proxy is trusted: the peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// The configured blocks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// IPv4-mapped IPv6 as IPv4; everything else unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        IpAddr::V4(v4) => IpAddr::V4(v4),
    }
}

/// Applies the rules of the [module docs](self) to a peer and the values of
/// its `X-Forwarded-For` headers.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            return client;
        };
        client = ip;
        if !trusted.contains(ip) {
            return ip;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: a bare address, or one with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// The resolved client address, in the request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key for per-client limits: the IPv4 address, or the IPv6 /64.
    pub fn rate_key(&self) -> RateKey {
        RateKey(match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        })
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A rate-limit key derived from a client address (see [`ClientIp::rate_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateKey(pub IpAddr);

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Layer inserting [`ClientIp`]; requests without `ConnectInfo` (tests
/// calling the router directly) get `0.0.0.0`, never a header's value.
#[derive(Debug, Clone)]
pub struct ClientIpLayer {
    trusted: TrustedProxies,
}

impl ClientIpLayer {
    /// Trusting `X-Forwarded-For` only from `trusted`.
    pub fn new(trusted: TrustedProxies) -> Self {
        Self { trusted }
    }
}

impl<S> Layer<S> for ClientIpLayer {
    type Service = ClientIpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientIpService {
            inner,
            trusted: self.trusted.clone(),
        }
    }
}

/// The service of [`ClientIpLayer`].
#[derive(Debug, Clone)]
pub struct ClientIpService<S> {
    inner: S,
    trusted: TrustedProxies,
}

impl<S, B> Service<Request<B>> for ClientIpService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        // The header's bytes, not `to_str()`: one non-ASCII byte anywhere
        // would otherwise hide every entry, and the client would resolve to
        // the proxy. An entry that is not an address still stops the walk.
        let forwarded: Vec<std::borrow::Cow<'_, str>> = req
            .headers()
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect();
        let client = resolve(
            peer,
            forwarded.iter().map(std::convert::AsRef::as_ref),
            &self.trusted,
        );
        req.extensions_mut().insert(ClientIp(client));
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_peers() {
        let trusted = TrustedProxies::new(["10.0.0.0/8", "2001:db8:ffff::/48"]).unwrap();
        let cases: [(&str, &str, &[&str], &str); 10] = [
            (
                "untrusted peer, spoofed header",
                "198.51.100.9",
                &["1.1.1.1"],
                "198.51.100.9",
            ),
            (
                "trusted peer, one hop",
                "10.0.0.1",
                &["203.0.113.5"],
                "203.0.113.5",
            ),
            (
                "right-most untrusted wins",
                "10.0.0.1",
                &["1.1.1.1, 203.0.113.5, 10.0.0.2"],
                "203.0.113.5",
            ),
            (
                "several headers in order",
                "10.0.0.1",
                &["1.1.1.1", "203.0.113.5"],
                "203.0.113.5",
            ),
            (
                "all trusted",
                "10.0.0.1",
                &["10.0.0.3, 10.0.0.2"],
                "10.0.0.3",
            ),
            ("no header", "10.0.0.1", &[], "10.0.0.1"),
            (
                "garbage stops the walk",
                "10.0.0.1",
                &["1.1.1.1, garbage, 10.0.0.2"],
                "10.0.0.2",
            ),
            (
                "with ports",
                "10.0.0.1",
                &["203.0.113.5:4711"],
                "203.0.113.5",
            ),
            (
                "mapped v4 peer",
                "::ffff:10.0.0.1",
                &["203.0.113.5"],
                "203.0.113.5",
            ),
            (
                "v6",
                "2001:db8:ffff::1",
                &["[2001:db8:1::7]:443"],
                "2001:db8:1::7",
            ),
        ];
        for (name, peer, headers, expected) in cases {
            let got = resolve(peer.parse().unwrap(), headers.iter().copied(), &trusted);
            assert_eq!(got.to_string(), expected, "case {name}");
        }
    }

    #[test]
    fn ipv6_clients_share_a_key_per_64() {
        let a = ClientIp("2001:db8:1:2:aaaa::1".parse().unwrap()).rate_key();
        let b = ClientIp("2001:db8:1:2:bbbb::9".parse().unwrap()).rate_key();
        let c = ClientIp("2001:db8:1:3::1".parse().unwrap()).rate_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        let v4 = ClientIp("192.0.2.1".parse().unwrap()).rate_key();
        assert_eq!(v4.to_string(), "192.0.2.1");
    }
}
