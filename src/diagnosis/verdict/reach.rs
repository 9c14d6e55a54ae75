//! Can the proxy reach its upstreams: the firewall, names, the upstreams themselves and the
//! services behind them.

use crate::firewall::{Action, Strength};
use crate::logs::Cause as LogCause;
use crate::status::Status;
use crate::upstream::{Outcome, State};

use super::super::evidence::{
    blockers, cause_total, explains, log_evidence, logged_address, outcome_phrase, rule_phrase,
    since_phrase, top_logged_upstream, unresolved_names, upstream_failures, upstream_log_evidence,
};
use super::{Candidate, by_count, more_down, reload_hint, restart_hint};
use crate::diagnosis::{
    Cause, Evidence, Inputs, NextStep, Resolves, ServiceInput, Span, UpstreamInput, Verdict,
};

/// Down upstreams first by how many failures the logs blame on them now, then longest down.
fn failing(inputs: &Inputs, also_flapping: bool) -> Vec<(usize, &UpstreamInput)> {
    let mut out: Vec<(usize, &UpstreamInput)> = inputs
        .upstreams
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_down() || (also_flapping && u.flapping))
        .collect();
    out.sort_by_key(|(_, u)| {
        (
            std::cmp::Reverse(upstream_failures(inputs, u, Span::Now)),
            std::cmp::Reverse(u.since),
        )
    });
    out
}

/// What the last probe said: its detail, else what its outcome means.
fn probe_evidence(u: &UpstreamInput) -> Evidence {
    if u.detail.is_empty() {
        let outcome = u.outcome.map_or("not probed yet", |o| o.as_str());
        Evidence::new("probe", format!("probe: {outcome}"))
    } else {
        Evidence::new("probe", format!("probe: {}", reason(&u.detail)))
    }
}

/// The reason that leads a probe's detail ("connection refused: error sending request ...:
/// tcp connect error ..."), keeping any parenthesised errno whole: "socket file missing (2: No
/// such file or directory)". The upstream's detail view has the rest.
fn reason(detail: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in detail.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ':' if depth == 0 && detail[i + 1..].starts_with(' ') => return &detail[..i],
            _ => {}
        }
    }
    detail
}

pub(super) fn firewall(inputs: &Inputs, _span: Span) -> Option<Candidate> {
    for (i, u) in failing(inputs, true) {
        let rules = blockers(inputs, i);
        let named = rules.iter().find(|(m, _)| m.strength == Strength::Names);
        let explaining = rules
            .iter()
            .find(|(m, r)| m.strength != Strength::Names && explains(r, u.outcome));
        let Some(&(m, rule)) = named.or(explaining) else {
            continue;
        };
        let surely = m.strength == Strength::Names;
        let status = if surely && u.is_down() {
            Status::Critical
        } else {
            Status::Warning
        };
        let headline = if surely {
            format!("the firewall blocks upstream {}", u.display())
        } else {
            format!("the firewall may block upstream {}", u.display())
        };
        let mut evidence = vec![
            Evidence::new("firewall", rule_phrase(m, rule)),
            Evidence::new("probe", format!("probes: {}", outcome_phrase(u))),
        ];
        if rule.action == Action::Reject && u.outcome == Some(Outcome::Refused) {
            evidence.push(Evidence::new(
                "firewall",
                "a REJECT makes connects look refused",
            ));
        }
        let place = match (u.addrs.first(), u.port) {
            (Some(a), Some(p)) => format!("{a} port {p}"),
            _ => "the upstream".into(),
        };
        let next = if rule.policy || !surely {
            format!(
                "allow {place} explicitly (an ACCEPT in {} before the drop), then rerun the checks",
                rule.chain
            )
        } else {
            format!(
                "remove or narrow that rule, or ACCEPT {place} before it; then rerun the checks"
            )
        };
        return Candidate::now(
            Verdict::new(
                Cause::Firewall,
                status,
                headline,
                evidence,
                NextStep::new(next).key("r"),
            )
            .about(Some(u)),
        );
    }
    None
}

pub(super) fn service_down(inputs: &Inputs, _span: Span) -> Option<Candidate> {
    let down: Vec<&ServiceInput> = inputs
        .services
        .iter()
        .filter(|s| s.status == Status::Critical)
        .collect();
    let first = down.first()?;
    let mut evidence = vec![Evidence::new(
        "service",
        format!("its status check says: {}", first.state),
    )];
    if down.len() > 1 {
        evidence.push(Evidence::new(
            "service",
            format!("{} more services stopped", down.len() - 1),
        ));
    }
    Candidate::now(Verdict::new(
        Cause::ServiceDown,
        Status::Critical,
        format!("service {} is not running", first.name),
        evidence,
        NextStep::new(format!(
            "read why in its log (journalctl -u {0}), then restart {0}",
            first.name
        ))
        .key("a"),
    ))
}

