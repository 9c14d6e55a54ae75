//! Answers that changed since gatewatch first saw them. nginx resolves an upstream's name once,
//! when it starts or reloads, so after DNS moves on it may still send to the old address.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::SystemTime;

use super::{DnsRound, Nameserver};
use crate::status::{Finding, Status};

/// Changes kept per name: enough to see a flapping record, bounded for a process that runs for
/// days.
pub const HISTORY_PER_NAME: usize = 20;

/// One change of a name's addresses at one nameserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerChange {
    /// The round that saw it.
    pub seq: u64,
    pub at: SystemTime,
    pub nameserver: Nameserver,
    /// Sorted: order alone (round-robin) is not a change.
    pub before: Vec<IpAddr>,
    pub after: Vec<IpAddr>,
}

#[derive(Debug)]
struct Seen {
    nameserver: Nameserver,
    /// The baseline: what nginx most likely resolved (at gatewatch's start or last rebaseline).
    first: Vec<IpAddr>,
    last: Vec<IpAddr>,
}

#[derive(Debug, Default)]
struct NameState {
    servers: Vec<Seen>,
    history: VecDeque<AnswerChange>,
}

/// Owned by whoever owns the rounds (the app, or `check` for one round, where it finds nothing).
/// Failed lookups are not answers: a timeout neither changes nor sets the baseline.
#[derive(Debug, Default)]
pub struct DriftTracker {
    /// Ordered so findings come out in a stable order.
    names: BTreeMap<String, NameState>,
}

impl DriftTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in a round; returns how many changes it brought. Names no longer asked are
    /// forgotten, so the tracker stays as big as the configuration.
    pub fn observe(&mut self, round: &DnsRound) -> usize {
        let current = round.names();
        self.names
            .retain(|name, _| current.contains(&name.as_str()));
        let mut changes = 0;
        for result in round.results.iter().filter(|r| r.is_ok()) {
            let mut addrs: Vec<IpAddr> = result.addresses().collect();
            addrs.sort();
            addrs.dedup();
            let state = self.names.entry(result.name.clone()).or_default();
            let Some(seen) = state
                .servers
                .iter_mut()
                .find(|s| s.nameserver == result.nameserver)
            else {
                state.servers.push(Seen {
                    nameserver: result.nameserver,
                    first: addrs.clone(),
                    last: addrs,
                });
                continue;
            };
            if seen.last == addrs {
                continue;
            }
            let before = std::mem::replace(&mut seen.last, addrs.clone());
            if state.history.len() == HISTORY_PER_NAME {
                state.history.pop_front();
            }
            state.history.push_back(AnswerChange {
                seq: round.seq,
                at: round.finished_at,
                nameserver: result.nameserver,
                before,
                after: addrs,
            });
            changes += 1;
        }
        changes
    }

    /// The changes round `seq` brought, with their names.
    pub fn changes_in(&self, seq: u64) -> impl Iterator<Item = (&str, &AnswerChange)> {
        self.names.iter().flat_map(move |(name, state)| {
            state
                .history
                .iter()
                .rev()
                .take_while(move |c| c.seq >= seq)
                .filter(move |c| c.seq == seq)
                .map(move |c| (name.as_str(), c))
        })
    }

    /// A warning for every name whose current answer differs from its baseline.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (name, state) in &self.names {
            let moved: Vec<&Seen> = state.servers.iter().filter(|s| s.first != s.last).collect();
            if moved.is_empty() {
                continue;
            }
            let detail: Vec<String> = moved
                .iter()
                .map(|s| {
                    format!(
                        "{} now says {}, was {}",
                        s.nameserver,
                        list(&s.last),
                        list(&s.first)
                    )
                })
                .collect();
            let mut old: Vec<IpAddr> = moved.iter().flat_map(|s| s.first.iter().copied()).collect();
            old.sort();
            old.dedup();
            findings.push(Finding::new(
                Status::Warning,
                format!(
                    "{name} changed since gatewatch first resolved it ({}): nginx resolves upstream \
                     names when it starts or reloads and may still be using {} until it is reloaded",
                    detail.join("; "),
                    list(&old)
                ),
            ));
        }
        findings
    }

    /// The addresses `name` had at the baseline, when any nameserver now answers differently:
    /// what nginx may still be sending to. `None` when it has not moved.
    pub fn moved_from(&self, name: &str) -> Option<Vec<IpAddr>> {
        let state = self.names.get(name)?;
        let moved: Vec<&Seen> = state.servers.iter().filter(|s| s.first != s.last).collect();
        if moved.is_empty() {
            return None;
        }
        let mut old: Vec<IpAddr> = moved.iter().flat_map(|s| s.first.iter().copied()).collect();
        old.sort();
        old.dedup();
        Some(old)
    }

    /// The name's changes, oldest first; at most [`HISTORY_PER_NAME`].
    pub fn history(&self, name: &str) -> impl Iterator<Item = &AnswerChange> {
        self.names
            .get(name)
            .into_iter()
            .flat_map(|s| s.history.iter())
    }

    /// Makes the current answers the baseline: call after nginx reloads, which resolves again.
    /// History is kept.
    pub fn rebaseline(&mut self) {
        for seen in self.names.values_mut().flat_map(|s| s.servers.iter_mut()) {
            seen.first = seen.last.clone();
        }
    }
}

