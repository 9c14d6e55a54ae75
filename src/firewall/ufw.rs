//! `ufw status verbose`:
//!
//! ```text
//! Status: active
//! Logging: on (low)
//! Default: deny (incoming), allow (outgoing), disabled (routed)
//! New profiles: skip
//!
//! To                         Action      From
//! --                         ------      ----
//! 22/tcp                     ALLOW IN    Anywhere
//! 10.0.0.5 8080/tcp          DENY OUT    Anywhere
//! Anywhere                   ALLOW OUT   Anywhere on lo
//! ```
//!
//! "To" is the destination, "From" the source, whatever the direction. ufw's before-rules accept
//! ESTABLISHED and RELATED traffic ahead of every user rule and of the default incoming policy,
//! so replies to the proxy's own connections never reach an `IN` rule.

use super::net::{AddrMatch, Cidr, PortMatch, parse_ports};
use super::{Action, Family, Hook, Iface, Rule, Tool};

pub(crate) enum Status {
    Inactive,
    Active(Vec<Rule>),
    /// Not what ufw prints: the first line, sanitised.
    Unrecognised(String),
}

const CHAIN: &str = "user rules";

pub(crate) fn parse(text: &str) -> Status {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some("Status: inactive") => return Status::Inactive,
        Some("Status: active") => {}
        Some(other) => return Status::Unrecognised(super::clean_text(other)),
        None => return Status::Unrecognised("no output".into()),
    }
    let mut rules = Vec::new();
    let mut in_table = false;
    for line in lines {
        if let Some(defaults) = line.strip_prefix("Default:") {
            rules.extend(policies(defaults, line));
        } else if line.starts_with("--") {
            in_table = true;
        } else if in_table && let Some(rule) = rule(line) {
            rules.push(rule);
        }
    }
    Status::Active(rules)
}

/// `deny (incoming), allow (outgoing), disabled (routed)`.
fn policies(defaults: &str, line: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for part in defaults.split(',') {
        let mut words = part.split_whitespace();
        let (Some(policy), Some(direction)) = (words.next(), words.next()) else {
            continue;
        };
        let action = match policy {
            "deny" => Action::Drop,
            "reject" => Action::Reject,
            _ => continue,
        };
        let hook = match direction {
            "(incoming)" => Hook::Input,
            "(outgoing)" => Hook::Output,
            "(routed)" => Hook::Forward,
            _ => continue,
        };
        for family in [Family::V4, Family::V6] {
            let mut r = Rule::new(Tool::Ufw, "default policy", action, line);
            r.policy = true;
            r.hooks = vec![hook];
            r.family = Some(family);
            r.replies_accepted_before = hook == Hook::Input;
            out.push(r);
        }
    }
    out
}

fn rule(line: &str) -> Option<Rule> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| matches!(*w, "ALLOW" | "DENY" | "REJECT" | "LIMIT"))?;
    let action = match words[at] {
        "DENY" => Action::Drop,
        "REJECT" => Action::Reject,
        _ => return None,
    };
    let (hook, from_at) = match words.get(at + 1).copied() {
        Some("OUT") => (Hook::Output, at + 2),
        Some("FWD") => (Hook::Forward, at + 2),
        Some("IN") => (Hook::Input, at + 2),
        _ => (Hook::Input, at + 1),
    };
    let to = endpoint(&words[..at]);
    let from = endpoint(words.get(from_at..).unwrap_or(&[]));
    let mut r = Rule::new(Tool::Ufw, CHAIN, action, line);
    r.hooks = vec![hook];
    r.replies_accepted_before = hook == Hook::Input;
    r.dst = to.addr;
    r.dport = to.port;
    r.src = from.addr;
    r.sport = from.port;
    r.protocol = to.protocol.or(from.protocol);
    let iface = to.iface.or(from.iface);
    if hook == Hook::Output {
        r.out_iface = iface;
    } else {
        r.in_iface = iface;
    }
    r.family = Some(if to.v6 || from.v6 {
        Family::V6
    } else {
        Family::V4
    });
    Some(r)
}

#[derive(Default)]
struct Endpoint {
    addr: AddrMatch,
    port: PortMatch,
    protocol: Option<String>,
    iface: Option<Iface>,
    v6: bool,
}

