//! What a round means for the operator: failing and slow lookups, nameservers that disagree, and
//! (with the probes' help) a first address of the family the upstream does not listen on.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use super::{DnsResult, DnsRound, Source};
use crate::status::{Finding, Status};

/// Slower than this and an upstream's first connection after a reload waits visibly.
pub const SLOW_LOOKUP: Duration = Duration::from_millis(500);

/// Findings of one round, name by name: a name some nameservers fail for is a warning, one that
/// all fail for is critical; slow answers and disagreement are warnings.
pub fn assess(round: &DnsRound) -> Vec<Finding> {
    let mut findings: Vec<Finding> = round
        .problems
        .iter()
        .map(|p| Finding::new(Status::Warning, p.clone()))
        .collect();
    for name in round.names() {
        let rows: Vec<&DnsResult> = round.for_name(name).collect();
        findings.extend(failures(name, &rows));
        findings.extend(slow(name, &rows));
        findings.extend(disagreement(name, &rows));
    }
    findings
}

fn failures(name: &str, rows: &[&DnsResult]) -> Option<Finding> {
    let failed: Vec<String> = rows
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.nameserver)))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let detail = failed.join("; ");
    // Judged per family: a name whose A answers while its AAAA fails still resolves.
    let resolves = rows.iter().any(|r| r.addresses().next().is_some());
    Some(if failed.len() == rows.len() && !resolves {
        Finding::new(
            Status::Critical,
            format!("{name} does not resolve through any nameserver ({detail})"),
        )
    } else if failed.len() == rows.len() {
        Finding::new(
            Status::Warning,
            format!("{name} resolves only in part through every nameserver ({detail})"),
        )
    } else {
        Finding::new(
            Status::Warning,
            format!(
                "{name} fails through {} of {} nameservers ({detail})",
                failed.len(),
                rows.len()
            ),
        )
    })
}

fn slow(name: &str, rows: &[&DnsResult]) -> Option<Finding> {
    let slow: Vec<String> = rows
        .iter()
        .filter(|r| r.is_ok() && r.latency > SLOW_LOOKUP)
        .map(|r| format!("{} took {} ms", r.nameserver, r.latency.as_millis()))
        .collect();
    (!slow.is_empty()).then(|| {
        Finding::new(
            Status::Warning,
            format!(
                "slow DNS for {name}: {} (over {} ms)",
                slow.join(", "),
                SLOW_LOOKUP.as_millis()
            ),
        )
    })
}

