//! Turns a host sample into findings with their evidence. Percent thresholds are compared in
//! integers so "above 90%" means exactly that at the boundary.

use super::HostSample;
use crate::status::{Finding, Status};

/// Load-1 above cores x this is a warning: runnable tasks are queueing for a CPU. Never more than
/// a warning, however high: load often comes from unrelated jobs (a backup, a build) while the
/// proxy serves fine, and `check` must not page anyone as critical for a busy neighbour. What does
/// starve a proxy outright (memory, file handles, ports) has critical levels of its own.
pub const LOAD_WARNING_PER_CORE: f64 = 1.0;
/// Memory used (total - available) above this percent is a warning: the page cache is squeezed.
pub const MEMORY_WARNING_PERCENT: u64 = 90;
/// Memory used above this percent is critical: the OOM killer is close.
pub const MEMORY_CRITICAL_PERCENT: u64 = 97;
/// Swap used above this percent is a warning (hosts without swap are never flagged).
pub const SWAP_WARNING_PERCENT: u64 = 80;
/// File handles above this percent of fs.file-max is a warning: accept() and open() near ENFILE.
pub const FILES_WARNING_PERCENT: u64 = 80;
/// File handles above this percent of fs.file-max is critical.
pub const FILES_CRITICAL_PERCENT: u64 = 95;
/// Ephemeral ports in use above this percent of the range is a warning: upstream connects will
/// start failing with EADDRNOTAVAIL, a classic cause of 502s.
pub const PORTS_WARNING_PERCENT: u64 = 70;
/// Ephemeral ports in use above this percent of the range is critical.
pub const PORTS_CRITICAL_PERCENT: u64 = 90;
/// Total CPU busy above this percent is a warning: the proxy competes for CPU.
pub const CPU_WARNING_PERCENT: f32 = 90.0;

/// `used / total > percent%`, exactly (no float rounding at the boundary).
fn above(used: u64, total: u64, percent: u64) -> bool {
    u128::from(used) * 100 > u128::from(total) * u128::from(percent)
}

fn percent(used: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    used as f64 * 100.0 / total as f64
}

fn level(used: u64, total: u64, warning: u64, critical: Option<u64>) -> Option<Status> {
    if critical.is_some_and(|c| above(used, total, c)) {
        Some(Status::Critical)
    } else if above(used, total, warning) {
        Some(Status::Warning)
    } else {
        None
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"?")),
    }
}

