//! `gatewatch check`: every check once, as a report for people (text) or machines (JSON), with the
//! Nagios exit-code convention so monitoring can call it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::actions::{self, ServiceSpec, ServiceState, ServiceStatus};
use crate::app::diagnosis::upstream_inputs;
use crate::app::upstreams::UpstreamView;
use crate::config::Upstream;
use crate::diagnosis::{
    self, DnsInput, FirewallInput, GatewayInput, HostInput, Inputs, LogInput, ServiceInput, Step,
    Verdict,
};
use crate::dns::{self, DnsRound, DnsRow, DnsRunner, DnsSettings};
use crate::firewall::{self, FirewallSummary, ToolState};
use crate::host::{self, HostCollector, HostSample};
use crate::logs::{self, LogReport, Origin, SourceSpec};
use crate::status::{self, Finding, Status};
use crate::upstream::catalog::Catalog;
use crate::upstream::{self, ProbeResult};

#[derive(Debug, Serialize)]
pub struct Report {
    pub status: Status,
    /// Everything found wrong, worst first: the evidence behind `status`.
    pub findings: Vec<Finding>,
    pub host: HostReport,
    pub upstreams: Vec<UpstreamReport>,
    /// Upstreams named in the proxy config that cannot be probed, with where and why.
    pub unprobeable: Vec<String>,
    /// The proxy configs read for discovery.
    pub discovered_from: Vec<String>,
    pub dns: Vec<DnsRow>,
    pub logs: Vec<LogReport>,
    pub services: Vec<ServiceStatus>,
    /// The troubleshooting checklist: six steps, each with a status and one line of evidence.
    pub diagnosis: Vec<Step>,
    /// The most likely cause, with its evidence and the next step.
    pub verdict: Verdict,
    /// What each firewall tool said, and the rules in an upstream's way.
    pub firewall: FirewallReport,
}

#[derive(Debug, Default, Serialize)]
pub struct FirewallReport {
    pub tools: Vec<FirewallTool>,
    pub matches: Vec<FirewallMatch>,
}

#[derive(Debug, Serialize)]
pub struct FirewallTool {
    pub tool: firewall::Tool,
    /// read, inactive, absent, not_permitted, timed_out or failed.
    pub state: &'static str,
    pub rules: usize,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct FirewallMatch {
    pub upstream: String,
    pub tool: firewall::Tool,
    pub chain: String,
    pub rule: String,
    pub action: firewall::Action,
    pub policy: bool,
    pub path: firewall::PathKind,
    pub strength: firewall::Strength,
    pub conditional: bool,
}

impl FirewallReport {
    fn new(inputs: &Inputs) -> Self {
        let Some(fw) = &inputs.firewall else {
            return FirewallReport::default();
        };
        let tools = fw
            .summary
            .tools
            .iter()
            .map(|t| FirewallTool {
                tool: t.tool,
                state: match t.state {
                    ToolState::Read => "read",
                    ToolState::Inactive => "inactive",
                    ToolState::Absent => "absent",
                    ToolState::NotPermitted(_) => "not_permitted",
                    ToolState::TimedOut(_) => "timed_out",
                    ToolState::Failed(_) => "failed",
                },
                rules: t.rules,
                note: t.note(),
            })
            .collect();
        let matches = fw
            .matches
            .iter()
            .filter_map(|m| {
                let rule = fw.summary.rules.get(m.rule)?;
                let target = fw.targets.get(m.target)?;
                let upstream = inputs.upstreams.get(target.id)?;
                Some(FirewallMatch {
                    upstream: upstream.name.clone(),
                    tool: rule.tool,
                    chain: rule.chain.clone(),
                    rule: rule.text.clone(),
                    action: rule.action,
                    policy: rule.policy,
                    path: m.path,
                    strength: m.strength,
                    conditional: m.conditional,
                })
            })
            .collect();
        FirewallReport { tools, matches }
    }
}

/// Plain numbers; `null` where the kernel would not tell us (the finding says why).
#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    pub hostname: String,
    pub cpu_percent: f32,
    pub load: [f64; 3],
    pub cores: usize,
    pub mem_used_percent: f64,
    pub swap_used_percent: f64,
    pub uptime_seconds: u64,
    pub tcp_states: Option<BTreeMap<&'static str, u32>>,
    pub ephemeral_ports_in_use: Option<u32>,
    pub ephemeral_ports_total: Option<u32>,
    pub file_handles_used: Option<u64>,
    pub file_handles_max: Option<u64>,
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, Serialize)]
pub struct UpstreamReport {
    pub name: String,
    pub group: Option<String>,
    pub target: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub outcome: &'static str,
    pub status_code: Option<u16>,
    pub latency_ms: Option<f64>,
    pub detail: String,
    /// The address actually connected to, when known.
    pub addr: Option<String>,
    /// "config", or the file:line the upstream was discovered at.
    pub source: String,
    pub flags: Vec<String>,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1000.0).round() / 10.0
    }
}

