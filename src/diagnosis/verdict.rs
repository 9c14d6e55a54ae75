//! The verdict: an ordered table of rules, each naming one cause of 502s with the evidence that
//! makes it likely. The first rule that fires wins, so a cause that explains the others comes
//! first: a firewall rule explains a "down" upstream, a down upstream explains "connection
//! refused" lines, an overloaded host explains timeouts.

use crate::firewall::{Action, Strength};
use crate::host::{FILES_WARNING_PERCENT, PORTS_WARNING_PERCENT};
use crate::logs::{CRITICAL_EVENTS, Cause as LogCause};
use crate::status::Status;
use crate::upstream::{Outcome, State};

use super::evidence::{
    blockers, cause_total, explains, log_phrase, outcome_phrase, rule_phrase, since_phrase,
    top_logged_upstream, upstream_failures, upstream_log_phrase,
};
use super::{Cause, Inputs, Resolves, ServiceInput, Step, UpstreamInput, Verdict};

/// One row of the table: what it blames and when it fires (the README lists these).
pub struct Rule {
    pub cause: Cause,
    pub when: &'static str,
    check: fn(&Inputs) -> Option<Verdict>,
}

/// The rules, in priority order.
pub const RULES: [Rule; 14] = [
    Rule {
        cause: Cause::Firewall,
        when: "a DROP/REJECT rule names a failing upstream's address or port (outbound, or on \
               the reply path before any ESTABLISHED accept), or a drop-everything rule or policy \
               explains how its probes fail (DROP: timeouts, REJECT: refused)",
        check: firewall,
    },
    Rule {
        cause: Cause::UpstreamDown,
        when: "an upstream's probes fail (refused, timeout on a host that is not overloaded, \
               reset, no route, bad status, not HTTP), with the matching log lines as evidence; \
               or the logs alone show refused connections or no live upstreams",
        check: upstream_down,
    },
    Rule {
        cause: Cause::ServiceDown,
        when: "a service's `status` command says it is not running (the proxy itself, or a \
               backend that probes do not reach)",
        check: service_down,
    },
    Rule {
        cause: Cause::Dns,
        when: "an upstream's name does not resolve (through all or some nameservers), has moved \
               since gatewatch first resolved it (nginx may still use the old address), or the \
               logs say a name could not be resolved",
        check: dns,
    },
    Rule {
        cause: Cause::HostOverloaded,
        when: "requests or probes time out while the proxy host is overloaded (load above its \
               cores, CPU saturated, or memory nearly full)",
        check: host_overloaded,
    },
    Rule {
        cause: Cause::HostLimits,
        when: "the proxy runs out of file descriptors or ephemeral ports (log lines `(24: Too \
               many open files)`, `(99: Cannot assign requested address)`, or the host's own \
               figures above their warning levels)",
        check: host_limits,
    },
    Rule {
        cause: Cause::Tls,
        when: "TLS handshakes with an upstream fail (probes or log lines)",
        check: tls,
    },
    Rule {
        cause: Cause::ProxyConfig,
        when: "the upstream's response headers do not fit the proxy's buffers (too_big_header) \
               or are not valid (invalid_header)",
        check: proxy_config,
    },
    Rule {
        cause: Cause::Backlog,
        when: "a unix socket's backlog is full (`(11: Resource temporarily unavailable)`): \
               php-fpm or another pool is saturated",
        check: backlog,
    },
    Rule {
        cause: Cause::Permission,
        when: "the proxy is denied access to the upstream (`(13: Permission denied)`): socket \
               file permissions or SELinux",
        check: permission,
    },
    Rule {
        cause: Cause::UpstreamCrash,
        when: "upstreams close or reset connections mid-response (premature_close, reset)",
        check: upstream_crash,
    },
    Rule {
        cause: Cause::UpstreamSlow,
        when: "an upstream flaps, answers slower than its `slow`, or requests time out on a \
               healthy host",
        check: upstream_slow,
    },
    Rule {
        cause: Cause::Unexplained502,
        when: "the access log or the gateway probe shows 502s but nothing above explains them",
        check: unexplained_502,
    },
    Rule {
        cause: Cause::NoCause,
        when: "nothing above fired: no 502 cause found (no_data while nothing has been checked \
               yet)",
        check: |_| None,
    },
];

