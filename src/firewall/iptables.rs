//! `iptables -S` / `ip6tables -S`: the filter table in iptables-save syntax.
//!
//! ```text
//! -P INPUT DROP
//! -N app-out
//! -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! -A INPUT -s 10.0.0.5/32 -j DROP
//! -A OUTPUT -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset
//! -A OUTPUT -j app-out
//! ```

use super::chains::{self, Chain, Entry};
use super::net::{AddrMatch, Cidr, PortMatch, parse_ports};
use super::{Action, Hook, Iface, Rule, Tool};

/// The DROP/REJECT rules and dropping policies of one `-S` listing.
pub(crate) fn parse(tool: Tool, text: &str) -> Vec<Rule> {
    let mut chains: Vec<Chain> = Vec::new();
    for line in text.lines().map(str::trim) {
        let words = split(line);
        let Some(op) = words.first() else { continue };
        match (op.as_str(), words.get(1)) {
            ("-P", Some(name)) => {
                let chain = chain_mut(&mut chains, name);
                if words.get(2).is_some_and(|p| p == "DROP") {
                    chain.policy = Some(Rule::new(tool, name, Action::Drop, line));
                }
            }
            ("-N", Some(name)) => {
                chain_mut(&mut chains, name);
            }
            ("-A", Some(name)) => {
                let entry = rule(tool, name, &words[2..], line);
                if let Some(entry) = entry {
                    chain_mut(&mut chains, name).entries.push(entry);
                }
            }
            _ => {}
        }
    }
    chains::resolve(chains)
}

fn chain_mut<'a>(chains: &'a mut Vec<Chain>, name: &str) -> &'a mut Chain {
    let i = match chains.iter().position(|c| c.name == name) {
        Some(i) => i,
        None => {
            // Built-in chains are upper case; a user chain called "input" is just a name.
            let hook = if name.chars().all(|c| c.is_ascii_uppercase()) {
                Hook::from_name(name)
            } else {
                None
            };
            chains.push(Chain::new(name, hook));
            chains.len() - 1
        }
    };
    &mut chains[i]
}

