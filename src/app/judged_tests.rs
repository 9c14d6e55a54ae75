//! The dashboard's judgement through its own update path: probes, logs, the firewall and the
//! gateway filed by `App::update`, judged once, read from `App::judged`.
use super::{App, Event};
use crate::config::Upstream;
use crate::diagnosis::{Cause as Blame, StepId};
use crate::firewall;
use crate::firewall::Tool;
use crate::logs::Cause;
use crate::logs::{Format, LogBatch, LogLine, SourceSpec, SourceStatus};
use crate::model::gateway::Gateway;
use crate::model::upstreams::Upstreams;
use crate::model::upstreams::tests::{entry, result};
use crate::status::Status;
use crate::upstream::Outcome;
use crate::upstream::catalog::Catalog;
use std::time::Duration;
use std::time::SystemTime;

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
    a.set_upstreams(Upstreams::new(&catalog));
    a.model.logs = crate::logs::LogBook::new(
        &[SourceSpec::file("/var/log/nginx/error.log", None)],
        crate::logs::RingLimits::default(),
    );
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
    a.update(Event::Probes(vec![r]));
    a.update(Event::Probes(vec![result(1, 2, Outcome::Ok)]));
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
    a.settle();
    let d = a.judged.diagnosis.clone();
    assert_eq!(d.verdict.cause, Blame::UpstreamDown);
    assert_eq!(
        d.verdict.text,
        "upstream shop 127.0.0.1:8080 refuses connections (3 × \"connect() failed (111: \
         Connection refused)\" in error.log, last 2 min (12 in 10 min); down for 1m30s; probe: \
         refused): is its process running? restart it"
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
    a.update(Event::Probes(vec![r]));
    assert!(
        !a.judged
            .findings
            .iter()
            .any(|f| f.message.starts_with("firewall")),
        "no firewall read yet"
    );
    let summary = firewall::summarise(
        SystemTime::UNIX_EPOCH,
        vec![(
            Tool::Iptables,
            Ok("-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DROP\n".into()),
        )],
    );
    let (dirty, _) = a.update(Event::Firewall(Box::new(summary)));
    assert!(dirty);
    let fw = a.model.firewall.as_ref().expect("kept");
    assert_eq!(fw.matches.len(), 1);
    a.settle();
    assert_eq!(a.judged.diagnosis.verdict.cause, Blame::Firewall);
    let findings = &a.judged.findings;
    assert!(
        findings.iter().any(|f| f.status == Status::Critical
            && f.message.starts_with("firewall blocks upstream shop")),
        "{findings:?}"
    );
    assert_eq!(a.judged.status, Status::Unknown.worst(Status::Critical));
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
    assert!(a.model.firewall.as_ref().unwrap().matches.is_empty());
    let mut r = result(1, 5, Outcome::Timeout);
    r.addr = Some("10.9.9.9:9000".into());
    a.update(Event::Probes(vec![r]));
    assert_eq!(a.model.firewall.as_ref().unwrap().matches.len(), 1);
}

#[test]
fn the_gateway_probe_is_step_one() {
    let mut a = app();
    let gateway: Upstream = Upstream {
        name: "gateway".into(),
        ..entry("gateway", 80).upstream
    };
    a.model.gateway = Some(Gateway::new(gateway));
    let mut r = result(0, 3, Outcome::BadStatus);
    r.status_code = Some(502);
    a.update(Event::Gateway(vec![r.clone()]));
    let (dirty, _) = a.update(Event::Gateway(vec![r]));
    assert!(!dirty, "a stale result is dropped");
    a.settle();
    let step = a.judged.diagnosis.step(StepId::Gateway).cloned().unwrap();
    assert_eq!(step.status, Status::Critical);
    assert_eq!(step.evidence, "gateway tcp://127.0.0.1:80 answers 502 now");
}