pub fn judge(inputs: &Inputs, steps: &[Step]) -> Verdict {
    RULES
        .iter()
        .find_map(|rule| (rule.check)(inputs))
        .unwrap_or_else(|| no_cause(inputs, steps))
}

/// Down upstreams first by how many failures the logs blame on them, then longest down.
fn failing(inputs: &Inputs, also_flapping: bool) -> Vec<(usize, &UpstreamInput)> {
    let mut out: Vec<(usize, &UpstreamInput)> = inputs
        .upstreams
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_down() || (also_flapping && u.flapping))
        .collect();
    out.sort_by_key(|(_, u)| {
        (
            std::cmp::Reverse(upstream_failures(inputs, u)),
            std::cmp::Reverse(u.since),
        )
    });
    out
}

/// "restart web (a)" when a configured service has the upstream's name, else "restart it".
fn restart_hint(inputs: &Inputs, u: &UpstreamInput) -> String {
    let name = u.name.to_lowercase();
    match inputs.services.iter().find(|s| {
        let s = s.name.to_lowercase();
        s == name || name.contains(&s) || s.contains(&name)
    }) {
        Some(s) => format!("restart {} (a)", s.name),
        None => "restart it".into(),
    }
}

/// "reload nginx (a)" when the proxy is a configured service, else "reload the proxy".
fn reload_hint(inputs: &Inputs) -> String {
    let proxy = inputs.services.iter().find(|s| {
        let n = s.name.to_lowercase();
        ["nginx", "apache", "httpd", "haproxy"]
            .iter()
            .any(|p| n.contains(p))
    });
    match proxy {
        Some(s) => format!("reload {} (a)", s.name),
        None => "reload the proxy".into(),
    }
}

fn join(parts: Vec<String>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn more_down(total: usize) -> String {
    match total {
        0 | 1 => String::new(),
        2 => "1 more upstream down".into(),
        n => format!("{} more upstreams down", n - 1),
    }
}

fn firewall(inputs: &Inputs) -> Option<Verdict> {
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
            rule_phrase(m, rule),
            format!("probes: {}", outcome_phrase(u)),
        ];
        if rule.action == Action::Reject && u.outcome == Some(Outcome::Refused) {
            evidence.push("a REJECT makes connects look refused".into());
        }
        let place = match (u.addrs.first(), u.port) {
            (Some(a), Some(p)) => format!("{a} port {p}"),
            _ => "the upstream".into(),
        };
        let next = if rule.policy || !surely {
            format!(
                "allow {place} explicitly (an ACCEPT in {} before the drop), then rerun (r)",
                rule.chain
            )
        } else {
            format!("remove or narrow that rule, or ACCEPT {place} before it; then rerun (r)")
        };
        return Some(Verdict::new(
            Cause::Firewall,
            status,
            headline,
            join(evidence),
            next,
        ));
    }
    None
}

fn service_down(inputs: &Inputs) -> Option<Verdict> {
    let down: Vec<&ServiceInput> = inputs
        .services
        .iter()
        .filter(|s| s.status == Status::Critical)
        .collect();
    let first = down.first()?;
    let mut evidence = format!("its status check says: {}", first.state);
    if down.len() > 1 {
        evidence.push_str(&format!("; {} more services stopped", down.len() - 1));
    }
    Some(Verdict::new(
        Cause::ServiceDown,
        Status::Critical,
        format!("service {} is not running", first.name),
        evidence,
        format!(
            "read why in its log (journalctl -u {0}), then restart {0} (a)",
            first.name
        ),
    ))
}

