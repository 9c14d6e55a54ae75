//! The DNS checks' state: the last round of lookups, the drift seen since the first one, and
//! the findings both give.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;

use crate::dns::{self, DnsResult, DnsRound, DriftTracker};
use crate::logs::{Cause, LogBatch};
use crate::status::Finding;
use crate::upstream::catalog::Catalog;

/// Addresses remembered as already asked about; past it the memory starts again.
const SUSPECTS_KEPT: usize = 256;

#[derive(Debug, Default)]
pub struct Dns {
    /// The names that will be resolved, shown before the first round ends.
    pub names: Vec<String>,
    pub round: Option<DnsRound>,
    pub drift: DriftTracker,
    pub findings: Vec<Finding>,
    /// Names in display order: failing first, then as configured.
    pub order: Vec<String>,
    /// The nameservers the proxy's own config names (nginx `resolver`, HAProxy `nameserver`).
    pub proxy_resolvers: Vec<SocketAddr>,
    /// Ports of the upstreams written as names: where the proxy may still use an old address.
    pub named_ports: BTreeSet<u16>,
    /// Addresses the proxy failed at on those ports, already asked about.
    suspects: HashSet<SocketAddr>,
    /// What the exposition's counters count since this model was made.
    pub totals: DnsTotals,
    /// Names the proxy's log could not resolve that no config lists, asked about too.
    pub from_logs: Vec<String>,
}

/// Keys counted at most, per map: past it a new name or nameserver is not counted (the names
/// come from the config and discovery, so only a hostile config gets near it).
pub const TOTALS_KEPT: usize = 2_000;

/// Failed lookups and answer changes since start: the last round alone cannot say how many.
#[derive(Debug, Default)]
pub struct DnsTotals {
    /// Per (name, nameserver, rcode); the rcode is "none" when no response came.
    pub failures: BTreeMap<(String, String, String), u64>,
    /// Per name: the answer changes the drift tracker saw.
    pub changes: BTreeMap<String, u64>,
}

impl DnsTotals {
    fn count(&mut self, round: &DnsRound, drift: &DriftTracker) {
        for r in round.results.iter().filter(|r| !r.is_ok()) {
            let rcode = r.rcode.map_or_else(|| "none".to_owned(), |c| c.to_string());
            bump(
                &mut self.failures,
                (r.name.clone(), r.nameserver.to_string(), rcode),
            );
        }
        for (name, _) in drift.changes_in(round.seq) {
            bump(&mut self.changes, name.to_owned());
        }
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n += 1;
    } else if map.len() < TOTALS_KEPT {
        map.insert(key, 1);
    }
}

/// How one name fares across every nameserver asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameHealth {
    AllFail,
    SomeFail,
    Ok,
}

impl NameHealth {
    pub fn of<'a>(results: impl Iterator<Item = &'a DnsResult>) -> Option<NameHealth> {
        let (mut ok, mut failed) = (0, 0);
        for r in results {
            if r.is_ok() {
                ok += 1;
            } else {
                failed += 1;
            }
        }
        match (ok, failed) {
            (0, 0) => None,
            (0, _) => Some(NameHealth::AllFail),
            (_, 0) => Some(NameHealth::Ok),
            _ => Some(NameHealth::SomeFail),
        }
    }
}

/// Whether a batch holds a line saying a name could not be resolved (only then is the look
/// for names in [`Dns::newly_logged`] worth its cost).
pub fn has_resolution_failure(batch: &LogBatch) -> bool {
    batch.lines.iter().any(|l| l.cause == Some(Cause::Dns))
}

impl Dns {
    /// DNS state for `names`, and what the catalog says of the proxy's names and resolvers.
    pub fn new(names: Vec<String>, catalog: &Catalog) -> Self {
        Dns {
            order: names.clone(),
            names,
            proxy_resolvers: catalog.resolvers.clone(),
            named_ports: catalog
                .upstreams()
                .iter()
                .filter(|u| u.url.host().is_some_and(|h| !dns::is_ip_literal(h)))
                .filter_map(|u| u.url.port())
                .collect(),
            ..Dns::default()
        }
    }

    /// After a log batch with a resolution failure is counted: when the logs name one not asked
    /// yet that no config lists (a variable in `proxy_pass`), every such name asked so far (the
    /// newest [`dns::MAX_LOGGED_NAMES`]); the caller has them asked through every nameserver.
    pub fn newly_logged(&mut self, logs: &crate::logs::LogBook, now: i64) -> Option<Vec<String>> {
        let names = dns::unresolved_in(
            logs.sources.iter().map(|s| &s.tally),
            crate::logs::DEFAULT_WINDOW,
            now,
            &self.names,
        );
        let new: Vec<String> = names
            .into_iter()
            .filter(|n| !self.from_logs.contains(n))
            .collect();
        if new.is_empty() {
            return None;
        }
        // Names once asked stay asked (the newest 16): two names failing in turn in one log
        // must not make every batch ask again.
        self.from_logs.extend(new);
        let excess = self.from_logs.len().saturating_sub(dns::MAX_LOGGED_NAMES);
        self.from_logs.drain(..excess);
        Some(self.from_logs.clone())
    }

