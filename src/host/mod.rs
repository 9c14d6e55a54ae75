//! Host engine: CPU, memory, processes, TCP socket states, ephemeral ports and file handles.
//!
//! Plain data in, plain data out: this module never imports the terminal crates, so the UI, the
//! headless `check` command and the tests all use it the same way. Every /proc read that can fail
//! is carried as an `Err(reason)` in the sample so the pane can show why, instead of crashing.

mod assess;
mod collector;
mod processes;
mod procfs;
mod proctable;
mod sampler;
mod sockets;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub use assess::{
    CPU_WARNING_PERCENT, FILES_CRITICAL_PERCENT, FILES_WARNING_PERCENT, LOAD_CRITICAL_PER_CORE,
    LOAD_WARNING_PER_CORE, MEMORY_CRITICAL_PERCENT, MEMORY_WARNING_PERCENT, PORTS_CRITICAL_PERCENT,
    PORTS_WARNING_PERCENT, SWAP_WARNING_PERCENT, assess,
};
pub use collector::HostCollector;
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

/// Local ports of the ephemeral range held by non-listening sockets: what runs out when a proxy
/// opens too many upstream connections.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EphemeralPorts {
    pub low: u16,
    pub high: u16,
    pub in_use: u32,
}

impl EphemeralPorts {
    /// Size of the range, bounds included.
    pub fn total(&self) -> u32 {
        u32::from(self.high).saturating_sub(u32::from(self.low)) + 1
    }

    pub fn percent(&self) -> f64 {
        f64::from(self.in_use) * 100.0 / f64::from(self.total())
    }
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
        };
        assert_eq!(p.total(), 28232);
        assert!((p.percent() - 9.999).abs() < 0.01);
        let one = EphemeralPorts {
            low: 5,
            high: 5,
            in_use: 1,
        };
        assert_eq!(one.total(), 1);
    }

    #[test]
    fn file_handle_percent_survives_zero_max() {
        assert_eq!(FileHandles { used: 5, max: 0 }.percent(), 0.0);
        assert_eq!(FileHandles { used: 50, max: 200 }.percent(), 25.0);
    }
}
