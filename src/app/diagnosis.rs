//! The checklist and verdict from the dashboard's views, and the inputs `check` shares with it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::App;
use super::upstreams::UpstreamView;
use crate::config::Upstream;
use crate::diagnosis::{
    self, Diagnosis, DnsInput, FirewallInput, GatewayInput, HostInput, Inputs, LogInput,
    ServiceInput, UpstreamInput,
};
use crate::dns::DnsRound;
use crate::firewall::{self, FirewallSummary};
use crate::logs::{self, Cause};
use crate::status::Finding;
use crate::upstream::ProbeResult;

/// The `[gateway]` probe's state: the upstream it is probed as, and its last result.
#[derive(Debug)]
pub struct GatewayView {
    pub upstream: Upstream,
    pub last: Option<ProbeResult>,
}

impl GatewayView {
    pub fn new(upstream: Upstream) -> Self {
        GatewayView {
            upstream,
            last: None,
        }
    }

    /// Keeps a newer result; false for a stale one.
    pub fn apply(&mut self, result: ProbeResult) -> bool {
        if self.last.as_ref().is_some_and(|l| l.seq >= result.seq) {
            return false;
        }
        self.last = Some(result);
        true
    }

    pub fn input(&self) -> GatewayInput {
        GatewayInput::new(&self.upstream.url, self.last.as_ref())
    }
}

/// Every upstream as the diagnosis sees it: its last probe, how long in its state, and every
/// address known for it (the one probes connected to, the DNS answers for its name, or the
/// address it is written as).
pub fn upstream_inputs(
    view: &UpstreamView,
    round: Option<&DnsRound>,
    now: SystemTime,
) -> Vec<UpstreamInput> {
    view.rows
        .iter()
        .map(|row| {
            let up = &row.entry.upstream;
            let mut u = UpstreamInput::new(&up.name, &up.url, up.timeout);
            let h = &row.history;
            u.state = h.state();
            u.since = h.state_age(now);
            u.flapping = h.is_flapping();
            if let Some(last) = h.last() {
                u.outcome = Some(last.outcome);
                u.status_code = last.status_code;
                u.detail = last.detail.clone();
                u.latency = last.latency;
                u.addr = last.addr.clone();
                if let Some(ip) = last.addr.as_deref().and_then(ip_of) {
                    u.add_addr(ip);
                }
            }
            if let (Some(round), Some(host)) = (round, up.url.host()) {
                for ip in round
                    .for_name(host)
                    .filter(|r| r.is_ok())
                    .flat_map(|r| r.addresses())
                {
                    u.add_addr(ip);
                }
            }
            u
        })
        .collect()
}

/// The IP of "10.0.0.5:8080" or "[::1]:443".
fn ip_of(addr: &str) -> Option<IpAddr> {
    addr.parse::<SocketAddr>().ok().map(|a| a.ip())
}

impl App {
    /// The six checklist steps and the verdict, from what the panes show now.
    pub fn diagnosis(&self) -> Diagnosis {
        diagnosis::diagnose(&self.diagnosis_inputs())
    }

    /// What [`App::diagnosis`] judges.
    pub fn diagnosis_inputs(&self) -> Inputs {
        let now = self.now();
        Inputs {
            host: self.host.sample.as_ref().map(HostInput::from_sample),
            upstreams: upstream_inputs(&self.upstreams, self.dns.round.as_ref(), now),
            dns: DnsInput::from_round(
                self.dns.names.clone(),
                self.dns.round.as_ref(),
                Some(&self.dns.drift),
                self.dns.findings.clone(),
            ),
            logs: self.log_inputs(now),
            firewall: self.firewall.clone(),
            gateway: self.gateway.as_ref().map(GatewayView::input),
            services: self
                .actions
                .names
                .iter()
                .zip(&self.actions.statuses)
                .map(|(name, status)| ServiceInput::new(name, status.as_ref()))
                .collect(),
        }
    }

    /// What only the checklist knows (firewall rules naming an upstream, the gateway probe),
    /// for [`App::findings`].
    pub(super) fn diagnosis_findings(&self) -> Vec<Finding> {
        // Called for every frame: skip building the inputs when nothing could come of them.
        let named = self.firewall.as_ref().is_some_and(|fw| {
            fw.matches
                .iter()
                .any(|m| m.strength == firewall::Strength::Names)
        });
        if !named && self.gateway.is_none() {
            return Vec::new();
        }
        let inputs = Inputs {
            upstreams: upstream_inputs(&self.upstreams, self.dns.round.as_ref(), self.now()),
            firewall: self.firewall.clone(),
            gateway: self.gateway.as_ref().map(GatewayView::input),
            ..Inputs::default()
        };
        diagnosis::findings(&inputs)
    }

