//! `gatewatch check`: every check once, as a report for people (text) or machines (JSON), with the
//! Nagios exit-code convention so monitoring can call it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::host::{self, HostSample};
use crate::status::{self, Finding, Status};

#[derive(Debug, Serialize)]
pub struct Report {
    pub status: Status,
    pub host: HostReport,
    pub upstreams: Vec<serde_json::Value>,
    pub dns: Vec<serde_json::Value>,
    pub logs: Vec<serde_json::Value>,
    pub services: Vec<serde_json::Value>,
}

/// Plain numbers; `null` where the kernel would not tell us (the finding says why).
#[derive(Debug, Serialize)]
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

pub fn build(sample: &HostSample) -> Report {
    let host = host_report(sample);
    Report {
        status: status::overall(&host.findings),
        host,
        upstreams: vec![],
        dns: vec![],
        logs: vec![],
        services: vec![],
    }
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
    let worst = h.findings.iter().max_by_key(|f| f.status.severity());
    let summary = worst.map_or("no problems found".to_string(), |f| f.message.clone());
    let mut out = format!(
        "GATEWATCH {} - {summary} | load1={:.2};{};{} cpu={:.1}% mem={:.1}%\n",
        report.status.label(),
        h.load[0],
        h.cores,
        h.cores * 2,
        h.cpu_percent,
        h.mem_used_percent
    );
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
    out.push_str("\nupstreams: none configured (add [[upstream]] to the config)\n");
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
        let v: serde_json::Value = serde_json::from_str(&to_json(&build(&sample(0.2)))).unwrap();
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
    }

    #[test]
    fn text_starts_with_a_nagios_line() {
        let text = to_text(&build(&sample(5.0)));
        assert!(text.starts_with("GATEWATCH CRITICAL - load 5.00"), "{text}");
        assert!(text.contains("| load1=5.00;2;4"), "{text}");
    }
}