/// `10.0.0.5 8080/tcp`, `Anywhere (v6) on lo`, `80,443/tcp (Nginx Full)`, `OpenSSH`.
fn endpoint(words: &[&str]) -> Endpoint {
    let mut e = Endpoint::default();
    let mut unknown: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match w {
            "Anywhere" => {}
            "(v6)" => e.v6 = true,
            "(log)" | "(log-all)" | "(out)" => {}
            "on" => {
                if let Some(name) = words.get(i + 1) {
                    e.iface = Some(Iface {
                        name: (*name).to_owned(),
                        negated: false,
                    });
                    i += 1;
                }
            }
            // The application a port list came from, shown next to it in verbose mode.
            w if w.starts_with('(') => {}
            w => {
                if let Some(net) = Cidr::parse(w) {
                    e.v6 |= net.addr.is_ipv6();
                    e.addr = AddrMatch::Nets {
                        nets: vec![net],
                        negated: false,
                    };
                } else if let Some((ports, proto)) = port_spec(w) {
                    e.port = PortMatch::Ranges {
                        ranges: ports,
                        negated: false,
                    };
                    e.protocol = proto;
                } else {
                    unknown.push(w);
                }
            }
        }
        i += 1;
    }
    if !unknown.is_empty() {
        // An application profile ("Nginx Full"): its ports are in /etc/ufw/applications.d.
        e.port = PortMatch::Unresolved(super::clean_text(&unknown.join(" ")));
    }
    e
}

/// Port ranges and the protocol they are for.
type PortSpec = (Vec<(u16, u16)>, Option<String>);

/// `8080/tcp`, `80,443/tcp`, `8000:8100/udp`, `22`.
fn port_spec(word: &str) -> Option<PortSpec> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, Some(proto.to_owned())),
        None => (word, None),
    };
    if !ports.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((parse_ports(ports)?, proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE: &str = "Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), reject (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW IN    Anywhere
Nginx Full                 ALLOW IN    Anywhere
10.0.0.5 8080/tcp          DENY OUT    Anywhere
Anywhere                   DENY IN     10.0.0.7
8000:8100/tcp              REJECT OUT  Anywhere on eth0
Anywhere on lo             ALLOW IN    Anywhere
5432                       LIMIT IN    Anywhere
22/tcp (v6)                ALLOW IN    Anywhere (v6)
::1 9/tcp                  DENY OUT    Anywhere (v6)
Anywhere (v6)              DENY IN     fe80::/10 (log)
";

    #[test]
    fn deny_and_reject_rules_and_default_policies() {
        let Status::Active(rules) = parse(ACTIVE) else {
            panic!("active")
        };
        let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(rules.len(), 9, "{texts:#?}");
        let policies: Vec<&Rule> = rules.iter().filter(|r| r.policy).collect();
        assert_eq!(policies.len(), 4, "incoming and routed, v4 and v6");
        assert!(
            policies
                .iter()
                .any(|p| p.hooks == [Hook::Forward] && p.action == Action::Reject)
        );
        assert!(policies.iter().all(|p| p.hooks != [Hook::Output]));

        let out = rules.iter().find(|r| r.text.contains("10.0.0.5")).unwrap();
        assert_eq!(out.hooks, [Hook::Output]);
        assert_eq!(
            out.dst,
            AddrMatch::Nets {
                nets: vec![Cidr::parse("10.0.0.5").unwrap()],
                negated: false
            }
        );
        assert_eq!(
            out.dport,
            PortMatch::Ranges {
                ranges: vec![(8080, 8080)],
                negated: false
            }
        );
        assert_eq!(out.protocol.as_deref(), Some("tcp"));
        assert_eq!(out.family, Some(Family::V4));
        assert!(!out.replies_accepted_before);

        let inbound = rules.iter().find(|r| r.text.contains("10.0.0.7")).unwrap();
        assert_eq!(inbound.hooks, [Hook::Input]);
        assert!(matches!(inbound.src, AddrMatch::Nets { .. }));
        assert!(inbound.replies_accepted_before);

        let range = rules.iter().find(|r| r.text.contains("8000:8100")).unwrap();
        assert_eq!(range.action, Action::Reject);
        assert_eq!(
            range.out_iface.as_ref().map(|i| i.name.as_str()),
            Some("eth0")
        );

        let v6 = rules.iter().find(|r| r.text.starts_with("::1")).unwrap();
        assert_eq!(v6.family, Some(Family::V6));
        let logged = rules.iter().find(|r| r.text.contains("fe80")).unwrap();
        assert_eq!(logged.family, Some(Family::V6));
        assert!(matches!(logged.src, AddrMatch::Nets { .. }));
    }

    #[test]
    fn inactive_and_foreign_output() {
        assert!(matches!(parse("Status: inactive\n"), Status::Inactive));
        assert!(
            matches!(parse("ERROR: You need to be root to run this script\n"), Status::Unrecognised(l) if l.contains("root"))
        );
        assert!(matches!(parse(""), Status::Unrecognised(_)));
    }

    #[test]
    fn application_profiles_are_unresolved_ports() {
        let Status::Active(rules) = parse(
            "Status: active\n\nTo Action From\n-- ------ ----\nNginx Full                 DENY IN     Anywhere\n",
        ) else {
            panic!("active")
        };
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].dport, PortMatch::Unresolved("Nginx Full".into()));
    }
}
