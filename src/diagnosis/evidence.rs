//! Evidence shared by the steps and the verdict: log counts as the operator would grep them,
//! which upstream a log line blames, and the firewall rules in an upstream's way.

use crate::firewall::{Action, Match, PathKind, Rule, Strength};
use crate::logs::{Cause, Format};
use crate::status::{Finding, Status};
use crate::upstream::Outcome;

use super::{Evidence, Inputs, LogInput, Span, UpstreamInput};

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
        Cause::NoSocket => "(2: No such file or directory)",
    }
}

/// Lines with any of `causes` in every log's `span`.
pub fn cause_total(inputs: &Inputs, causes: &[Cause], span: Span) -> u64 {
    inputs.logs.iter().map(|l| count(l, causes, span)).sum()
}

fn count(log: &LogInput, causes: &[Cause], span: Span) -> u64 {
    let counts = log.counts_in(span);
    causes
        .iter()
        .map(|c| counts.causes.get(c).copied().unwrap_or(0))
        .sum()
}

/// The cause of `causes` with the most lines in `log`'s `span`.
fn dominant(log: &LogInput, causes: &[Cause], span: Span) -> Cause {
    let counts = log.counts_in(span);
    causes
        .iter()
        .copied()
        .max_by_key(|c| counts.causes.get(c).copied().unwrap_or(0))
        .unwrap_or(Cause::Refused)
}

/// `error.log:1234` for the newest line of `cause`, or the log's name when the line number is
/// not known.
fn line_source(log: &LogInput, cause: Cause, span: Span) -> String {
    match log
        .counts_in(span)
        .examples
        .get(&cause)
        .and_then(|e| e.line)
    {
        Some(line) => format!("{}:{line}", log.short_name()),
        None => log.short_name(),
    }
}

/// What the proxy wrote for `cause`, in its own words when a line was kept ("connect() to
/// unix:/run/php.sock failed (2: No such file or directory)"), else its usual signature.
fn words(log: &LogInput, cause: Cause, span: Span) -> String {
    match log.counts_in(span).examples.get(&cause) {
        Some(e) if !e.text.is_empty() => {
            // nginx's "while connecting to upstream" adds nothing to the quote.
            let text = e.text.split(" while ").next().unwrap_or(&e.text);
            text.trim().to_owned()
        }
        _ => signature(cause, log.format).to_owned(),
    }
}

