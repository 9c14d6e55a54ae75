//! The six checklist steps, each a status and one line of evidence.

use crate::firewall::{Strength, ToolState};
use crate::status::{Finding, Status};
use crate::upstream::{Outcome, State};

use super::evidence::{self, blockers, explains, outcome_phrase, rule_phrase};
use super::{Inputs, Resolves, Step, StepId};

pub fn all(inputs: &Inputs) -> Vec<Step> {
    StepId::ALL
        .into_iter()
        .map(|id| {
            let (status, evidence) = match id {
                StepId::Gateway => gateway(inputs),
                StepId::Host => host(inputs),
                StepId::Dns => dns(inputs),
                StepId::Logs => logs(inputs),
                StepId::Network => network(inputs),
                StepId::Upstreams => upstreams_about(inputs, None),
            };
            Step {
                step: id,
                status,
                evidence,
            }
        })
        .collect()
}

/// The `[gateway]` probe as a finding: critical when the gateway answers 5xx or not at all.
pub fn gateway_probe(inputs: &Inputs) -> Option<Finding> {
    let g = inputs.gateway.as_ref()?;
    let outcome = g.outcome?;
    let latency = g
        .latency
        .map(|l| format!(" in {} ms", l.as_millis()))
        .unwrap_or_default();
    Some(match (outcome, g.status_code) {
        (Outcome::Ok, code) => Finding::new(
            Status::Ok,
            format!(
                "gateway {} answers {}{latency}",
                g.url,
                code.map_or("(connected)".to_string(), |c| c.to_string())
            ),
        ),
        (Outcome::BadStatus, Some(code)) if code >= 500 => Finding::new(
            Status::Critical,
            format!("gateway {} answers {code} now", g.url),
        ),
        (Outcome::BadStatus, Some(code)) => Finding::new(
            Status::Warning,
            format!("gateway {} answers {code}: {}", g.url, g.detail),
        ),
        (outcome, _) => Finding::new(
            Status::Critical,
            format!(
                "gateway {} fails its probe ({}): {}",
                g.url,
                outcome.as_str().replace('_', " "),
                g.detail
            ),
        ),
    })
}

/// 1. Is the gateway answering 502s now: the access logs' 502s and the optional probe.
fn gateway(inputs: &Inputs) -> (Status, String) {
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    let access: Vec<_> = inputs
        .logs
        .iter()
        .filter(|l| l.has_statuses() && l.error.is_none())
        .collect();
    for log in &access {
        status = status.worst(crate::logs::severity(&log.counts));
        let rate = log.counts.status_502 as f64 / log.minutes() as f64;
        parts.push(if log.counts.status_502 == 0 {
            format!(
                "no 502s in {} ({} min, {} other 5xx)",
                log.short_name(),
                log.minutes(),
                log.counts.status_5xx
            )
        } else {
            format!(
                "{} 502s in {} ({} min, {rate:.1}/min)",
                log.counts.status_502,
                log.short_name(),
                log.minutes()
            )
        });
    }
    if let Some(probe) = gateway_probe(inputs) {
        status = status.worst(probe.status);
        parts.push(probe.message);
    } else if let Some(g) = &inputs.gateway {
        parts.push(format!("gateway {} not probed yet", g.url));
        if access.is_empty() {
            status = Status::Unknown;
        }
    }
    if parts.is_empty() {
        return (
            Status::Unknown,
            "no access log and no [gateway] url: the gateway's own answers are not seen".into(),
        );
    }
    (status, parts.join("; "))
}

/// 2. Host load: load against cores, memory, swap, file handles, ephemeral ports.
fn host(inputs: &Inputs) -> (Status, String) {
    let Some(h) = &inputs.host else {
        return (Status::Unknown, "no host sample yet".into());
    };
    let worst = h.worst();
    if let Some(f) = h
        .findings
        .iter()
        .filter(|f| f.status == worst && worst != Status::Ok)
        .max_by_key(|f| f.status.severity())
    {
        let more = h.findings.iter().filter(|f| f.status != Status::Ok).count() - 1;
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        return (worst, format!("{}{more}", f.message));
    }
    let mut parts = vec![h.load_text(), format!("memory {:.0}%", h.mem_used_percent)];
    if let Some((used, max)) = h.files {
        parts.push(format!("file handles {used} of {max}"));
    }
    if let Some((used, total)) = h.ports_used() {
        parts.push(format!("ephemeral ports {used} of {total}"));
    }
    (Status::Ok, parts.join(", "))
}

