//! The verdict: a table of rules, each naming one cause of 502s with the evidence that makes it
//! likely, weighed by time and volume.
//!
//! What fails now decides. A rule backed by the present (a probe, a service's status, the host's
//! own figures, the firewall) wins over one backed by log lines alone, first in table order, so a
//! cause that explains the others comes first: a firewall rule explains a "down" upstream. Among
//! rules backed by log lines alone, the one with the most lines in the last minute wins: one
//! "refused" line written by a restart does not outweigh 167 TLS errors. A cause whose lines
//! stopped is history: it is reported as such, never as the verdict.

mod host;
mod logged;
mod reach;

use crate::logs::CRITICAL_EVENTS;
use crate::status::Status;

use super::evidence::cause_total;
use super::{Cause, Evidence, Inputs, NextStep, Span, Step, UpstreamInput, Verdict};

/// One row of the table: what it blames and when it fires (docs/verdicts.md lists these).
pub struct Rule {
    pub cause: Cause,
    pub when: &'static str,
    check: fn(&Inputs, Span) -> Option<Candidate>,
}

/// A rule's verdict and what backs it.
pub(super) struct Candidate {
    verdict: Verdict,
    basis: Basis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Basis {
    /// A probe, a status check, the host's figures or the firewall: true now.
    Now,
    /// Log lines alone, this many in the span judged.
    Lines(u64),
}

impl Candidate {
    fn now(verdict: Verdict) -> Option<Candidate> {
        Some(Candidate {
            verdict,
            basis: Basis::Now,
        })
    }