    /// Takes a finished round (a stale one is dropped); returns whether anything changed.
    pub fn apply(&mut self, round: DnsRound) -> bool {
        if self.round.as_ref().is_some_and(|r| r.seq >= round.seq) {
            return false;
        }
        self.drift.observe(&round);
        self.totals.count(&round, &self.drift);
        self.findings = dns::assess(&round);
        self.findings.extend(self.drift.findings());
        // `dns::assess` already words the round's problems (an unreadable hosts file, ...).
        self.findings.extend(round.family.iter().cloned());
        let mut names: Vec<String> = round.names().into_iter().map(str::to_owned).collect();
        names.sort_by_key(|n| NameHealth::of(round.for_name(n)).unwrap_or(NameHealth::Ok));
        self.order = names;
        self.round = Some(round);
        true
    }

    /// Whether `batch` shows the proxy failing at an address not seen before on a port a named
    /// upstream uses: the proxy may still use an address the name no longer has, and only a
    /// fresh answer tells (the dashboard then resolves now instead of at the next round).
    pub fn new_suspect(&mut self, batch: &LogBatch) -> bool {
        if self.named_ports.is_empty() {
            return false;
        }
        let failing = batch
            .lines
            .iter()
            .filter(|l| l.cause.is_some() || l.status.is_some_and(|s| s >= 500))
            .filter_map(|l| l.upstream.as_deref())
            .chain(
                batch
                    .skipped
                    .marks
                    .iter()
                    .filter_map(|m| m.upstream.as_deref()),
            );
        let mut new = false;
        for logged in failing {
            let Some(addr) = crate::diagnosis::logged_address(logged) else {
                continue;
            };
            if !self.named_ports.contains(&addr.port()) || self.suspects.contains(&addr) {
                continue;
            }
            if self.suspects.len() >= SUSPECTS_KEPT {
                self.suspects.clear();
            }
            self.suspects.insert(addr);
            new = true;
        }
        new
    }