/// What one `-A` rule is for the walk: a stop, a jump, an established-accept, or nothing.
fn rule(tool: Tool, chain: &str, args: &[String], line: &str) -> Option<Entry> {
    let mut r = Rule::new(tool, chain, Action::Drop, line);
    let mut target: Option<&str> = None;
    let mut established_only = false;
    let mut narrowed = false;
    let mut negate = false;
    let mut i = 0;
    while i < args.len() {
        let opt = args[i].as_str();
        let value = args.get(i + 1).map(String::as_str);
        let neg = std::mem::take(&mut negate);
        let mut used = 2;
        match (opt, value) {
            ("!", _) => {
                negate = true;
                used = 1;
            }
            ("-s" | "--source", Some(v)) => {
                r.src = addresses(v, neg);
                narrowed = true;
            }
            ("-d" | "--destination", Some(v)) => {
                r.dst = addresses(v, neg);
                narrowed = true;
            }
            ("-p" | "--protocol", Some(v)) => {
                if neg {
                    r.other_conditions = true;
                } else if v != "all" {
                    r.protocol = Some(v.to_ascii_lowercase());
                }
                narrowed = true;
            }
            ("-i" | "--in-interface", Some(v)) => {
                r.in_iface = Some(Iface {
                    name: v.to_owned(),
                    negated: neg,
                });
                narrowed = true;
            }
            ("-o" | "--out-interface", Some(v)) => {
                r.out_iface = Some(Iface {
                    name: v.to_owned(),
                    negated: neg,
                });
                narrowed = true;
            }
            ("--dport" | "--destination-port" | "--dports" | "--destination-ports", Some(v)) => {
                r.dport = ports(v, neg);
                narrowed = true;
            }
            ("--sport" | "--source-port" | "--sports" | "--source-ports", Some(v)) => {
                r.sport = ports(v, neg);
                narrowed = true;
            }
            ("--ctstate" | "--state", Some(v)) => {
                let states: Vec<&str> = v.split(',').collect();
                established_only = !neg
                    && states.contains(&"ESTABLISHED")
                    && states
                        .iter()
                        .all(|s| matches!(*s, "ESTABLISHED" | "RELATED"));
                r.other_conditions = true;
            }
            ("--match-set", Some(set)) => {
                let dir = args.get(i + 2).map(String::as_str).unwrap_or("");
                let what = AddrMatch::Unresolved(format!("ipset {set}"));
                if dir.starts_with("dst") {
                    r.dst = what;
                } else {
                    r.src = what;
                }
                used = 3;
                narrowed = true;
            }
            ("-j" | "--jump" | "-g" | "--goto", Some(v)) => target = Some(v),
            // Modules, comments and REJECT's option say nothing about which packets match.
            ("-m" | "--match" | "--comment" | "--reject-with", Some(_)) => {}
            _ => {
                // An option we do not evaluate, with however many values it takes.
                r.other_conditions = true;
                used = 1 + args[i + 1..]
                    .iter()
                    .take_while(|a| !a.starts_with('-') && a.as_str() != "!")
                    .count();
                narrowed = true;
            }
        }
        i += used;
    }
    match target? {
        "DROP" => Some(Entry::Stop(Box::new(r))),
        "REJECT" => {
            r.action = Action::Reject;
            Some(Entry::Stop(Box::new(r)))
        }
        "ACCEPT" if established_only && !narrowed => Some(Entry::AcceptEstablished),
        "ACCEPT" | "RETURN" | "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "NOTRACK" | "CT"
        | "MASQUERADE" | "SNAT" | "DNAT" | "REDIRECT" | "TCPMSS" => None,
        chain => Some(Entry::Jump(chain.to_owned())),
    }
}

fn addresses(text: &str, negated: bool) -> AddrMatch {
    let nets: Option<Vec<Cidr>> = text.split(',').map(Cidr::parse).collect();
    match nets {
        Some(nets) if !nets.is_empty() => AddrMatch::Nets { nets, negated },
        _ => AddrMatch::Unresolved(super::clean_text(text)),
    }
}

fn ports(text: &str, negated: bool) -> PortMatch {
    match parse_ports(text) {
        Some(ranges) => PortMatch::Ranges { ranges, negated },
        None => PortMatch::Unresolved(super::clean_text(text)),
    }
}