    /// Each followed log over the last [`logs::DEFAULT_WINDOW`], by the lines' own timestamps:
    /// the window `check` scans, and the Logs pane's findings use.
    fn log_inputs(&self, now: SystemTime) -> Vec<LogInput> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let window = logs::DEFAULT_WINDOW;
        // The current minute is partial: count it and the whole window before it.
        let since = now - window.as_secs() as i64 - 60;
        let book = &self.logs.book;
        book.sources
            .iter()
            .enumerate()
            .map(|(i, src)| {
                let in_window = |m: &std::collections::BTreeMap<i64, u64>| -> u64 {
                    m.range(since..=now).map(|(_, n)| n).sum()
                };
                let causes = self
                    .logs
                    .rates
                    .get(i)
                    .map(|r| {
                        r.iter()
                            .map(|(c, m)| (*c, in_window(m)))
                            .filter(|(_, n)| *n > 0)
                            .collect::<std::collections::BTreeMap<Cause, u64>>()
                    })
                    .unwrap_or_default();
                let mut upstreams: Vec<(String, u64)> = self
                    .logs
                    .upstream_rates
                    .get(i)
                    .map(|r| {
                        r.iter()
                            .map(|(u, m)| (u.clone(), in_window(m)))
                            .filter(|(_, n)| *n > 0)
                            .collect()
                    })
                    .unwrap_or_default();
                upstreams.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let minutes = src.tally.per_minute.range(since..=now);
                let (status_5xx, status_502) = minutes.fold((0, 0), |(a, b), (_, m)| {
                    (a + m.status_5xx, b + m.status_502)
                });
                let error = match &src.status {
                    logs::SourceStatus::Failed(why) => Some(why.clone()),
                    _ => None,
                };
                LogInput {
                    source: src.label.clone(),
                    format: src.format,
                    window,
                    error,
                    causes,
                    upstreams,
                    status_5xx,
                    status_502,
                }
            })
            .collect()
    }

    /// Takes a new firewall summary and matches it against the upstreams.
    pub(super) fn set_firewall(&mut self, summary: FirewallSummary) {
        let upstreams = upstream_inputs(&self.upstreams, self.dns.round.as_ref(), self.now());
        self.firewall = Some(Arc::new(FirewallInput::new(summary, &upstreams)));
    }

    /// Matches the current summary again when the upstreams' addresses changed (a probe reached
    /// a new address, a DNS round moved a name).
    pub(super) fn rematch_firewall(&mut self) {
        let Some(current) = &self.firewall else {
            return;
        };
        let upstreams = upstream_inputs(&self.upstreams, self.dns.round.as_ref(), self.now());
        let targets = diagnosis::targets(&upstreams);
        if targets == current.targets {
            return;
        }
        let matches = firewall::matches(&current.summary, &targets);
        self.firewall = Some(Arc::new(FirewallInput {
            summary: current.summary.clone(),
            targets,
            matches,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Event;
    use crate::app::upstreams::tests::{entry, result};
    use crate::diagnosis::{Cause as Blame, StepId};
    use crate::firewall::Tool;
    use crate::logs::{Format, LogBatch, LogLine, SourceSpec, SourceStatus};
    use crate::status::Status;
    use crate::upstream::Outcome;
    use crate::upstream::catalog::Catalog;
    use std::time::Duration;

    /// An app at 1_800_000_000 with two upstreams and an nginx error log.
    fn app() -> App {
        let clock = jiff::Timestamp::from_second(1_800_000_000)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC);
        let mut a = App::new(clock, (120, 40));
        let catalog = Catalog {
            entries: vec![entry("shop", 8080), entry("api", 9000)],
            ..Catalog::default()
        };
        a.upstreams = UpstreamView::new(&catalog);
        a.logs =
            crate::app::logs::LogView::new(&[SourceSpec::file("/var/log/nginx/error.log", None)]);
        a
    }

    fn refused_line(t: i64) -> LogLine {
        LogLine {
            text: "2027/01/15 08:00:01 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream".into(),
            format: Some(Format::NginxError),
            cause: Some(Cause::Refused),
            status: None,
            upstream: Some("http://127.0.0.1:8080".into()),
            time: Some(t),
        }
    }

    #[test]
    fn the_verdict_comes_from_the_probes_and_the_followed_log() {
        let mut a = app();
        let mut r = result(0, 1, Outcome::Refused);
        r.at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 90);
        r.addr = Some("127.0.0.1:8080".into());
        a.update(Event::Probe(Box::new(r)));
        a.update(Event::Probe(Box::new(result(1, 2, Outcome::Ok))));
        // 12 lines in the window, 3 long before it.
        let mut lines: Vec<LogLine> = (0..12)
            .map(|i| refused_line(1_800_000_000 - i * 30))
            .collect();
        lines.extend((0..3).map(|_| refused_line(1_700_000_000)));
        a.update(Event::Log(Box::new(LogBatch {
            source: 0,
            skipped: Default::default(),
            lines,
            status: SourceStatus::Following,
            events: vec![],
        })));
        let d = a.diagnosis();
        assert_eq!(d.verdict.cause, Blame::UpstreamDown);
        assert_eq!(
            d.verdict.text,
            "upstream shop 127.0.0.1:8080 refuses connections (12 \"connect() failed (111)\" in \
             error.log, 10 min; down for 1m30s): is its process running? restart it"
        );
        let logs = d.step(StepId::Logs).unwrap();
        assert_eq!(logs.status, Status::Warning);
        assert_eq!(
            logs.evidence,
            "error.log: 12 refused in 10 min; most at http://127.0.0.1:8080 (12)"
        );
        assert_eq!(d.step(StepId::Upstreams).unwrap().status, Status::Critical);
    }

    #[test]
    fn a_firewall_summary_is_matched_and_becomes_a_finding_and_the_verdict() {
        let mut a = app();
        let mut r = result(0, 1, Outcome::Timeout);
        r.addr = Some("127.0.0.1:8080".into());
        a.update(Event::Probe(Box::new(r)));
        assert!(a.diagnosis_findings().is_empty(), "no firewall read yet");
        let summary = firewall::summarise(
            SystemTime::UNIX_EPOCH,
            vec![(
                Tool::Iptables,
                Ok("-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DROP\n".into()),
            )],
        );
        let (dirty, _) = a.update(Event::Firewall(Box::new(summary)));
        assert!(dirty);
        let fw = a.firewall.as_ref().expect("kept");
        assert_eq!(fw.matches.len(), 1);
        assert_eq!(a.diagnosis().verdict.cause, Blame::Firewall);
        let findings = a.findings();
        assert!(
            findings.iter().any(|f| f.status == Status::Critical
                && f.message.starts_with("firewall blocks upstream shop")),
            "{findings:?}"
        );
        assert_eq!(a.overall(), Status::Unknown.worst(Status::Critical));
    }

    #[test]
    fn a_new_address_rematches_the_firewall() {
        let mut a = app();
        let summary = firewall::summarise(
            SystemTime::UNIX_EPOCH,
            vec![(
                Tool::Iptables,
                Ok("-A OUTPUT -d 10.9.9.9/32 -j DROP\n".into()),
            )],
        );
        a.update(Event::Firewall(Box::new(summary)));
        assert!(a.firewall.as_ref().unwrap().matches.is_empty());
        let mut r = result(1, 5, Outcome::Timeout);
        r.addr = Some("10.9.9.9:9000".into());
        a.update(Event::Probe(Box::new(r)));
        assert_eq!(a.firewall.as_ref().unwrap().matches.len(), 1);
    }

    #[test]
    fn the_gateway_probe_is_step_one() {
        let mut a = app();
        let gateway: Upstream = Upstream {
            name: "gateway".into(),
            ..entry("gateway", 80).upstream
        };
        a.gateway = Some(GatewayView::new(gateway));
        let mut r = result(0, 3, Outcome::BadStatus);
        r.status_code = Some(502);
        a.update(Event::Gateway(Box::new(r.clone())));
        let (dirty, _) = a.update(Event::Gateway(Box::new(r)));
        assert!(!dirty, "a stale result is dropped");
        let step = a.diagnosis().step(StepId::Gateway).cloned().unwrap();
        assert_eq!(step.status, Status::Critical);
        assert_eq!(step.evidence, "gateway tcp://127.0.0.1:80 answers 502 now");
    }
}