fn list(addrs: &[IpAddr]) -> String {
    if addrs.is_empty() {
        return "nothing".to_owned();
    }
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, DnsResult, Rcode, Source};
    use std::time::Duration;

    fn round(seq: u64, rows: &[(&str, &str, &[&str], bool)]) -> DnsRound {
        DnsRound {
            seq,
            finished_at: SystemTime::now(),
            elapsed: Duration::ZERO,
            nameservers: Vec::new(),
            results: rows
                .iter()
                .map(|(name, ns, addrs, ok)| DnsResult {
                    name: (*name).into(),
                    nameserver: ns.parse().unwrap(),
                    answers: addrs
                        .iter()
                        .map(|a| Answer {
                            addr: a.parse().unwrap(),
                            ttl: Some(60),
                        })
                        .collect(),
                    cname_chain: Vec::new(),
                    rcode: Some(Rcode::NoError),
                    latency: Duration::ZERO,
                    error: (!ok).then(|| "timed out after 2s".to_string()),
                    source: Source::Dns,
                })
                .collect(),
            problems: Vec::new(),
            family: vec![],
        }
    }

    #[test]
    fn a_change_is_drift_until_rebaselined() {
        let mut t = DriftTracker::new();
        assert_eq!(
            t.observe(&round(1, &[("app", "system", &["10.0.0.1"], true)])),
            0
        );
        assert!(t.findings().is_empty());
        // A failure is not an answer.
        assert_eq!(t.observe(&round(2, &[("app", "system", &[], false)])), 0);
        assert_eq!(
            t.observe(&round(3, &[("app", "system", &["10.0.0.2"], true)])),
            1
        );
        let f = t.findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Warning);
        assert!(
            f[0].message.starts_with(
                "app changed since gatewatch first resolved it (system now says 10.0.0.2, was \
                 10.0.0.1): nginx"
            ),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message
                .ends_with("may still be using 10.0.0.1 until it is reloaded")
        );
        assert_eq!(t.moved_from("app"), Some(vec!["10.0.0.1".parse().unwrap()]));
        assert_eq!(t.moved_from("other"), None);
        let h: Vec<&AnswerChange> = t.history("app").collect();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].seq, h[0].before.len(), h[0].after.len()), (3, 1, 1));
        // The timeline takes each round's changes: round 3 brought this one, round 2 none.
        let brought: Vec<&str> = t.changes_in(3).map(|(name, _)| name).collect();
        assert_eq!(brought, ["app"]);
        assert_eq!(t.changes_in(2).count(), 0);

        t.rebaseline();
        assert!(t.findings().is_empty());
        assert_eq!(t.moved_from("app"), None);
        assert_eq!(t.history("app").count(), 1, "history survives a rebaseline");
    }

    #[test]
    fn order_is_not_a_change_and_going_back_ends_the_drift() {
        let mut t = DriftTracker::new();
        t.observe(&round(
            1,
            &[("app", "system", &["10.0.0.1", "10.0.0.2"], true)],
        ));
        assert_eq!(
            t.observe(&round(
                2,
                &[("app", "system", &["10.0.0.2", "10.0.0.1"], true)]
            )),
            0
        );
        t.observe(&round(3, &[("app", "system", &["10.0.0.3"], true)]));
        t.observe(&round(
            4,
            &[("app", "system", &["10.0.0.1", "10.0.0.2"], true)],
        ));
        assert!(t.findings().is_empty());
        assert_eq!(t.history("app").count(), 2);
    }

    #[test]
    fn history_is_bounded_and_dropped_names_are_forgotten() {
        let mut t = DriftTracker::new();
        for seq in 0..50u64 {
            let addr = format!("10.0.0.{}", seq % 7);
            t.observe(&round(
                seq,
                &[
                    ("app", "system", &[addr.as_str()], true),
                    ("db", "system", &["10.1.0.1"], true),
                ],
            ));
        }
        assert_eq!(t.history("app").count(), HISTORY_PER_NAME);
        assert_eq!(t.history("app").last().map(|c| c.seq), Some(49));
        t.observe(&round(51, &[("db", "system", &["10.1.0.1"], true)]));
        assert_eq!(t.history("app").count(), 0);
        assert!(t.findings().is_empty());
    }
}
