//! Host engine: CPU, memory, processes, TCP socket states, ephemeral ports and file handles.
//!
//! Plain data in, plain data out: this module never imports the terminal crates, so the UI, the
//! headless `check` command and the tests all use it the same way. Every /proc read that can fail
//! is carried as an `Err(reason)` in the sample so the pane can show why, instead of crashing.

mod assess;
mod collector;
mod processes;
pub(crate) mod procfs;
pub(crate) mod proctable;
mod sampler;
pub(crate) mod sockets;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

pub use assess::{
    CPU_WARNING_PERCENT, FILES_CRITICAL_PERCENT, FILES_WARNING_PERCENT, LOAD_WARNING_PER_CORE,
    MEMORY_CRITICAL_PERCENT, MEMORY_WARNING_PERCENT, PORTS_CRITICAL_PERCENT, PORTS_WARNING_PERCENT,
    SWAP_WARNING_PERCENT, assess,
};
pub use collector::{HostCollector, SOCKET_SCAN_MAX_AGE};
pub use processes::{MAX_COMMAND_CHARS, USER_RELOAD_INTERVAL, load_users};
pub use procfs::ProcError;
pub use sampler::{HostSampler, STOP_GRACE};

/// One snapshot of the host, owned and self-contained so it can be sent to the UI.
#[derive(Clone, Debug, PartialEq)]
pub struct HostSample {
    pub hostname: String,
    pub uptime: Duration,
    pub cores: usize,
    /// Percent 0..=100 over all cores.
    pub cpu_total: f32,
    /// Percent per logical core.
    pub cpu_per_core: Vec<f32>,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    /// Bytes; used = total - available (page cache the kernel can drop is not "used").
    pub mem_used: u64,
    pub mem_total: u64,
    pub swap_used: u64,
    pub swap_total: u64,
    /// Every process we could read, sorted by pid (the UI sorts and filters as it likes).
    pub processes: Vec<ProcessRow>,
    /// `Err` is the reason to show in the pane, e.g. "/proc/net/tcp: Permission denied".
    pub sockets: Result<TcpStates, String>,
    pub ports: Result<EphemeralPorts, String>,
    /// How old `sockets` and `ports` are: the TCP table scan is budgeted (see
    /// [`collector::SOCKET_SCAN_BUDGET`]), so between scans the last figures are reused.
    pub sockets_age: Duration,
    pub files: Result<FileHandles, String>,
}

