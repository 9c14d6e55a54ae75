//! `check`'s text: a Nagios-style first line (status, worst finding, perfdata), then details.

use std::fmt::Write as _;

use super::Report;
use crate::sanitize::sanitize;

/// The report as text, for people and for Nagios.
///
/// Names are sanitised where they enter (config, discovery); every line is sanitised again here
/// as a last guard, so no field added later can carry an escape sequence to the terminal.
pub fn to_text(report: &Report) -> String {
    let raw = unguarded(report);
    let mut out = String::with_capacity(raw.len());
    for line in raw.lines() {
        out.push_str(&sanitize(line));
        out.push('\n');
    }
    out
}

fn unguarded(report: &Report) -> String {
    let h = &report.host;
    let summary = &report.headline;
    let down = report
        .upstreams
        .iter()
        .filter(|u| u.state == "down")
        .count();
    let mut out = format!(
        // Load has a warning level only (see host::LOAD_WARNING_PER_CORE): no critical field.
        "GATEWATCH {} - {summary} | load1={:.2};{}; cpu={:.1}% mem={:.1}% upstreams_down={down};;1\n",
        report.status.label(),
        h.load[0],
        h.cores,
        h.cpu_percent,
        h.mem_used_percent
    );
    let _ = writeln!(out, "verdict: {}", report.verdict.text);
    for e in &report.verdict.evidence {
        let _ = writeln!(out, "  evidence  {:<16}  {}", e.source, e.text);
    }
    if let Some(since) = &report.verdict.since {
        let _ = writeln!(out, "  since     {since}");
    }
    let _ = writeln!(out, "\nchecklist:");
    for step in &report.diagnosis {
        let _ = writeln!(
            out,
            "  {:<8}  {:<16}  {}",
            step.status.label(),
            step.step.title(),
            step.evidence
        );
    }
    let _ = writeln!(out, "\nhost {}", h.hostname);
    let _ = writeln!(
        out,
        "  cpu {:.1}%, load {:.2} {:.2} {:.2} on {} cores, memory {:.1}% used, swap {:.1}% used",
        h.cpu_percent,
        h.load[0],
        h.load[1],
        h.load[2],
        h.cores,
        h.mem_used_percent,
        h.swap_used_percent
    );
    if let Some(states) = &h.tcp_states {
        let list: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let shown = if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        };
        let _ = writeln!(out, "  tcp sockets: {shown}");
    }
    if let (Some(used), Some(total)) = (h.ephemeral_ports_in_use, h.ephemeral_ports_total) {
        let _ = writeln!(out, "  ephemeral ports: {used} of {total} in use");
    }
    if let (Some(used), Some(max)) = (h.file_handles_used, h.file_handles_max) {
        let _ = writeln!(out, "  file handles: {used} of {max} in use");
    }
    for f in &h.findings {
        let _ = writeln!(out, "  {}: {}", f.status.label(), f.message);
    }
    out.push('\n');
    if report.upstreams.is_empty() {
        let from = if report.discovered_from.is_empty() {
            "no proxy config found".to_string()
        } else {
            format!("none found in {}", report.discovered_from.join(", "))
        };
        let _ = writeln!(
            out,
            "upstreams: none configured ({from}; add [[upstream]] to the config)"
        );
    } else {
        let _ = writeln!(out, "upstreams:");
        let counts = report.probes;
        if counts.not_probed > 0 {
            let _ = writeln!(
                out,
                "  unknown: {} of {} upstreams not probed: check's time budget ran out (see \
                 --timeout)",
                counts.not_probed,
                report.upstreams.len()
            );
        }
        for u in &report.upstreams {
            let result = match (u.status_code, u.outcome) {
                (Some(code), _) => code.to_string(),
                (None, outcome) => outcome.to_string(),
            };
            let latency = u.latency_ms.map_or("-".to_string(), |l| format!("{l} ms"));
            let _ = writeln!(
                out,
                "  {:<8} {:<24} {:<36} {:<16} {:>10}  {}",
                u.state, u.name, u.target, result, latency, u.source
            );
            if u.state != "up" && !u.detail.is_empty() {
                let _ = writeln!(out, "           {}", u.detail);
            }
            if let Some(p) = &u.proxy_view {
                let _ = writeln!(out, "           {}", p.summary);
            }
        }
    }
    for api in &report.proxy_apis {
        let _ = writeln!(out, "  proxy's own view: {}", api.line(api.kind));
    }
    for u in &report.unprobeable {
        let _ = writeln!(out, "  not probe-able: {u}");
    }
    for f in report
        .findings
        .iter()
        .filter(|f| f.message.contains(" config: "))
    {
        let _ = writeln!(out, "  {}: {}", f.status.label(), f.message);
    }
    let t = &report.timeline;
    let _ = writeln!(out, "\ntimeline: {}", timeline_summary(t));
    for line in &report.timeline_lines {
        let _ = writeln!(out, "  {line}");
    }
    if !report.services.is_empty() {
        let _ = writeln!(out, "\nservices:");
        for s in &report.services {
            let _ = writeln!(out, "  {:<8} {:<24} {}", s.state.name(), s.name, s.detail);
        }
    }
    out
}

/// "ongoing since 2026-12-01T14:02:10Z, 4 events" or "no failure, 2 events".
fn timeline_summary(t: &super::TimelineReport) -> String {
    use crate::timeline::OnsetState;
    let state = match (t.state, &t.onset) {
        (OnsetState::None, _) => "no failure in the logs".to_string(),
        (state, Some(at)) => format!("{} since {at}", state.name()),
        (state, None) => format!("{}, began before the logs read", state.name()),
    };
    format!("{state}, {} events", t.events.len())
}
