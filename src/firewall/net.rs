//! Address and port conditions as firewall rules write them, and whether a target falls in them.

use std::fmt;
use std::net::IpAddr;

/// An address with a prefix length: `10.0.0.0/8`, `10.0.0.5` (a /32), `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.0.5`, `10.0.0.0/8`, `::1`, `fe80::/10`; a dotted netmask (`/255.255.255.0`, as old
    /// iptables printed) is accepted too.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                Ok(_) => return None,
                Err(_) => netmask_len(p)?,
            },
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(self.prefix, 32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(self.prefix, 128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// `0.0.0.0/0` or `::/0`: says nothing about the address.
    pub fn is_any(&self) -> bool {
        self.prefix == 0
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn mask(prefix: u8, bits: u32) -> u128 {
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        return 0;
    }
    let ones = u128::MAX << (128 - prefix);
    ones >> (128 - bits)
}

fn netmask_len(mask: &str) -> Option<u8> {
    let m: std::net::Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(m);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// An address condition of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AddrMatch {
    /// No condition on this address.
    #[default]
    Any,
    /// In one of these networks (or, when `negated`, in none of them).
    Nets { nets: Vec<Cidr>, negated: bool },
    /// A condition we cannot evaluate: a named set without listed elements, an ipset, a host
    /// name. Kept as written.
    Unresolved(String),
}

/// A port condition of a rule: inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PortMatch {
    #[default]
    Any,
    Ranges {
        ranges: Vec<(u16, u16)>,
        negated: bool,
    },
    Unresolved(String),
}

/// How one condition relates to one target value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The rule has no such condition.
    NoCondition,
    /// The condition holds for the target: the rule names it.
    Names,
    /// The condition cannot hold for the target.
    Excludes,
    /// Unknown: the target's value or the rule's is not known.
    Unknown,
}

impl AddrMatch {
    pub fn fit(&self, ip: Option<IpAddr>) -> Fit {
        match self {
            AddrMatch::Any => Fit::NoCondition,
            AddrMatch::Unresolved(_) => Fit::Unknown,
            AddrMatch::Nets { nets, negated } => {
                if nets.iter().all(Cidr::is_any) && !negated {
                    return Fit::NoCondition;
                }
                let Some(ip) = ip else { return Fit::Unknown };
                let inside = nets.iter().any(|n| n.contains(ip));
                // A negated condition ("not 127.0.0.0/8") holds for the target without naming it.
                match (inside, *negated) {
                    (true, false) => Fit::Names,
                    (false, true) => Fit::NoCondition,
                    _ => Fit::Excludes,
                }
            }
        }
    }

    pub fn is_any(&self) -> bool {
        matches!(self, AddrMatch::Any)
    }
}

impl PortMatch {
    pub fn contains(&self, port: u16) -> Option<bool> {
        match self {
            PortMatch::Any => Some(true),
            PortMatch::Unresolved(_) => None,
            PortMatch::Ranges { ranges, negated } => {
                let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port));
                Some(inside != *negated)
            }
        }
    }

    pub fn fit(&self, port: Option<u16>) -> Fit {
        match self {
            PortMatch::Any => Fit::NoCondition,
            PortMatch::Unresolved(_) => Fit::Unknown,
            PortMatch::Ranges { negated, .. } => match port.map(|p| self.contains(p)) {
                None | Some(None) => Fit::Unknown,
                Some(Some(true)) if *negated => Fit::NoCondition,
                Some(Some(true)) => Fit::Names,
                Some(Some(false)) => Fit::Excludes,
            },
        }
    }

    /// Whether any port of `lo..=hi` satisfies the condition (for the reply path, whose local
    /// port is an ephemeral one we do not know).
    pub fn overlaps(&self, lo: u16, hi: u16) -> Option<bool> {
        match self {
            PortMatch::Any => Some(true),
            PortMatch::Unresolved(_) => None,
            PortMatch::Ranges { ranges, negated } => {
                let any_inside = ranges.iter().any(|(a, b)| *a <= hi && *b >= lo);
                let all_inside = ranges.iter().any(|(a, b)| *a <= lo && *b >= hi);
                Some(if *negated { !all_inside } else { any_inside })
            }
        }
    }

    pub fn is_any(&self) -> bool {
        matches!(self, PortMatch::Any)
    }
}

