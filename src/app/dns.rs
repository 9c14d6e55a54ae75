//! What the DNS pane knows: the last round of lookups, the drift seen since the first one, and
//! the findings both give.

use crate::dns::{self, DnsResult, DnsRound, DriftTracker};
use crate::status::{Finding, Status};

#[derive(Debug, Default)]
pub struct DnsView {
    /// The names that will be resolved, shown before the first round ends.
    pub names: Vec<String>,
    pub round: Option<DnsRound>,
    pub drift: DriftTracker,
    pub findings: Vec<Finding>,
    /// Names in display order: failing first, then as configured.
    pub order: Vec<String>,
    /// The row whose detail view is open.
    pub detail: Option<usize>,
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

impl DnsView {
    pub fn new(names: Vec<String>) -> Self {
        DnsView {
            order: names.clone(),
            names,
            ..DnsView::default()
        }
    }

    /// Takes a finished round (a stale one is dropped); returns whether anything changed.
    pub fn apply(&mut self, round: DnsRound) -> bool {
        if self.round.as_ref().is_some_and(|r| r.seq >= round.seq) {
            return false;
        }
        self.drift.observe(&round);
        self.findings = dns::assess(&round);
        self.findings.extend(self.drift.findings());
        self.findings.extend(round.family.iter().cloned());
        for p in &round.problems {
            self.findings
                .push(Finding::new(Status::Warning, format!("dns: {p}")));
        }
        let mut names: Vec<String> = round.names().into_iter().map(str::to_owned).collect();
        names.sort_by_key(|n| NameHealth::of(round.for_name(n)).unwrap_or(NameHealth::Ok));
        self.order = names;
        self.round = Some(round);
        true
    }

    pub fn health(&self, name: &str) -> Option<NameHealth> {
        NameHealth::of(self.round.as_ref()?.for_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, Nameserver, Rcode, Source};
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
        let mut v = DnsView::new(vec!["a.test".into(), "b.test".into()]);
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
}
