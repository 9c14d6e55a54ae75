//! Which rules could stop the proxy's connection to a endpoint: outbound rules by the endpoint's
//! address and port as destination, reply-path rules by them as source (see the module docs).

use std::net::IpAddr;

use serde::Serialize;

use super::net::Fit;
use super::{FirewallSummary, Iface, Rule};

/// The local port range of the proxy's connections (Linux's default `ip_local_port_range`): a
/// reply-path rule on destination ports outside it never sees a reply.
pub const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

/// An upstream endpoint the proxy connects to over TCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The caller's identifier (e.g. the upstream's index); several endpoints may share one.
    pub id: usize,
    /// `None` when the name did not resolve: only ports can be compared then.
    pub addr: Option<IpAddr>,
    pub port: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// The proxy's packets to the upstream.
    Outbound,
    /// The upstream's answers to the proxy.
    Reply,
}

/// How surely a rule applies to a endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// It names the endpoint's address or port (and nothing in it excludes the endpoint).
    Names,
    /// A condition could not be evaluated (a named set, an ipset, an unresolved name).
    Possible,
    /// It has no address or port condition: a default policy or a drop-everything rule.
    Blanket,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// Index into [`FirewallSummary::rules`].
    pub rule: usize,
    /// Index into the endpoints given.
    pub endpoint: usize,
    pub path: PathKind,
    pub strength: Strength,
    /// The rule has conditions that were not evaluated (connection state, owner, interface
    /// for a routed endpoint...): it may apply to only part of the traffic.
    pub conditional: bool,
}

/// Every (rule, endpoint, path) where the rule could stop the endpoint's traffic. Reply-path rules
/// placed after an ESTABLISHED accept are left out: replies never reach them.
pub fn matches(summary: &FirewallSummary, endpoints: &[Endpoint]) -> Vec<Match> {
    let mut out = Vec::new();
    for (ri, rule) in summary.rules.iter().enumerate() {
        for (ei, endpoint) in endpoints.iter().enumerate() {
            if !compatible(rule, endpoint) {
                continue;
            }
            let outbound = rule.hooks.iter().any(|h| h.is_outbound());
            let reply = rule.hooks.iter().any(|h| h.is_inbound()) && !rule.replies_accepted_before;
            for (applies, path) in [(outbound, PathKind::Outbound), (reply, PathKind::Reply)] {
                if !applies {
                    continue;
                }
                if let Some((strength, conditional)) = judge(rule, endpoint, path) {
                    out.push(Match {
                        rule: ri,
                        endpoint: ei,
                        path,
                        strength,
                        conditional,
                    });
                }
            }
        }
    }
    out
}

fn compatible(rule: &Rule, endpoint: &Endpoint) -> bool {
    let family_ok = !matches!(
        (rule.family, endpoint.addr),
        (Some(super::Family::V4), Some(IpAddr::V6(_)))
            | (Some(super::Family::V6), Some(IpAddr::V4(_)))
    );
    let tcp = rule
        .protocol
        .as_deref()
        .is_none_or(|p| matches!(p, "tcp" | "6" | "all"));
    family_ok && tcp
}

/// How the rule relates to the endpoint on one path; `None` when it cannot apply.
fn judge(rule: &Rule, endpoint: &Endpoint, path: PathKind) -> Option<(Strength, bool)> {
    let (remote_addr, remote_port, local_addr, local_port, iface) = match path {
        PathKind::Outbound => (
            &rule.dst,
            &rule.dport,
            &rule.src,
            &rule.sport,
            &rule.out_iface,
        ),
        PathKind::Reply => (
            &rule.src,
            &rule.sport,
            &rule.dst,
            &rule.dport,
            &rule.in_iface,
        ),
    };
    let mut conditional = rule.other_conditions;
    let fits = [
        remote_addr.fit(endpoint.addr),
        remote_port.fit(endpoint.port),
    ];
    if fits.contains(&Fit::Excludes) {
        return None;
    }
    // The proxy's own address: loopback for a loopback endpoint, otherwise not known here.
    if !local_addr.is_any() {
        let local = endpoint.addr.filter(|a| a.is_loopback());
        match local_addr.fit(local) {
            Fit::Excludes => return None,
            Fit::NoCondition | Fit::Names => {}
            Fit::Unknown => conditional = true,
        }
    }
    if !local_port.is_any() {
        match local_port.overlaps(EPHEMERAL_PORTS.0, EPHEMERAL_PORTS.1) {
            Some(false) => return None,
            Some(true) | None => conditional = true,
        }
    }
    if let Some(iface) = iface {
        match interface(iface, endpoint.addr) {
            Some(false) => return None,
            Some(true) => {}
            None => conditional = true,
        }
    }
    let strength = if fits.contains(&Fit::Names) {
        Strength::Names
    } else if fits.contains(&Fit::Unknown) {
        Strength::Possible
    } else {
        Strength::Blanket
    };
    Some((strength, conditional))
}