/// The host names the logs say could not be resolved, in `span`.
pub fn unresolved_names(inputs: &Inputs, span: Span) -> Vec<String> {
    let mut names: Vec<String> = inputs
        .logs
        .iter()
        .filter_map(|l| l.counts_in(span).examples.get(&Cause::Dns))
        .filter_map(|e| e.unresolved_name())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `32 "connect() failed (111)" in the last 2 min` for the log with the most lines of `causes`
/// (and `+5 in access.log` for the next), sourced to that log; none when no log has any.
pub fn log_evidence(inputs: &Inputs, causes: &[Cause], span: Span) -> Vec<Evidence> {
    let mut by_log: Vec<(&LogInput, u64)> = inputs
        .logs
        .iter()
        .map(|l| (l, count(l, causes, span)))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_log.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    evidence_of(&by_log, causes, span)
}

fn evidence_of(by_log: &[(&LogInput, u64)], causes: &[Cause], span: Span) -> Vec<Evidence> {
    let Some((log, n)) = by_log.first() else {
        return Vec::new();
    };
    // The dominant cause names the signature; the count is all of `causes`.
    let main = dominant(log, causes, span);
    let mut text = format!(
        "{n} × \"{}\" in {}, {}",
        words(log, main, span),
        log.short_name(),
        log.span_text(span)
    );
    let window = count(log, causes, Span::Window);
    if span == Span::Now && window > *n {
        text.push_str(&format!(" ({window} in {} min)", log.minutes()));
    }
    for (other, m) in by_log.iter().skip(1).take(2) {
        text.push_str(&format!(", +{m} in {}", other.short_name()));
    }
    vec![Evidence::new(line_source(log, main, span), text)]
}

/// Like [`log_evidence`], counting only lines the logs attribute to `u` (failures at `u`, up to
/// the lines of `causes`). Logs that name no upstream at all (some formats do not) count whole;
/// lines blamed on other upstreams are not `u`'s evidence.
pub fn upstream_log_evidence(
    inputs: &Inputs,
    u: &UpstreamInput,
    causes: &[Cause],
    span: Span,
) -> Vec<Evidence> {
    let attributed = inputs
        .logs
        .iter()
        .any(|l| !l.counts_in(span).upstreams.is_empty());
    if !attributed {
        return log_evidence(inputs, causes, span);
    }
    let mut by_log: Vec<(&LogInput, u64)> = inputs
        .logs
        .iter()
        .map(|l| {
            let at_u: u64 = l
                .counts_in(span)
                .upstreams
                .iter()
                .filter(|(logged, _)| u.is_named_by(logged))
                .map(|(_, n)| n)
                .sum();
            (l, at_u.min(count(l, causes, span)))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    by_log.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    evidence_of(&by_log, causes, span)
}

/// Failures the logs attribute to `u` in `span`.
pub fn upstream_failures(inputs: &Inputs, u: &UpstreamInput, span: Span) -> u64 {
    inputs
        .logs
        .iter()
        .flat_map(|l| l.counts_in(span).upstreams.iter())
        .filter(|(logged, _)| u.is_named_by(logged))
        .map(|(_, n)| n)
        .sum()
}

/// The logged upstream with the most failures in `span`, with its count.
pub fn top_logged_upstream(inputs: &Inputs, span: Span) -> Option<(String, u64)> {
    let mut all: Vec<(String, u64)> = Vec::new();
    for (name, n) in inputs
        .logs
        .iter()
        .flat_map(|l| l.counts_in(span).upstreams.iter())
    {
        match all.iter_mut().find(|(k, _)| k == name) {
            Some((_, total)) => *total += n,
            None => all.push((name.clone(), *n)),
        }
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.into_iter().next()
}

/// The upstream the logs blame for `causes` in `span`: the one named by the newest line of the
/// dominant cause, else the one with the most failures.
pub fn blamed_upstream(inputs: &Inputs, causes: &[Cause], span: Span) -> Option<String> {
    let by_example = inputs
        .logs
        .iter()
        .filter(|l| count(l, causes, span) > 0)
        .max_by_key(|l| count(l, causes, span))
        .and_then(|l| {
            let main = dominant(l, causes, span);
            l.counts_in(span).examples.get(&main)?.upstream.clone()
        });
    by_example.or_else(|| top_logged_upstream(inputs, span).map(|(name, _)| name))
}

/// The address of a logged upstream field: `http://10.0.0.5:8080/` or `10.0.0.5:8080`.
pub fn logged_address(logged: &str) -> Option<std::net::SocketAddr> {
    let bare = logged.split_once("://").map_or(logged, |(_, rest)| rest);
    let bare = bare.split('/').next().unwrap_or(bare);
    bare.parse().ok()
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

    fn log(name: &str, format: Format, causes: &[(Cause, u64)]) -> LogInput {
        let mut log = LogInput::fresh(
            name,
            Some(format),
            WindowCounts {
                causes: causes.iter().copied().collect::<BTreeMap<_, _>>(),
                ..WindowCounts::default()
            },
        );
        log.recent.causes.remove(&Cause::Reset);
        log
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
        let text = |causes: &[Cause], span| {
            log_evidence(&inputs, causes, span)
                .into_iter()
                .map(|e| format!("{}: {}", e.source, e.text))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            text(&[Cause::Refused], Span::Window),
            ["error.log: 30 × \"connect() failed (111)\" in error.log, 10 min, +4 in error.log.1"]
        );
        assert_eq!(
            text(&[Cause::Reset, Cause::PrematureClose], Span::Window),
            ["error.log: 2 × \"recv() failed (104)\" in error.log, 10 min"]
        );
        assert!(
            text(&[Cause::Reset], Span::Now).is_empty(),
            "the resets are history"
        );
        assert!(text(&[Cause::Tls], Span::Window).is_empty());
        assert_eq!(
            cause_total(&inputs, &[Cause::Refused, Cause::Reset], Span::Window),
            36
        );
        assert_eq!(
            logged_address("http://127.0.0.2:8080/"),
            Some("127.0.0.2:8080".parse().unwrap())
        );
    }
}
