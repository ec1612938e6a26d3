//! Which peers may speak for someone else: their `X-Forwarded-*` headers are
//! believed and they may ask the forward-auth endpoint. None by default, so a
//! client can never claim another address, host or scheme by sending headers.

use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `127.0.0.1` or `::1` (a bare address is one host).
    pub fn parse(items: &[&str]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in items {
            nets.push(Self::parse_one(item)?);
        }
        Ok(Self(nets))
    }

    /// One entry. An IPv4-mapped block (`::ffff:10.0.0.0/104`) becomes the IPv4
    /// block it stands for (`10.0.0.0/8`): peers are compared as IPv4 once
    /// unmapped, so the mapped form would otherwise match nobody, and
    /// `::ffff:0:0/96` is judged as what it is, all of IPv4.
    pub fn parse_one(item: &str) -> Result<IpNet, String> {
        let net = match item.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => match item.parse::<IpAddr>() {
                Ok(a) => IpNet::from(a),
                Err(_) => {
                    return Err(format!(
                        "`{item}` is neither an address nor a CIDR block such as 10.0.0.0/8"
                    ))
                }
            },
        };
        Ok(match net {
            IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
                Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .map(IpNet::V4)
                    .unwrap_or(net),
                None => net,
            },
            other => other,
        })
    }

    /// Whether a block is so wide that it takes in the public internet
    /// wholesale: IPv4 shorter than /8 (10.0.0.0/8 is the widest private
    /// block), IPv6 shorter than /7 (fc00::/7, unique local, is the widest
    /// private one; 2000::/3 is all of global unicast).
    pub fn is_internet_wide(net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => n.prefix_len() < 8,
            IpNet::V6(n) => n.prefix_len() < 7,
        }
    }

    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&peer))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_blocks() {
        let t = TrustedProxies::parse(&["127.0.0.1", "10.1.0.0/16", "::1"]).unwrap();
        assert!(t.contains("127.0.0.1".parse().unwrap()));
        assert!(t.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(t.contains("10.1.200.3".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(!t.contains("10.2.0.1".parse().unwrap()));
        assert!(!t.contains("127.0.0.2".parse().unwrap()));
        assert!(!TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["localhost"]).is_err());
    }

    #[test]
    fn mapped_blocks_are_ipv4_blocks_and_wide_blocks_are_named() {
        let t = TrustedProxies::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(t.contains("10.9.8.7".parse().unwrap()));
        assert!(t.contains("::ffff:10.9.8.7".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
        for wide in [
            "0.0.0.0/0",
            "::/0",
            "::ffff:0:0/96",
            "0.0.0.0/1",
            "2000::/3",
            "128.0.0.0/7",
        ] {
            let net = TrustedProxies::parse_one(wide).unwrap();
            assert!(TrustedProxies::is_internet_wide(&net), "{wide}");
        }
        for narrow in [
            "10.0.0.0/8",
            "fc00::/7",
            "127.0.0.1",
            "::1",
            "::ffff:10.0.0.0/104",
            "::/96",
        ] {
            let net = TrustedProxies::parse_one(narrow).unwrap();
            assert!(!TrustedProxies::is_internet_wide(&net), "{narrow}");
        }
    }
}