fn upstream_down(inputs: &Inputs) -> Option<Verdict> {
    let overloaded = inputs.host.as_ref().is_some_and(|h| h.overloaded());
    let down = failing(inputs, false);
    let candidates: Vec<&(usize, &UpstreamInput)> = down
        .iter()
        .filter(|(_, u)| match u.outcome {
            Some(Outcome::Dns | Outcome::Tls) => false,
            Some(Outcome::Timeout) => !overloaded,
            _ => true,
        })
        .collect();
    if let Some(&&(_, u)) = candidates.first() {
        let causes: &[LogCause] = match u.outcome {
            Some(Outcome::Refused) => &[LogCause::Refused, LogCause::NoLiveUpstreams],
            Some(Outcome::Timeout) => &[LogCause::Timeout],
            Some(Outcome::Reset) => &[LogCause::Reset, LogCause::PrematureClose],
            Some(Outcome::Unreachable) => &[LogCause::Unreachable],
            Some(Outcome::InvalidResponse) => &[LogCause::InvalidHeader],
            _ => &[],
        };
        let restart = restart_hint(inputs, u);
        let next = match u.outcome {
            Some(Outcome::Refused) => format!("is its process running? {restart}"),
            Some(Outcome::Timeout) => {
                format!("is it hung or overloaded? check its host and process; {restart}")
            }
            Some(Outcome::Reset) => format!("read its own log for crashes; {restart}"),
            Some(Outcome::Unreachable) => {
                let addr = u.addrs.first().map(|a| a.to_string());
                format!(
                    "check the route and the upstream host (ip route get {})",
                    addr.as_deref().unwrap_or("ADDRESS")
                )
            }
            Some(Outcome::BadStatus) => {
                "the application itself fails: read its log (or its own upstream's)".into()
            }
            Some(Outcome::InvalidResponse) => {
                "check the port and protocol the proxy uses for it (http vs https, fastcgi)".into()
            }
            _ => "open its detail in the Upstreams pane (Enter) for the full error".into(),
        };
        let since = since_phrase(u);
        let since = if since.is_empty() {
            String::new()
        } else {
            format!("down {since}")
        };
        let evidence = join(vec![
            upstream_log_phrase(inputs, u, causes),
            since,
            more_down(candidates.len()),
        ]);
        return Some(Verdict::new(
            Cause::UpstreamDown,
            Status::Critical,
            format!("upstream {} {}", u.display(), outcome_phrase(u)),
            evidence,
            next,
        ));
    }
    // No probe says so, but the proxy's log does.
    let refused = [
        LogCause::Refused,
        LogCause::NoLiveUpstreams,
        LogCause::Unreachable,
    ];
    let n = cause_total(inputs, &refused);
    if n == 0 {
        return None;
    }
    let (who, ours) = match top_logged_upstream(inputs) {
        Some((logged, _)) => match inputs.upstreams.iter().find(|u| u.is_named_by(&logged)) {
            Some(u) => (u.display(), Some(u)),
            None => (logged, None),
        },
        None => ("an upstream".to_string(), None),
    };
    let evidence = log_phrase(inputs, &refused);
    match ours {
        Some(u) if u.state == Some(State::Up) => Some(Verdict::new(
            Cause::UpstreamDown,
            Status::Warning,
            format!("upstream {who} refused connections recently but answers now"),
            evidence,
            "it restarted or flaps: check its uptime and crash logs".into(),
        )),
        _ => Some(Verdict::new(
            Cause::UpstreamDown,
            if n >= CRITICAL_EVENTS {
                Status::Critical
            } else {
                Status::Warning
            },
            format!("upstream {who} refuses connections"),
            evidence,
            match ours {
                Some(u) => format!("is its process running? {}", restart_hint(inputs, u)),
                None => "is its process running? restart it".into(),
            },
        )),
    }
}

