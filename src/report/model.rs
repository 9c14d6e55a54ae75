//! The report every formatter writes: `check`'s text and JSON, and the Markdown snapshot's
//! tables, all taken from one [`Model`] and its one [`Assessment`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::actions::ServiceStatus;
use crate::diagnosis::{Step, Verdict};
use crate::dns::{self, DnsRow};
use crate::firewall::{self, PathKind, ToolState};
use crate::host::{self, HostSample};
use crate::logs::{self, LogReport};
use crate::model::upstreams::Upstreams;
use crate::model::{Assessment, Model, unix_seconds};
use crate::status::{Finding, Status};

#[derive(Debug, Serialize)]
pub struct Report {
    pub status: Status,
    /// The one line beside the status: the verdict's headline when it names a cause, else the
    /// worst finding (see `Assessment::headline`).
    pub headline: String,
    /// Everything found wrong, worst first: the evidence behind `status`.
    pub findings: Vec<Finding>,
    pub host: HostReport,
    pub upstreams: Vec<UpstreamReport>,
    /// How many upstreams have a result, and how many were left unprobed (their rows say why).
    pub probes: ProbeCounts,
    /// Upstreams named in the proxy config that cannot be probed, with where and why.
    pub unprobeable: Vec<String>,
    /// The proxy configs read for discovery.
    pub discovered_from: Vec<String>,
    pub dns: Vec<DnsRow>,
    pub logs: Vec<LogReport>,
    /// Logs the proxy sends to syslog or stderr, and where to read them.
    pub log_elsewhere: Vec<String>,
    pub services: Vec<ServiceStatus>,
    /// The troubleshooting checklist: six steps, each with a status and one line of evidence.
    pub diagnosis: Vec<Step>,
    /// The most likely cause, with its evidence and the next step.
    pub verdict: Verdict,
    /// What each firewall tool said, and the rules in an upstream's way.
    pub firewall: FirewallReport,
    /// Each proxy API read for its own view of the upstreams, and why it could not be.
    pub proxy_apis: Vec<ProxyApiReport>,
    /// When the current failure began, and what the host recorded before it.
    pub timeline: super::TimelineReport,
    /// The timeline's events as people read them, newest first (see [`super::SHOWN_EVENTS`]).
    #[serde(skip)]
    pub timeline_lines: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProbeCounts {
    pub probed: usize,
    pub not_probed: usize,
}

/// A proxy API read (or not) this round.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyApiReport {
    /// haproxy, caddy or envoy.
    pub kind: &'static str,
    /// "unix:/run/haproxy.sock", "127.0.0.1:9901".
    pub at: String,
    pub servers: usize,
    pub error: Option<String>,
}

impl ProxyApiReport {
    /// "haproxy stats socket unix:/run/haproxy.sock: permission denied" or "...: 4 servers".
    pub fn line(&self, api: &str) -> String {
        match &self.error {
            Some(e) => format!("{api} {}: {e}", self.at),
            None => format!("{api} {}: {} servers", self.at, self.servers),
        }
    }
}

/// What the proxy's own API says of an upstream.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyViewReport {
    /// haproxy, caddy or envoy.
    pub api: &'static str,
    /// "shop/s1": the proxy's name for it.
    pub server: String,
    /// "UP", "DOWN", "MAINT", "DRAIN", "no check", or the proxy's own word.
    pub state: String,
    /// "L4CON Connection refused", "L7STS 502".
    pub check: Option<String>,
    pub since_s: Option<u64>,
    pub requests: Option<u64>,
    pub fails: Option<u64>,
    /// "haproxy: DOWN L4CON Connection refused 12s": as the dashboard shows it.
    #[serde(skip)]
    pub summary: String,
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
    /// "iptables OUTPUT: -A OUTPUT ... -j DROP", as a person reads it.
    #[serde(skip)]
    pub describe: String,
    pub action: firewall::Action,
    pub policy: bool,
    pub path: firewall::PathKind,
    pub strength: firewall::Strength,
    pub conditional: bool,
}

impl Report {
    /// The model as judged, at `now` (the log windows end there).
    pub fn new(model: &Model, judged: &Assessment, now: std::time::SystemTime) -> Self {
        Report {
            status: judged.status,
            headline: judged.headline.clone(),
            findings: judged.findings.clone(),
            host: model.host.as_ref().map(host_report).unwrap_or_default(),
            upstreams: upstream_reports(&model.upstreams),
            probes: {
                let (probed, not_probed) = model.upstreams.probe_counts();
                ProbeCounts { probed, not_probed }
            },
            unprobeable: model.upstreams.unprobeable.clone(),
            discovered_from: model.upstreams.read_from.clone(),
            dns: model
                .dns
                .round
                .as_ref()
                .map(dns::report::rows)
                .unwrap_or_default(),
            logs: model
                .logs
                .sources
                .iter()
                .map(|s| LogReport::of(s, logs::DEFAULT_WINDOW, unix_seconds(now)))
                .collect(),
            log_elsewhere: model.upstreams.log_elsewhere.clone(),
            services: model.services.statuses.iter().flatten().cloned().collect(),
            diagnosis: judged.diagnosis.steps.clone(),
            verdict: judged.diagnosis.verdict.clone(),
            firewall: FirewallReport::new(model),
            proxy_apis: model
                .proxy_views
                .views
                .iter()
                .map(|v| ProxyApiReport {
                    kind: crate::proxy_view::proxy_name(v.api),
                    at: v.at.clone(),
                    servers: v.servers.len(),
                    error: v.error.clone(),
                })
                .collect(),
            timeline: super::TimelineReport::new(&judged.timeline),
            timeline_lines: super::TimelineReport::lines(
                &judged.timeline,
                unix_seconds(now),
                &jiff::tz::TimeZone::system(),
            ),
        }
    }
}