/// 3. DNS: failures, disagreement, drift, and what the proxy's own log says.
///
/// Never ✓ while the log shows names that could not be resolved, whatever our own lookups
/// found: the proxy may ask another nameserver, or resolve names at run time no one watches.
fn dns(inputs: &Inputs) -> (Status, String) {
    let (status, text) = dns_lookups(inputs);
    let Some((logged, log_text)) = logged_dns_failures(inputs) else {
        return (status, text);
    };
    if status.severity() > logged.severity() {
        (status, format!("{text}; {log_text}"))
    } else {
        (logged, format!("{log_text}; our own lookups: {text}"))
    }
}

/// The proxy's log lines that say a name could not be resolved, in the window: a warning, and
/// critical past [`crate::logs::CRITICAL_EVENTS`]; with the lines and the names as evidence.
fn logged_dns_failures(inputs: &Inputs) -> Option<(Status, String)> {
    let causes = [crate::logs::Cause::Dns];
    let n = evidence::cause_total(inputs, &causes, super::Span::Window);
    if n == 0 {
        return None;
    }
    let status = if n >= crate::logs::CRITICAL_EVENTS {
        Status::Critical
    } else {
        Status::Warning
    };
    let lines = evidence::log_evidence(inputs, &causes, super::Span::Window)
        .into_iter()
        .next()
        .map_or_else(|| format!("{n} resolution failures logged"), |e| e.text);
    let unresolved = evidence::unresolved_names(inputs, super::Span::Window);
    let names = if unresolved.is_empty() {
        String::new()
    } else {
        format!(": {} could not be resolved", unresolved.join(", "))
    };
    let through = match inputs.dns.proxy_resolvers.as_slice() {
        [] => String::new(),
        list => {
            let list: Vec<String> = list.iter().map(ToString::to_string).collect();
            format!(" through its resolver {}", list.join(", "))
        }
    };
    Some((status, format!("the proxy's log{names}{through} ({lines})")))
}

/// What our own lookups found, through every nameserver.
fn dns_lookups(inputs: &Inputs) -> (Status, String) {
    if let Some(stale) = super::stale_address::failing_now(inputs).next() {
        return (
            Status::Critical,
            stale.headline(inputs.clock.now, &inputs.clock.tz),
        );
    }
    let d = &inputs.dns;
    // Names from the proxy's log are asked about too, though no one watches them.
    if d.watched.is_empty() && d.names.is_empty() {
        return (
            Status::Ok,
            "no names to resolve: every upstream is an address".into(),
        );
    }
    if d.names.is_empty() {
        return (Status::Unknown, "waiting for the first lookups".into());
    }
    let worst = crate::status::overall(&d.findings);
    if let Some(f) = d.findings.iter().find(|f| f.status == worst) {
        let more = d.findings.len() - 1;
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        return (worst, format!("{}{more}", f.message));
    }
    let failing = d
        .names
        .iter()
        .filter(|n| n.resolves != Resolves::Everywhere)
        .count();
    let status = if failing > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    (
        status,
        format!(
            "{} of {} names resolve through every nameserver, no drift",
            d.names.len() - failing,
            d.names.len()
        ),
    )
}

