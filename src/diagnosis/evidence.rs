//! Evidence shared by the steps and the verdict: log counts as the operator would grep them,
//! which upstream a log line blames, and the firewall rules in an upstream's way.

use crate::firewall::{Action, Match, PathKind, Rule, Strength};
use crate::logs::{Cause, Format};
use crate::status::{Finding, Status};
use crate::upstream::Outcome;

use super::{Inputs, LogInput, UpstreamInput};

/// What the proxy writes for a cause, so the evidence reads like the log: nginx's own words, the
/// cause's name for other formats.
pub fn signature(cause: Cause, format: Option<Format>) -> &'static str {
    if format != Some(Format::NginxError) {
        return cause.name();
    }
    match cause {
        Cause::Refused => "connect() failed (111)",
        Cause::Reset => "recv() failed (104)",
        Cause::PrematureClose => "upstream prematurely closed connection",
        Cause::Timeout => "upstream timed out (110)",
        Cause::NoLiveUpstreams => "no live upstreams",
        Cause::TooBigHeader => "upstream sent too big header",
        Cause::InvalidHeader => "upstream sent invalid header",
        Cause::Dns => "could not be resolved",
        Cause::Tls => "SSL_do_handshake() failed",
        Cause::Unavailable => "connect() failed (11)",
        Cause::Unreachable => "connect() failed (113)",
        Cause::Permission => "connect() failed (13)",
        Cause::NoAddress => "connect() failed (99)",
        Cause::FdLimit => "(24: Too many open files)",
    }
}

/// Lines with any of `causes` over every log's window.
pub fn cause_total(inputs: &Inputs, causes: &[Cause]) -> u64 {
    inputs.logs.iter().map(|l| count(l, causes)).sum()
}

fn count(log: &LogInput, causes: &[Cause]) -> u64 {
    causes
        .iter()
        .map(|c| log.counts.causes.get(c).copied().unwrap_or(0))
        .sum()
}

/// `32 "connect() failed (111)" in error.log, 10 min` for the log with the most lines of
/// `causes` (and `+5 in access.log` for the next); empty when no log has any.
pub fn log_phrase(inputs: &Inputs, causes: &[Cause]) -> String {
    let mut by_log: Vec<(&LogInput, u64)> = inputs
        .logs
        .iter()
        .map(|l| (l, count(l, causes)))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_log.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    phrase(&by_log, causes)
}

fn phrase(by_log: &[(&LogInput, u64)], causes: &[Cause]) -> String {
    let Some((log, n)) = by_log.first() else {
        return String::new();
    };
    // The dominant cause names the signature; the count is all of `causes`.
    let main = causes
        .iter()
        .copied()
        .max_by_key(|c| log.counts.causes.get(c).copied().unwrap_or(0))
        .unwrap_or(Cause::Refused);
    let mut s = format!(
        "{n} \"{}\" in {}, {} min",
        signature(main, log.format),
        log.short_name(),
        log.minutes()
    );
    for (other, m) in by_log.iter().skip(1).take(2) {
        s.push_str(&format!(", +{m} in {}", other.short_name()));
    }
    s
}