/// A probe failure that says something about the upstream (not about this host, its name, its
/// TLS or its backlog, which other rules word), and a timeout only when the host does not
/// explain it.
fn its_own_failure(inputs: &Inputs, u: &UpstreamInput) -> bool {
    match u.outcome {
        Some(Outcome::Dns | Outcome::Tls | Outcome::LocalLimit | Outcome::Busy) => false,
        Some(Outcome::Timeout) => !super::host::explains_timeouts(inputs),
        _ => true,
    }
}

/// A unix socket whose file is gone: nothing runs there (nginx logs `(2: No such file or
/// directory)`).
fn socket_missing(u: &UpstreamInput) -> bool {
    u.socket.is_some()
        && u.outcome == Some(Outcome::Refused)
        && (u.detail.contains("(2:") || u.detail.contains("No such file"))
}

pub(super) fn upstream_down(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let down = failing(inputs, false);
    let candidates: Vec<&(usize, &UpstreamInput)> = down
        .iter()
        .filter(|(_, u)| its_own_failure(inputs, u))
        .collect();
    if let Some(&&(_, u)) = candidates.first() {
        return Candidate::now(probed_down(inputs, u, candidates.len()));
    }
    // No probe says so, but the proxy's log does.
    let refused = [
        LogCause::Refused,
        LogCause::NoSocket,
        LogCause::NoLiveUpstreams,
        LogCause::Unreachable,
    ];
    let n = cause_total(inputs, &refused, span);
    if n == 0 {
        return None;
    }
    let (who, ours) = match top_logged_upstream(inputs, span) {
        Some((logged, _)) => match inputs.upstreams.iter().find(|u| u.is_named_by(&logged)) {
            Some(u) => (format!("upstream {}", u.display()), Some(u)),
            None => (format!("upstream {logged}"), None),
        },
        None => ("an upstream".to_string(), None),
    };
    let evidence = log_evidence(inputs, &refused, span);
    let missing = cause_total(inputs, &[LogCause::NoSocket], span) * 2 > n;
    let verdict = match ours {
        Some(u) if u.state == Some(State::Up) => Verdict::new(
            Cause::UpstreamDown,
            Status::Warning,
            format!("{who} refused connections recently but answers now"),
            evidence,
            NextStep::new("it restarted or flaps: check its uptime and crash logs"),
        ),
        _ if missing => Verdict::new(
            Cause::UpstreamDown,
            by_count(inputs, &refused),
            format!("{who}'s socket file is missing: nothing listens there"),
            evidence,
            match ours {
                Some(u) => restart_hint(inputs, u, "is its service (php-fpm?) running? "),
                None => NextStep::new("start the service that listens on it (php-fpm?)"),
            },
        ),
        _ => Verdict::new(
            Cause::UpstreamDown,
            by_count(inputs, &refused),
            format!("{who} refuses connections"),
            evidence,
            match ours {
                Some(u) => restart_hint(inputs, u, "is its process running? "),
                None => NextStep::new("is its process running? restart it"),
            },
        ),
    };
    Candidate::lines(n, verdict.about(ours))
}

/// The verdict for an upstream whose probes fail for a reason of its own.
fn probed_down(inputs: &Inputs, u: &UpstreamInput, down: usize) -> Verdict {
    let causes: &[LogCause] = match u.outcome {
        Some(Outcome::Refused) => &[
            LogCause::Refused,
            LogCause::NoSocket,
            LogCause::NoLiveUpstreams,
        ],
        Some(Outcome::Timeout) => &[LogCause::Timeout],
        Some(Outcome::Reset) => &[LogCause::Reset, LogCause::PrematureClose],
        Some(Outcome::Unreachable) => &[LogCause::Unreachable],
        Some(Outcome::InvalidResponse) => &[LogCause::InvalidHeader],
        _ => &[],
    };
    let next = match u.outcome {
        _ if socket_missing(u) => restart_hint(
            inputs,
            u,
            "the socket file is gone: is its service running? ",
        ),
        Some(Outcome::Refused) => restart_hint(inputs, u, "is its process running? "),
        Some(Outcome::Timeout) => restart_hint(
            inputs,
            u,
            "is it hung or overloaded? check its host and process; ",
        ),
        Some(Outcome::Reset) => restart_hint(inputs, u, "read its own log for crashes; "),
        Some(Outcome::Unreachable) => {
            let addr = u.addrs.first().map(|a| a.to_string());
            NextStep::new(format!(
                "check the route and the upstream host (ip route get {})",
                addr.as_deref().unwrap_or("ADDRESS")
            ))
        }
        Some(Outcome::BadStatus) => {
            NextStep::new("the application itself fails: read its log (or its own upstream's)")
        }
        Some(Outcome::InvalidResponse) => NextStep::new(
            "check the port and protocol the proxy uses for it (http vs https, fastcgi)",
        ),
        _ => NextStep::new("read the probe's full error in the upstream's detail").key("Enter"),
    };
    let headline = if socket_missing(u) {
        format!("upstream {}'s socket file is missing", u.display())
    } else {
        format!("upstream {} {}", u.display(), outcome_phrase(u))
    };
    let mut evidence = upstream_log_evidence(inputs, u, causes, Span::Now);
    let since = since_phrase(u);
    if !since.is_empty() {
        evidence.push(Evidence::new("probe", format!("down {since}")));
    }
    evidence.push(probe_evidence(u));
    evidence.extend(crate::diagnosis::proxy_view::for_down_upstream(u));
    let more = more_down(down);
    if !more.is_empty() {
        evidence.push(Evidence::new("probe", more));
    }
    if u.outcome == Some(Outcome::Timeout)
        && let Some(h) = inputs.host.as_ref().filter(|h| h.overloaded())
    {
        evidence.push(Evidence::new(
            "host",
            format!(
                "the host is busy ({}) but other answers are not slow",
                h.load_text()
            ),
        ));
    }
    Verdict::new(
        Cause::UpstreamDown,
        Status::Critical,
        headline,
        evidence,
        next,
    )
    .about(Some(u))
}

