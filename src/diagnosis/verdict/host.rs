//! The proxy host itself: overloaded, or out of file descriptors or ports. A failure whose cause
//! is on this host is never blamed on an upstream.

use crate::host::{FILES_WARNING_PERCENT, PORTS_WARNING_PERCENT};
use crate::logs::{CRITICAL_EVENTS, Cause as LogCause};
use crate::status::Status;
use crate::upstream::{Outcome, State};

use super::super::evidence::{cause_total, log_evidence};
use super::{Candidate, reload_hint};
use crate::diagnosis::{Cause, Evidence, HostInput, Inputs, NextStep, Span, Verdict};

/// Whether the host explains timeouts: it is overloaded and the slowness is general (several
/// upstreams time out and none answers, answers are slow, or the gateway's own probe times out).
/// One upstream that stops answering while the host is busy is its own fault: a process frozen at
/// 0% CPU raises no load, and the unrelated processes that do would not stop it answering.
pub(super) fn explains_timeouts(inputs: &Inputs) -> bool {
    if !inputs.host.as_ref().is_some_and(HostInput::overloaded) {
        return false;
    }
    let timeouts = with_outcome(inputs, Outcome::Timeout);
    let answering = with_outcome(inputs, Outcome::Ok);
    let slow = inputs
        .upstreams
        .iter()
        .any(|u| u.state == Some(State::Degraded) && !u.flapping);
    slow || gateway_times_out(inputs) || (timeouts >= 2 && answering == 0)
}

fn with_outcome(inputs: &Inputs, outcome: Outcome) -> usize {
    inputs
        .upstreams
        .iter()
        .filter(|u| u.outcome == Some(outcome))
        .count()
}

fn gateway_times_out(inputs: &Inputs) -> bool {
    inputs
        .gateway
        .as_ref()
        .is_some_and(|g| g.outcome == Some(Outcome::Timeout))
}

pub(super) fn overloaded(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let h = inputs.host.as_ref().filter(|h| h.overloaded())?;
    let logged = cause_total(inputs, &[LogCause::Timeout], span);
    let general = explains_timeouts(inputs);
    if logged == 0 && !general {
        return None;
    }
    let what = h
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .max_by_key(|f| f.status.severity())
        .map(|f| f.message.clone())
        .unwrap_or_else(|| h.load_text());
    let mut evidence = vec![Evidence::new("host", what)];
    evidence.extend(h.busiest_text().map(|t| Evidence::new("host", t)));
    evidence.extend(log_evidence(inputs, &[LogCause::Timeout], span));
    let probes: Vec<String> = inputs
        .upstreams
        .iter()
        .filter(|u| u.outcome == Some(Outcome::Timeout))
        .map(|u| u.name.clone())
        .collect();
    if !probes.is_empty() {
        evidence.push(Evidence::new(
            "probe",
            format!("probes of {} time out", probes.join(", ")),
        ));
    }
    if gateway_times_out(inputs) {
        evidence.push(Evidence::new("probe", "the gateway probe times out"));
    }
    let verdict = Verdict::new(
        Cause::HostOverloaded,
        h.worst().worst(Status::Warning),
        "the proxy host is overloaded".into(),
        evidence,
        NextStep::new("find what is busy: sort the processes by CPU or memory").key("s"),
    );
    if general {
        Candidate::now(verdict)
    } else {
        Candidate::lines(logged, verdict)
    }
}

/// Whether a probe that could not get a local resource names ports (`EADDRNOTAVAIL`) or file
/// handles (`EMFILE`, `ENFILE`), by its detail.
fn local_limit(inputs: &Inputs, ports: bool) -> Option<&crate::diagnosis::UpstreamInput> {
    inputs.upstreams.iter().find(|u| {
        u.outcome == Some(Outcome::LocalLimit) && {
            let port_words = u.detail.contains("(99") || u.detail.contains("port");
            port_words == ports
        }
    })
}

