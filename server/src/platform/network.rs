//! Client networks: the unit that failure budgets and audit aggregation count by.
//!
//! One attacker rarely has one address but usually has one network, and one legitimate holder is
//! rarely on the attacker's network. A /24 (IPv4) or /64 (IPv6, the smallest block a site gets)
//! is the granularity that separates the two without letting an attacker mint new identities for
//! free by changing the last octet.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A client's network: its address with the host bits cleared (/24 for IPv4, /64 for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientNetwork(IpAddr);

impl ClientNetwork {
    /// Requests with no peer address (an in-process router call) share one network.
    pub const UNKNOWN: ClientNetwork = ClientNetwork(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(Ipv4Addr::from(u32::from(v4) & !0xff))),
            IpAddr::V6(v6) => Self(IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & !u128::from(u64::MAX),
            ))),
        }
    }

    /// The network as one number, for a cheap "same network as last time" check: a /24 in the
    /// low 24 bits under an all-ones high half (a prefix no IPv6 source address has), a /64 as
    /// its 64 prefix bits. Never [`ClientNetwork::NO_CODE`] for a real source address.
    pub fn code(self) -> u64 {
        match self.0 {
            IpAddr::V4(v4) => 0xffff_ffff_0000_0000 | u64::from(u32::from(v4) >> 8),
            IpAddr::V6(v6) => u64::try_from(u128::from(v6) >> 64).unwrap_or(Self::NO_CODE),
        }
    }

    /// A code no network has (`ffff:ffff:ffff:ffff::/64` is multicast, never a source).
    pub const NO_CODE: u64 = u64::MAX;
}

impl fmt::Display for ClientNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}/24"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// An address block, `203.0.113.0/24` or `2001:db8::/32` (a bare address is a single host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (addr, prefix) = match spec.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (spec, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("`{spec}` is not an address or CIDR block"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| anyhow::anyhow!("`{spec}` has an invalid prefix length"))?,
        };
        Ok(Self {
            network: addr,
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed. Empty by default: a
/// header any client can write must not decide which budget its failures spend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Comma-separated CIDR blocks or addresses; empty trusts nobody.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Cidr::parse)
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client behind `peer`: walking the forwarding chain from the nearest hop, the first
    /// address that is not a trusted proxy. `hops` lists the chain as the headers do, client
    /// first; `None` is an entry that is not an address (`unknown`, an obfuscated name), where
    /// the walk ends at the last hop that could be vouched for.
    pub fn client_behind(&self, peer: IpAddr, hops: &[Option<IpAddr>]) -> IpAddr {
        let mut client = peer.to_canonical();
        for hop in hops.iter().rev() {
            if !self.contains(client) {
                break;
            }
            let Some(hop) = hop else { break };
            client = hop.to_canonical();
        }
        client
    }
}

/// Where client addresses are, for conditional access by region and for the region in token
/// audit events: CIDR blocks, each named by a region (`10.20.0.0/16=eu-west-1`). The most
/// specific block containing an address names its region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionMap(Vec<(Cidr, String)>);

impl RegionMap {
    /// Comma-separated `CIDR=region` pairs; empty maps nothing. Regions are lowercase letters,
    /// digits, `-` and `_`, as access policies name them.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut entries = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let (block, region) = entry.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!("`{entry}` is not `CIDR=region` (`10.20.0.0/16=eu-west-1`)")
                })?;
                let region = statuspulse_api::validate::region("network regions", region.trim())
                    .map_err(|e| anyhow::anyhow!("`{entry}`: {}", e.detail))?;
                Ok((Cidr::parse(block.trim())?, region))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Most specific first, so the first match is the longest prefix.
        entries.sort_by_key(|(block, _)| std::cmp::Reverse(block.prefix));
        Ok(Self(entries))
    }

    pub fn region_of(&self, ip: IpAddr) -> Option<&str> {
        self.0
            .iter()
            .find(|(block, _)| block.contains(ip))
            .map(|(_, region)| region.as_str())
    }
}

