//! The process list, read from /proc the way htop does: one `stat` read per process per sample,
//! the owner from the /proc/PID directory and the command line only when a process is new.
//!
//! sysinfo's process refresh also reads /proc/PID/status for every process on every refresh
//! (about 22 system calls a process); on a proxy host with a thousand php-fpm workers that made
//! gatewatch cost more CPU than htop. CPU, memory and load still come from sysinfo.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::ProcessRow;
use super::processes::{MAX_COMMAND_CHARS, UserNames};
use crate::sanitize::sanitize;

/// /proc/PID/stat is a few hundred bytes; a comm of 15 bytes cannot make it longer than this.
pub(crate) const STAT_BUF: usize = 1024;
/// argv bytes read per new process: enough for [`MAX_COMMAND_CHARS`] characters.
const CMDLINE_BYTES: usize = MAX_COMMAND_CHARS * 4;

struct Known {
    /// Clock ticks since boot at which the process started: a pid reused by a new process has
    /// a different one, so its counters are not mixed with the old one's.
    start: u64,
    ticks: u64,
    uid: u32,
    command: String,
}

pub(crate) struct ProcessTable {
    root: PathBuf,
    known: HashMap<u32, Known>,
    last: Option<Instant>,
    buf: Vec<u8>,
    ticks_per_sec: f64,
    page_size: u64,
}

/// The fields of /proc/PID/stat the table uses.
#[derive(Debug, PartialEq)]
pub(crate) struct Stat<'a> {
    pub(crate) comm: &'a [u8],
    pub(crate) ticks: u64,
    /// Clock ticks after boot at which the process started (field 22).
    pub(crate) start: u64,
    pub(crate) rss_pages: u64,
}

/// Parses /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
/// parentheses, so fields are counted from the last ')'.
pub(crate) fn parse_stat(text: &[u8]) -> Option<Stat<'_>> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = text.get(open + 1..close)?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the comm: state is field 3 of the man page, so field N is at index N - 3.
    let num = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        comm,
        ticks: num(14)?.saturating_add(num(15)?),
        start: num(22)?,
        rss_pages: num(24)?,
    })
}

/// argv as ps shows it (NULs become spaces), or `[comm]` for a kernel thread.
fn command_line(cmdline: &[u8], comm: &[u8]) -> String {
    let trimmed = cmdline.strip_suffix(&[0]).unwrap_or(cmdline);
    let bytes: Vec<u8> = if trimmed.is_empty() {
        [b"[".as_slice(), comm, b"]"].concat()
    } else {
        trimmed
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect()
    };
    let text = String::from_utf8_lossy(&bytes);
    let clean = sanitize(&text);
    let cut = cmdline.len() >= CMDLINE_BYTES || clean.chars().count() > MAX_COMMAND_CHARS;
    if !cut {
        return clean.into_owned();
    }
    let mut out: String = clean.chars().take(MAX_COMMAND_CHARS - 1).collect();
    out.push('…');
    out
}

pub(crate) fn sysconf(name: libc::c_int, fallback: i64) -> i64 {
    // SAFETY: sysconf takes a constant and has no other effect.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 { v } else { fallback }
}

impl ProcessTable {
    pub(crate) fn new(root: &Path) -> Self {
        ProcessTable {
            root: root.to_path_buf(),
            known: HashMap::new(),
            last: None,
            buf: Vec::with_capacity(STAT_BUF),
            ticks_per_sec: sysconf(libc::_SC_CLK_TCK, 100) as f64,
            page_size: sysconf(libc::_SC_PAGESIZE, 4096) as u64,
        }
    }

    /// Whether a previous reading exists for CPU % to be measured against.
    pub(crate) fn is_primed(&self) -> bool {
        self.last.is_some()
    }