    fn lines(n: u64, verdict: Verdict) -> Option<Candidate> {
        Some(Candidate {
            verdict,
            basis: Basis::Lines(n),
        })
    }
}

/// The rules, in priority order.
pub const RULES: [Rule; 14] = [
    Rule {
        cause: Cause::Firewall,
        when: "a DROP/REJECT rule names a failing upstream's address or port (outbound, or on \
               the reply path before any ESTABLISHED accept), or a drop-everything rule or policy \
               explains how its probes fail (DROP: timeouts, REJECT: refused)",
        check: reach::firewall,
    },
    Rule {
        cause: Cause::Dns,
        when: "the proxy still connects to an address its upstream's name no longer has (the \
               log's upstream address against the container behind the name now, or against \
               DNS now), an upstream's name does not resolve \
               (through all or some nameservers) or has moved since gatewatch first resolved it, \
               or the logs say a name could not be resolved",
        check: reach::dns,
    },
    Rule {
        cause: Cause::HostLimits,
        when: "the proxy host runs out of file descriptors or ephemeral ports (log lines `(24: \
               Too many open files)`, `(99: Cannot assign requested address)`, probes that \
               cannot get a port or a file handle, or the host's own figures above their \
               warning levels)",
        check: host::limits,
    },
    Rule {
        cause: Cause::UpstreamDown,
        when: "an upstream's probes fail (refused, socket missing, timeout, reset, no route, bad \
               status, not HTTP) for a reason on its side, with the matching log lines as \
               evidence; or the logs alone show refused connections or no live upstreams",
        check: reach::upstream_down,
    },
    Rule {
        cause: Cause::ServiceDown,
        when: "a service's `status` command says it is not running (the proxy itself, or a \
               backend that probes do not reach)",
        check: reach::service_down,
    },
    Rule {
        cause: Cause::HostOverloaded,
        when: "requests or several probes time out, or answers are slow, while the proxy host \
               is overloaded (load above its cores, CPU saturated, or memory nearly full); a \
               single upstream that stops answering while others answer is its own fault",
        check: host::overloaded,
    },
    Rule {
        cause: Cause::Tls,
        when: "TLS handshakes with an upstream fail (probes or log lines)",
        check: logged::tls,
    },
    Rule {
        cause: Cause::ProxyConfig,
        when: "the upstream's response headers do not fit the proxy's buffers (too_big_header) \
               or are not valid (invalid_header)",
        check: logged::proxy_config,
    },
    Rule {
        cause: Cause::Backlog,
        when: "a unix socket's backlog is full (`(11: Resource temporarily unavailable)`, or a \
               probe's connect would block): php-fpm or another pool is saturated",
        check: logged::backlog,
    },
    Rule {
        cause: Cause::Permission,
        when: "the proxy is denied access to the upstream (`(13: Permission denied)`): socket \
               file permissions or SELinux",
        check: logged::permission,
    },
    Rule {
        cause: Cause::UpstreamCrash,
        when: "upstreams close or reset connections mid-response (premature_close, reset); \
               when fresh probes pass, the upstream's keepalive timeout may be shorter than the \
               proxy's",
        check: logged::upstream_crash,
    },
    Rule {
        cause: Cause::UpstreamSlow,
        when: "an upstream flaps, answers slower than its `slow`, or requests time out on a \
               healthy host",
        check: logged::upstream_slow,
    },
    Rule {
        cause: Cause::Unexplained502,
        when: "the access log or the gateway probe shows 502s but nothing above explains them",
        check: logged::unexplained_502,
    },
    Rule {
        cause: Cause::NoCause,
        when: "nothing above fires on the present: no 502 cause now (a cause whose lines stopped \
               is named as history; no_data while nothing has been checked yet)",
        check: |_, _| None,
    },
];

pub fn judge(inputs: &Inputs, steps: &[Step]) -> Verdict {
    if let Some(now) = weigh(inputs, Span::Now) {
        return now.verdict;
    }
    match weigh(inputs, Span::Window) {
        Some(past) => history(inputs, past.verdict, steps),
        None => no_cause(inputs, steps),
    }
}

/// The first rule backed by the present; else the rule with the most lines in `span` (ties in
/// table order).
fn weigh(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let mut best: Option<(u64, Candidate)> = None;
    for rule in &RULES {
        let Some(c) = (rule.check)(inputs, span) else {
            continue;
        };
        match c.basis {
            Basis::Now => return Some(c),
            Basis::Lines(n) => {
                if best.as_ref().is_none_or(|(most, _)| n > *most) {
                    best = Some((n, c));
                }
            }
        }
    }
    best.map(|(_, c)| c)
}

/// A cause with lines in the window but none in the last 2 minutes. When the present shows it
/// stopped (every probe answers, or requests succeed now), it is history, not the verdict; when
/// nothing shows either way, it stands as a warning, saying how long it has been quiet.
fn history(inputs: &Inputs, past: Verdict, steps: &[Step]) -> Verdict {
    let quiet = inputs
        .logs
        .iter()
        .filter_map(|l| l.quiet_for)
        .min()
        .map(|d| format!("none for {} min", d.as_secs().div_ceil(60).max(1)));
    let probed: Vec<&UpstreamInput> = inputs
        .upstreams
        .iter()
        .filter(|u| u.state.is_some())
        .collect();
    let answering = !probed.is_empty() && probed.iter().all(|u| !u.is_down());
    let served = inputs
        .logs
        .iter()
        .any(|l| l.recent.requests > 0 && l.recent.failed_requests == 0);
    let source = past
        .evidence
        .first()
        .map_or("logs".to_string(), |e| e.source.clone());
    if answering || served {
        let mut earlier = format!("earlier: {} ({})", past.headline, past.summary());
        if let Some(quiet) = &quiet {
            earlier.push_str(&format!("; {quiet}"));
        }
        let mut evidence = vec![Evidence::new(source, earlier)];
        evidence.extend(worst_step(steps));
        return Verdict::new(
            Cause::NoCause,
            Status::Ok,
            "no 502 cause now".into(),
            evidence,
            NextStep::default(),
        );
    }
    let mut evidence = past.evidence.clone();
    evidence.extend(quiet.map(|q| Evidence::new(source, q)));
    let mut verdict = Verdict::new(
        past.cause,
        Status::Warning,
        past.headline.clone(),
        evidence,
        NextStep {
            text: past.next_step.clone(),
            key: past.key,
        },
    );
    verdict.upstream = past.upstream;
    verdict
}

fn worst_step(steps: &[Step]) -> Option<Evidence> {
    steps
        .iter()
        .filter(|s| s.status != Status::Ok)
        .max_by_key(|s| s.status.severity())
        .map(|s| {
            Evidence::new(
                s.step.name(),
                format!("but {}: {}", s.step.title(), s.evidence),
            )
        })
}

fn no_cause(inputs: &Inputs, steps: &[Step]) -> Verdict {
    let nothing = inputs.host.is_none()
        && inputs.upstreams.iter().all(|u| u.state.is_none())
        && inputs.logs.is_empty()
        && inputs.gateway.as_ref().is_none_or(|g| g.outcome.is_none());
    if nothing {
        return Verdict::new(
            Cause::NoData,
            Status::Unknown,
            "nothing to judge yet".into(),
            vec![Evidence::new(
                "gatewatch",
                "no host sample, probe result or log yet",
            )],
            NextStep::default(),
        );
    }
    let evidence =
        worst_step(steps).unwrap_or_else(|| Evidence::new("checklist", "every step is ok"));
    Verdict::new(
        Cause::NoCause,
        Status::Ok,
        "no 502 cause found".into(),
        vec![evidence],
        NextStep::default(),
    )
}

/// How bad log-backed evidence of `causes` is: by the lines in the window and the share of
/// requests failing.
fn by_count(inputs: &Inputs, causes: &[crate::logs::Cause]) -> Status {
    severity_of(inputs, cause_total(inputs, causes, Span::Window))
}

/// Critical when the window holds many such lines, or when the access logs show a large share
/// of requests failing (a quiet endpoint that always fails is as broken as a busy one).
fn severity_of(inputs: &Inputs, lines: u64) -> Status {
    let failing_share = inputs
        .logs
        .iter()
        .any(|l| crate::logs::severity(&l.counts) == Status::Critical);
    if lines >= CRITICAL_EVENTS || (lines > 0 && failing_share) {
        Status::Critical
    } else {
        Status::Warning
    }
}

/// "restart web", done by `a` when a configured service has the upstream's name; else "restart
/// it".
fn restart_hint(inputs: &Inputs, u: &UpstreamInput, before: &str) -> NextStep {
    let name = u.name.to_lowercase();
    match inputs.services.iter().find(|s| {
        let s = s.name.to_lowercase();
        s == name || name.contains(&s) || s.contains(&name)
    }) {
        Some(s) => NextStep::new(format!("{before}restart {}", s.name)).key("a"),
        None => NextStep::new(format!("{before}restart it")),
    }
}

/// "reload nginx", done by `a` when the proxy is a configured service; else "reload the
/// proxy".
fn reload_hint(inputs: &Inputs, before: &str, after: &str) -> NextStep {
    let proxy = inputs.services.iter().find(|s| {
        let n = s.name.to_lowercase();
        ["nginx", "apache", "httpd", "haproxy"]
            .iter()
            .any(|p| n.contains(p))
    });
    match proxy {
        Some(s) => NextStep::new(format!("{before}reload {}{after}", s.name)).key("a"),
        None => NextStep::new(format!("{before}reload the proxy{after}")),
    }
}

fn more_down(total: usize) -> String {
    match total {
        0 | 1 => String::new(),
        2 => "1 more upstream down".into(),
        n => format!("{} more upstreams down", n - 1),
    }
}