/// Appends the entries of one `X-Forwarded-For` value.
pub fn parse_x_forwarded_for(value: &str, into: &mut Vec<Option<IpAddr>>) {
    into.extend(value.split(',').map(|entry| parse_node(entry.trim())));
}

/// Appends the `for=` entries of one `Forwarded` value (RFC 7239).
pub fn parse_forwarded(value: &str, into: &mut Vec<Option<IpAddr>>) {
    into.extend(value.split(',').map(|element| {
        let node = element.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("for")
                .then(|| value.trim())
        })?;
        parse_node(node.trim_matches('"'))
    }));
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Ok(socket) = node.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')?.split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_are_slash_24_and_slash_64_and_mapped_addresses_count_as_ipv4() {
        assert_eq!(
            ClientNetwork::of(ip("203.0.113.77")).to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            ClientNetwork::of(ip("::ffff:203.0.113.9")),
            ClientNetwork::of(ip("203.0.113.200"))
        );
        assert_eq!(
            ClientNetwork::of(ip("2001:db8:1:2:aaaa::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            ClientNetwork::of(ip("127.0.0.1")),
            ClientNetwork::of(ip("127.0.1.1"))
        );
    }

    #[test]
    fn only_trusted_proxies_are_believed_and_the_walk_stops_at_the_first_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32,192.0.2.7").unwrap();
        let chain = [
            Some(ip("198.51.100.1")),
            Some(ip("203.0.113.5")),
            Some(ip("10.1.2.3")),
        ];
        // A client that writes the header itself is not believed.
        assert_eq!(
            trusted.client_behind(ip("203.0.113.9"), &chain),
            ip("203.0.113.9")
        );
        // Behind two trusted hops, the first untrusted address is the client; what it claims
        // about itself (198.51.100.1) is not believed.
        assert_eq!(
            trusted.client_behind(ip("192.0.2.7"), &chain),
            ip("203.0.113.5")
        );
        assert_eq!(
            TrustedProxies::default().client_behind(ip("10.0.0.1"), &chain),
            ip("10.0.0.1")
        );
        // An entry that is no address ends the walk at the last trusted hop.
        let broken = [Some(ip("198.51.100.1")), None, Some(ip("10.1.2.3"))];
        assert_eq!(
            trusted.client_behind(ip("192.0.2.7"), &broken),
            ip("10.1.2.3")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn forwarding_headers_parse_ports_brackets_and_refuse_names() {
        let mut hops = vec![];
        parse_forwarded(
            "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\", for=unknown",
            &mut hops,
        );
        parse_x_forwarded_for("203.0.113.1, 198.51.100.2:80, _hidden", &mut hops);
        assert_eq!(
            hops,
            [
                Some(ip("192.0.2.60")),
                Some(ip("2001:db8:cafe::17")),
                None,
                Some(ip("203.0.113.1")),
                Some(ip("198.51.100.2")),
                None
            ]
        );
    }

    #[test]
    fn the_most_specific_block_names_the_region() {
        let map = RegionMap::parse(
            "10.0.0.0/8=eu-west-1, 10.20.0.0/16=us-east-1,2001:db8::/32=ap-south-1",
        )
        .unwrap();
        let at = |ip: &str| map.region_of(ip.parse().unwrap());
        assert_eq!(at("10.20.1.1"), Some("us-east-1"));
        assert_eq!(at("10.21.1.1"), Some("eu-west-1"));
        assert_eq!(at("::ffff:10.21.1.1"), Some("eu-west-1"));
        assert_eq!(at("2001:db8::1"), Some("ap-south-1"));
        assert_eq!(at("192.0.2.1"), None);
        assert!(RegionMap::parse("10.0.0.0/8").is_err());
        assert!(RegionMap::parse("10.0.0.0/8=EU").is_err());
        assert_eq!(RegionMap::parse("").unwrap(), RegionMap::default());
    }
}