fn dns(inputs: &Inputs) -> Option<Verdict> {
    let name_of = |host: &str| inputs.dns.names.iter().find(|n| n.name == host);
    for (_, u) in failing(inputs, false) {
        if u.outcome != Some(Outcome::Dns) {
            continue;
        }
        let host = u.host.clone().unwrap_or_default();
        let why = name_of(&host)
            .and_then(|n| n.error.clone())
            .unwrap_or_else(|| u.detail.clone());
        return Some(Verdict::new(
            Cause::Dns,
            Status::Critical,
            format!("upstream {}'s name {host} does not resolve", u.name),
            why,
            "check the record and the nameservers in the DNS pane".into(),
        ));
    }
    for u in &inputs.upstreams {
        let Some(n) = u.host.as_deref().and_then(name_of) else {
            continue;
        };
        match n.resolves {
            Resolves::Everywhere => {}
            Resolves::Nowhere | Resolves::Partly => {
                let (status, how) = if n.resolves == Resolves::Nowhere {
                    (Status::Critical, "does not resolve")
                } else {
                    (Status::Warning, "fails through some nameservers")
                };
                return Some(Verdict::new(
                    Cause::Dns,
                    status,
                    format!("upstream {}'s name {} {how}", u.name, n.name),
                    n.error.clone().unwrap_or_default(),
                    "fix the record, or the failing nameserver in resolv.conf or nginx's resolver"
                        .into(),
                ));
            }
        }
        if let Some(old) = &n.moved_from {
            let old: Vec<String> = old.iter().map(|a| a.to_string()).collect();
            let new: Vec<String> = n.addresses.iter().map(|a| a.to_string()).collect();
            return Some(Verdict::new(
                Cause::Dns,
                if u.is_down() {
                    Status::Critical
                } else {
                    Status::Warning
                },
                format!(
                    "upstream {}'s name {} moved: nginx may still send to {}",
                    u.name,
                    n.name,
                    old.join(", ")
                ),
                format!("now {}", new.join(", ")),
                format!("{} so it resolves the name again", reload_hint(inputs)),
            ));
        }
    }
    let n = cause_total(inputs, &[LogCause::Dns]);
    (n > 0).then(|| {
        Verdict::new(
            Cause::Dns,
            Status::Warning,
            "the proxy cannot resolve an upstream name".into(),
            log_phrase(inputs, &[LogCause::Dns]),
            "check nginx's resolver directive and that nameserver (DNS pane)".into(),
        )
    })
}

fn host_overloaded(inputs: &Inputs) -> Option<Verdict> {
    let h = inputs.host.as_ref().filter(|h| h.overloaded())?;
    let logged = log_phrase(inputs, &[LogCause::Timeout]);
    let probes: Vec<String> = inputs
        .upstreams
        .iter()
        .filter(|u| u.outcome == Some(Outcome::Timeout))
        .map(|u| u.name.clone())
        .collect();
    let gateway = inputs
        .gateway
        .as_ref()
        .is_some_and(|g| g.outcome == Some(Outcome::Timeout));
    if logged.is_empty() && probes.is_empty() && !gateway {
        return None;
    }
    let what = h
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .max_by_key(|f| f.status.severity())
        .map(|f| f.message.clone())
        .unwrap_or_else(|| h.load_text());
    let mut evidence = vec![logged];
    if !probes.is_empty() {
        evidence.push(format!("probes of {} time out", probes.join(", ")));
    }
    if gateway {
        evidence.push("the gateway probe times out".into());
    }
    Some(Verdict::new(
        Cause::HostOverloaded,
        h.worst().worst(Status::Warning),
        format!("the proxy host is overloaded: {what}"),
        join(evidence),
        "find what is busy in the Host pane (s sorts by CPU or memory)".into(),
    ))
}

fn host_limits(inputs: &Inputs) -> Option<Verdict> {
    // u128: file-max is often near u64::MAX (9.2E on a container), where `* 100` overflows.
    let above = |used: u64, total: u64, pct: u64| {
        total > 0 && u128::from(used) * 100 > u128::from(total) * u128::from(pct)
    };
    let host = inputs.host.as_ref();
    let fds_logged = cause_total(inputs, &[LogCause::FdLimit]);
    let fds_high = host
        .and_then(|h| h.files)
        .is_some_and(|(u, m)| above(u, m, FILES_WARNING_PERCENT));
    let ports_logged = cause_total(inputs, &[LogCause::NoAddress]);
    let ports_high = host
        .and_then(|h| h.ports)
        .is_some_and(|(u, t)| above(u.into(), t.into(), PORTS_WARNING_PERCENT));
    let host_status = host.map_or(Status::Warning, |h| h.worst().worst(Status::Warning));
    let status = |logged: u64| {
        if logged >= CRITICAL_EVENTS {
            Status::Critical
        } else {
            host_status
        }
    };
    if fds_logged > 0 || fds_high {
        let figures = host
            .and_then(|h| h.files)
            .map(|(u, m)| format!("file handles {u} of {m}"))
            .unwrap_or_default();
        return Some(Verdict::new(
            Cause::HostLimits,
            status(fds_logged),
            "the proxy runs out of file descriptors".into(),
            join(vec![log_phrase(inputs, &[LogCause::FdLimit]), figures]),
            format!(
                "raise worker_rlimit_nofile and the service's LimitNOFILE, then {}",
                reload_hint(inputs)
            ),
        ));
    }
    if ports_logged > 0 || ports_high {
        let figures = host
            .and_then(|h| h.ports)
            .map(|(u, t)| format!("ephemeral ports {u} of {t} in use"))
            .unwrap_or_default();
        return Some(Verdict::new(
            Cause::HostLimits,
            status(ports_logged),
            "the proxy runs out of ephemeral ports".into(),
            join(vec![log_phrase(inputs, &[LogCause::NoAddress]), figures]),
            "keep upstream connections alive (keepalive in the upstream block, \
             proxy_http_version 1.1, proxy_set_header Connection \"\") or widen \
             net.ipv4.ip_local_port_range"
                .into(),
        ));
    }
    None
}

