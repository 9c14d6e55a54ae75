//! OOM kills and segfaults from the kernel log, in the two forms gatewatch can read it:
//!
//! - `/dev/kmsg` records, `6,1234,5678901234,-;text`: priority, sequence, microseconds since
//!   boot, flags, then the message (continuation lines, which start with a space, carry
//!   key=value metadata and are skipped). The boot time is the caller's, so this is testable.
//! - `journalctl -k -o short-iso`: `2026-12-01T14:02:03+0000 web1 kernel: text`.
//!
//! One OOM kill is reported on two lines (`oom-kill:...,task=NAME,pid=N` then `Out of memory:
//! Killed process N (NAME) ...`); both give the same text, so [`super::Events`] folds them.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::actions;
use crate::config::Argv;
use crate::logs::{Clock, TimeParser, peel};

use super::event::{Event, EventKind};

/// Where kernel events say they came from.
pub const SOURCE: &str = "kernel";

/// Records read from `/dev/kmsg` at most per call: the kernel's ring holds a few thousand.
pub const MAX_KMSG_RECORDS: usize = 20_000;

/// Unix time of boot on the clock `/dev/kmsg` stamps records with (CLOCK_MONOTONIC): the wall
/// clock now minus the monotonic clock now.
pub fn boot_time() -> io::Result<i64> {
    let mut mono = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `mono` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let now = jiff::Timestamp::now().as_second();
    Ok(now - mono.tv_sec)
}

/// The events in the kernel's ring as `/dev/kmsg` (at `path`) gives it now, oldest first (see
/// [`Kmsg`]).
pub fn read_kmsg(path: &Path, boot: i64, max_records: usize) -> io::Result<Vec<Event>> {
    Kmsg::open(path)?.read(boot, max_records)
}

/// `/dev/kmsg` kept open: each reader has its own place in the ring, so a later read gives only
/// the records logged since (a dashboard reads the ring once, then what is new).
pub struct Kmsg {
    file: std::fs::File,
}

impl Kmsg {
    /// Opened non-blocking. A character device is required (a regular file there is not the
    /// kernel's log).
    pub fn open(path: &Path) -> io::Result<Kmsg> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        if !file.metadata()?.file_type().is_char_device() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a character device",
            ));
        }
        Ok(Kmsg { file })
    }

    /// The events of the records not read yet, oldest first: one record per read until the
    /// ring is drained or `max_records` were read.
    pub fn read(&mut self, boot: i64, max_records: usize) -> io::Result<Vec<Event>> {
        // A read shorter than a record fails with EINVAL; records are at most about 1 KiB of
        // text plus their metadata, well under this.
        let mut buf = vec![0u8; 16 * 1024];
        let mut events = Vec::new();
        for _ in 0..max_records {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    // The first line is the record; continuation lines carry its metadata.
                    let first = record.lines().next().unwrap_or("");
                    events.extend(from_kmsg(first, boot));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // The record was overwritten while we read: the next read gives the next one.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(events)
    }
}

/// The event in one `/dev/kmsg` record; `boot` is the unix time of boot (e.g. now minus
/// `/proc/uptime`).
pub fn from_kmsg(record: &str, boot: i64) -> Option<Event> {
    let (head, text) = record.split_once(';')?;
    let mut fields = head.split(',');
    let _priority = fields.next()?.parse::<u32>().ok()?;
    let _sequence = fields.next()?.parse::<u64>().ok()?;
    let micros = fields.next()?.parse::<i64>().ok()?;
    let (kind, text) = message(text)?;
    Some(Event::new(
        boot.saturating_add(micros / 1_000_000),
        kind,
        SOURCE,
        &text,
    ))
}

/// The event in one line of `journalctl -k -o short-iso` (or any RFC 3339 / syslog prefixed
/// kernel line).
pub fn from_journal(line: &str, times: &mut TimeParser) -> Option<Event> {
    let peeled = peel(line, |body| message(body).is_some())?;
    let (clock, stamp): (Clock, &str) = peeled.stamp?;
    let at = times.parse(clock, stamp)?;
    let (kind, text) = message(peeled.body)?;
    Some(Event::new(at, kind, SOURCE, &text))
}

/// Lines of `journalctl -k` read at most per call.
pub const MAX_JOURNAL_LINES: usize = 20_000;

