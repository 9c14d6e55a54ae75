//! Upstream processes restarted: the local processes listening on upstream ports, and when each
//! started.
//!
//! The LISTEN sockets come from `<proc>/net/tcp` and `tcp6` (the Host pane's streaming parser);
//! each socket's inode is then looked for among the `socket:[inode]` links of `<proc>/PID/fd`,
//! and the owner's start time is field 22 of `<proc>/PID/stat` (clock ticks after boot) plus the
//! boot time `btime` of `<proc>/stat`.
//!
//! Walking every process's fds is the costly part on a busy host, so it is bounded: processes
//! whose uid opened one of the sockets are visited first, the walk stops as soon as every wanted
//! inode is found, and at most [`MAX_PROCESSES`] processes and [`MAX_FDS`] fd links are looked at.
//! Without root, other users' fd directories cannot be read: those listeners are simply not found.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::host::procfs::{ProcPaths, read_listening};
use crate::host::proctable::{STAT_BUF, parse_stat, sysconf};
use crate::sanitize::sanitize;

use super::event::{Event, EventKind};

/// Processes whose fd directory is listed per scan, at most.
pub const MAX_PROCESSES: usize = 20_000;
/// fd links read per scan, at most: about 20 µs each (measured, debug build), so about 2 s at
/// worst. A proxy with 100k connections holds 100k socket fds, but those are the proxy's
/// workers, whose uid did not open the upstream's socket, so they come last.
pub const MAX_FDS: usize = 100_000;
/// LISTEN sockets on the wanted ports kept per scan: a few per upstream in any real table.
const MAX_SOCKETS: usize = 1024;
/// `<proc>/stat` is a few KiB (its `intr` line grows with the interrupt count); `btime` comes
/// after it, so a generous cap still bounds the read.
const MAX_PROC_STAT: u64 = 4 * 1024 * 1024;

/// A process listening on an upstream port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    pub addr: SocketAddr,
    /// The socket's inode: the same while the same socket listens.
    pub inode: u64,
    /// The lowest pid holding the socket (/proc lists pids in order, so with prefork servers
    /// this is usually the parent that bound it).
    pub pid: u32,
    /// Its command name (`comm`), sanitised.
    pub name: String,
    /// Unix seconds.
    pub started: i64,
}

/// What one scan found, with its cost.
#[derive(Clone, Debug, Default)]
pub struct ListenerScan {
    /// Every LISTEN address on the wanted ports, whether or not its process was found.
    pub sockets: Vec<SocketAddr>,
    /// The sockets whose process was found.
    pub listeners: Vec<Listener>,
    pub processes_visited: usize,
    pub fds_read: usize,
    /// Why nothing could be read at all (`<proc>/net/tcp` unreadable).
    pub error: Option<String>,
}

/// LISTEN sockets on any of `ports` in `<proc>/net/tcp` and `tcp6`, mapped to their process
/// through `<proc>/*/fd` (`socket:[inode]`), with the process start time.
pub fn listeners(proc_root: &Path, ports: &[u16]) -> Vec<Listener> {
    scan(proc_root, ports, None, &HashMap::new()).listeners
}