impl HostSample {
    /// The `n` processes using the most CPU, most first, as (short name, percent of the whole
    /// machine rounded to one decimal): "stress 96.0" on a 2-core host means it takes nearly
    /// both cores. Idle processes are left out; ties go to the lower pid.
    pub fn busiest(&self, n: usize) -> Vec<(String, f32)> {
        let cores = self.cores.max(1) as f32;
        let mut rows: Vec<&ProcessRow> = self
            .processes
            .iter()
            .filter(|p| p.cpu.is_finite() && p.cpu > 0.0)
            .collect();
        rows.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then(a.pid.cmp(&b.pid)));
        rows.into_iter()
            .take(n)
            .map(|p| {
                let share = (p.cpu / cores * 10.0).round() / 10.0;
                (p.short_name().to_owned(), share)
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessRow {
    pub pid: u32,
    /// User name, or the numeric uid when no name is known.
    pub user: String,
    /// Percent of one core, like top (a busy multi-threaded process can exceed 100).
    pub cpu: f32,
    /// Resident set size in bytes.
    pub mem: u64,
    /// Joined argv, sanitised and capped at [`MAX_COMMAND_CHARS`]; `[name]` for kernel threads.
    pub command: String,
}

impl ProcessRow {
    /// What a person calls the process: "stress" for "/usr/bin/stress --cpu 2", "php-fpm" for
    /// "php-fpm: pool www", the whole "[kworker/0:1]" for a kernel thread.
    pub fn short_name(&self) -> &str {
        if self.command.starts_with('[') {
            return &self.command;
        }
        let first = self.command.split_whitespace().next().unwrap_or_default();
        let base = first.rsplit('/').next().unwrap_or(first);
        match base.trim_end_matches(':') {
            "" => &self.command,
            name => name,
        }
    }
}

/// Socket counts per TCP state over /proc/net/tcp and /proc/net/tcp6.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct TcpStates {
    /// Only states that were seen; absent means zero.
    pub counts: BTreeMap<TcpState, u32>,
    /// Lines that could not be parsed (skipped, never fatal).
    pub malformed_lines: u32,
}

impl TcpStates {
    pub fn get(&self, state: TcpState) -> u32 {
        self.counts.get(&state).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.counts.values().sum()
    }
}

/// Kernel TCP states in the kernel's numbering order (include/net/tcp_states.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
}

impl TcpState {
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    /// The name netstat prints (and that operators grep for).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
        }
    }

    /// Parses the `st` column of /proc/net/tcp ("01".."0C", either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        sockets::state_from_hex(s.as_bytes())
    }

    /// The kernel's numeric value (TCP_ESTABLISHED = 1 ...).
    pub fn code(self) -> u8 {
        self as u8 + 1
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Remote endpoints named in [`EphemeralPorts::top_remotes`].
pub const TOP_REMOTES: usize = 3;

/// Local ports of the ephemeral range held by non-listening sockets: what runs out when a proxy
/// opens too many upstream connections. With who holds them, because the fix depends on it: a
/// range full of TIME_WAIT to one upstream wants keepalive, ESTABLISHED to many wants a wider range
/// or fewer connections.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EphemeralPorts {
    pub low: u16,
    pub high: u16,
    /// Distinct ports of the range in use.
    pub in_use: u32,
    /// Sockets holding a port of the range, by state (only states seen). Can exceed `in_use`:
    /// connections to different remotes may share a local port.
    pub by_state: BTreeMap<TcpState, u32>,
    /// The remote endpoints of those sockets with their socket counts, most first, at most
    /// [`TOP_REMOTES`]. IPv4-mapped IPv6 addresses are shown as IPv4.
    pub top_remotes: Vec<(SocketAddr, u32)>,
}

impl EphemeralPorts {
    /// Sockets holding a port of the range.
    pub fn sockets(&self) -> u32 {
        self.by_state.values().fold(0, |a, &n| a.saturating_add(n))
    }

    /// The state holding the most ports' sockets, with its count (the first in kernel order on a
    /// tie, so the wording is stable).
    pub fn main_state(&self) -> Option<(TcpState, u32)> {
        self.by_state
            .iter()
            .rev()
            .max_by_key(|&(_, &n)| n)
            .map(|(&state, &n)| (state, n))
    }

    /// "28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, mostly to 127.0.0.1:8080":
    /// how full the range is, what state holds it and toward whom. The remote is "mostly" when it
    /// holds more than half of the sockets; otherwise the top ones are listed with their counts.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} of {} ephemeral ports in use",
            grouped(u64::from(self.in_use)),
            grouped(u64::from(self.total()))
        );
        if let Some((state, n)) = self.main_state() {
            out.push_str(&format!(", {} {state}", grouped(u64::from(n))));
        }
        let sockets = u64::from(self.sockets());
        match self.top_remotes.first() {
            Some((addr, n)) if u64::from(*n) * 2 > sockets => {
                out.push_str(&format!(", mostly to {addr}"));
            }
            Some(_) => {
                let list: Vec<String> = self
                    .top_remotes
                    .iter()
                    .map(|(addr, n)| format!("{addr} ({})", grouped(u64::from(*n))))
                    .collect();
                out.push_str(&format!(", to {}", list.join(", ")));
            }
            None => {}
        }
        out
    }

    /// Size of the range, bounds included.
    pub fn total(&self) -> u32 {
        u32::from(self.high).saturating_sub(u32::from(self.low)) + 1
    }

    pub fn percent(&self) -> f64 {
        f64::from(self.in_use) * 100.0 / f64::from(self.total())
    }
}

/// "28,232": counts in sentences people read during an incident.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// System-wide file handles from /proc/sys/fs/file-nr.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FileHandles {
    pub used: u64,
    pub max: u64,
}