pub fn host_report(s: &HostSample) -> HostReport {
    HostReport {
        hostname: s.hostname.clone(),
        cpu_percent: (s.cpu_total * 10.0).round() / 10.0,
        load: s.load,
        cores: s.cores,
        mem_used_percent: pct(s.mem_used, s.mem_total),
        swap_used_percent: pct(s.swap_used, s.swap_total),
        uptime_seconds: s.uptime.as_secs(),
        tcp_states: s
            .sockets
            .as_ref()
            .ok()
            .map(|t| t.counts.iter().map(|(k, v)| (k.name(), *v)).collect()),
        ephemeral_ports_in_use: s.ports.as_ref().ok().map(|p| p.in_use),
        ephemeral_ports_total: s.ports.as_ref().ok().map(|p| p.total()),
        file_handles_used: s.files.as_ref().ok().map(|f| f.used),
        file_handles_max: s.files.as_ref().ok().map(|f| f.max),
        findings: host::assess(s),
    }
}

/// Samples the host, reads the firewall, probes every upstream (and the gateway) and resolves
/// every name once, all at the same time; then scans the logs and judges.
pub fn run(
    catalog: &Catalog,
    dns_settings: &DnsSettings,
    logs: &[SourceSpec],
    gateway: Option<&Upstream>,
    services: &[ServiceSpec],
) -> Report {
    let sampler = std::thread::spawn(|| HostCollector::new().sample());
    let specs = services.to_vec();
    let statuses = std::thread::spawn(move || actions::check_all(&specs));
    let reader = std::thread::spawn(firewall::collect);
    let upstreams = catalog.upstreams();
    let wants_dns = dns_settings.names.iter().any(|n| !dns::is_ip_literal(n));
    let (results, round, gateway_result) = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async {
            let dns_round = async {
                if wants_dns {
                    Some(DnsRunner::new(dns_settings.clone()).round().await)
                } else {
                    None
                }
            };
            let gateway_probe = async {
                match gateway {
                    Some(g) => Some(upstream::probe_once(g).await),
                    None => None,
                }
            };
            tokio::join!(upstream::probe_all(&upstreams), dns_round, gateway_probe)
        }),
        Err(e) => {
            tracing::error!("no async runtime for the probes: {e}");
            (Vec::new(), None, None)
        }
    };
    let sample = sampler
        .join()
        .unwrap_or_else(|_| HostCollector::new().sample());
    let firewall = reader.join().ok();
    let scans = scan_logs(logs);
    let now = SystemTime::now();
    let mut report = build(&sample, catalog, results.clone(), round.as_ref(), now);
    add_logs(&mut report, scans);
    add_services(&mut report, statuses.join().unwrap_or_default());
    let mut inputs = inputs(
        &sample,
        catalog,
        results,
        round.as_ref(),
        &dns_settings.names,
        now,
    );
    inputs.logs = log_inputs(&report.logs);
    inputs.firewall =
        firewall.map(|s: FirewallSummary| Arc::new(FirewallInput::new(s, &inputs.upstreams)));
    inputs.gateway = gateway.map(|g| GatewayInput::new(&g.url, gateway_result.as_ref()));
    inputs.services = report
        .services
        .iter()
        .map(|s| ServiceInput::new(&s.name, Some(s)))
        .collect();
    add_diagnosis(&mut report, &inputs);
    report
}

/// What the checklist judges of one run; logs, firewall and gateway are added by the caller.
pub fn inputs(
    sample: &HostSample,
    catalog: &Catalog,
    results: Vec<ProbeResult>,
    round: Option<&DnsRound>,
    names: &[String],
    now: SystemTime,
) -> Inputs {
    let mut view = UpstreamView::new(catalog);
    for r in results {
        view.apply(r);
    }
    let watched: Vec<String> = names
        .iter()
        .filter(|n| !dns::is_ip_literal(n))
        .cloned()
        .collect();
    let mut dns_findings = Vec::new();
    if let Some(round) = round {
        dns_findings.extend(dns::assess(round));
        dns_findings.extend(round.family.iter().cloned());
    }
    Inputs {
        host: Some(HostInput::from_sample(sample)),
        upstreams: upstream_inputs(&view, round, now),
        dns: DnsInput::from_round(watched, round, None, dns_findings),
        ..Inputs::default()
    }
}