/// [`listeners`] with the sockets whose process was not found and the cost. `btime` is the
/// boot time when the caller already knows it.
/// `owners` are the pids that held each socket inode at the last scan: a socket still listening
/// under the same inode, its pid still alive with the same start time, is taken as still theirs,
/// and the walk over every process's fds (tens of milliseconds on a busy host) is skipped.
pub fn scan(
    proc_root: &Path,
    ports: &[u16],
    btime: Option<i64>,
    owners: &HashMap<u64, (u32, i64)>,
) -> ListenerScan {
    let mut out = ListenerScan::default();
    if ports.is_empty() {
        return out;
    }
    let sockets = match read_listening(&ProcPaths::new(proc_root), ports, MAX_SOCKETS) {
        Ok(sockets) => sockets,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    out.sockets = sockets.iter().map(|s| s.addr).collect();
    if sockets.is_empty() {
        return out;
    }
    let Some(btime) = btime.or_else(|| boot_time(proc_root)) else {
        out.error = Some(format!("{}: no btime", proc_root.join("stat").display()));
        return out;
    };
    let ticks = sysconf(libc::_SC_CLK_TCK, 100);
    let mut stats: HashMap<u32, Option<(String, i64)>> = HashMap::new();
    let still = sockets.iter().all(|s| {
        owners.get(&s.inode).is_some_and(|&(pid, started)| {
            let now = stats
                .entry(pid)
                .or_insert_with(|| process_start(proc_root, pid, btime, ticks));
            now.as_ref().is_some_and(|(_, t)| *t == started)
        })
    });
    let owners: HashMap<u64, u32> = if still {
        sockets
            .iter()
            .filter_map(|s| Some((s.inode, owners.get(&s.inode)?.0)))
            .collect()
    } else {
        let wanted: HashSet<u64> = sockets.iter().map(|s| s.inode).collect();
        let uids: HashSet<u32> = sockets.iter().map(|s| s.uid).collect();
        find_owners(proc_root, &wanted, &uids, &mut out)
    };
    for socket in &sockets {
        let Some(&pid) = owners.get(&socket.inode) else {
            continue;
        };
        let stat = stats
            .entry(pid)
            .or_insert_with(|| process_start(proc_root, pid, btime, ticks));
        if let Some((name, started)) = stat {
            out.listeners.push(Listener {
                port: socket.addr.port(),
                addr: socket.addr,
                inode: socket.inode,
                pid,
                name: name.clone(),
                started: *started,
            });
        }
    }
    out
}

/// The pid holding each wanted inode, visiting processes of the sockets' uids first.
fn find_owners(
    proc_root: &Path,
    wanted: &HashSet<u64>,
    uids: &HashSet<u32>,
    cost: &mut ListenerScan,
) -> HashMap<u64, u32> {
    let mut pids: Vec<(bool, u32)> = Vec::new();
    if let Ok(dir) = fs::read_dir(proc_root) {
        for entry in dir.flatten().take(MAX_PROCESSES * 2) {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            // The directory's owner is the process's effective uid (one fstatat, no read).
            let likely = entry.metadata().is_ok_and(|m| uids.contains(&m.uid()));
            pids.push((!likely, pid));
            if pids.len() >= MAX_PROCESSES {
                break;
            }
        }
    }
    pids.sort_unstable();
    let mut owners = HashMap::new();
    'processes: for (_, pid) in pids {
        if owners.len() == wanted.len() || cost.fds_read >= MAX_FDS {
            break;
        }
        cost.processes_visited += 1;
        let fd_dir = proc_root.join(pid.to_string()).join("fd");
        // Another user's process without root: not readable, so not found.
        let Ok(fds) = fs::read_dir(&fd_dir) else {
            continue;
        };
        for fd in fds.flatten() {
            cost.fds_read += 1;
            if cost.fds_read > MAX_FDS {
                break 'processes;
            }
            let Ok(link) = fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(inode) = socket_inode(link.as_os_str().as_encoded_bytes())
                && wanted.contains(&inode)
            {
                owners.entry(inode).or_insert(pid);
            }
        }
    }
    owners
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The process's name and start (unix seconds).
fn process_start(proc_root: &Path, pid: u32, btime: i64, ticks: i64) -> Option<(String, i64)> {
    let mut buf = Vec::with_capacity(STAT_BUF);
    File::open(proc_root.join(pid.to_string()).join("stat"))
        .ok()?
        .take(STAT_BUF as u64)
        .read_to_end(&mut buf)
        .ok()?;
    let stat = parse_stat(&buf)?;
    let after_boot = i64::try_from(stat.start / u64::try_from(ticks.max(1)).ok()?).ok()?;
    let name = sanitize(&String::from_utf8_lossy(stat.comm)).into_owned();
    Some((name, btime.checked_add(after_boot)?))
}

/// `btime N` of `<proc>/stat`: the boot time in unix seconds.
pub fn boot_time(proc_root: &Path) -> Option<i64> {
    let file = File::open(proc_root.join("stat")).ok()?;
    let mut reader = BufReader::new(file.take(MAX_PROC_STAT));
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        if let Some(rest) = line.strip_prefix(b"btime ") {
            return std::str::from_utf8(rest).ok()?.trim().parse().ok();
        }
    }
}

/// Watches the listeners of upstream ports for restarts and exits between calls.
pub struct ListenerWatch {
    proc_root: PathBuf,
    btime: Option<i64>,
    /// What the previous call saw, by address; `None` before the first call.
    known: Option<HashMap<SocketAddr, Listener>>,
}

impl ListenerWatch {
    pub fn new(proc_root: PathBuf) -> Self {
        ListenerWatch {
            proc_root,
            btime: None,
            known: None,
        }
    }