/// Splits an iptables-save line into words; `"..."` quotes a word (iptables escapes `"` and `\`
/// inside with a backslash).
pub(crate) fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with ufw enabled and a hand-added rule, as `iptables -S` prints it (ufw's
    /// before/after chains abridged).
    const UFW_HOST: &str = r#"-P INPUT DROP
-P FORWARD DROP
-P OUTPUT ACCEPT
-N ufw-after-input
-N ufw-before-input
-N ufw-before-output
-N ufw-user-input
-N ufw-user-output
-A INPUT -j ufw-before-input
-A INPUT -j ufw-after-input
-A OUTPUT -d 10.0.0.9/32 -p tcp -m tcp --dport 5432 -m comment --comment "db \"primary\" blocked" -j REJECT --reject-with tcp-reset
-A OUTPUT -j ufw-before-output
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-before-input -j ufw-user-input
-A ufw-before-output -o lo -j ACCEPT
-A ufw-before-output -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-output -j ufw-user-output
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-user-input -s 10.0.0.5/32 -j DROP
-A ufw-user-output -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -j DROP
-A ufw-user-output ! -d 10.0.0.0/8 -o eth0 -p tcp -m multiport --dports 80,443,8000:8100 -j REJECT --reject-with icmp-port-unreachable
-A ufw-after-input -m set --match-set crowdsec-blacklists src -j DROP
"#;

    #[test]
    fn words_keep_quoted_comments_whole() {
        assert_eq!(
            split(r#"-A X -m comment --comment "a \"b\" c" -j DROP"#),
            [
                "-A",
                "X",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "DROP"
            ]
        );
    }

    #[test]
    fn rules_policies_and_the_hooks_that_reach_them() {
        let rules = parse(Tool::Iptables, UFW_HOST);
        let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(rules.len(), 8, "{texts:#?}");
        let find = |needle: &str| {
            rules
                .iter()
                .find(|r| r.text.contains(needle))
                .unwrap_or_else(|| panic!("no rule with {needle:?} in {texts:#?}"))
        };

        let reject = find("5432");
        assert_eq!(reject.chain, "OUTPUT");
        assert_eq!(reject.action, Action::Reject);
        assert_eq!(reject.hooks, [Hook::Output]);
        assert_eq!(reject.protocol.as_deref(), Some("tcp"));
        assert_eq!(
            reject.dport,
            PortMatch::Ranges {
                ranges: vec![(5432, 5432)],
                negated: false
            }
        );
        assert!(!reject.other_conditions, "comments are not conditions");
        assert!(
            reject
                .text
                .contains(r#"--comment "db \"primary\" blocked""#)
        );

        let invalid = find("INVALID");
        assert!(invalid.other_conditions);
        assert!(invalid.replies_accepted_before);

        let from_upstream = find("-s 10.0.0.5/32");
        assert_eq!(from_upstream.chain, "ufw-user-input");
        assert_eq!(from_upstream.hooks, [Hook::Input]);
        assert_eq!(
            from_upstream.src,
            AddrMatch::Nets {
                nets: vec![Cidr::parse("10.0.0.5").unwrap()],
                negated: false
            }
        );
        assert!(
            from_upstream.replies_accepted_before,
            "ufw accepts ESTABLISHED before its user rules"
        );

        let to_upstream = find("--dport 8080");
        assert_eq!(to_upstream.hooks, [Hook::Output]);
        assert!(!to_upstream.replies_accepted_before);

        let web = find("multiport");
        assert_eq!(web.action, Action::Reject);
        assert!(matches!(&web.dst, AddrMatch::Nets { negated: true, .. }));
        assert_eq!(
            web.out_iface,
            Some(Iface {
                name: "eth0".into(),
                negated: false
            })
        );
        assert_eq!(
            web.dport,
            PortMatch::Ranges {
                ranges: vec![(80, 80), (443, 443), (8000, 8100)],
                negated: false
            }
        );

        let crowdsec = find("crowdsec");
        assert_eq!(
            crowdsec.src,
            AddrMatch::Unresolved("ipset crowdsec-blacklists".into())
        );
        assert!(
            crowdsec.replies_accepted_before,
            "accepted in a chain jumped to earlier"
        );

        let policy = find("-P INPUT DROP");
        assert!(policy.policy);
        assert_eq!(policy.hooks, [Hook::Input]);
        assert!(policy.replies_accepted_before);
        assert_eq!(find("-P FORWARD DROP").hooks, [Hook::Forward]);
        assert!(!texts.iter().any(|t| t.contains("ACCEPT")), "{texts:#?}");
    }

    #[test]
    fn ip6tables_rules_are_ipv6_only_and_hostile_text_is_sanitised() {
        let rules = parse(
            Tool::Ip6tables,
            "-P OUTPUT ACCEPT\n-A OUTPUT -d ::1/128 -p tcp -m tcp --dport 9 -m comment --comment \"\x1b[2J\" -j DROP\n",
        );
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].family, Some(super::super::Family::V6));
        assert!(rules[0].text.contains("\\x1b[2J"), "{}", rules[0].text);
    }

    #[test]
    fn garbage_is_ignored_not_fatal() {
        assert!(parse(Tool::Iptables, "-A\n-P\n\u{0}\n-A OUTPUT -j\n--weird\n").is_empty());
    }
}