/// The kernel's events since `since` (unix seconds) as the journal kept them: `journalctl -k -o
/// short-iso --since @SINCE`, run as `program` (an argv, never a shell), killed after `timeout`,
/// at most [`MAX_JOURNAL_LINES`] read. For a host where `/dev/kmsg` cannot be read (not root
/// under `kernel.dmesg_restrict`, a container without it) but the journal can.
pub fn journal_events(program: &str, since: i64, timeout: Duration) -> Result<Vec<Event>, String> {
    let argv = Argv(vec![
        program.to_owned(),
        "-k".to_owned(),
        "-o".to_owned(),
        "short-iso".to_owned(),
        "--no-pager".to_owned(),
        "-q".to_owned(),
        "--since".to_owned(),
        format!("@{since}"),
    ]);
    let stop = AtomicBool::new(false);
    let mut times = TimeParser::default();
    let (mut events, mut read) = (Vec::new(), 0usize);
    let (exit, _) = actions::run(&argv, timeout, &stop, &mut |lines| {
        for line in lines {
            read += 1;
            if read <= MAX_JOURNAL_LINES {
                events.extend(from_journal(&line, &mut times));
            }
        }
    });
    if exit.success() {
        Ok(events)
    } else {
        Err(format!("{program} -k: {exit}"))
    }
}

/// The kind and our text for a kernel message.
fn message(m: &str) -> Option<(EventKind, String)> {
    // Older kernels: `Out of memory: Kill process`; cgroups: `Memory cgroup out of memory: ...`.
    for lead in [
        "Out of memory: Killed process ",
        "Out of memory: Kill process ",
        "Memory cgroup out of memory: Killed process ",
        "Memory cgroup out of memory: Kill process ",
    ] {
        if let Some(rest) = m.strip_prefix(lead) {
            let (pid, rest) = rest.split_once(' ')?;
            let name = rest.strip_prefix('(')?.split_once(')')?.0;
            return Some((EventKind::OomKill, oom_text(name, pid.parse().ok()?)));
        }
    }
    if let Some(fields) = m.strip_prefix("oom-kill:") {
        // `constraint=CONSTRAINT_NONE,...,task=php-fpm8.2,pid=1234,uid=33`: the task name may
        // hold a comma, so the pid is the field after the last `,pid=`.
        let task_at = fields.find(",task=")? + ",task=".len();
        let pid_at = fields.rfind(",pid=")?;
        let name = fields.get(task_at..pid_at)?;
        let pid = fields[pid_at + ",pid=".len()..].split(',').next()?;
        return Some((EventKind::OomKill, oom_text(name, pid.parse().ok()?)));
    }
    segfault(m)
}

fn oom_text(name: &str, pid: u32) -> String {
    format!("{name} (pid {pid}) killed by the OOM killer")
}