pub(super) fn dns(inputs: &Inputs, span: Span) -> Option<Candidate> {
    if let Some(stale) = stale_container(inputs, span) {
        return Some(stale);
    }
    if let Some(stale) = stale_address(inputs, span) {
        return Some(stale);
    }
    for (_, u) in failing(inputs, false) {
        if u.outcome != Some(Outcome::Dns) {
            continue;
        }
        let host = u.host.clone().unwrap_or_default();
        let why = inputs
            .dns
            .name(&host)
            .and_then(|n| n.error.clone())
            .unwrap_or_else(|| u.detail.clone());
        return Candidate::now(
            Verdict::new(
                Cause::Dns,
                Status::Critical,
                format!("upstream {}'s name {host} does not resolve", u.name),
                vec![Evidence::new("dns", why)],
                NextStep::new(format!(
                    "check the record and the nameservers (dig {host} @NAMESERVER)"
                )),
            )
            .about(Some(u)),
        );
    }
    for u in &inputs.upstreams {
        let Some(n) = u.host.as_deref().and_then(|h| inputs.dns.name(h)) else {
            continue;
        };
        if n.resolves != Resolves::Everywhere {
            let verdict = |status, how: &str| {
                Verdict::new(
                    Cause::Dns,
                    status,
                    format!("upstream {}'s name {} {how}", u.name, n.name),
                    vec![Evidence::new("dns", n.error.clone().unwrap_or_default())],
                    NextStep::new(
                        "fix the record, or the failing nameserver in resolv.conf or the \
                         proxy's resolver",
                    ),
                )
                .about(Some(u))
            };
            // Some nameservers failing is a weak sign: any failing request outweighs it.
            return if n.resolves == Resolves::Nowhere {
                Candidate::now(verdict(Status::Critical, "does not resolve"))
            } else {
                Candidate::lines(
                    0,
                    verdict(Status::Warning, "fails through some nameservers"),
                )
            };
        }
        if let Some(old) = &n.moved_from {
            let old: Vec<String> = old.iter().map(|a| a.to_string()).collect();
            let new: Vec<String> = n.addresses.iter().map(|a| a.to_string()).collect();
            let verdict = Verdict::new(
                Cause::Dns,
                if u.is_down() {
                    Status::Critical
                } else {
                    Status::Warning
                },
                format!(
                    "upstream {}'s name {} moved: the proxy may still send to {}",
                    u.name,
                    n.name,
                    old.join(", ")
                ),
                vec![Evidence::new("dns", format!("now {}", new.join(", ")))],
                reload_hint(inputs, "", " so it resolves the name again"),
            )
            .about(Some(u));
            // Without a logged failure at the old address it may be harmless: a weak sign.
            return Candidate::lines(0, verdict);
        }
    }
    let n = cause_total(inputs, &[LogCause::Dns], span);
    if n == 0 {
        return None;
    }
    let names = unresolved_names(inputs, span);
    let what = if names.is_empty() {
        "an upstream name".to_string()
    } else {
        names.join(", ")
    };
    let mut evidence = log_evidence(inputs, &[LogCause::Dns], span);
    let resolvers: Vec<String> = inputs
        .dns
        .proxy_resolvers
        .iter()
        .map(|r| r.to_string())
        .collect();
    evidence.push(Evidence::new(
        "dns",
        if resolvers.is_empty() {
            "the proxy's config names no resolver: it cannot resolve names at run time".into()
        } else {
            format!("the proxy asks {}", resolvers.join(", "))
        },
    ));
    Candidate::lines(
        n,
        Verdict::new(
            Cause::Dns,
            by_count(inputs, &[LogCause::Dns]),
            format!("the proxy cannot resolve {what}"),
            evidence,
            NextStep::new(
                "check the proxy's resolver (nginx `resolver`) and that nameserver answers the \
                 name",
            ),
        ),
    )
}

