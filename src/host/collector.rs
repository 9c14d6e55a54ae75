//! The collector: one sysinfo `System` for the life of the process, plus our own /proc reads.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use sysinfo::{
    CpuRefreshKind, MINIMUM_CPU_UPDATE_INTERVAL, MemoryRefreshKind, RefreshKind, System, Users,
};

use super::processes::UserNames;
use super::procfs::{self, ProcPaths};
use super::proctable::{ProcessTable, user_namer};
use super::sockets::PortSet;
use super::{EphemeralPorts, HostSample, TcpStates};
use crate::sanitize::sanitize;

/// Share of one core the TCP table scan may use. Reading /proc/net/tcp walks the kernel's whole
/// connection hash table (262,144 slots on a 24 GiB host even when idle, ~1.6 ms a file) and costs
/// more with every socket: on a proxy in a 502 storm with tens of thousands of TIME_WAIT sockets,
/// scanning every 2 s would cost the troubled host a noticeable share of a core. So the next scan
/// waits until the last one's cost is this share of the time since: `cost / SOCKET_SCAN_BUDGET`,
/// and even then only if the kernel's socket counters (/proc/net/sockstat) moved, or the figures
/// are older than [`SOCKET_SCAN_MAX_AGE`].
pub const SOCKET_SCAN_BUDGET: f64 = 0.0005;
/// Socket figures are rescanned at least this often when the budget allows, even on a quiet host
/// (counters can stay equal while sockets change state).
pub const SOCKET_SCAN_MAX_AGE: Duration = Duration::from_secs(30);

/// Shown when the kernel will not give us a host name.
const UNKNOWN_HOSTNAME: &str = "(unknown)";

/// Only what the host pane shows from sysinfo; processes come from [`ProcessTable`], which reads
/// a third of the files sysinfo would.
fn refresh_kind() -> RefreshKind {
    RefreshKind::nothing()
        .with_cpu(CpuRefreshKind::nothing().with_usage())
        .with_memory(MemoryRefreshKind::everything())
}

pub struct HostCollector {
    /// `None` only if sysinfo refused to start (it cannot on Linux); the sample then has zero
    /// cores and memory, which `assess` reports as unknown.
    system: Option<System>,
    users: Option<Users>,
    names: UserNames,
    table: ProcessTable,
    paths: ProcPaths,
    /// When sysinfo last refreshed; CPU usage is a difference and needs a gap between refreshes.
    last_refresh: Option<Instant>,
    line_buf: Vec<u8>,
    ports: PortSet,
    socket_scan: Option<SocketScan>,
    force_socket_scan: bool,
}

/// The last TCP table scan, reused until the budget allows the next one.
struct SocketScan {
    sockets: Result<TcpStates, String>,
    ports: Result<EphemeralPorts, String>,
    at: Instant,
    cost: Duration,
    /// /proc/net/sockstat counters at the scan.
    counters: Option<Vec<u64>>,
}

impl Default for HostCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl HostCollector {
    /// Reads the real /proc.
    pub fn new() -> Self {
        Self::with_proc_root(PathBuf::from("/proc"))
    }

    /// Reads net/tcp, net/tcp6, sys/net/ipv4/ip_local_port_range and sys/fs/file-nr under
    /// `root` (CPU, memory and processes still come from the real system through sysinfo).
    pub fn with_proc_root(root: PathBuf) -> Self {
        let system = System::new()
            .inspect_err(|e| tracing::warn!("sysinfo could not start: {e}"))
            .ok();
        let users = Users::new()
            .inspect_err(|e| tracing::warn!("sysinfo user list unavailable: {e}"))
            .ok();
        HostCollector {
            system,
            users,
            names: UserNames::default(),
            // The real /proc even for a fixture root: only the socket and limit files are faked.
            table: ProcessTable::new(Path::new("/proc")),
            paths: ProcPaths::new(&root),
            last_refresh: None,
            line_buf: Vec::with_capacity(256),
            ports: PortSet::new(),
            socket_scan: None,
            force_socket_scan: false,
        }
    }