pub fn log_inputs(scans: &[LogReport]) -> Vec<LogInput> {
    scans
        .iter()
        .map(|r| LogInput::from_report(r, logs::DEFAULT_WINDOW))
        .collect()
}

/// Judges `inputs` into the report: the checklist, the verdict, the firewall section, and the
/// findings only the checklist knows (which then count towards the status).
pub fn add_diagnosis(report: &mut Report, inputs: &Inputs) {
    report.findings.extend(diagnosis::findings(inputs));
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
    report.status = status::overall(&report.findings);
    let d = diagnosis::diagnose(inputs);
    report.diagnosis = d.steps;
    report.verdict = d.verdict;
    report.firewall = FirewallReport::new(inputs);
}

pub fn build(
    sample: &HostSample,
    catalog: &Catalog,
    results: Vec<ProbeResult>,
    round: Option<&DnsRound>,
    now: SystemTime,
) -> Report {
    let host = host_report(sample);
    let judged = results.clone();
    let mut view = UpstreamView::new(catalog);
    let probed = results.len();
    for r in results {
        view.apply(r);
    }
    let mut findings = host.findings.clone();
    findings.extend(view.findings(now));
    if let Some(round) = round {
        findings.extend(dns::assess(round));
        findings.extend(round.family.iter().cloned());
    }
    if probed < view.rows.len() {
        findings.push(Finding::new(
            Status::Unknown,
            "some upstreams could not be probed (no async runtime)",
        ));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
    let names: Vec<String> = round
        .map(|r| r.names().into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let judged = diagnosis::diagnose(&inputs(sample, catalog, judged, round, &names, now));
    let upstreams = upstream_reports(&view);
    Report {
        status: status::overall(&findings),
        findings,
        host,
        upstreams,
        unprobeable: catalog.unprobeable.clone(),
        discovered_from: catalog.read_from.clone(),
        dns: round.map(dns::report::rows).unwrap_or_default(),
        logs: vec![],
        services: vec![],
        diagnosis: judged.steps,
        verdict: judged.verdict,
        firewall: FirewallReport::default(),
    }
}

/// The upstreams as `check` reports them, failing first.
pub fn upstream_reports(view: &UpstreamView) -> Vec<UpstreamReport> {
    view.order
        .iter()
        .map(|&i| {
            let row = &view.rows[i];
            let last = row.history.last();
            UpstreamReport {
                name: row.entry.upstream.name.clone(),
                group: row.entry.group.clone(),
                target: row.entry.upstream.url.to_string(),
                kind: row.entry.upstream.url.kind(),
                state: row.history.state().map_or("unknown", |s| s.as_str()),
                outcome: last.map_or("unknown", |r| r.outcome.as_str()),
                status_code: last.and_then(|r| r.status_code),
                latency_ms: last
                    .and_then(|r| r.latency)
                    .map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0),
                detail: last.map(|r| r.detail.clone()).unwrap_or_default(),
                addr: last.and_then(|r| r.addr.clone()),
                source: row.entry.source.clone(),
                flags: row.entry.flags.clone(),
            }
        })
        .collect()
}

/// The recent end of every log file (a streaming command cannot be scanned after the fact).
pub fn scan_logs(sources: &[SourceSpec]) -> Vec<LogReport> {
    sources
        .iter()
        .filter_map(|s| match &s.origin {
            Origin::File(path) => Some(logs::scan(
                path,
                s.kind,
                logs::DEFAULT_WINDOW,
                logs::DEFAULT_MAX_LINES,
            )),
            Origin::Glob(_) | Origin::Command(_) => None,
        })
        .collect()
}

/// Files the scans under `logs` and lets their 502 signatures count towards the status.
pub fn add_logs(report: &mut Report, scans: Vec<LogReport>) {
    for scan in &scans {
        let finding = logs::assess(scan, logs::DEFAULT_WINDOW);
        if finding.status != Status::Ok {
            report.findings.push(finding);
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
    report.status = status::overall(&report.findings);
    report.logs = scans;
}

/// Files the services' status under `services`; one that is not running is critical.
pub fn add_services(report: &mut Report, statuses: Vec<ServiceStatus>) {
    for s in &statuses {
        if s.state == ServiceState::Stopped {
            report.findings.push(Finding::new(
                Status::Critical,
                format!("service {} is not running: {}", s.name, s.detail),
            ));
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
    report.status = status::overall(&report.findings);
    report.services = statuses;
}

pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        format!(
            "{{\"status\": \"unknown\", \"error\": {:?}}}",
            e.to_string()
        )
    })
}

/// A Nagios-style first line (status, worst finding, perfdata), then the details.
pub fn to_text(report: &Report) -> String {
    let h = &report.host;
    let summary = match report.findings.first() {
        Some(f) if report.findings.len() > 1 => {
            format!("{} (+{} more)", f.message, report.findings.len() - 1)
        }
        Some(f) => f.message.clone(),
        None => "no problems found".to_string(),
    };
    let down = report
        .upstreams
        .iter()
        .filter(|u| u.state == "down")
        .count();
    let mut out = format!(
        "GATEWATCH {} - {summary} | load1={:.2};{};{} cpu={:.1}% mem={:.1}% upstreams_down={down};;1\n",
        report.status.label(),
        h.load[0],
        h.cores,
        h.cores * 2,
        h.cpu_percent,
        h.mem_used_percent
    );
    let _ = writeln!(out, "verdict: {}", report.verdict.text);
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
        }
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
    if !report.services.is_empty() {
        let _ = writeln!(out, "\nservices:");
        for s in &report.services {
            let _ = writeln!(out, "  {:<8} {:<24} {}", s.state.name(), s.name, s.detail);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{EphemeralPorts, TcpState, TcpStates};
    use std::time::Duration;

    fn sample(load1: f64) -> HostSample {
        HostSample {
            hostname: "proxy-1".into(),
            uptime: Duration::from_secs(100),
            cores: 2,
            cpu_total: 12.34,
            cpu_per_core: vec![10.0, 14.0],
            load: [load1, 1.0, 1.0],
            mem_used: 1 << 30,
            mem_total: 4 << 30,
            swap_used: 0,
            swap_total: 0,
            processes: vec![],
            sockets: Ok(TcpStates {
                counts: [(TcpState::Established, 3), (TcpState::Listen, 2)]
                    .into_iter()
                    .collect(),
                malformed_lines: 0,
            }),
            ports: Ok(EphemeralPorts {
                low: 32768,
                high: 60999,
                in_use: 5,
            }),
            sockets_age: std::time::Duration::ZERO,
            files: Err("/proc/sys/fs/file-nr: Permission denied".into()),
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let report = build(
            &sample(0.2),
            &Catalog::default(),
            vec![],
            None,
            SystemTime::now(),
        );
        let v: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(
            v["status"], "unknown",
            "an unreadable /proc file is an unknown finding"
        );
        assert_eq!(v["host"]["cores"], 2);
        assert_eq!(v["host"]["cpu_percent"], 12.3);
        assert_eq!(v["host"]["mem_used_percent"], 25.0);
        assert_eq!(v["host"]["tcp_states"]["ESTABLISHED"], 3);
        assert_eq!(v["host"]["ephemeral_ports_total"], 28232);
        assert!(v["host"]["file_handles_used"].is_null());
        for key in ["upstreams", "dns", "logs", "services"] {
            assert!(v[key].as_array().is_some_and(|a| a.is_empty()), "{key}");
        }
        let steps: Vec<&str> = v["diagnosis"]
            .as_array()
            .expect("diagnosis")
            .iter()
            .filter_map(|s| s["step"].as_str())
            .collect();
        assert_eq!(
            steps,
            ["gateway", "host", "dns", "logs", "network", "upstreams"]
        );
        assert_eq!(v["diagnosis"][1]["status"], "unknown");
        assert_eq!(
            v["diagnosis"][1]["evidence"],
            "file handles unknown: /proc/sys/fs/file-nr: Permission denied"
        );
        for key in ["text", "cause", "next_step", "status"] {
            assert!(v["verdict"][key].is_string(), "verdict.{key}");
        }
        assert_eq!(v["verdict"]["cause"], "no_cause");
        assert!(
            v["firewall"]["tools"]
                .as_array()
                .is_some_and(|a| a.is_empty())
        );
    }

    #[test]
    fn text_starts_with_a_nagios_line() {
        let text = to_text(&build(
            &sample(5.0),
            &Catalog::default(),
            vec![],
            None,
            SystemTime::now(),
        ));
        assert!(text.starts_with("GATEWATCH CRITICAL - load 5.00"), "{text}");
        assert!(text.contains("| load1=5.00;2;4"), "{text}");
        let second = text.lines().nth(1).unwrap_or_default();
        assert_eq!(
            second,
            "verdict: no 502 cause found (but host load: load 5.00 is above 2 cores (+1 more))"
        );
        assert!(
            text.contains("\nchecklist:\n  OK        gateway           ")
                || text.contains("\nchecklist:\n  UNKNOWN   gateway           "),
            "{text}"
        );
        assert!(
            text.contains("  CRITICAL  host load         load 5.00 is above 2 cores (+1 more)\n"),
            "{text}"
        );
    }
}