/// What in `sample` needs attention; empty when everything is fine.
pub fn assess(sample: &HostSample) -> Vec<Finding> {
    let mut findings = Vec::new();

    if sample.cores == 0 {
        findings.push(Finding::new(
            Status::Unknown,
            "CPU counters could not be read (/proc/stat)",
        ));
    } else {
        let cores = sample.cores as f64;
        let load1 = sample.load[0];
        if load1 > cores * LOAD_WARNING_PER_CORE {
            let noun = if sample.cores == 1 { "core" } else { "cores" };
            findings.push(Finding::new(
                Status::Warning,
                format!("load {load1:.2} is above {} {noun}", sample.cores),
            ));
        }
        if sample.cpu_total > CPU_WARNING_PERCENT {
            findings.push(Finding::new(
                Status::Warning,
                format!(
                    "CPU {:.1}% busy over {} cores",
                    sample.cpu_total, sample.cores
                ),
            ));
        }
    }

    if sample.mem_total == 0 {
        findings.push(Finding::new(
            Status::Unknown,
            "memory could not be read (/proc/meminfo)",
        ));
    } else if let Some(status) = level(
        sample.mem_used,
        sample.mem_total,
        MEMORY_WARNING_PERCENT,
        Some(MEMORY_CRITICAL_PERCENT),
    ) {
        findings.push(Finding::new(
            status,
            format!(
                "memory {:.1}% used ({} of {})",
                percent(sample.mem_used, sample.mem_total),
                bytes(sample.mem_used),
                bytes(sample.mem_total)
            ),
        ));
    }

    if sample.swap_total > 0
        && let Some(status) = level(
            sample.swap_used,
            sample.swap_total,
            SWAP_WARNING_PERCENT,
            None,
        )
    {
        findings.push(Finding::new(
            status,
            format!(
                "swap {:.1}% used ({} of {})",
                percent(sample.swap_used, sample.swap_total),
                bytes(sample.swap_used),
                bytes(sample.swap_total)
            ),
        ));
    }

    match &sample.files {
        Ok(files) => {
            if let Some(status) = level(
                files.used,
                files.max,
                FILES_WARNING_PERCENT,
                Some(FILES_CRITICAL_PERCENT),
            ) {
                findings.push(Finding::new(
                    status,
                    format!(
                        "file handles {:.1}% used ({} of {})",
                        files.percent(),
                        files.used,
                        files.max
                    ),
                ));
            }
        }
        Err(e) => findings.push(Finding::new(
            Status::Unknown,
            format!("file handles unknown: {e}"),
        )),
    }

    match &sample.ports {
        Ok(ports) => {
            if let Some(status) = level(
                u64::from(ports.in_use),
                u64::from(ports.total()),
                PORTS_WARNING_PERCENT,
                Some(PORTS_CRITICAL_PERCENT),
            ) {
                findings.push(Finding::new(
                    status,
                    format!(
                        "{} ({:.1}%, range {}-{})",
                        ports.summary(),
                        ports.percent(),
                        ports.low,
                        ports.high
                    ),
                ));
            }
        }
        // Ports are counted from the socket tables: one unreadable table, one finding.
        Err(e) if sample.sockets.as_ref().err() == Some(e) => {}
        Err(e) => findings.push(Finding::new(
            Status::Unknown,
            format!("ephemeral ports unknown: {e}"),
        )),
    }

    if let Err(e) = &sample.sockets {
        findings.push(Finding::new(
            Status::Unknown,
            format!("TCP sockets unknown: {e}"),
        ));
    }

    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{EphemeralPorts, FileHandles, TcpState, TcpStates};
    use std::time::Duration;

    const GIB: u64 = 1024 * 1024 * 1024;

    fn healthy() -> HostSample {
        HostSample {
            hostname: "proxy-1".into(),
            uptime: Duration::from_secs(3600),
            cores: 2,
            cpu_total: 20.0,
            cpu_per_core: vec![15.0, 25.0],
            load: [0.5, 0.4, 0.3],
            mem_used: 4 * GIB,
            mem_total: 16 * GIB,
            swap_used: 0,
            swap_total: 0,
            processes: Vec::new(),
            sockets: Ok(TcpStates::default()),
            ports: Ok(EphemeralPorts {
                low: 1,
                high: 1000,
                in_use: 10,
                ..Default::default()
            }),
            sockets_age: std::time::Duration::ZERO,
            files: Ok(FileHandles {
                used: 100,
                max: 1000,
            }),
        }
    }

    /// Statuses of the findings whose message starts with `topic`.
    fn statuses(sample: &HostSample, topic: &str) -> Vec<Status> {
        assess(sample)
            .into_iter()
            .filter(|f| f.message.starts_with(topic))
            .map(|f| f.status)
            .collect()
    }

    #[test]
    fn healthy_host_has_no_findings() {
        assert_eq!(assess(&healthy()), vec![]);
    }

    #[test]
    fn load_against_cores_is_never_more_than_a_warning() {
        let mut s = healthy();
        for (load, expected) in [
            (2.0, vec![]),
            (2.01, vec![Status::Warning]),
            (4.01, vec![Status::Warning]),
            (400.0, vec![Status::Warning]),
        ] {
            s.load[0] = load;
            assert_eq!(statuses(&s, "load"), expected, "load {load}");
        }
        s.load = [5.2, 1.0, 1.0];
        s.cpu_total = 100.0;
        assert_eq!(
            assess(&s),
            vec![
                Finding::new(Status::Warning, "load 5.20 is above 2 cores"),
                Finding::new(Status::Warning, "CPU 100.0% busy over 2 cores"),
            ]
        );
        s.cpu_total = 20.0;
        s.cores = 1;
        s.cpu_per_core = vec![10.0];
        s.load = [1.5, 0.0, 0.0];
        assert_eq!(
            assess(&s),
            vec![Finding::new(Status::Warning, "load 1.50 is above 1 core")]
        );
    }

    #[test]
    fn memory_thresholds() {
        let mut s = healthy();
        s.mem_total = 1000;
        for (used, expected) in [
            (900, vec![]),
            (901, vec![Status::Warning]),
            (970, vec![Status::Warning]),
            (971, vec![Status::Critical]),
        ] {
            s.mem_used = used;
            assert_eq!(statuses(&s, "memory"), expected, "used {used}");
        }
        s.mem_total = 16 * GIB;
        s.mem_used = 15 * GIB + GIB / 2;
        assert_eq!(
            assess(&s),
            vec![Finding::new(
                Status::Warning,
                "memory 96.9% used (15.5 GiB of 16.0 GiB)"
            )]
        );
    }

    #[test]
    fn swap_threshold_only_with_swap() {
        let mut s = healthy();
        s.swap_total = 1000;
        s.swap_used = 800;
        assert_eq!(statuses(&s, "swap"), vec![]);
        s.swap_used = 801;
        assert_eq!(statuses(&s, "swap"), vec![Status::Warning]);
        s.swap_used = 1000;
        assert_eq!(statuses(&s, "swap"), vec![Status::Warning]);
        s.swap_total = 0;
        s.swap_used = 0;
        assert_eq!(statuses(&s, "swap"), vec![]);
    }

    #[test]
    fn file_handle_thresholds() {
        let mut s = healthy();
        for (used, expected) in [
            (800, vec![]),
            (801, vec![Status::Warning]),
            (950, vec![Status::Warning]),
            (951, vec![Status::Critical]),
        ] {
            s.files = Ok(FileHandles { used, max: 1000 });
            assert_eq!(statuses(&s, "file handles"), expected, "used {used}");
        }
        assert_eq!(
            assess(&s),
            vec![Finding::new(
                Status::Critical,
                "file handles 95.1% used (951 of 1000)"
            )]
        );
        // The kernel's "no limit" max must not overflow the arithmetic.
        s.files = Ok(FileHandles {
            used: u64::MAX,
            max: u64::MAX,
        });
        assert_eq!(statuses(&s, "file handles"), vec![Status::Critical]);
    }

    #[test]
    fn ephemeral_port_thresholds_and_who_holds_them() {
        let mut s = healthy();
        for (in_use, expected) in [
            (700, vec![]),
            (701, vec![Status::Warning]),
            (900, vec![Status::Warning]),
            (901, vec![Status::Critical]),
        ] {
            s.ports = Ok(EphemeralPorts {
                low: 1,
                high: 1000,
                in_use,
                ..Default::default()
            });
            let found: Vec<Status> = assess(&s)
                .into_iter()
                .filter(|f| f.message.contains("ephemeral ports"))
                .map(|f| f.status)
                .collect();
            assert_eq!(found, expected, "in use {in_use}");
        }
        s.ports = Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 28231,
            by_state: [(TcpState::Established, 331), (TcpState::TimeWait, 27900)].into(),
            top_remotes: vec![("127.0.0.1:8080".parse().expect("addr"), 28231)],
        });
        assert_eq!(
            assess(&s),
            vec![Finding::new(
                Status::Critical,
                "28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, mostly to \
                 127.0.0.1:8080 (100.0%, range 32768-60999)"
            )]
        );
    }

    #[test]
    fn cpu_threshold() {
        let mut s = healthy();
        s.cpu_total = 90.0;
        assert_eq!(statuses(&s, "CPU"), vec![]);
        s.cpu_total = 90.1;
        assert_eq!(
            assess(&s),
            vec![Finding::new(Status::Warning, "CPU 90.1% busy over 2 cores")]
        );
    }

    #[test]
    fn read_errors_are_unknown_and_name_the_file() {
        let mut s = healthy();
        let denied = "/proc/net/tcp: Permission denied".to_owned();
        s.sockets = Err(denied.clone());
        s.ports = Err(denied);
        s.files = Err("/proc/sys/fs/file-nr: No such file or directory".into());
        assert_eq!(
            assess(&s),
            vec![
                Finding::new(
                    Status::Unknown,
                    "file handles unknown: /proc/sys/fs/file-nr: No such file or directory"
                ),
                Finding::new(
                    Status::Unknown,
                    "TCP sockets unknown: /proc/net/tcp: Permission denied"
                ),
            ]
        );
        // A port range problem of its own is reported on its own.
        let mut s = healthy();
        s.ports = Err("/proc/sys/net/ipv4/ip_local_port_range: Permission denied".into());
        assert_eq!(
            assess(&s),
            vec![Finding::new(
                Status::Unknown,
                "ephemeral ports unknown: /proc/sys/net/ipv4/ip_local_port_range: Permission denied"
            )]
        );
    }

    #[test]
    fn missing_cpu_and_memory_counters_are_unknown() {
        let mut s = healthy();
        s.cores = 0;
        s.cpu_per_core.clear();
        s.mem_total = 0;
        s.mem_used = 0;
        let found: Vec<Status> = assess(&s).into_iter().map(|f| f.status).collect();
        assert_eq!(found, vec![Status::Unknown, Status::Unknown]);
    }
}