/// A proxy in a container still connects to the address its upstream's container had before it
/// was recreated ([`crate::diagnosis::stale_addresses`]): the containers tell it without DNS.
/// Failing now, it is the verdict and outranks "upstream down" (the old address refuses or does
/// not route); seen only earlier in the window, it weighs its failures like log lines.
fn stale_container(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let now = inputs.clock.now;
    let found: Vec<&crate::diagnosis::StaleAddress> = match span {
        Span::Now => crate::diagnosis::stale_address::failing_now(inputs).collect(),
        Span::Window => inputs.stale_addresses.iter().collect(),
    };
    let first = found.first()?;
    let mut evidence = vec![Evidence::new("logs", first.evidence())];
    match found.len() {
        1 => {}
        2 => evidence.push(Evidence::new("containers", "1 more stale address")),
        n => evidence.push(Evidence::new(
            "containers",
            format!("{} more stale addresses", n - 1),
        )),
    }
    let mut verdict = Verdict::new(
        Cause::Dns,
        Status::Critical,
        first.headline(now, &inputs.clock.tz),
        evidence,
        NextStep::new(first.next_step()),
    );
    verdict.upstream = Some(first.upstream.clone());
    match span {
        Span::Now => Candidate::now(verdict),
        Span::Window => Candidate::lines(first.failures, verdict),
    }
}

/// The proxy still connects to an address its upstream's name no longer has: nginx resolves a
/// `proxy_pass` or `server` name once, at start or reload, and the error log's `upstream:` field
/// shows the address it uses. Needs no memory: the log and one DNS answer tell it.
fn stale_address(inputs: &Inputs, span: Span) -> Option<Candidate> {
    for log in &inputs.logs {
        for (logged, n) in &log.counts_in(span).upstreams {
            let Some(addr) = logged_address(logged) else {
                continue;
            };
            // An address some upstream has (written as one, or answered for its name) is not
            // stale.
            if inputs.upstreams.iter().any(|u| u.is_named_by(logged)) {
                continue;
            }
            let by_name = inputs.upstreams.iter().find(|u| {
                u.port == Some(addr.port())
                    && !u.is_down()
                    && u.host
                        .as_deref()
                        .is_some_and(|h| h.parse::<std::net::IpAddr>().is_err())
                    && u.host
                        .as_deref()
                        .and_then(|h| inputs.dns.name(h))
                        .is_some_and(|d| {
                            !d.addresses.is_empty() && !d.addresses.contains(&addr.ip())
                        })
            });
            let Some(u) = by_name else {
                continue;
            };
            let name = u.host.clone().unwrap_or_default();
            let new: Vec<String> = inputs
                .dns
                .name(&name)
                .map(|d| d.addresses.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default();
            let proxy = match log.format {
                Some(crate::logs::Format::NginxError) => "nginx",
                _ => "the proxy",
            };
            let from = if u.source == "config" {
                String::new()
            } else {
                format!(" (from {})", u.source)
            };
            let mut evidence = vec![
                Evidence::new(
                    log.short_name(),
                    format!("{n} failed connections to {addr} {}", log.span_text(span)),
                ),
                Evidence::new("dns", format!("{name} now answers {}", new.join(", "))),
            ];
            if u.state.is_some() {
                evidence.push(probe_evidence(u));
            }
            let next = reload_hint(
                inputs,
                "",
                " so it resolves the name again (or resolve at run time: `resolver` and a \
                 variable in proxy_pass)",
            );
            return Candidate::now(
                Verdict::new(
                    Cause::Dns,
                    Status::Critical,
                    format!(
                        "{proxy} still connects to {} for {name}{from}; DNS now answers {}",
                        addr.ip(),
                        new.join(", ")
                    ),
                    evidence,
                    next,
                )
                .about(Some(u)),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_probes_reason_keeps_its_errno_whole() {
        assert_eq!(
            super::reason("connection refused: error sending request: tcp connect error"),
            "connection refused"
        );
        assert_eq!(
            super::reason("socket file missing (2: No such file or directory)"),
            "socket file missing (2: No such file or directory)"
        );
        assert_eq!(super::reason("timed out"), "timed out");
    }
}