    /// Every process now, sorted by pid, with CPU % (of one core) since the previous call. The
    /// first call has no previous one, so every process shows 0% (as top does on its first frame).
    pub(crate) fn refresh(&mut self, user_name: &mut impl FnMut(u32) -> String) -> Vec<ProcessRow> {
        let now = Instant::now();
        let elapsed = self
            .last
            .map(|t| now.duration_since(t).as_secs_f64())
            .filter(|e| *e > 0.0);
        self.last = Some(now);
        let Ok(dir) = fs::read_dir(&self.root) else {
            self.known.clear();
            return Vec::new();
        };
        let mut seen = HashMap::with_capacity(self.known.len());
        let mut rows = Vec::with_capacity(self.known.len());
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // A process that exits between the listing and the read is simply not shown.
            if let Some((row, known)) = self.read_one(pid, elapsed, user_name) {
                rows.push(row);
                seen.insert(pid, known);
            }
        }
        self.known = seen;
        rows.sort_unstable_by_key(|r| r.pid);
        rows
    }

    fn read_one(
        &mut self,
        pid: u32,
        elapsed: Option<f64>,
        user_name: &mut impl FnMut(u32) -> String,
    ) -> Option<(ProcessRow, Known)> {
        let dir = self.root.join(pid.to_string());
        self.buf.clear();
        File::open(dir.join("stat"))
            .ok()?
            .take(STAT_BUF as u64)
            .read_to_end(&mut self.buf)
            .ok()?;
        let stat = parse_stat(&self.buf)?;
        let previous = self.known.remove(&pid).filter(|k| k.start == stat.start);
        let cpu = match (&previous, elapsed) {
            (Some(p), Some(secs)) => {
                (stat.ticks.saturating_sub(p.ticks) as f64 / self.ticks_per_sec / secs * 100.0)
                    as f32
            }
            _ => 0.0,
        };
        let (uid, command) = match previous {
            Some(p) => (p.uid, p.command),
            None => {
                // The directory belongs to the effective uid, as top and ps show it.
                let uid = fs::metadata(&dir).ok()?.uid();
                let mut argv = Vec::new();
                if let Ok(f) = File::open(dir.join("cmdline")) {
                    let _ = f.take(CMDLINE_BYTES as u64).read_to_end(&mut argv);
                }
                (uid, command_line(&argv, stat.comm))
            }
        };
        let row = ProcessRow {
            pid,
            user: user_name(uid),
            cpu,
            mem: stat.rss_pages.saturating_mul(self.page_size),
            command: command.clone(),
        };
        Some((
            row,
            Known {
                start: stat.start,
                ticks: stat.ticks,
                uid,
                command,
            },
        ))
    }
}

/// Resolves uids through [`UserNames`], reloading the user list at most as often as it allows.
pub(crate) fn user_namer<'a>(
    names: &'a mut UserNames,
    users: Option<&'a mut sysinfo::Users>,
) -> impl FnMut(u32) -> String + 'a {
    let now = Instant::now();
    let mut users = users;
    move |uid| {
        names.name(uid, now, || {
            super::processes::load_users(users.as_deref_mut())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = b"4242 (evil) (name) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 987654 12345678 2560 18446744073709551615";
        let s = parse_stat(line).expect("parses");
        assert_eq!(s.comm, b"evil) (name) 1");
        assert_eq!(s.ticks, 300);
        assert_eq!(s.start, 987654);
        assert_eq!(s.rss_pages, 2560);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (x) S 1 2"), None);
        assert_eq!(parse_stat(b"\xff\xfe (\x1b) \xff"), None);
    }

    #[test]
    fn command_lines_are_joined_sanitised_and_capped() {
        assert_eq!(
            command_line(b"nginx: worker process\0", b"nginx"),
            "nginx: worker process"
        );
        assert_eq!(
            command_line(b"php\0-r\0echo 1;\0", b"php"),
            "php -r echo 1;"
        );
        assert_eq!(command_line(b"", b"kworker/0:1"), "[kworker/0:1]");
        assert_eq!(
            command_line(b"x\x1b]0;pwned\x07\0", b"x"),
            "x\\x1b]0;pwned\\x07"
        );
        let long = vec![b'a'; CMDLINE_BYTES];
        let shown = command_line(&long, b"a");
        assert_eq!(shown.chars().count(), MAX_COMMAND_CHARS);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn reads_this_process_and_measures_its_cpu() {
        let mut table = ProcessTable::new(Path::new("/proc"));
        let mut name = |uid: u32| uid.to_string();
        table.refresh(&mut name);
        let busy_until = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < busy_until {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let rows = table.refresh(&mut name);
        let me = rows
            .iter()
            .find(|r| r.pid == std::process::id())
            .expect("this process is listed");
        assert!(me.cpu > 20.0, "a busy loop should show, got {}%", me.cpu);
        assert!(me.mem > 0);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(me.user, unsafe { libc::geteuid() }.to_string());
        assert!(rows.windows(2).all(|w| w[0].pid < w[1].pid));
    }
}