    pub fn health(&self, name: &str) -> Option<NameHealth> {
        NameHealth::of(self.round.as_ref()?.for_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, Nameserver, Rcode, Source};
    use crate::status::Status;
    use std::time::{Duration, SystemTime};

    fn result(name: &str, ns: &str, addr: Option<&str>) -> DnsResult {
        DnsResult {
            name: name.into(),
            nameserver: if ns == "system" {
                Nameserver::System
            } else {
                Nameserver::Addr(ns.parse().unwrap())
            },
            answers: addr
                .map(|a| {
                    vec![Answer {
                        addr: a.parse().unwrap(),
                        ttl: Some(300),
                    }]
                })
                .unwrap_or_default(),
            cname_chain: vec![],
            rcode: Some(if addr.is_some() {
                Rcode::NoError
            } else {
                Rcode::NxDomain
            }),
            latency: Duration::from_millis(2),
            error: addr.is_none().then(|| "NXDOMAIN: no such name".to_string()),
            source: Source::Dns,
        }
    }

    fn round(seq: u64, results: Vec<DnsResult>) -> DnsRound {
        DnsRound {
            seq,
            finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            elapsed: Duration::from_millis(5),
            nameservers: vec![
                Nameserver::System,
                Nameserver::Addr("127.0.0.1:53".parse().unwrap()),
            ],
            results,
            problems: vec![],
            family: vec![],
        }
    }

    #[test]
    fn failing_names_come_first_and_drift_becomes_a_finding() {
        let mut v = Dns::new(vec!["a.test".into(), "b.test".into()], &Catalog::default());
        assert!(v.apply(round(
            1,
            vec![
                result("a.test", "system", Some("10.0.0.1")),
                result("a.test", "127.0.0.1:53", Some("10.0.0.1")),
                result("b.test", "system", None),
                result("b.test", "127.0.0.1:53", None),
            ]
        )));
        assert_eq!(v.order, ["b.test", "a.test"]);
        assert_eq!(v.health("b.test"), Some(NameHealth::AllFail));
        assert!(
            v.findings
                .iter()
                .any(|f| f.status == Status::Critical && f.message.contains("b.test"))
        );
        assert!(!v.apply(round(1, vec![])), "a stale round is dropped");
        v.apply(round(
            2,
            vec![
                result("a.test", "system", Some("10.0.0.2")),
                result("a.test", "127.0.0.1:53", Some("10.0.0.2")),
            ],
        ));
        assert!(
            v.findings
                .iter()
                .any(|f| f.message.contains("a.test changed") && f.message.contains("reloaded")),
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn a_hosts_file_problem_is_one_finding() {
        let mut r = round(1, vec![result("a.test", "system", Some("10.0.0.1"))]);
        r.problems = vec!["/etc/hosts: cannot read the hosts file: denied".into()];
        let mut v = Dns::new(vec!["a.test".into()], &Catalog::default());
        v.apply(r);
        let about: Vec<_> = v
            .findings
            .iter()
            .filter(|f| f.message.contains("cannot read the hosts file"))
            .collect();
        assert_eq!(about.len(), 1, "{:?}", v.findings);
    }

    #[test]
    fn a_failure_at_a_new_address_on_a_named_port_asks_dns_once() {
        use crate::logs::{Cause, LogBatch, LogLine};
        let mut d = Dns::new(vec!["app.test".into()], &Catalog::default());
        d.named_ports.insert(8080);
        let line = |status: Option<u16>, cause: Option<Cause>, up: &str| LogLine {
            text: String::new(),
            format: None,
            cause,
            status,
            upstream: Some(up.into()),
            time: None,
        };
        let batch = |lines| LogBatch::following(0, lines);
        let refused = || line(None, Some(Cause::Refused), "http://127.0.0.2:8080/cart");
        assert!(d.new_suspect(&batch(vec![refused()])));
        assert!(!d.new_suspect(&batch(vec![refused()])), "asked once");
        assert!(!d.new_suspect(&batch(vec![line(Some(200), None, "127.0.0.9:8080")])));
        assert!(!d.new_suspect(&batch(vec![line(
            None,
            Some(Cause::Refused),
            "http://127.0.0.2:9090/"
        )])));
        assert!(d.new_suspect(&batch(vec![line(Some(502), None, "127.0.0.4:8080")])));
    }

    fn not_resolved(name: &str, at: i64) -> crate::logs::LogLine {
        crate::logs::LogLine {
            text: format!(
                "2026/12/02 14:02:10 [error] 7#7: *12 {name} could not be resolved (3: Host not \
                 found), client: 127.0.0.1"
            ),
            format: None,
            cause: Some(Cause::Dns),
            status: None,
            upstream: None,
            time: Some(at),
        }
    }

    #[test]
    fn names_the_log_could_not_resolve_are_asked_once_each_and_watched_ones_not_again() {
        use crate::logs::{LogBook, RingLimits, SourceSpec};
        let now = 1_800_000_000;
        let mut book = LogBook::new(
            &[SourceSpec::file("/logs/error.log", None)],
            RingLimits::default(),
        );
        let mut dns = Dns::new(vec!["watched.test".into()], &Default::default());
        let add = |book: &mut LogBook, lines: Vec<crate::logs::LogLine>| {
            let batch = LogBatch::following(0, lines);
            let failed = has_resolution_failure(&batch);
            book.apply(batch);
            failed
        };
        assert!(add(
            &mut book,
            vec![not_resolved("app.test:8080", now - 30)]
        ));
        assert_eq!(
            dns.newly_logged(&book, now),
            Some(vec!["app.test".to_string()]),
            "without its port"
        );
        assert_eq!(dns.newly_logged(&book, now), None, "asked already");
        // A name someone watches is asked anyway; it is not asked twice.
        add(&mut book, vec![not_resolved("watched.test", now - 20)]);
        assert_eq!(dns.newly_logged(&book, now), None);
        // A new name joins the ones asked; the old one stays asked, so names failing in turn
        // do not make each batch ask again.
        let later = now + 3600;
        assert!(add(&mut book, vec![not_resolved("other.test", later)]));
        assert_eq!(
            dns.newly_logged(&book, later),
            Some(vec!["app.test".to_string(), "other.test".to_string()])
        );
        add(&mut book, vec![not_resolved("app.test", later + 1)]);
        assert_eq!(dns.newly_logged(&book, later + 1), None, "no flapping");
        for i in 0..20 {
            add(
                &mut book,
                vec![not_resolved(&format!("n{i}.test"), later + 2 + i)],
            );
            dns.newly_logged(&book, later + 2 + i);
        }
        assert_eq!(dns.from_logs.len(), dns::MAX_LOGGED_NAMES, "bounded");
        assert_eq!(dns.from_logs.last().map(String::as_str), Some("n19.test"));
        let ok = crate::logs::LogLine {
            cause: None,
            ..not_resolved("x", later)
        };
        assert!(!add(&mut book, vec![ok]), "no failure, no look");
    }
}