/// Compares the address sets (order aside: round-robin reorders) of the rows that answered fully.
fn disagreement(name: &str, rows: &[&DnsResult]) -> Option<Finding> {
    let answered: Vec<(&DnsResult, BTreeSet<IpAddr>)> = rows
        .iter()
        .filter(|r| r.is_ok())
        .map(|r| (*r, r.addresses().collect()))
        .collect();
    let first = &answered.first()?.1;
    if answered.iter().all(|(_, set)| set == first) {
        return None;
    }
    let mut detail = String::new();
    for (row, set) in &answered {
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        let _ = write!(detail, "{} says {}", row.nameserver, join(set.iter()));
        if row.source == Source::Hosts {
            detail.push_str(" (hosts file)");
        }
    }
    Some(Finding::new(
        Status::Warning,
        format!("nameservers disagree on {name}: {detail}"),
    ))
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// A client that connects to a name's first address gets refused when the upstream listens on
/// port `port` only on the other family: the classic is `localhost` resolving to ::1 first while
/// the backend listens on 127.0.0.1 only. `accepting` says, per address, whether a connection to
/// `port` was accepted (the probes know); addresses missing from it are not judged.
///
/// Also flags a later address that refuses while one of the other family accepts: nginx tries
/// each address of a name in turn, so every refusal is a failed attempt and an error log line.
pub fn family_mismatch(
    name: &str,
    port: u16,
    addresses: &[IpAddr],
    accepting: &HashMap<IpAddr, bool>,
) -> Option<Finding> {
    let family = |ip: &IpAddr| if ip.is_ipv6() { "IPv6" } else { "IPv4" };
    let refusing: Vec<&IpAddr> = addresses
        .iter()
        .filter(|ip| accepting.get(ip) == Some(&false))
        .collect();
    let refused = refusing.iter().find(|bad| {
        addresses
            .iter()
            .any(|ip| ip.is_ipv6() != bad.is_ipv6() && accepting.get(ip) == Some(&true))
    })?;
    let accepted: Vec<&IpAddr> = addresses
        .iter()
        .filter(|ip| ip.is_ipv6() != refused.is_ipv6() && accepting.get(ip) == Some(&true))
        .collect();
    let first = addresses.first() == Some(*refused);
    let position = if first { "first address" } else { "address" };
    Some(Finding::new(
        Status::Warning,
        format!(
            "{name} resolves to {} {position} {refused}, but port {port} is open only on {} ({}): \
             connections to {refused} are refused; listen on both families or name the address \
             in the upstream",
            family(refused),
            family(accepted.first().copied().unwrap_or(refused)),
            join(accepted.iter()),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, Nameserver, Rcode};
    use std::time::SystemTime;

    fn row(ns: &str, addrs: &[&str], error: Option<&str>) -> DnsResult {
        DnsResult {
            name: "app.test".into(),
            nameserver: ns.parse().unwrap(),
            answers: addrs
                .iter()
                .map(|a| Answer {
                    addr: a.parse().unwrap(),
                    ttl: Some(30),
                })
                .collect(),
            cname_chain: Vec::new(),
            rcode: Some(Rcode::NoError),
            latency: Duration::from_millis(3),
            error: error.map(String::from),
            source: Source::Dns,
        }
    }

    fn round(results: Vec<DnsResult>) -> DnsRound {
        DnsRound {
            seq: 1,
            finished_at: SystemTime::now(),
            elapsed: Duration::from_millis(5),
            nameservers: vec![Nameserver::System],
            results,
            problems: Vec::new(),
            family: vec![],
        }
    }

    #[test]
    fn a_name_whose_a_answers_while_its_aaaa_fails_still_resolves() {
        let aaaa = Some("AAAA: SERVFAIL: the server failed to answer");
        let f = assess(&round(vec![row("system", &["10.0.0.1"], aaaa)]));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].status, Status::Warning);
        assert!(
            f[0].message
                .starts_with("app.test resolves only in part through every nameserver"),
            "{}",
            f[0].message
        );
        let f = assess(&round(vec![row(
            "system",
            &[],
            Some("NXDOMAIN: no such name"),
        )]));
        assert_eq!(f[0].status, Status::Critical);
    }

    #[test]
    fn agreement_is_quiet_whatever_the_order() {
        let r = round(vec![
            row("system", &["10.0.0.1", "10.0.0.2"], None),
            row("127.0.0.1:53", &["10.0.0.2", "10.0.0.1"], None),
        ]);
        assert_eq!(assess(&r), vec![]);
    }

    #[test]
    fn one_failing_nameserver_warns_all_failing_is_critical() {
        let r = round(vec![
            row("system", &["10.0.0.1"], None),
            row("127.0.0.1:53", &[], Some("NXDOMAIN: no such name")),
        ]);
        let f = assess(&r);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Warning);
        assert_eq!(
            f[0].message,
            "app.test fails through 1 of 2 nameservers (127.0.0.1:53: NXDOMAIN: no such name)"
        );

        let r = round(vec![
            row("system", &[], Some("timed out after 2s")),
            row("127.0.0.1:53", &[], Some("connection refused")),
        ]);
        let f = assess(&r);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Critical);
        assert!(
            f[0].message.starts_with("app.test does not resolve"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn slow_answers_and_disagreement_warn() {
        let mut slow = row("system", &["10.0.0.1"], None);
        slow.latency = Duration::from_millis(812);
        let mut hosts = row("127.0.0.1:53", &["10.0.0.9"], None);
        hosts.source = Source::Hosts;
        let f = assess(&round(vec![slow, hosts]));
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "slow DNS for app.test: system took 812 ms (over 500 ms)",
                "nameservers disagree on app.test: system says 10.0.0.1; 127.0.0.1:53 says \
                 10.0.0.9 (hosts file)",
            ]
        );
        assert!(f.iter().all(|f| f.status == Status::Warning));
    }

    #[test]
    fn hosts_file_problems_are_warnings() {
        let mut r = round(vec![]);
        r.problems
            .push("/etc/hosts: cannot read the hosts file: denied".into());
        assert_eq!(assess(&r)[0].status, Status::Warning);
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn localhost_on_ipv6_first_with_an_ipv4_only_upstream() {
        let addrs = ips(&["::1", "127.0.0.1"]);
        let open: HashMap<IpAddr, bool> = [(addrs[0], false), (addrs[1], true)].into();
        let f = family_mismatch("localhost", 8080, &addrs, &open).unwrap();
        assert_eq!(f.status, Status::Warning);
        assert!(
            f.message.starts_with(
                "localhost resolves to IPv6 first address ::1, but port 8080 is open only on IPv4 \
                 (127.0.0.1)"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn the_reverse_and_the_quiet_cases() {
        let addrs = ips(&["127.0.0.1", "::1"]);
        let open: HashMap<IpAddr, bool> = [(addrs[0], false), (addrs[1], true)].into();
        let f = family_mismatch("app", 80, &addrs, &open).unwrap();
        assert!(
            f.message.contains("IPv4 first address 127.0.0.1"),
            "{}",
            f.message
        );

        let both: HashMap<IpAddr, bool> = [(addrs[0], true), (addrs[1], true)].into();
        assert_eq!(family_mismatch("app", 80, &addrs, &both), None);
        let neither: HashMap<IpAddr, bool> = [(addrs[0], false), (addrs[1], false)].into();
        assert_eq!(
            family_mismatch("app", 80, &addrs, &neither),
            None,
            "down, not a mismatch"
        );
        assert_eq!(
            family_mismatch("app", 80, &addrs, &HashMap::new()),
            None,
            "unknown"
        );
        let same_family = ips(&["10.0.0.1", "10.0.0.2"]);
        let one_down: HashMap<IpAddr, bool> =
            [(same_family[0], false), (same_family[1], true)].into();
        assert_eq!(family_mismatch("app", 80, &same_family, &one_down), None);
    }

    #[test]
    fn a_later_refusing_address_is_flagged_too() {
        let addrs = ips(&["127.0.0.1", "::1"]);
        let open: HashMap<IpAddr, bool> = [(addrs[0], true), (addrs[1], false)].into();
        let f = family_mismatch("app", 80, &addrs, &open).unwrap();
        assert!(f.message.contains("IPv6 address ::1"), "{}", f.message);
    }
}