fn tls(inputs: &Inputs) -> Option<Verdict> {
    let probe = inputs
        .upstreams
        .iter()
        .find(|u| u.is_down() && u.outcome == Some(Outcome::Tls));
    let logged = cause_total(inputs, &[LogCause::Tls]);
    if probe.is_none() && logged == 0 {
        return None;
    }
    let who = probe.map_or("an upstream".to_string(), |u| u.display());
    let status = if probe.is_some() || logged >= CRITICAL_EVENTS {
        Status::Critical
    } else {
        Status::Warning
    };
    Some(Verdict::new(
        Cause::Tls,
        status,
        format!("the TLS handshake with {who} fails"),
        join(vec![
            log_phrase(inputs, &[LogCause::Tls]),
            probe.map(|u| u.detail.clone()).unwrap_or_default(),
        ]),
        "check the upstream's certificate and protocols, and proxy_ssl_server_name, \
         proxy_ssl_verify, proxy_ssl_protocols"
            .into(),
    ))
}

fn by_count(n: u64) -> Status {
    if n >= CRITICAL_EVENTS {
        Status::Critical
    } else {
        Status::Warning
    }
}

fn proxy_config(inputs: &Inputs) -> Option<Verdict> {
    let big = cause_total(inputs, &[LogCause::TooBigHeader]);
    if big > 0 {
        return Some(Verdict::new(
            Cause::ProxyConfig,
            by_count(big),
            "the upstream's response headers do not fit the proxy's buffers".into(),
            log_phrase(inputs, &[LogCause::TooBigHeader]),
            format!(
                "raise proxy_buffer_size (e.g. 16k) and proxy_buffers (fastcgi_buffer_size for \
                 PHP), then {}",
                reload_hint(inputs)
            ),
        ));
    }
    let invalid = cause_total(inputs, &[LogCause::InvalidHeader]);
    (invalid > 0).then(|| {
        Verdict::new(
            Cause::ProxyConfig,
            by_count(invalid),
            "the upstream sends an invalid HTTP response".into(),
            log_phrase(inputs, &[LogCause::InvalidHeader]),
            "check that proxy_pass/fastcgi_pass speaks the upstream's protocol, and read the \
             upstream's own log"
                .into(),
        )
    })
}

fn backlog(inputs: &Inputs) -> Option<Verdict> {
    let n = cause_total(inputs, &[LogCause::Unavailable]);
    (n > 0).then(|| {
        Verdict::new(
            Cause::Backlog,
            by_count(n),
            "the upstream's socket backlog is full (php-fpm saturated?)".into(),
            log_phrase(inputs, &[LogCause::Unavailable]),
            "raise pm.max_children or listen.backlog, or find the slow requests (php-fpm \
             slowlog)"
                .into(),
        )
    })
}

fn permission(inputs: &Inputs) -> Option<Verdict> {
    let n = cause_total(inputs, &[LogCause::Permission]);
    (n > 0).then(|| {
        Verdict::new(
            Cause::Permission,
            by_count(n),
            "the proxy is denied access to the upstream".into(),
            log_phrase(inputs, &[LogCause::Permission]),
            "check the socket's owner and mode (php-fpm listen.owner, listen.mode) or SELinux \
             (setsebool -P httpd_can_network_connect 1)"
                .into(),
        )
    })
}