/// 4. Logs: 502 signatures in the last minutes, by cause.
fn logs(inputs: &Inputs) -> (Status, String) {
    if inputs.logs.is_empty() {
        return (
            Status::Unknown,
            "no logs followed: add [[log]] or point --nginx-conf at the proxy's config".into(),
        );
    }
    let mut status = Status::Ok;
    let mut parts: Vec<(u64, String)> = Vec::new();
    for log in &inputs.logs {
        if let Some(e) = &log.error {
            status = status.worst(Status::Unknown);
            parts.push((0, format!("{}: {e}", log.short_name())));
            continue;
        }
        let events = log.events();
        status = status.worst(crate::logs::severity(&log.counts));
        if events == 0 {
            continue;
        }
        let mut causes: Vec<(&crate::logs::Cause, &u64)> = log.counts.causes.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut list: Vec<String> = causes
            .iter()
            .take(3)
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect();
        if log.counts.status_502 > 0 {
            list.push(format!("{} × 502", log.counts.status_502));
        }
        let mut text = format!(
            "{}: {} in {} min",
            log.short_name(),
            list.join(", "),
            log.minutes()
        );
        if log.cut_short {
            text.push_str(" (the newest lines only: the scan's budget ran out)");
        }
        if let Some((up, n)) = log.counts.upstreams.first() {
            text.push_str(&format!("; most at {up} ({n})"));
        }
        parts.push((events, text));
    }
    parts.sort_by_key(|(events, _)| std::cmp::Reverse(*events));
    if parts.is_empty() {
        let names: Vec<String> = inputs.logs.iter().map(|l| l.short_name()).collect();
        let minutes = inputs.logs.iter().map(|l| l.minutes()).max().unwrap_or(10);
        return (
            Status::Ok,
            format!("no 502 signatures in {minutes} min ({})", names.join(", ")),
        );
    }
    let first = parts[0].1.clone();
    let text = match parts.len() {
        1 => first,
        n => format!("{first} (+{} more logs)", n - 1),
    };
    (status, text)
}

/// 5. Firewall and network: rules in the upstreams' way, probes that find no route.
fn network(inputs: &Inputs) -> (Status, String) {
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    for (i, u) in inputs.upstreams.iter().enumerate() {
        let Some((m, rule)) = blockers(inputs, i).into_iter().next() else {
            continue;
        };
        let failing = u.is_down() || u.flapping;
        let s = match (m.strength, failing) {
            (Strength::Names, true) => Status::Critical,
            (Strength::Names, false) => Status::Warning,
            (_, true) if explains(rule, u.outcome) => Status::Warning,
            _ => continue,
        };
        status = status.worst(s);
        parts.push(format!("{}: {}", u.display(), rule_phrase(m, rule)));
    }
    let unreachable: Vec<String> = inputs
        .upstreams
        .iter()
        .filter(|u| u.outcome == Some(Outcome::Unreachable))
        .map(|u| u.display())
        .collect();
    if !unreachable.is_empty() {
        status = Status::Critical;
        parts.push(format!("no route to {}", unreachable.join(", ")));
    }
    let probed: Vec<_> = inputs
        .upstreams
        .iter()
        .filter(|u| u.outcome.is_some() && u.socket.is_none())
        .collect();
    // Reached: the host answered, even if only to refuse.
    let reached = probed
        .iter()
        .filter(|u| !matches!(u.outcome, Some(Outcome::Timeout | Outcome::Unreachable)))
        .count();
    let timeouts: Vec<String> = probed
        .iter()
        .filter(|u| u.outcome == Some(Outcome::Timeout))
        .map(|u| u.display())
        .collect();
    let firewall_note = firewall_note(inputs);
    if parts.is_empty() {
        if !timeouts.is_empty() {
            let unreadable = inputs
                .firewall
                .as_ref()
                .is_none_or(|fw| !fw.summary.any_read());
            status = if unreadable {
                Status::Unknown
            } else {
                Status::Warning
            };
            parts.push(format!(
                "{} time out and no rule explains it",
                timeouts.join(", ")
            ));
        } else if !probed.is_empty() {
            parts.push(format!("{reached} of {} upstreams reachable", probed.len()));
        } else if inputs
            .firewall
            .as_ref()
            .is_none_or(|fw| !fw.summary.any_read())
        {
            status = Status::Unknown;
        }
    }
    parts.push(firewall_note);
    (status, parts.join("; "))
}