impl FirewallReport {
    pub(crate) fn new(model: &Model) -> Self {
        let Some(fw) = &model.firewall else {
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
                let endpoint = fw.endpoints.get(m.endpoint)?;
                let row = model.upstreams.rows.get(endpoint.id)?;
                Some(FirewallMatch {
                    upstream: row.entry.upstream.name.clone(),
                    tool: rule.tool,
                    chain: rule.chain.clone(),
                    rule: rule.text.clone(),
                    describe: rule.describe(),
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

    /// What each tool said, then each rule in an upstream's way: the report's firewall lines.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.tools.iter().map(|t| t.note.clone()).collect();
        lines.extend(self.matches.iter().map(|m| {
            let path = match m.path {
                PathKind::Outbound => "outbound",
                PathKind::Reply => "reply path",
            };
            format!("{} (upstream {}, {path})", m.describe, m.upstream)
        }));
        lines
    }
}

/// Plain numbers; `null` where the kernel would not tell us (the finding says why).
#[derive(Clone, Debug, Default, Serialize)]
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
    /// Who holds the ephemeral ports: sockets by TCP state, and the remotes most connected to.
    pub ephemeral_ports_by_state: Option<BTreeMap<&'static str, u32>>,
    pub ephemeral_ports_top_remotes: Option<Vec<(String, u32)>>,
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
    /// How discovery read it: "address 127.1 read as 127.0.0.1", "health check at ...".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the proxy's own API says of it, when one was read and lists it.
    pub proxy_view: Option<ProxyViewReport>,
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
        ephemeral_ports_by_state: s
            .ports
            .as_ref()
            .ok()
            .map(|p| p.by_state.iter().map(|(k, v)| (k.name(), *v)).collect()),
        ephemeral_ports_top_remotes: s.ports.as_ref().ok().map(|p| {
            p.top_remotes
                .iter()
                .map(|(addr, n)| (addr.to_string(), *n))
                .collect()
        }),
        file_handles_used: s.files.as_ref().ok().map(|f| f.used),
        file_handles_max: s.files.as_ref().ok().map(|f| f.max),
        findings: host::assess(s),
    }
}

/// The upstreams as `check` reports them, failing first.
pub fn upstream_reports(view: &Upstreams) -> Vec<UpstreamReport> {
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
                outcome: match (last, row.not_probed) {
                    (Some(r), _) => r.outcome.as_str(),
                    (None, Some(_)) => "not_probed",
                    (None, None) => "unknown",
                },
                status_code: last.and_then(|r| r.status_code),
                latency_ms: last
                    .and_then(|r| r.latency)
                    .map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0),
                detail: last
                    .map(|r| r.detail.clone())
                    .or(row.not_probed.map(str::to_owned))
                    .unwrap_or_default(),
                addr: last.and_then(|r| r.addr.clone()),
                source: row.entry.source.clone(),
                flags: row.entry.flags.clone(),
                notes: row.entry.notes.clone(),
                proxy_view: row.proxy.clone().map(|p| ProxyViewReport {
                    api: p.proxy,
                    summary: p.summary(),
                    server: p.server,
                    state: p.view.state.label(),
                    check: p.view.check,
                    since_s: p.view.since.map(|d| d.as_secs()),
                    requests: p.view.requests,
                    fails: p.view.fails,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{to_json, to_text};
    use super::*;
    use crate::host::{EphemeralPorts, TcpState, TcpStates};
    use crate::model::assess;
    use std::time::{Duration, SystemTime};

    /// One `check` round on a host with nothing else to look at.
    fn build(sample: &HostSample) -> Report {
        let mut model = Model::default();
        model.apply_host(sample.clone());
        let now = SystemTime::now();
        Report::new(&model, &assess(&model, now), now)
    }

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
                ..Default::default()
            }),
            sockets_age: std::time::Duration::ZERO,
            files: Err("/proc/sys/fs/file-nr: Permission denied".into()),
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let report = build(&sample(0.2));
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
        let text = to_text(&build(&sample(5.0)));
        assert!(text.starts_with("GATEWATCH WARNING - load 5.00"), "{text}");
        assert!(text.contains("| load1=5.00;2; "), "{text}");
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
            text.contains("  WARNING   host load         load 5.00 is above 2 cores (+1 more)\n"),
            "{text}"
        );
    }
}