    /// First call: a `service_restart` for each listener whose process started within
    /// `since..=now`. Later calls: a listener whose pid or start time changed (at its new start),
    /// a new listener, and `service_exit` at `now` for an address of a wanted port that nothing
    /// listens on any more. A socket whose process was not found this time (the caps, a
    /// permission) is not taken for an exit: its last known process is kept.
    pub fn events(&mut self, ports: &[u16], since: i64, now: i64) -> Vec<Event> {
        if self.btime.is_none() {
            self.btime = boot_time(&self.proc_root);
        }
        let owners: HashMap<u64, (u32, i64)> = self
            .known
            .iter()
            .flat_map(|known| known.values())
            .map(|l| (l.inode, (l.pid, l.started)))
            .collect();
        let found = scan(&self.proc_root, ports, self.btime, &owners);
        if found.error.is_some() && found.sockets.is_empty() {
            // Nothing could be read: no basis to say anything stopped.
            return Vec::new();
        }
        let source = self.proc_root.display().to_string();
        let mut events = Vec::new();
        // gatewatch itself listening there (its demo's upstreams) is no upstream service.
        let own = std::process::id();
        let mut current: HashMap<SocketAddr, Listener> = found
            .listeners
            .into_iter()
            .filter(|l| l.pid != own)
            .map(|l| (l.addr, l))
            .collect();
        let Some(previous) = self.known.take() else {
            for l in current.values() {
                if (since..=now).contains(&l.started) {
                    events.push(started(l, &source));
                }
            }
            self.known = Some(current);
            events.sort_by_key(|e| e.at);
            return events;
        };
        for l in current.values() {
            match previous.get(&l.addr) {
                Some(old) if (old.pid, old.started) != (l.pid, l.started) => {
                    let text = format!(
                        "{} (pid {}) listening on {} restarted: pid {} -> {}",
                        l.name, l.pid, l.addr, old.pid, l.pid
                    );
                    events.push(Event::new(
                        l.started,
                        EventKind::ServiceRestart,
                        &source,
                        &text,
                    ));
                }
                Some(_) => {}
                None => events.push(started(l, &source)),
            }
        }
        for (addr, old) in previous {
            if current.contains_key(&addr) || !ports.contains(&addr.port()) {
                continue;
            }
            if found.sockets.contains(&addr) {
                current.insert(addr, old);
                continue;
            }
            let text = format!(
                "nothing listens on {addr} any more (was {} pid {})",
                old.name, old.pid
            );
            events.push(Event::new(now, EventKind::ServiceExit, &source, &text));
        }
        self.known = Some(current);
        events.sort_by_key(|e| e.at);
        events
    }
}