/// `php-fpm8.2[1234]: segfault at 0 ip 00007f.. sp 00007ff.. error 4 in libc.so.6[7f..+1000]`:
/// a process crashed. Whether it was a proxy worker or an upstream is for the caller to tell
/// from the name; here it is a service exit.
fn segfault(m: &str) -> Option<(EventKind, String)> {
    let (who, rest) = m.split_once("]: segfault at ")?;
    let (name, pid) = who.rsplit_once('[')?;
    let pid: u32 = pid.parse().ok()?;
    if name.is_empty() {
        return None;
    }
    let object = rest
        .split_once(" in ")
        .map(|(_, lib)| lib.split('[').next().unwrap_or(lib))
        .filter(|lib| !lib.is_empty());
    let text = match object {
        Some(lib) => format!("{name} (pid {pid}) crashed: segfault in {lib}"),
        None => format!("{name} (pid {pid}) crashed: segfault"),
    };
    Some((EventKind::ServiceExit, text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    const BOOT: i64 = 1_796_000_000;

    #[test]
    fn kmsg_oom_kill_both_lines_give_one_text() {
        let a = from_kmsg("6,2201,5000123456,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=4321,uid=33", BOOT).unwrap();
        let b = from_kmsg("3,2202,5000123999,-;Out of memory: Killed process 4321 (php-fpm8.2) total-vm:812340kB, anon-rss:501234kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1200kB oom_score_adj:0", BOOT).unwrap();
        assert_eq!(a.kind, EventKind::OomKill);
        assert_eq!(a.at, BOOT + 5000);
        assert_eq!(a.text, "php-fpm8.2 (pid 4321) killed by the OOM killer");
        assert_eq!((b.kind, b.at, &b.text), (a.kind, a.at, &a.text));
        assert_eq!(a.source, "kernel");
        let mut events = super::super::Events::default();
        events.push(a, BOOT + 6000);
        events.push(b, BOOT + 6000);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn kmsg_segfault_and_older_oom_wording() {
        let e = from_kmsg("6,17,42000000,-;php-fpm8.2[977]: segfault at 18 ip 00007f3a1c2b3c4d sp 00007ffd5e6f7a80 error 4 in libphp.so[7f3a1c000000+400000] likely on CPU 1 (core 1, socket 0)", BOOT).unwrap();
        assert_eq!((e.kind, e.at), (EventKind::ServiceExit, BOOT + 42));
        assert_eq!(
            e.text,
            "php-fpm8.2 (pid 977) crashed: segfault in libphp.so"
        );
        let old = from_kmsg(
            "3,18,1,-;Out of memory: Kill process 55 (java) score 900 or sacrifice child",
            BOOT,
        )
        .unwrap();
        assert_eq!(old.text, "java (pid 55) killed by the OOM killer");
        let cg = from_kmsg(
            "3,19,1,-;Memory cgroup out of memory: Killed process 56 (node) total-vm:1kB",
            BOOT,
        )
        .unwrap();
        assert_eq!(cg.text, "node (pid 56) killed by the OOM killer");
    }

    #[test]
    fn journal_short_iso_lines() {
        let mut times = TimeParser::new(TimeZone::UTC);
        let e = from_journal("2026-12-01T14:02:03+0000 web1 kernel: Out of memory: Killed process 4321 (php-fpm8.2) total-vm:1kB", &mut times).unwrap();
        assert_eq!((e.kind, e.at), (EventKind::OomKill, 1_796_133_723));
        let e = from_journal(
            "2026-12-01T15:02:03+01:00 web1 kernel: gunicorn[88]: segfault at 0 ip 0 sp 0 error 6",
            &mut times,
        )
        .unwrap();
        assert_eq!(
            (e.at, e.text.as_str()),
            (1_796_133_723, "gunicorn (pid 88) crashed: segfault")
        );
    }

    #[test]
    fn near_misses_are_not_events() {
        let mut times = TimeParser::new(TimeZone::UTC);
        for record in [
            " SUBSYSTEM=memory",
            "6,1,2,-;oom_reaper: reaped process 4321 (php-fpm8.2), now anon-rss:0kB",
            "6,1,2,-;php-fpm8.2 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE)",
            "6,1,2,-;audit: type=1400 comm=\"x\" name=\"Out of memory: Killed process 1 (a)\"",
            "6,1,2,-;Out of memory: Killed process notapid (a)",
            "6,1,2,-;app[x]: segfault at 0",
            "x,1,2,-;Out of memory: Killed process 1 (a)",
            "6,1,2-;Out of memory: Killed process 1 (a)",
        ] {
            assert_eq!(from_kmsg(record, BOOT), None, "{record}");
        }
        // A user's log line quoting the kernel, not at the start of the message.
        assert_eq!(
            from_journal(
                "2026-12-01T14:02:03+0000 web1 app[5]: saw Out of memory: Killed process 1 (a)",
                &mut times
            ),
            None
        );
        assert_eq!(
            from_journal("Out of memory: Killed process 1 (a)", &mut times),
            None
        );
    }

    #[test]
    fn hostile_bytes_long_and_truncated_records_do_not_panic() {
        let e = from_kmsg(
            &format!(
                "3,1,1,-;Out of memory: Killed process 9 (\x1b[2J{}) x",
                "a".repeat(16 * 1024)
            ),
            BOOT,
        )
        .unwrap();
        assert!(!e.text.chars().any(char::is_control));
        assert!(e.text.chars().count() < 400);
        let invalid =
            String::from_utf8_lossy(b"3,1,1,-;Out of memory: Killed process 9 (\xff\xfe) x")
                .into_owned();
        assert!(from_kmsg(&invalid, BOOT).is_some());
        let huge = from_kmsg(
            "3,1,99999999999999999999,-;Out of memory: Killed process 9 (a) x",
            BOOT,
        );
        assert_eq!(huge, None);
        let max = from_kmsg(
            &format!("3,1,{},-;Out of memory: Killed process 9 (a) x", i64::MAX),
            i64::MAX,
        )
        .unwrap();
        assert_eq!(max.at, i64::MAX);
        let full = "3,2202,5000123999,-;oom-kill:constraint=CONSTRAINT_NONE,task=php-fpm8.2,pid=4321,uid=33";
        for cut in 0..full.len() {
            let _ = from_kmsg(&full[..cut], BOOT);
        }
        let seg = "2026-12-01T14:02:03+0000 web1 kernel: gunicorn[88]: segfault at 0 ip 0 sp 0 error 6 in x[1+2]";
        let mut times = TimeParser::new(TimeZone::UTC);
        for cut in 0..seg.len() {
            let _ = from_journal(&seg[..cut], &mut times);
        }
    }
}
