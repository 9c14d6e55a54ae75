//! `nft list ruleset`: tables of chains (base chains carry a hook and a policy) and named sets.
//!
//! ```text
//! table inet filter {
//!     set blocked {
//!         type ipv4_addr
//!         elements = { 10.0.0.5, 10.0.9.0/24 }
//!     }
//!     chain output {
//!         type filter hook output priority filter; policy accept;
//!         ip daddr @blocked tcp dport 8080 counter packets 3 bytes 180 drop
//!     }
//! }
//! ```

use std::collections::HashMap;

use super::chains::{self, Chain, Entry};
use super::net::{AddrMatch, Cidr, PortMatch, parse_ports};
use super::{Action, Family, Hook, Iface, Rule, Tool};

/// Tables iptables-nft created: their rules are read through `iptables -S` when that works.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Managed {
    /// "ip filter", "ip6 filter", ...: the prefix of their rules' chain labels.
    tables: Vec<(Family, String)>,
}

impl Managed {
    /// Whether a rule of chain label `chain` is also listed by (ip6)iptables, which was read.
    pub fn covered(&self, chain: &str, v4_read: bool, v6_read: bool) -> bool {
        self.tables.iter().any(|(family, prefix)| {
            let read = match family {
                Family::V4 => v4_read,
                Family::V6 => v6_read,
            };
            read && chain
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with(' '))
        })
    }
}

const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];
const IPTABLES_CHAINS: [&str; 5] = ["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"];

#[derive(Default)]
struct Table {
    family: String,
    name: String,
    sets: HashMap<String, Vec<String>>,
    chains: Vec<RawChain>,
    warned_managed: bool,
}

#[derive(Default)]
struct RawChain {
    name: String,
    hook: Option<Hook>,
    policy_drop: Option<String>,
    rules: Vec<String>,
}

enum Block {
    Table,
    Chain,
    Set(String),
    Other,
}

pub(crate) fn parse(text: &str) -> (Vec<Rule>, Managed) {
    let tables = structure(text);
    let mut rules = Vec::new();
    let mut managed = Managed::default();
    for table in tables {
        let family = match table.family.as_str() {
            "ip" => Some(Family::V4),
            "ip6" => Some(Family::V6),
            "inet" | "netdev" => None,
            // arp and bridge tables see other traffic than the proxy's own connections.
            _ => continue,
        };
        let label = format!("{} {}", table.family, table.name);
        if let Some(f) = family
            && (table.warned_managed || looks_managed(&table))
        {
            managed.tables.push((f, label.clone()));
        }
        let chains: Vec<Chain> = table
            .chains
            .iter()
            .map(|raw| {
                let chain_label = format!("{label} {}", raw.name);
                let mut chain = Chain::new(&raw.name, raw.hook);
                chain.policy = raw.policy_drop.as_ref().map(|text| {
                    let mut r = Rule::new(Tool::Nft, &chain_label, Action::Drop, text);
                    r.family = family;
                    r
                });
                for line in &raw.rules {
                    chain
                        .entries
                        .extend(rule(&chain_label, family, &table.sets, line));
                }
                chain
            })
            .collect();
        rules.extend(chains::resolve(chains));
    }
    (rules, managed)
}

fn looks_managed(table: &Table) -> bool {
    matches!(table.family.as_str(), "ip" | "ip6")
        && IPTABLES_TABLES.contains(&table.name.as_str())
        && table
            .chains
            .iter()
            .filter(|c| c.hook.is_some())
            .all(|c| IPTABLES_CHAINS.contains(&c.name.as_str()))
        && table.chains.iter().any(|c| c.hook.is_some())
}