fn started(l: &Listener, source: &str) -> Event {
    let text = format!("{} (pid {}) listening on {} started", l.name, l.pid, l.addr);
    Event::new(l.started, EventKind::ServiceRestart, source, &text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake /proc: one v4 listener on 8001 (inode 111, pid 40) and one v6 on 8002 (inode 222,
    /// pid 50, not findable), plus an established socket on 8001 that must be ignored.
    fn fake_proc(dir: &Path, pid_for_111: u32, start_ticks: u64) {
        fs::create_dir_all(dir.join("net")).unwrap();
        fs::write(
            dir.join("net/tcp"),
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n\
             1: 0100007F:1F41 0100007F:D000 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0\n\
             2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 444 1 0 100 0 0 10 0\n\
             garbage \x1b[2J\n",
        )
        .unwrap();
        fs::write(
            dir.join("net/tcp6"),
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: 00000000000000000000000001000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0\n",
        )
        .unwrap();
        fs::write(
            dir.join("stat"),
            "cpu  1 2 3\nintr 5 6 7\nbtime 1700000000\nprocesses 9\n",
        )
        .unwrap();
        let _ = fs::remove_dir_all(dir.join("40"));
        let _ = fs::remove_dir_all(dir.join("41"));
        let pid_dir = dir.join(pid_for_111.to_string());
        fs::create_dir_all(pid_dir.join("fd")).unwrap();
        symlink("/dev/null", pid_dir.join("fd/0")).unwrap();
        symlink("socket:[999]", pid_dir.join("fd/3")).unwrap();
        symlink("socket:[111]", pid_dir.join("fd/4")).unwrap();
        // comm is hostile; field 22 is the start in ticks after boot.
        fs::write(
            pid_dir.join("stat"),
            format!(
                "{pid_for_111} (py\x1b[31m) 3) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 {start_ticks} 1000 10 0\n"
            ),
        )
        .unwrap();
        // pid 50 holds 222 but its fd directory cannot be listed (as for another user's process).
        fs::create_dir_all(dir.join("50")).unwrap();
        fs::write(dir.join("self"), "not a pid").unwrap();
    }

    fn ticks() -> i64 {
        sysconf(libc::_SC_CLK_TCK, 100)
    }

    #[test]
    fn listeners_are_mapped_to_their_process_and_start_time() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 40, 500 * ticks() as u64);
        let found = scan(dir.path(), &[8001, 8002], None, &HashMap::new());
        assert_eq!(found.sockets.len(), 2, "{found:?}");
        assert_eq!(found.listeners.len(), 1);
        let l = &found.listeners[0];
        assert_eq!(l.addr, "127.0.0.1:8001".parse().unwrap());
        assert_eq!((l.port, l.pid, l.started), (8001, 40, 1_700_000_500));
        assert_eq!(l.name, "py\\x1b[31m) 3");
        // 8080 listens (inode 444) but no process holds it: a socket, no listener.
        assert_eq!(
            scan(dir.path(), &[8080], None, &HashMap::new())
                .sockets
                .len(),
            1
        );
        assert!(listeners(dir.path(), &[8080]).is_empty());
        assert!(listeners(dir.path(), &[9999]).is_empty());
        assert!(listeners(dir.path(), &[]).is_empty());
    }

    #[test]
    fn socket_links_parse_strictly() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        for bad in [
            &b"socket:[]"[..],
            b"socket:[12a]",
            b"pipe:[1]",
            b"socket:[1",
            b"",
        ] {
            assert_eq!(socket_inode(bad), None);
        }
    }

    #[test]
    fn watch_reports_start_restart_and_exit_once() {
        let dir = tempfile::tempdir().unwrap();
        let t = ticks() as u64;
        fake_proc(dir.path(), 40, 500 * t);
        let mut watch = ListenerWatch::new(dir.path().to_path_buf());
        let first = watch.events(&[8001], 1_700_000_400, 1_700_000_600);
        assert_eq!(first.len(), 1, "{first:?}");
        assert_eq!(first[0].kind, EventKind::ServiceRestart);
        assert_eq!(first[0].at, 1_700_000_500);
        assert_eq!(
            first[0].text,
            "py\\x1b[31m) 3 (pid 40) listening on 127.0.0.1:8001 started"
        );
        // Unchanged: nothing.
        assert!(watch.events(&[8001], 0, 1_700_000_700).is_empty());
        // Restarted as pid 41.
        fake_proc(dir.path(), 41, 650 * t);
        let restarted = watch.events(&[8001], 0, 1_700_000_700);
        assert_eq!(restarted.len(), 1, "{restarted:?}");
        assert_eq!(restarted[0].at, 1_700_000_650);
        assert!(restarted[0].text.ends_with("restarted: pid 40 -> 41"));
        // The listener's process cannot be found (but the socket is there): no exit.
        fs::remove_dir_all(dir.path().join("41")).unwrap();
        assert!(watch.events(&[8001], 0, 1_700_000_800).is_empty());
        // The socket is gone: one exit, then nothing more.
        fs::write(dir.path().join("net/tcp"), "  sl  local_address\n").unwrap();
        let gone = watch.events(&[8001], 0, 1_700_000_900);
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert_eq!(
            (gone[0].kind, gone[0].at),
            (EventKind::ServiceExit, 1_700_000_900)
        );
        assert_eq!(
            gone[0].text,
            "nothing listens on 127.0.0.1:8001 any more (was py\\x1b[31m) 3 pid 41)"
        );
        assert!(watch.events(&[8001], 0, 1_700_001_000).is_empty());
    }

    #[test]
    fn a_first_call_outside_the_window_says_nothing_and_a_missing_proc_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 40, 10 * ticks() as u64);
        let mut watch = ListenerWatch::new(dir.path().to_path_buf());
        assert!(
            watch
                .events(&[8001], 1_700_000_400, 1_700_000_600)
                .is_empty()
        );
        let mut missing = ListenerWatch::new(dir.path().join("nope"));
        assert!(missing.events(&[8001], 0, 1).is_empty());
        assert!(
            scan(&dir.path().join("nope"), &[8001], None, &HashMap::new())
                .error
                .is_some()
        );
    }
}