impl FileHandles {
    pub fn percent(&self) -> f64 {
        if self.max == 0 {
            return 0.0;
        }
        self.used as f64 * 100.0 / self.max as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_and_codes_follow_the_kernel() {
        for (i, state) in TcpState::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(state.code()), i + 1);
            assert_eq!(TcpState::from_hex(&format!("{:02X}", i + 1)), Some(state));
            assert_eq!(TcpState::from_hex(&format!("{:02x}", i + 1)), Some(state));
            let json = serde_json::to_string(&state).expect("serialises");
            assert_eq!(json, format!("\"{}\"", state.name()));
        }
        assert_eq!(TcpState::TimeWait.name(), "TIME_WAIT");
        assert_eq!(TcpState::from_hex("0A"), Some(TcpState::Listen));
        assert_eq!(TcpState::from_hex("00"), None);
        assert_eq!(TcpState::from_hex("0D"), None);
        assert_eq!(TcpState::from_hex(""), None);
        assert_eq!(TcpState::from_hex("+1"), None);
        assert_eq!(TcpState::from_hex("001"), None);
    }

    #[test]
    fn port_range_total_includes_both_bounds() {
        let p = EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 2823,
            ..Default::default()
        };
        assert_eq!(p.total(), 28232);
        assert!((p.percent() - 9.999).abs() < 0.01);
        let one = EphemeralPorts {
            low: 5,
            high: 5,
            in_use: 1,
            ..Default::default()
        };
        assert_eq!(one.total(), 1);
    }

    #[test]
    fn summary_says_how_full_what_state_and_toward_whom() {
        let upstream: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let other: SocketAddr = "[2001:db8::5]:443".parse().expect("addr");
        let mut p = EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 28231,
            by_state: [(TcpState::Established, 331), (TcpState::TimeWait, 27900)].into(),
            top_remotes: vec![(upstream, 28000), (other, 231)],
        };
        assert_eq!(p.sockets(), 28231);
        assert_eq!(p.main_state(), Some((TcpState::TimeWait, 27900)));
        assert_eq!(
            p.summary(),
            "28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, mostly to 127.0.0.1:8080"
        );
        p.top_remotes = vec![(upstream, 9000), (other, 8000)];
        assert_eq!(
            p.summary(),
            "28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, \
             to 127.0.0.1:8080 (9,000), [2001:db8::5]:443 (8,000)"
        );
        // A tie names the first state in kernel order, whatever the map's insertion order.
        p.by_state = [(TcpState::TimeWait, 5), (TcpState::Established, 5)].into();
        assert_eq!(p.main_state(), Some((TcpState::Established, 5)));
        let idle = EphemeralPorts {
            low: 1,
            high: 1000,
            ..Default::default()
        };
        assert_eq!(idle.summary(), "0 of 1,000 ephemeral ports in use");
    }

    fn row(pid: u32, command: &str, cpu: f32) -> ProcessRow {
        ProcessRow {
            pid,
            user: "root".into(),
            cpu,
            mem: 0,
            command: command.into(),
        }
    }

    #[test]
    fn busiest_are_top_by_cpu_as_a_share_of_the_machine() {
        let mut s = crate::app::fixtures::sample(0.1);
        s.cores = 2;
        s.processes = vec![
            row(1, "/sbin/init", 0.0),
            row(40, "stress --cpu 2", 191.96),
            row(41, "php-fpm: pool www", 30.0),
            row(42, "[kworker/0:1-events]", 30.0),
            row(43, "nginx: worker process", 4.4),
            row(44, "odd", f32::NAN),
        ];
        assert_eq!(
            s.busiest(3),
            vec![
                ("stress".to_owned(), 96.0),
                ("php-fpm".to_owned(), 15.0),
                ("[kworker/0:1-events]".to_owned(), 15.0),
            ]
        );
        assert_eq!(s.busiest(0), vec![]);
        s.cores = 0;
        assert_eq!(s.busiest(1), vec![("stress".to_owned(), 192.0)]);
        assert_eq!(row(1, "", 1.0).short_name(), "");
        assert_eq!(row(1, ": x", 1.0).short_name(), ": x");
    }

    #[test]
    fn grouped_puts_commas_every_three_digits() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (28232, "28,232"),
            (1234567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(grouped(n), want);
        }
    }

    #[test]
    fn file_handle_percent_survives_zero_max() {
        assert_eq!(FileHandles { used: 5, max: 0 }.percent(), 0.0);
        assert_eq!(FileHandles { used: 50, max: 200 }.percent(), 25.0);
    }
}