/// What the firewall tools said, in one clause: "firewall: 2 DROP/REJECT rules (iptables 2,
/// nft)", with any tool that could not be read.
fn firewall_note(inputs: &Inputs) -> String {
    match &inputs.firewall {
        None => "firewall not read yet".to_string(),
        Some(fw) if !fw.summary.any_read() => {
            let why = fw
                .summary
                .tools
                .iter()
                .find(|t| matches!(t.state, ToolState::NotPermitted(_)))
                .or_else(|| fw.summary.tools.first())
                .map(|t| t.note())
                .unwrap_or_else(|| "no firewall tool".into());
            let absent = fw
                .summary
                .tools
                .iter()
                .all(|t| t.state == ToolState::Absent);
            if absent {
                "no firewall tools installed".to_string()
            } else {
                why
            }
        }
        Some(fw) => {
            let read: Vec<String> = fw
                .summary
                .tools
                .iter()
                .filter(|t| matches!(t.state, ToolState::Read | ToolState::Inactive))
                .map(|t| match (&t.state, t.rules) {
                    (ToolState::Inactive, _) => format!("{} inactive", t.tool),
                    (_, 0) => t.tool.to_string(),
                    (_, n) => format!("{} {n}", t.tool),
                })
                .collect();
            let mut note = match fw.summary.rules.len() {
                0 => format!("firewall: no DROP/REJECT rules ({})", read.join(", ")),
                1 => format!("firewall: 1 DROP/REJECT rule ({})", read.join(", ")),
                n => format!("firewall: {n} DROP/REJECT rules ({})", read.join(", ")),
            };
            for t in fw.summary.tools.iter().filter(|t| {
                matches!(
                    t.state,
                    ToolState::NotPermitted(_) | ToolState::TimedOut(_) | ToolState::Failed(_)
                )
            }) {
                note.push_str("; ");
                note.push_str(&t.note());
            }
            note
        }
    }
}

/// 6. Upstream health.
///
/// Among several down (or degraded), `subject`, the upstream the verdict blames, comes first.
pub fn upstreams_about(inputs: &Inputs, subject: Option<&str>) -> (Status, String) {
    let ups = &inputs.upstreams;
    if ups.is_empty() {
        return (
            Status::Unknown,
            "no upstreams configured or discovered (add [[upstream]])".into(),
        );
    }
    let mut down: Vec<_> = ups.iter().filter(|u| u.is_down()).collect();
    let mut degraded: Vec<_> = ups
        .iter()
        .filter(|u| u.state == Some(State::Degraded))
        .collect();
    // Stable sorts: the others keep their order.
    down.sort_by_key(|u| Some(u.name.as_str()) != subject);
    degraded.sort_by_key(|u| Some(u.name.as_str()) != subject);
    let unprobed = ups.iter().filter(|u| u.state.is_none()).count();
    let describe = |u: &super::UpstreamInput| {
        let since = evidence::since_phrase(u);
        let since = if since.is_empty() {
            String::new()
        } else {
            format!(" {since}")
        };
        format!("{} {}{since}", u.display(), outcome_phrase(u))
    };
    if let Some(first) = down.first() {
        let more = match down.len() {
            1 => String::new(),
            n => format!(" (+{} more down)", n - 1),
        };
        return (Status::Critical, format!("{}{more}", describe(first)));
    }
    if let Some(first) = degraded.first() {
        let what = if first.flapping {
            format!("{} is flapping", first.display())
        } else {
            let latency = first
                .latency
                .map(|l| format!(": {} ms", l.as_millis()))
                .unwrap_or_default();
            format!("{} is slow{latency}", first.display())
        };
        let more = match degraded.len() {
            1 => String::new(),
            n => format!(" (+{} more degraded)", n - 1),
        };
        return (Status::Warning, format!("{what}{more}"));
    }
    // A probe this host starved says nothing of the upstream: say so, not "waiting".
    if let Some(starved) = ups
        .iter()
        .find(|u| u.state.is_none() && u.outcome == Some(Outcome::LocalLimit))
    {
        return (
            Status::Unknown,
            format!(
                "{} cannot be probed from this host: {}",
                starved.display(),
                starved.detail
            ),
        );
    }
    if unprobed == ups.len() {
        return (Status::Unknown, "waiting for the first probes".into());
    }
    let up = ups.len() - unprobed;
    let slowest = ups
        .iter()
        .filter_map(|u| u.latency.map(|l| (l, u)))
        .max_by_key(|(l, _)| *l)
        .map(|(l, u)| format!(" (slowest {} {} ms)", u.name, l.as_millis()))
        .unwrap_or_default();
    let waiting = if unprobed > 0 {
        format!(", {unprobed} not probed yet")
    } else {
        String::new()
    };
    (
        Status::Ok,
        format!("{up} of {} up{slowest}{waiting}", ups.len()),
    )
}