/// Like [`log_phrase`], counting only lines the logs attribute to `u` (failures at `u`, up to
/// the lines of `causes`). Logs that name no upstream at all (some formats do not) count whole;
/// lines blamed on other upstreams are not `u`'s evidence.
pub fn upstream_log_phrase(inputs: &Inputs, u: &UpstreamInput, causes: &[Cause]) -> String {
    let attributed = inputs.logs.iter().any(|l| !l.counts.upstreams.is_empty());
    if !attributed {
        return log_phrase(inputs, causes);
    }
    let mut by_log: Vec<(&LogInput, u64)> = inputs
        .logs
        .iter()
        .map(|l| {
            let at_u: u64 = l
                .counts
                .upstreams
                .iter()
                .filter(|(logged, _)| u.is_named_by(logged))
                .map(|(_, n)| n)
                .sum();
            (l, at_u.min(count(l, causes)))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    by_log.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    phrase(&by_log, causes)
}

/// Failures the logs attribute to `u` over their windows.
pub fn upstream_failures(inputs: &Inputs, u: &UpstreamInput) -> u64 {
    inputs
        .logs
        .iter()
        .flat_map(|l| l.counts.upstreams.iter())
        .filter(|(logged, _)| u.is_named_by(logged))
        .map(|(_, n)| n)
        .sum()
}

/// The logged upstream with the most failures that is none of ours (a discovered-but-unprobed
/// server, or one from a log of another host), with its count.
pub fn top_logged_upstream(inputs: &Inputs) -> Option<(String, u64)> {
    let mut all: Vec<(String, u64)> = Vec::new();
    for (name, n) in inputs.logs.iter().flat_map(|l| l.counts.upstreams.iter()) {
        match all.iter_mut().find(|(k, _)| k == name) {
            Some((_, total)) => *total += n,
            None => all.push((name.clone(), *n)),
        }
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.into_iter().next()
}

/// The rules that could stop `u`'s traffic, surest first.
pub fn blockers(inputs: &Inputs, upstream: usize) -> Vec<(&Match, &Rule)> {
    let Some(fw) = &inputs.firewall else {
        return vec![];
    };
    let mut out: Vec<(&Match, &Rule)> = fw
        .matches
        .iter()
        .filter(|m| {
            fw.endpoints
                .get(m.endpoint)
                .is_some_and(|t| t.id == upstream)
        })
        .filter_map(|m| fw.summary.rules.get(m.rule).map(|r| (m, r)))
        .collect();
    out.sort_by_key(|(m, r)| (m.strength, m.conditional, r.policy));
    out.dedup_by_key(|(m, _)| m.rule);
    out
}

/// Whether a rule that does not name the upstream would explain how its probes fail: a DROP
/// makes connects time out, a REJECT makes them refused (or unreachable, with an ICMP reply).
pub fn explains(rule: &Rule, outcome: Option<Outcome>) -> bool {
    matches!(
        (rule.action, outcome),
        (Action::Drop, Some(Outcome::Timeout))
            | (
                Action::Reject,
                Some(Outcome::Refused | Outcome::Unreachable | Outcome::Reset)
            )
    )
}

/// "iptables OUTPUT: -A OUTPUT -d 10.0.0.5/32 -j DROP", and which path it is on.
pub fn rule_phrase(m: &Match, rule: &Rule) -> String {
    let path = match m.path {
        PathKind::Outbound => "",
        PathKind::Reply => " (drops the replies)",
    };
    let may = if m.conditional {
        " (under conditions)"
    } else {
        ""
    };
    format!("{}{path}{may}", rule.describe())
}

/// One finding per upstream that a firewall rule names: critical when the upstream is also
/// down, a warning when it still answers (an earlier ACCEPT, or the rule only applies sometimes).
pub fn firewall_findings(inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, u) in inputs.upstreams.iter().enumerate() {
        let named: Vec<(&Match, &Rule)> = blockers(inputs, i)
            .into_iter()
            .filter(|(m, _)| m.strength == Strength::Names)
            .collect();
        let Some((m, rule)) = named.first() else {
            continue;
        };
        let more = match named.len() {
            1 => String::new(),
            n => format!(" (+{} more rules)", n - 1),
        };
        let (status, verb) = if u.is_down() {
            (Status::Critical, "blocks")
        } else {
            (Status::Warning, "names")
        };
        out.push(Finding::new(
            status,
            format!(
                "firewall {verb} upstream {}: {}{more}",
                u.display(),
                rule_phrase(m, rule)
            ),
        ));
    }
    out
}

/// "refuses connections", "does not answer within 2s": what a probe outcome means, said of an
/// upstream.
pub fn outcome_phrase(u: &UpstreamInput) -> String {
    match (u.outcome, u.status_code) {
        (Some(Outcome::BadStatus), Some(code)) => format!("answers {code}"),
        (Some(Outcome::Refused), _) => "refuses connections".into(),
        (Some(Outcome::Timeout), _) => format!(
            "does not answer within {}",
            humantime::format_duration(u.timeout)
        ),
        (Some(Outcome::Reset), _) => "closes connections before answering".into(),
        (Some(Outcome::Unreachable), _) => "is unreachable (no route)".into(),
        (Some(Outcome::Dns), _) => "does not resolve".into(),
        (Some(Outcome::Tls), _) => "fails the TLS handshake".into(),
        (Some(Outcome::InvalidResponse), _) => "does not answer HTTP".into(),
        (Some(Outcome::BadStatus), None) => "answers with an unexpected status".into(),
        (Some(Outcome::Error), _) => "cannot be probed".into(),
        (Some(Outcome::LocalLimit), _) => {
            "cannot be probed: this host is out of ports or file handles".into()
        }
        (Some(Outcome::Busy), _) => "has a full listen backlog".into(),
        (Some(Outcome::Ok), _) => "answers".into(),
        (None, _) => "is not probed yet".into(),
    }
}

/// "for 1m30s" when known; nothing under a second (one `check` run sees every state begin).
pub fn since_phrase(u: &UpstreamInput) -> String {
    match u.since {
        Some(d) if d.as_secs() > 0 => format!("for {}", crate::upstream::format_age(d)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::WindowCounts;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn log(name: &str, format: Format, causes: &[(Cause, u64)]) -> LogInput {
        LogInput {
            source: name.into(),
            format: Some(format),
            window: Duration::from_secs(600),
            error: None,
            counts: WindowCounts {
                causes: causes.iter().copied().collect::<BTreeMap<_, _>>(),
                ..WindowCounts::default()
            },
        }
    }

    #[test]
    fn phrases_read_like_the_logs() {
        let inputs = Inputs {
            logs: vec![
                log(
                    "/var/log/nginx/error.log",
                    Format::NginxError,
                    &[(Cause::Refused, 30), (Cause::Reset, 2)],
                ),
                log(
                    "/var/log/apache2/error.log.1",
                    Format::ApacheError,
                    &[(Cause::Refused, 4)],
                ),
            ],
            ..Inputs::default()
        };
        assert_eq!(
            log_phrase(&inputs, &[Cause::Refused]),
            "30 \"connect() failed (111)\" in error.log, 10 min, +4 in error.log.1"
        );
        assert_eq!(
            log_phrase(&inputs, &[Cause::Reset, Cause::PrematureClose]),
            "2 \"recv() failed (104)\" in error.log, 10 min"
        );
        assert_eq!(log_phrase(&inputs, &[Cause::Tls]), "");
        assert_eq!(cause_total(&inputs, &[Cause::Refused, Cause::Reset]), 36);
    }
}
