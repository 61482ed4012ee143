//! IPv4 subnets of project networks.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network in CIDR form (`10.213.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    net: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.net
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.net)
    }

    /// The gateway (the first address after the network address), as Docker picks it.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) + 1)
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) | !self.mask())
    }

    /// The first address a VM may have (after the gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) + 2)
    }

    /// The last address a VM may have.
    pub fn last_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()) - 1)
    }

    /// Whether a VM may have `ip`: in the subnet, not the network, gateway or broadcast
    /// address.
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip >= self.first_host() && ip <= self.last_host()
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("subnet `{s}` is not an IPv4 network like 10.213.0.0/24");
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=29).contains(&prefix) {
            return Err(format!("subnet `{s}`: the prefix must be between /8 and /29"));
        }
        let subnet = Subnet { net: addr, prefix };
        let net = Ipv4Addr::from(u32::from(addr) & subnet.mask());
        if net != addr {
            return Err(format!("subnet `{s}` has host bits set; did you mean {net}/{prefix}?"));
        }
        Ok(subnet)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let s: Subnet = "10.213.0.0/24".parse().expect("valid");
        assert_eq!(s.to_string(), "10.213.0.0/24");
        assert!(s.contains("10.213.0.77".parse().expect("ip")));
        assert!(!s.contains("10.213.1.7".parse().expect("ip")));
        assert_eq!(s.gateway().to_string(), "10.213.0.1");
        assert_eq!(s.broadcast().to_string(), "10.213.0.255");
        assert!(!s.is_host("10.213.0.1".parse().expect("ip")));
        assert!(s.is_host("10.213.0.2".parse().expect("ip")));
        assert!(!s.is_host("10.213.0.255".parse().expect("ip")));
        assert!("10.213.0.1/24".parse::<Subnet>().is_err());
        assert!("10.213.0.0".parse::<Subnet>().is_err());
        assert!("10.213.0.0/31".parse::<Subnet>().is_err());
        let s: Subnet = "172.30.16.0/20".parse().expect("valid");
        assert_eq!(s.broadcast().to_string(), "172.30.31.255");
    }
}