    /// Makes the next sample scan the TCP tables whatever the budget says (the operator asked).
    pub fn request_full_scan(&mut self) {
        self.force_socket_scan = true;
    }

    /// Takes one sample. Blocks: the first call for at least [`MINIMUM_CPU_UPDATE_INTERVAL`]
    /// (CPU usage needs two readings), later calls only if the previous one was less than that
    /// ago. Every failure ends up in the sample, never in a panic.
    pub fn sample(&mut self) -> HostSample {
        if !self.table.is_primed() {
            // Process CPU% is a difference too: take the first reading before sysinfo's wait.
            self.table.refresh(&mut |uid| uid.to_string());
        }
        self.refresh_system();
        let (sockets, ports, sockets_age) = self.budgeted_socket_scan();
        let files = procfs::read_file_handles(&self.paths.file_nr).map_err(|e| e.to_string());

        let hostname = System::host_name()
            .map(|h| sanitize(&h).into_owned())
            .unwrap_or_else(|_| UNKNOWN_HOSTNAME.to_owned());
        let uptime = Duration::from_secs(System::uptime().unwrap_or(0));
        let load = System::load_average()
            .map(|l| [l.one, l.five, l.fifteen])
            .unwrap_or_default();

        let mut sample = HostSample {
            hostname,
            uptime,
            cores: 0,
            cpu_total: 0.0,
            cpu_per_core: Vec::new(),
            load,
            mem_used: 0,
            mem_total: 0,
            swap_used: 0,
            swap_total: 0,
            processes: Vec::new(),
            sockets,
            ports,
            sockets_age,
            files,
        };
        if let Some(system) = &self.system {
            sample.cpu_per_core = system.cpus().iter().map(|c| c.usage()).collect();
            sample.cores = sample.cpu_per_core.len();
            sample.cpu_total = system.global_cpu_usage();
            sample.mem_total = system.total_memory();
            sample.mem_used = system
                .total_memory()
                .saturating_sub(system.available_memory());
            sample.swap_total = system.total_swap();
            sample.swap_used = system.total_swap().saturating_sub(system.free_swap());
        }
        sample.processes = self
            .table
            .refresh(&mut user_namer(&mut self.names, self.users.as_mut()));
        sample
    }