/// Splits the listing into tables, chains (hook, policy, rule lines) and named sets.
fn structure(text: &str) -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    let mut stack: Vec<Block> = Vec::new();
    let mut pending = String::new();
    let mut warnings: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            if line.contains("managed by iptables-nft") {
                warnings.push(line.to_owned());
            }
            continue;
        }
        // A set's elements (or a long anonymous set) may run over several lines.
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(line);
        if brace_balance(&pending) > 0 && !opens_block(&pending) {
            continue;
        }
        let line = std::mem::take(&mut pending);
        let words: Vec<&str> = line.split_whitespace().collect();
        if opens_block(&line) {
            let block = match (words.first().copied(), stack.last()) {
                (Some("table"), None) => {
                    tables.push(Table {
                        family: words.get(1).copied().unwrap_or("").to_owned(),
                        name: words.get(2).copied().unwrap_or("").to_owned(),
                        ..Table::default()
                    });
                    Block::Table
                }
                (Some("chain"), Some(Block::Table)) => {
                    if let Some(t) = tables.last_mut() {
                        t.chains.push(RawChain {
                            name: words.get(1).copied().unwrap_or("").to_owned(),
                            ..RawChain::default()
                        });
                    }
                    Block::Chain
                }
                (Some("set" | "map"), Some(Block::Table)) => {
                    Block::Set(words.get(1).copied().unwrap_or("").to_owned())
                }
                _ => Block::Other,
            };
            stack.push(block);
            continue;
        }
        if line == "}" {
            stack.pop();
            continue;
        }
        let Some(table) = tables.last_mut() else {
            continue;
        };
        match stack.last() {
            Some(Block::Chain) => {
                let Some(chain) = table.chains.last_mut() else {
                    continue;
                };
                if words.first() == Some(&"type") && words.contains(&"hook") {
                    let hook = words
                        .iter()
                        .position(|w| *w == "hook")
                        .and_then(|i| words.get(i + 1))
                        .and_then(|h| Hook::from_name(h));
                    chain.hook = hook;
                    if line.contains("policy drop") {
                        chain.policy_drop = Some(line.clone());
                    }
                } else if !matches!(words.first(), Some(&"policy" | &"comment" | &"devices")) {
                    chain.rules.push(line);
                }
            }
            Some(Block::Set(name)) => {
                if let Some(rest) = line.trim_start().strip_prefix("elements") {
                    let elements = braced(rest.trim_start_matches([' ', '=']))
                        .unwrap_or_default()
                        .split(',')
                        .map(|e| e.trim().to_owned())
                        .filter(|e| !e.is_empty())
                        .collect();
                    table.sets.insert(name.clone(), elements);
                }
            }
            _ => {}
        }
    }
    // The warning may come before or inside the table it names.
    for warning in &warnings {
        mark_managed(&mut tables, warning);
    }
    tables
}

fn mark_managed(tables: &mut [Table], comment: &str) {
    // "# Warning: table ip filter is managed by iptables-nft, do not touch!"
    let words: Vec<&str> = comment.split_whitespace().collect();
    let Some(i) = words.iter().position(|w| *w == "table") else {
        return;
    };
    let (Some(family), Some(name)) = (words.get(i + 1), words.get(i + 2)) else {
        return;
    };
    if let Some(t) = tables
        .iter_mut()
        .find(|t| t.family == *family && t.name == *name)
    {
        t.warned_managed = true;
    }
}

fn opens_block(line: &str) -> bool {
    line.ends_with('{')
        && !line.contains('=')
        && line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.chars().all(|c| c.is_ascii_lowercase()))
}

/// `{` minus `}` outside quotes.
fn brace_balance(text: &str) -> i32 {
    let mut quoted = false;
    let mut balance = 0;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => balance += 1,
            '}' if !quoted => balance -= 1,
            _ => {}
        }
    }
    balance
}

/// The inside of a leading `{ ... }`.
fn braced(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix('{')?;
    let end = inner.rfind('}')?;
    Some(inner[..end].trim())
}