pub(super) fn limits(inputs: &Inputs, span: Span) -> Option<Candidate> {
    // u128: file-max is often near u64::MAX (9.2E on a container), where `* 100` overflows.
    let above = |used: u64, total: u64, pct: u64| {
        total > 0 && u128::from(used) * 100 > u128::from(total) * u128::from(pct)
    };
    let host = inputs.host.as_ref();
    let host_status = host.map_or(Status::Warning, |h| h.worst().worst(Status::Warning));
    let status = |logged: u64, probe: bool| {
        if probe || logged >= CRITICAL_EVENTS {
            Status::Critical
        } else {
            host_status
        }
    };
    let fds_logged = cause_total(inputs, &[LogCause::FdLimit], span);
    let fds_high = host
        .and_then(|h| h.files)
        .is_some_and(|(u, m)| above(u, m, FILES_WARNING_PERCENT));
    let fds_probe = local_limit(inputs, false);
    if fds_logged > 0 || fds_high || fds_probe.is_some() {
        let mut evidence = log_evidence(inputs, &[LogCause::FdLimit], span);
        if let Some((u, m)) = host.and_then(|h| h.files) {
            evidence.push(Evidence::new("host", format!("file handles {u} of {m}")));
        }
        if let Some(u) = fds_probe {
            evidence.push(Evidence::new(
                "probe",
                format!("probe of {}: {}", u.display(), u.detail),
            ));
        }
        let verdict = Verdict::new(
            Cause::HostLimits,
            status(fds_logged, fds_probe.is_some()),
            "the proxy runs out of file descriptors".into(),
            evidence,
            reload_hint(
                inputs,
                "raise worker_rlimit_nofile and the service's LimitNOFILE, then ",
                "",
            ),
        );
        // The proxy's own limit, logged now, fails requests now whatever else is logged.
        let logged_now = cause_total(inputs, &[LogCause::FdLimit], Span::Now) > 0;
        return weight(fds_probe.is_some() || logged_now, fds_logged, verdict);
    }
    let ports_logged = cause_total(inputs, &[LogCause::NoAddress], span);
    let ports_high = host
        .and_then(HostInput::ports_used)
        .is_some_and(|(u, t)| above(u.into(), t.into(), PORTS_WARNING_PERCENT));
    let ports_probe = local_limit(inputs, true);
    if ports_logged == 0 && !ports_high && ports_probe.is_none() {
        return None;
    }
    let mut evidence = log_evidence(inputs, &[LogCause::NoAddress], span);
    let figures = host.and_then(HostInput::ports_text);
    // Which upstream the ports go to, when the busiest remote is one.
    let holder = host
        .and_then(|h| h.ports.as_ref())
        .and_then(|p| p.top_remotes.first())
        .and_then(|(remote, _)| {
            inputs
                .upstreams
                .iter()
                .find(|u| u.is_named_by(&remote.to_string()))
        });
    if let Some(text) = figures {
        let text = match holder {
            Some(u) => format!("{text} (upstream {})", u.name),
            None => text,
        };
        evidence.push(Evidence::new("host", text));
    }
    if let Some(u) = ports_probe {
        evidence.push(Evidence::new(
            "probe",
            format!("probe of {}: {}", u.display(), u.detail),
        ));
    }
    let verdict = Verdict::new(
        Cause::HostLimits,
        status(ports_logged, ports_probe.is_some()),
        if ports_probe.is_some() || ports_logged > 0 {
            "the proxy host has run out of local ports".into()
        } else {
            "the proxy host is running out of local ports".into()
        },
        evidence,
        NextStep::new(
            "keep upstream connections alive (keepalive in the upstream block, \
             proxy_http_version 1.1, proxy_set_header Connection \"\"), widen \
             net.ipv4.ip_local_port_range, or set net.ipv4.tcp_tw_reuse = 1",
        ),
    );
    let logged_now = cause_total(inputs, &[LogCause::NoAddress], Span::Now) > 0;
    weight(ports_probe.is_some() || logged_now, ports_logged, verdict)
}

/// A limit the proxy or a probe hits now fails requests now, whatever else is logged; figures
/// near the limit alone are a weak sign that any failing request outweighs.
fn weight(hit_now: bool, logged: u64, verdict: Verdict) -> Option<Candidate> {
    if hit_now {
        Candidate::now(verdict)
    } else {
        Candidate::lines(logged, verdict)
    }
}