    fn refresh_system(&mut self) {
        let Some(system) = &mut self.system else {
            return;
        };
        let kind = refresh_kind();
        if self.last_refresh.is_none() {
            system.refresh_specifics(kind);
            self.last_refresh = Some(Instant::now());
        }
        // Too soon after the last refresh, sysinfo keeps the old CPU times while the process
        // times move on, so process CPU% would be computed over mismatched intervals.
        if let Some(at) = self.last_refresh {
            let wait = MINIMUM_CPU_UPDATE_INTERVAL.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                thread::sleep(wait);
            }
        }
        system.refresh_specifics(kind);
        self.last_refresh = Some(Instant::now());
    }

    /// The socket figures and how old they are: a fresh scan when the budget allows, else the last.
    fn budgeted_socket_scan(
        &mut self,
    ) -> (
        Result<TcpStates, String>,
        Result<EphemeralPorts, String>,
        Duration,
    ) {
        let counters = procfs::read_sockstat(&self.paths);
        let due = match &self.socket_scan {
            None => true,
            // Asked for, or the last scan failed (cheap to retry, and recovery should show).
            Some(last) if self.force_socket_scan || last.sockets.is_err() => true,
            Some(last) => {
                let age = last.at.elapsed();
                let affordable = age.as_secs_f64() * SOCKET_SCAN_BUDGET >= last.cost.as_secs_f64();
                let moved = counters.is_none() || counters != last.counters;
                affordable && (moved || age >= SOCKET_SCAN_MAX_AGE)
            }
        };
        if due {
            let started = Instant::now();
            let (sockets, ports) = self.read_sockets_and_ports();
            let cost = started.elapsed();
            self.socket_scan = Some(SocketScan {
                sockets,
                ports,
                at: started,
                cost,
                counters,
            });
            self.force_socket_scan = false;
        }
        match &self.socket_scan {
            Some(scan) => (scan.sockets.clone(), scan.ports.clone(), scan.at.elapsed()),
            None => (
                Err("no socket scan yet".into()),
                Err("no socket scan yet".into()),
                Duration::ZERO,
            ),
        }
    }

    /// One pass over tcp and tcp6 gives the state counts, the ports in use and who holds them.
    /// The range is read first so the pass knows which sockets hold an ephemeral port.
    fn read_sockets_and_ports(
        &mut self,
    ) -> (Result<TcpStates, String>, Result<EphemeralPorts, String>) {
        let range = procfs::read_port_range(&self.paths.port_range);
        let scanned = procfs::read_sockets(
            &self.paths,
            &mut self.line_buf,
            &mut self.ports,
            range.as_ref().ok().copied(),
        )
        .map_err(|e| e.to_string());
        match (scanned, range) {
            (Err(e), _) => (Err(e.clone()), Err(e)),
            (Ok((states, _)), Err(e)) => (Ok(states), Err(e.to_string())),
            (Ok((states, port_use)), Ok(range)) => (
                Ok(states),
                Ok(procfs::ephemeral_ports(range, &self.ports, port_use)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::TcpState;
    use std::fs;
    use std::path::Path;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21561 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8001 0100007F:1F90 01 00000000:00000000 00:00000000 00000000    33        0 98766 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:8002 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   3: 0100007F:0400 0100007F:1F90 01 00000000:00000000 00:00000000 00000000    33        0 98767 1 0000000000000000 20 4 30 10 -1
   4: garbage
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:8001 00000000000000000000000001000000:01BB 01 00000000:00000000 00:00000000 00000000    33        0 44444 1 0000000000000000 20 4 30 10 -1
";

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).expect("create fixture dir");
        }
        fs::write(path, content).expect("write fixture");
    }

    fn full_fixture(root: &Path) {
        write(root, "net/tcp", TCP);
        write(root, "net/tcp6", TCP6);
        write(root, "sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
        write(root, "sys/fs/file-nr", "2048\t0\t100000\n");
    }

    #[test]
    fn reads_fixture_files_under_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        full_fixture(dir.path());
        let sample = HostCollector::with_proc_root(dir.path().to_owned()).sample();

        let sockets = sample.sockets.expect("sockets read");
        assert_eq!(sockets.get(TcpState::Listen), 1);
        assert_eq!(sockets.get(TcpState::Established), 3);
        assert_eq!(sockets.get(TcpState::TimeWait), 1);
        assert_eq!(sockets.malformed_lines, 1);
        // 0x8001 (v4 and v6, once) and 0x8002 are in range; 0x0400 is not; the listener is not.
        assert_eq!(
            sample.ports,
            Ok(EphemeralPorts {
                low: 32768,
                high: 60999,
                in_use: 2,
                by_state: [(TcpState::Established, 2), (TcpState::TimeWait, 1)].into(),
                top_remotes: vec![
                    ("127.0.0.1:8080".parse().expect("addr"), 2),
                    ("[::1]:443".parse().expect("addr"), 1),
                ],
            })
        );
        assert_eq!(
            sample.files,
            Ok(crate::host::FileHandles {
                used: 2048,
                max: 100000
            })
        );
    }

    #[test]
    fn socket_scans_are_budgeted_and_a_rerun_forces_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        full_fixture(dir.path());
        let mut collector = HostCollector::with_proc_root(dir.path().to_owned());
        let first = collector.sample();
        assert_eq!(first.sockets.as_ref().map(|s| s.total()), Ok(5));
        // A new socket appears; the last scan was just now, so the budget says wait.
        write(
            dir.path(),
            "net/tcp",
            &format!("{TCP}   5: 0100007F:8003 0100007F:1F90 01 0 0 0 0 0 0 0\n"),
        );
        let cached = collector.sample();
        assert_eq!(cached.sockets.as_ref().map(|s| s.total()), Ok(5));
        assert!(cached.sockets_age > Duration::ZERO);
        collector.request_full_scan();
        let forced = collector.sample();
        assert_eq!(forced.sockets.as_ref().map(|s| s.total()), Ok(6));
        assert!(forced.sockets_age < Duration::from_millis(100));
    }

    #[test]
    fn sockstat_counters_are_read_without_the_memory_figure() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "net/sockstat",
            "sockets: used 12\nTCP: inuse 7 orphan 1 tw 230 alloc 9 mem 114\nUDP: inuse 0 mem 0\n",
        );
        write(
            dir.path(),
            "net/sockstat6",
            "TCP6: inuse 3\nUDP6: inuse 0\n",
        );
        let paths = ProcPaths::new(dir.path());
        assert_eq!(procfs::read_sockstat(&paths), Some(vec![7, 1, 230, 9, 3]));
        write(dir.path(), "net/sockstat6", "garbage");
        assert_eq!(procfs::read_sockstat(&paths), None);
    }

    #[test]
    fn missing_tcp6_is_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        full_fixture(dir.path());
        fs::remove_file(dir.path().join("net/tcp6")).expect("remove tcp6");
        let sample = HostCollector::with_proc_root(dir.path().to_owned()).sample();
        assert_eq!(sample.sockets.map(|s| s.total()), Ok(4));
        assert_eq!(sample.ports.map(|p| p.in_use), Ok(2));
    }

    #[test]
    fn missing_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut collector = HostCollector::with_proc_root(dir.path().to_owned());
        let sample = collector.sample();
        let tcp = dir.path().join("net/tcp");
        assert_eq!(
            sample.sockets,
            Err(format!("{}: No such file or directory", tcp.display()))
        );
        // Without the socket tables there is nothing to count ports from.
        assert_eq!(sample.ports.as_ref().err(), sample.sockets.as_ref().err());
        let files = sample.files.expect_err("file-nr is missing");
        assert!(files.contains("sys/fs/file-nr"), "{files}");

        // Sockets present, range missing: only ports fail, and say which file.
        write(dir.path(), "net/tcp", TCP);
        let sample = collector.sample();
        assert!(sample.sockets.is_ok());
        let ports = sample.ports.expect_err("range is missing");
        assert!(ports.contains("ip_local_port_range"), "{ports}");
    }

    #[test]
    fn unreadable_and_garbage_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        full_fixture(dir.path());
        // A directory where a file should be: open works, read fails.
        fs::remove_file(dir.path().join("net/tcp6")).expect("remove tcp6");
        fs::create_dir(dir.path().join("net/tcp6")).expect("mkdir tcp6");
        write(dir.path(), "sys/fs/file-nr", "\u{1b}[2J lots of junk");
        write(
            dir.path(),
            "sys/net/ipv4/ip_local_port_range",
            "60999 32768",
        );
        let sample = HostCollector::with_proc_root(dir.path().to_owned()).sample();
        let sockets = sample.sockets.expect_err("tcp6 is a directory");
        assert!(sockets.ends_with("net/tcp6: Is a directory"), "{sockets}");
        let files = sample.files.expect_err("junk");
        assert!(
            files.ends_with("file-nr: unexpected content \"\\x1b[2J lots of junk\""),
            "{files}"
        );
        let dir2 = tempfile::tempdir().expect("tempdir");
        full_fixture(dir2.path());
        write(
            dir2.path(),
            "sys/net/ipv4/ip_local_port_range",
            "60999 32768",
        );
        let sample = HostCollector::with_proc_root(dir2.path().to_owned()).sample();
        let ports = sample.ports.expect_err("inverted range");
        assert!(
            ports.ends_with("unexpected content \"60999 32768\""),
            "{ports}"
        );
    }
}