/// `8080`, `8000:8100` (iptables), `8000-8100` (nft), or a comma list of those.
pub fn parse_ports(text: &str) -> Option<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once([':', '-']) {
            Some((lo, hi)) => (port(lo)?, port(hi)?),
            None => {
                let p = port(part)?;
                (p, p)
            }
        };
        out.push((lo.min(hi), lo.max(hi)));
    }
    (!out.is_empty()).then_some(out)
}

/// A port number, or the service names nft and ufw print for the common ones.
fn port(text: &str) -> Option<u16> {
    if let Ok(n) = text.parse() {
        return Some(n);
    }
    Some(match text {
        "ftp" => 21,
        "ssh" => 22,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" => 80,
        "https" => 443,
        "mysql" => 3306,
        "postgresql" => 5432,
        "http-alt" | "webcache" => 8080,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")), "families never mix");
        let host = Cidr::parse("10.0.0.5").unwrap();
        assert_eq!(host.prefix, 32);
        assert_eq!(host.to_string(), "10.0.0.5");
        assert_eq!(Cidr::parse("192.168.1.0/255.255.255.0").unwrap().prefix, 24);
        assert!(Cidr::parse("fe80::/10").unwrap().contains(ip("fe80::1")));
        assert!(Cidr::parse("::1/128").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("anywhere").is_none());
        assert!(Cidr::parse("10.0.0.0/255.0.255.0").is_none());
    }

    #[test]
    fn address_conditions_name_exclude_or_do_not_know() {
        let nets = |s: &str, negated| AddrMatch::Nets {
            nets: vec![Cidr::parse(s).unwrap()],
            negated,
        };
        assert_eq!(
            nets("10.0.0.5", false).fit(Some(ip("10.0.0.5"))),
            Fit::Names
        );
        assert_eq!(
            nets("10.0.0.5", false).fit(Some(ip("10.0.0.6"))),
            Fit::Excludes
        );
        assert_eq!(nets("10.0.0.5", false).fit(None), Fit::Unknown);
        assert_eq!(
            nets("127.0.0.0/8", true).fit(Some(ip("10.0.0.5"))),
            Fit::NoCondition
        );
        assert_eq!(
            nets("127.0.0.0/8", true).fit(Some(ip("127.0.0.1"))),
            Fit::Excludes
        );
        assert_eq!(
            nets("0.0.0.0/0", false).fit(Some(ip("10.0.0.5"))),
            Fit::NoCondition
        );
        assert_eq!(
            AddrMatch::Unresolved("@blocklist".into()).fit(Some(ip("10.0.0.5"))),
            Fit::Unknown
        );
    }

    #[test]
    fn ports_and_ranges() {
        assert_eq!(
            parse_ports("80,443,8000:8100"),
            Some(vec![(80, 80), (443, 443), (8000, 8100)])
        );
        assert_eq!(parse_ports("9000-9010"), Some(vec![(9000, 9010)]));
        assert_eq!(parse_ports("https"), Some(vec![(443, 443)]));
        assert_eq!(parse_ports("nope"), None);
        let m = PortMatch::Ranges {
            ranges: vec![(8000, 8100)],
            negated: false,
        };
        assert_eq!(m.fit(Some(8080)), Fit::Names);
        assert_eq!(m.fit(Some(22)), Fit::Excludes);
        assert_eq!(m.overlaps(32768, 60999), Some(false));
        let not22 = PortMatch::Ranges {
            ranges: vec![(22, 22)],
            negated: true,
        };
        assert_eq!(not22.fit(Some(8080)), Fit::NoCondition);
        assert_eq!(not22.overlaps(32768, 60999), Some(true));
    }
}