/// The upstream the logs blame most, by our name when it is one of ours.
fn blamed(inputs: &Inputs) -> String {
    match top_logged_upstream(inputs) {
        Some((logged, _)) => inputs
            .upstreams
            .iter()
            .find(|u| u.is_named_by(&logged))
            .map_or(logged, |u| u.display()),
        None => "an upstream".into(),
    }
}

fn upstream_crash(inputs: &Inputs) -> Option<Verdict> {
    let causes = [LogCause::PrematureClose, LogCause::Reset];
    let n = cause_total(inputs, &causes);
    (n > 0).then(|| {
        Verdict::new(
            Cause::UpstreamCrash,
            by_count(n),
            format!(
                "upstream {} closes connections mid-response",
                blamed(inputs)
            ),
            log_phrase(inputs, &causes),
            "look for crashes, OOM kills or worker recycling in its logs (journalctl, dmesg)"
                .into(),
        )
    })
}

fn upstream_slow(inputs: &Inputs) -> Option<Verdict> {
    if let Some(u) = inputs.upstreams.iter().find(|u| u.flapping) {
        return Some(Verdict::new(
            Cause::UpstreamSlow,
            Status::Warning,
            format!("upstream {} is flapping", u.display()),
            u.detail.clone(),
            "it fails every few requests: look for restarts, OOM kills or one bad instance \
             behind a balancer"
                .into(),
        ));
    }
    let n = cause_total(inputs, &[LogCause::Timeout]);
    if n > 0 {
        return Some(Verdict::new(
            Cause::UpstreamSlow,
            by_count(n),
            format!("upstream {} is too slow for some requests", blamed(inputs)),
            log_phrase(inputs, &[LogCause::Timeout]),
            "find the slow requests in its log; raise proxy_read_timeout only if they are \
             expected to be slow"
                .into(),
        ));
    }
    let slow = inputs
        .upstreams
        .iter()
        .find(|u| u.state == Some(State::Degraded))?;
    Some(Verdict::new(
        Cause::UpstreamSlow,
        Status::Warning,
        format!("upstream {} is slow", slow.display()),
        slow.latency
            .map(|l| format!("answers in {} ms", l.as_millis()))
            .unwrap_or_default(),
        "requests may start timing out: check its load".into(),
    ))
}

fn unexplained_502(inputs: &Inputs) -> Option<Verdict> {
    let access: Vec<_> = inputs
        .logs
        .iter()
        .filter(|l| l.counts.status_502 > 0)
        .collect();
    let total: u64 = access.iter().map(|l| l.counts.status_502).sum();
    let gateway = inputs.gateway.as_ref().filter(|g| {
        g.outcome == Some(Outcome::BadStatus) && g.status_code.is_some_and(|c| c >= 500)
    });
    if total == 0 && gateway.is_none() {
        return None;
    }
    let mut evidence = Vec::new();
    if let Some(l) = access.first() {
        evidence.push(format!(
            "{total} × 502 in {}, {} min",
            l.short_name(),
            l.minutes()
        ));
    }
    if let Some(g) = gateway {
        evidence.push(format!(
            "{} answers {}",
            g.url,
            g.status_code.unwrap_or_default()
        ));
    }
    let error_log = inputs.logs.iter().any(|l| {
        matches!(
            l.format,
            Some(crate::logs::Format::NginxError | crate::logs::Format::ApacheError)
        )
    });
    let next = if error_log {
        "read the error log around those requests (Logs pane, / to search)"
    } else {
        "follow the proxy's error log too ([[log]] with kind = \"error\"): it says why"
    };
    Some(Verdict::new(
        Cause::Unexplained502,
        if gateway.is_some() {
            Status::Critical
        } else {
            by_count(total)
        },
        "the gateway answers 502 but no cause is visible".into(),
        join(evidence),
        next.into(),
    ))
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
            "no host sample, probe result or log yet".into(),
            String::new(),
        );
    }
    let worst = steps
        .iter()
        .filter(|s| s.status != Status::Ok)
        .max_by_key(|s| s.status.severity());
    let evidence = match worst {
        Some(s) => format!("but {}: {}", s.step.title(), s.evidence),
        None => "every step is ok".into(),
    };
    Verdict::new(
        Cause::NoCause,
        Status::Ok,
        "no 502 cause found".into(),
        evidence,
        String::new(),
    )
}