/// Words of a rule, with `{ ... }` groups and `"..."` strings kept whole.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            '{' if !quoted => {
                depth += 1;
                word.push(c);
            }
            '}' if !quoted => {
                depth -= 1;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted && depth <= 0 => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `{ a, b }`, `a,b`, `@set` or a single value, as a list; `None` for a named set we do not know.
fn values(token: &str, sets: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
    if let Some(name) = token.strip_prefix('@') {
        return sets.get(name).cloned();
    }
    // `{ a, b }` or `a,b` (how nft prints `ct state established,related`).
    let list = braced(token).unwrap_or(token);
    Some(
        list.split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn addresses(token: &str, negated: bool, sets: &HashMap<String, Vec<String>>) -> AddrMatch {
    let nets: Option<Vec<Cidr>> =
        values(token, sets).and_then(|vs| vs.iter().map(|v| Cidr::parse(v)).collect());
    match nets {
        Some(nets) if !nets.is_empty() => AddrMatch::Nets { nets, negated },
        _ => AddrMatch::Unresolved(super::clean_text(token)),
    }
}

fn ports(token: &str, negated: bool, sets: &HashMap<String, Vec<String>>) -> PortMatch {
    let ranges = values(token, sets).and_then(|vs| parse_ports(&vs.join(",")));
    match ranges {
        Some(ranges) => PortMatch::Ranges { ranges, negated },
        None => PortMatch::Unresolved(super::clean_text(token)),
    }
}

const VERDICTS: [&str; 7] = [
    "accept", "drop", "reject", "jump", "goto", "return", "continue",
];

/// One rule line as entries for the walk: a stop, jumps, an established-accept, or nothing.
fn rule(
    chain: &str,
    family: Option<Family>,
    sets: &HashMap<String, Vec<String>>,
    line: &str,
) -> Vec<Entry> {
    let t = tokens(line);
    let mut r = Rule::new(Tool::Nft, chain, Action::Drop, line);
    r.family = family;
    let mut verdict: Option<(&str, Option<&str>)> = None;
    let mut established_only = false;
    let mut narrowed = false;
    let mut jumps: Vec<Entry> = Vec::new();
    let mut i = 0;
    let word = |k: usize| t.get(k).map(String::as_str);
    while i < t.len() {
        let w = t[i].as_str();
        // `iifname vmap { ... }`, `ip saddr vmap @zones`: the map decides, see below.
        if w != "vmap"
            && let Some(offset) = (1..=2).find(|&k| word(i + k) == Some("vmap"))
        {
            r.other_conditions = true;
            i += offset;
            continue;
        }
        // `ip daddr != 10.0.0.5`: the operator sits between the field and its value.
        let (negated, value_at) = match word(i + 2) {
            Some("!=") => (true, i + 3),
            Some("==") => (false, i + 3),
            _ => (false, i + 2),
        };
        let value = word(value_at);
        match (w, word(i + 1), value) {
            ("ip" | "ip6", Some(field @ ("saddr" | "daddr")), Some(v)) => {
                let m = addresses(v, negated, sets);
                if field == "saddr" {
                    r.src = m;
                } else {
                    r.dst = m;
                }
                if r.family.is_none() {
                    r.family = Some(if w == "ip" { Family::V4 } else { Family::V6 });
                }
                narrowed = true;
                i = value_at + 1;
            }
            ("ip", Some("protocol"), Some(v))
            | ("ip6", Some("nexthdr"), Some(v))
            | ("meta", Some("l4proto"), Some(v)) => {
                protocol(&mut r, v, negated);
                narrowed = true;
                i = value_at + 1;
            }
            ("meta", Some("nfproto"), Some(v)) => {
                r.family = match v {
                    "ipv4" => Some(Family::V4),
                    "ipv6" => Some(Family::V6),
                    _ => r.family,
                };
                i = value_at + 1;
            }
            (
                "tcp" | "udp" | "sctp" | "dccp" | "th" | "udplite",
                Some(field @ ("dport" | "sport")),
                Some(v),
            ) => {
                let m = ports(v, negated, sets);
                if field == "dport" {
                    r.dport = m;
                } else {
                    r.sport = m;
                }
                if w != "th" && r.protocol.is_none() {
                    r.protocol = Some(w.to_owned());
                }
                narrowed = true;
                i = value_at + 1;
            }
            ("meta", Some(f @ ("iifname" | "oifname" | "iif" | "oif")), Some(v)) => {
                iface(&mut r, f, v, negated);
                narrowed = true;
                i = value_at + 1;
            }
            ("iifname" | "oifname" | "iif" | "oif", Some(_), _) => {
                let (negated, at) = match word(i + 1) {
                    Some("!=") => (true, i + 2),
                    _ => (false, i + 1),
                };
                if let Some(v) = word(at) {
                    iface(&mut r, w, v, negated);
                }
                narrowed = true;
                i = at + 1;
            }
            ("ct", Some("state"), Some(v)) => {
                let states: Vec<String> = values(v, sets).unwrap_or_default();
                established_only = !negated
                    && states.iter().any(|s| s == "established")
                    && states.iter().all(|s| s == "established" || s == "related");
                r.other_conditions = true;
                i = value_at + 1;
            }
            ("counter", _, _) => {
                i += 1;
                while matches!(word(i), Some("packets" | "bytes")) {
                    i += 2;
                }
            }
            ("comment", _, _) => i += 2,
            ("log", _, _) => {
                i += 1;
                while matches!(
                    word(i),
                    Some("prefix" | "level" | "group" | "snaplen" | "queue-threshold" | "flags")
                ) {
                    i += 2;
                }
            }
            ("vmap", _, _) => {
                // A verdict map (firewalld dispatches zones this way): every chain it names is
                // reachable, and a drop in it may apply.
                let inner = word(i + 1).and_then(braced).unwrap_or("");
                for pair in inner.split(',') {
                    let target: Vec<&str> = pair
                        .split(':')
                        .nth(1)
                        .unwrap_or("")
                        .split_whitespace()
                        .collect();
                    match target.as_slice() {
                        ["jump" | "goto", chain] => jumps.push(Entry::Jump((*chain).to_owned())),
                        ["drop"] => verdict = Some(("drop", None)),
                        ["reject", ..] => verdict = Some(("reject", None)),
                        _ => {}
                    }
                }
                r.other_conditions = true;
                i += 2;
            }
            (v, next, _) if VERDICTS.contains(&v) => {
                verdict = Some((v, next));
                i += if matches!(v, "jump" | "goto") { 2 } else { 1 };
                if v == "reject" {
                    // `reject with icmp type host-unreachable`, `reject with tcp reset`.
                    break;
                }
            }
            _ => {
                r.other_conditions = true;
                i += 1;
            }
        }
    }
    let mut out = jumps;
    match verdict {
        Some(("drop", _)) => out.push(Entry::Stop(Box::new(r))),
        Some(("reject", _)) => {
            r.action = Action::Reject;
            out.push(Entry::Stop(Box::new(r)));
        }
        Some(("accept", _)) if established_only && !narrowed => out.push(Entry::AcceptEstablished),
        Some(("jump" | "goto", Some(target))) => out.push(Entry::Jump(target.to_owned())),
        _ => {}
    }
    out
}

fn protocol(r: &mut Rule, v: &str, negated: bool) {
    if negated || v.starts_with('{') {
        r.other_conditions = true;
    } else {
        r.protocol = Some(v.to_ascii_lowercase());
    }
}

fn iface(r: &mut Rule, field: &str, value: &str, negated: bool) {
    let iface = Some(Iface {
        name: value.trim_matches('"').to_owned(),
        negated,
    });
    if field.starts_with('i') {
        r.in_iface = iface;
    } else {
        r.out_iface = iface;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A native nftables host (the Debian default file, extended), plus the tables iptables-nft
    /// leaves behind.
    const RULESET: &str = r#"table inet filter {
	set blocked {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.5, 10.0.9.0/24,
			     192.168.1.7 }
	}
	set web {
		type inet_service
		elements = { 80, 443 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		ip saddr 10.0.0.7 drop
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ip daddr @blocked tcp dport 8080 counter packets 3 bytes 180 drop
		ip daddr != 127.0.0.0/8 oifname "eth0" tcp dport @web reject with icmp type admin-prohibited
		ip6 daddr ::1 tcp dport { 9, 8000-8100 } drop comment "test { brace }"
		meta l4proto udp drop
		jump app
		ip daddr @unknown drop
	}
	chain app {
		ip daddr 10.0.0.8 drop
	}
	chain unused {
		ip daddr 10.0.0.99 drop
	}
}
table ip filter {
	chain OUTPUT {
		type filter hook output priority filter; policy accept;
		ip daddr 127.0.0.66 tcp dport 9 counter packets 0 bytes 0 drop
	}
}
table bridge filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
	}
}
"#;

    #[test]
    fn rules_sets_hooks_and_policies() {
        let (rules, managed) = parse(RULESET);
        let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
        let find = |needle: &str| {
            rules
                .iter()
                .find(|r| r.text.contains(needle))
                .unwrap_or_else(|| panic!("no rule with {needle:?} in {texts:#?}"))
        };
        assert_eq!(rules.len(), 11, "{texts:#?}");
        assert!(
            !texts.iter().any(|t| t.contains("10.0.0.99")),
            "unused chain"
        );

        let invalid = find("invalid");
        assert_eq!(invalid.chain, "inet filter input");
        assert!(invalid.replies_accepted_before && invalid.other_conditions);

        let blocked = find("@blocked");
        assert_eq!(blocked.hooks, [Hook::Output]);
        assert_eq!(blocked.family, Some(Family::V4));
        assert!(
            matches!(&blocked.dst, AddrMatch::Nets { nets, negated: false } if nets.len() == 3)
        );
        assert!(!blocked.other_conditions, "counters are not conditions");
        assert_eq!(blocked.protocol.as_deref(), Some("tcp"));

        let web = find("@web");
        assert_eq!(web.action, Action::Reject);
        assert_eq!(
            web.dport,
            PortMatch::Ranges {
                ranges: vec![(80, 80), (443, 443)],
                negated: false
            }
        );
        assert!(matches!(&web.dst, AddrMatch::Nets { negated: true, .. }));
        assert_eq!(
            web.out_iface.as_ref().map(|i| i.name.as_str()),
            Some("eth0")
        );

        let v6 = find("ip6 daddr ::1");
        assert_eq!(v6.family, Some(Family::V6));
        assert_eq!(
            v6.dport,
            PortMatch::Ranges {
                ranges: vec![(9, 9), (8000, 8100)],
                negated: false
            }
        );
        assert!(!v6.other_conditions, "{v6:?}");

        assert_eq!(find("udp drop").protocol.as_deref(), Some("udp"));
        assert_eq!(find("10.0.0.8").hooks, [Hook::Output], "reached by jump");
        assert!(matches!(find("@unknown").dst, AddrMatch::Unresolved(_)));

        let from = find("saddr 10.0.0.7");
        assert!(from.replies_accepted_before);
        let policy = rules
            .iter()
            .find(|r| r.policy && r.hooks == [Hook::Input])
            .expect("input policy");
        assert!(policy.text.contains("policy drop;"));
        assert!(
            rules.iter().any(|r| r.policy && r.hooks == [Hook::Forward]),
            "forward policy"
        );

        let iptables_nft = find("127.0.0.66");
        assert_eq!(iptables_nft.chain, "ip filter OUTPUT");
        assert!(managed.covered(&iptables_nft.chain, true, false));
        assert!(!managed.covered(&iptables_nft.chain, false, true));
        assert!(!managed.covered(&blocked.chain, true, true));
    }

    #[test]
    fn the_iptables_nft_warning_marks_a_table_and_vmaps_reach_their_chains() {
        let text = "table ip filter {\n# Warning: table ip filter is managed by iptables-nft, do not touch!\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tiifname vmap { \"eth0\" : jump zone_public, \"lo\" : accept }\n\t}\n\tchain zone_public {\n\t\ttcp sport 5432 reject\n\t}\n}\n";
        let (rules, managed) = parse(text);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].hooks, [Hook::Input]);
        assert!(managed.covered("ip filter input", true, false));
    }

    #[test]
    fn hostile_or_broken_text_never_panics() {
        for text in [
            "table",
            "table ip x {\nchain c {\n}}}}\n",
            "{ { {",
            "table inet t {\n chain c {\n type filter hook output priority 0; policy drop;\n ip daddr != drop\n tcp dport { 1- } reject\n",
            "table inet t {\n set s {\n elements = { 1.2.3.4,\n",
        ] {
            let _ = parse(text);
        }
        let (rules, _) = parse(
            "table inet t {\nchain c {\ntype filter hook output priority 0; policy accept;\nip daddr 10.0.0.5 drop comment \"\u{1b}]0;x\u{7}\"\n}\n}\n",
        );
        assert!(
            rules[0].text.contains("\\x1b]0;x\\x07"),
            "{}",
            rules[0].text
        );
    }
}