/// Whether an interface condition holds for the endpoint's traffic: loopback endpoints use `lo`;
/// for others the route decides, which is not known here (`None`) unless the rule can only be
/// about `lo`.
fn interface(iface: &Iface, addr: Option<IpAddr>) -> Option<bool> {
    match addr {
        Some(a) if a.is_loopback() => Some(iface.can_hold(true)),
        Some(_) if !iface.can_hold(false) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{Tool, summarise};
    use std::time::SystemTime;

    fn summary(text: &str) -> FirewallSummary {
        summarise(
            SystemTime::UNIX_EPOCH,
            vec![(Tool::Iptables, Ok(text.to_owned()))],
        )
    }

    fn endpoint(addr: &str, port: u16) -> Endpoint {
        Endpoint {
            id: 0,
            addr: Some(addr.parse().unwrap()),
            port: Some(port),
        }
    }

    fn found(s: &FirewallSummary, t: &Endpoint) -> Vec<(String, PathKind, Strength, bool)> {
        matches(s, std::slice::from_ref(t))
            .into_iter()
            .map(|m| {
                (
                    s.rules[m.rule].text.clone(),
                    m.path,
                    m.strength,
                    m.conditional,
                )
            })
            .collect()
    }

    #[test]
    fn outbound_rules_match_by_destination_and_reply_rules_by_source() {
        let s = summary(
            "-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n\
             -A OUTPUT -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -j DROP\n\
             -A OUTPUT -d 10.0.0.6/32 -j REJECT\n\
             -A OUTPUT -p udp -j DROP\n\
             -A INPUT -s 10.0.0.5/32 -j DROP\n\
             -A INPUT -p tcp -m tcp --dport 8080 -j DROP\n\
             -A INPUT -p tcp -m tcp --sport 8080 -m state --state NEW -j DROP\n",
        );
        let t = endpoint("10.0.0.5", 8080);
        assert_eq!(
            found(&s, &t),
            vec![
                (
                    "-A INPUT -s 10.0.0.5/32 -j DROP".into(),
                    PathKind::Reply,
                    Strength::Names,
                    false
                ),
                (
                    "-A INPUT -p tcp -m tcp --sport 8080 -m state --state NEW -j DROP".into(),
                    PathKind::Reply,
                    Strength::Names,
                    true
                ),
                (
                    "-A OUTPUT -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -j DROP".into(),
                    PathKind::Outbound,
                    Strength::Names,
                    false
                ),
            ],
            "a dport 8080 INPUT rule protects a local service, not the proxy's replies"
        );
        assert!(found(&s, &endpoint("10.0.0.7", 9000)).is_empty());
        assert!(
            found(&s, &endpoint("::1", 8080)).is_empty(),
            "iptables rules are IPv4 only"
        );
    }

    #[test]
    fn policies_are_blanket_and_replies_after_an_established_accept_are_safe() {
        let s = summary(
            "-P INPUT DROP\n-P OUTPUT DROP\n\
             -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A INPUT -s 10.0.0.0/8 -j DROP\n",
        );
        let got = found(&s, &endpoint("10.0.0.5", 8080));
        assert_eq!(
            got,
            vec![(
                "-P OUTPUT DROP".into(),
                PathKind::Outbound,
                Strength::Blanket,
                false
            )]
        );
    }

    #[test]
    fn interfaces_and_sets_weaken_or_exclude() {
        let s = summary(
            "-A OUTPUT -o eth0 -j DROP\n\
             -A OUTPUT -o lo -d 127.0.0.66/32 -j DROP\n\
             -A OUTPUT -m set --match-set bad dst -j DROP\n",
        );
        let lo = found(&s, &endpoint("127.0.0.66", 9));
        assert_eq!(lo.len(), 2, "{lo:?}");
        assert_eq!(lo[0].2, Strength::Names);
        assert_eq!(lo[1].2, Strength::Possible);
        let remote = found(&s, &endpoint("10.0.0.5", 8080));
        assert_eq!(remote.len(), 2, "{remote:?}");
        assert_eq!(
            (remote[0].2, remote[0].3),
            (Strength::Blanket, true),
            "-o eth0 depends on the route"
        );
        let unresolved = Endpoint {
            id: 3,
            addr: None,
            port: Some(8080),
        };
        let m = matches(&s, &[unresolved]);
        assert!(m.iter().all(|m| m.strength != Strength::Names));
    }
}
