//! The timeline's host sources against the real things: config files on disk (with a FIFO and
//! symlinks among them), a real upstream process restarted on its port and read back through the
//! real /proc, and `systemctl show` through stand-in scripts (CI has no running systemd).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::nginx::free_port;
use common::require_tool;
use gatewatch::timeline::config_files::ConfigWatch;
use gatewatch::timeline::listeners::{self, ListenerWatch};
use gatewatch::timeline::systemd::{self, SHOW_PROPERTIES};
use gatewatch::timeline::{Event, EventKind};
use upstreams::ChildServer;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn set_mtime(path: &Path, unix: i64) {
    let when = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap());
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit` (a read that blocks
/// on a FIFO would otherwise hang the suite rather than fail it).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

fn texts(events: &[Event]) -> Vec<(EventKind, String)> {
    events.iter().map(|e| (e.kind, e.text.clone())).collect()
}

#[test]
fn config_files_modified_and_edited_while_watched() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let start = now();
    let old = conf("nginx.conf", "include conf.d/*.conf;\n");
    set_mtime(&old, start - 86_400);
    let recent = conf("app.conf", "upstream app { server 127.0.0.1:8001; }\n");
    set_mtime(&recent, start - 60);
    let edited = conf("edited.conf", "proxy_read_timeout 30s;\n");
    set_mtime(&edited, start - 7_200);
    let fifo = dir.path().join("fifo.conf");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let to_device = dir.path().join("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &to_device).unwrap();
    let to_old = dir.path().join("link.conf");
    std::os::unix::fs::symlink(&old, &to_old).unwrap();
    let files = vec![
        old.clone(),
        recent.clone(),
        edited.clone(),
        fifo.clone(),
        to_device.clone(),
        to_old,
    ];

    let (mut watch, first) = within(Duration::from_secs(5), move || {
        let mut watch = ConfigWatch::new(&files);
        let first = watch.events(start - 3_600, start);
        (watch, first)
    });
    assert_eq!(
        texts(&first),
        [(
            EventKind::ConfigChange,
            format!("modified {}", recent.display())
        )]
    );
    assert_eq!(first[0].at, start - 60);
    assert_eq!(
        watch.errors(),
        [
            format!("{}: a FIFO, not a regular file", fifo.display()),
            format!(
                "{}: a character device, not a regular file",
                to_device.display()
            ),
        ]
    );

    // Edited while watched, the way an editor saves: written, mtime now.
    fs::write(&edited, "proxy_read_timeout 1s;\n").unwrap();
    let saved = now();
    let (watch, second) = within(Duration::from_secs(5), move || {
        let second = watch.events(start - 3_600, saved);
        (watch, second)
    });
    assert_eq!(
        texts(&second),
        [(
            EventKind::ConfigChange,
            format!("changed while watched: {}", edited.display())
        )]
    );
    assert!((saved - 2..=saved).contains(&second[0].at), "{second:?}");
    // Each change once.
    let mut watch = watch;
    assert!(watch.events(start - 3_600, now()).is_empty());
}

/// Children killed however the test ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_real_upstream_process_restarted_on_its_port() {
    let port = free_port();
    let since = now() - 5;
    let first = ChildServer::start(port);
    let first_pid = first.pid();
    let mut watch = ListenerWatch::new(PathBuf::from("/proc"));

    let started = watch.events(&[port], since, now());
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].kind, EventKind::ServiceRestart);
    let expected = format!("(pid {first_pid}) listening on 127.0.0.1:{port} started");
    assert!(started[0].text.ends_with(&expected), "{started:?}");
    assert!(started[0].text.starts_with("php"), "{started:?}");
    assert!((since..=now()).contains(&started[0].at));
    assert!(watch.events(&[port], since, now()).is_empty());

    // Killed, with nothing listening: an exit, once.
    drop(first);
    let gone_at = now();
    let gone = watch.events(&[port], since, gone_at);
    assert_eq!(
        texts(&gone),
        [(
            EventKind::ServiceExit,
            format!("nothing listens on 127.0.0.1:{port} any more (was php8.2 pid {first_pid})")
        )]
    );
    assert_eq!(gone[0].at, gone_at);
    assert!(watch.events(&[port], since, now()).is_empty());

    // A new one on the same port: seen as started, and restarted once more with the old pid.
    let second = ChildServer::start(port);
    let back = watch.events(&[port], since, now());
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].text.contains(&format!("(pid {}) ", second.pid())));
    let second_start = back[0].at;
    drop(second);
    let third = ChildServer::start(port);
    let restarted = watch.events(&[port], since, now());
    assert_eq!(restarted.len(), 1, "{restarted:?}");
    let third_pid = third.pid();
    let old_pid = back[0].text.split("(pid ").nth(1).unwrap();
    let old_pid = old_pid.split(')').next().unwrap();
    assert!(
        restarted[0]
            .text
            .ends_with(&format!("restarted: pid {old_pid} -> {third_pid}")),
        "{restarted:?}"
    );
    assert!(restarted[0].at >= second_start && restarted[0].at <= now());
    // The real start time: /proc/PID/stat's field 22 agrees with what the listener says.
    let found = listeners::listeners(Path::new("/proc"), &[port]);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].pid, found[0].started),
        (third_pid, restarted[0].at)
    );
}

#[test]
fn the_fd_walk_is_bounded_with_500_more_processes() {
    let mut sleepers = Children(Vec::new());
    for _ in 0..500 {
        sleepers.0.push(
            Command::new("sleep")
                .arg("120")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    // The server starts after them, so its pid is past theirs and the walk has to go by them.
    let port = free_port();
    let server = ChildServer::start(port);
    let t = Instant::now();
    let found = listeners::scan(Path::new("/proc"), &[port], None, &Default::default());
    let took = t.elapsed();
    eprintln!(
        "fd walk: {} processes, {} fd links, {took:?}",
        found.processes_visited, found.fds_read
    );
    assert_eq!(found.listeners.len(), 1);
    assert_eq!(found.listeners[0].pid, server.pid());
    let highest_sleeper = sleepers.0.iter().map(Child::id).max().unwrap();
    if server.pid() > highest_sleeper {
        // (Unless the pids wrapped around in between.)
        assert!(found.processes_visited >= 500, "{found:?}");
    }
    assert!(took < Duration::from_secs(2), "{took:?}");
    // The next look, told who held the socket: no walk while the same socket and process last.
    let l = &found.listeners[0];
    let owners = [(l.inode, (l.pid, l.started))].into_iter().collect();
    let again = listeners::scan(Path::new("/proc"), &[port], None, &owners);
    assert_eq!(again.listeners, found.listeners);
    assert_eq!(again.processes_visited, 0, "{again:?}");
    // Told a stale owner (another start time): the walk finds the real one again.
    let stale = [(l.inode, (l.pid, l.started - 100))].into_iter().collect();
    let walked = listeners::scan(Path::new("/proc"), &[port], None, &stale);
    assert_eq!(walked.listeners, found.listeners);
    assert!(walked.processes_visited > 0, "{walked:?}");
    // Nothing listening on the port: every process is visited, still bounded.
    drop(server);
    let t = Instant::now();
    let none = listeners::scan(Path::new("/proc"), &[port], None, &Default::default());
    assert!(none.listeners.is_empty() && none.sockets.is_empty());
    assert_eq!(none.processes_visited, 0, "no socket, no walk");
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// A stand-in `systemctl` in `dir`: logs its argv to `args.log`, then runs `body`.
fn fake_systemctl(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let log = dir.join(format!("{name}.args"));
    fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n{body}\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn systemd_units_through_a_stand_in_systemctl() {
    let dir = tempfile::tempdir().unwrap();
    let at = now() - 30;
    let good = fake_systemctl(
        dir.path(),
        "good",
        &format!(
            "case \"$*\" in\n\
             *app.service*) printf 'ActiveEnterTimestamp=@{at}\\nExecMainStartTimestamp=@{at}\\nExecMainExitTimestamp=\\nExecMainStatus=0\\nExecMainCode=0\\nNRestarts=3\\nResult=success\\nActiveState=active\\n' ;;\n\
             *worker.service*) printf 'ExecMainStartTimestamp=@{s}\\nExecMainExitTimestamp=@{e}\\nExecMainStatus=9\\nExecMainCode=2\\nNRestarts=0\\nResult=signal\\nActiveState=failed\\n' ;;\n\
             esac",
            s = at - 100,
            e = at + 10
        ),
    );
    let units = vec!["app.service".to_string(), "worker.service".to_string()];
    let events = systemd::show_units(&good, &units, at - 60, now(), Duration::from_secs(5));
    assert_eq!(
        texts(&events),
        [
            (
                EventKind::ServiceRestart,
                "app.service started (restarted 3 times by systemd)".to_string()
            ),
            (
                EventKind::ServiceExit,
                "worker.service was killed by SIGKILL (now failed, result signal)".to_string()
            ),
        ]
    );
    assert_eq!((events[0].at, events[1].at), (at, at + 10));
    let argv = fs::read_to_string(dir.path().join("good.args")).unwrap();
    let first: Vec<&str> = argv.lines().take(8).collect();
    assert_eq!(
        first[..7],
        [
            "show",
            "--no-pager",
            "--no-ask-password",
            "-p",
            SHOW_PROPERTIES,
            "--timestamp=unix",
            "--"
        ]
    );
    // On a host without systemd, unit_events asks nothing.
    let systemd_here = Path::new("/run/systemd/system").is_dir();
    let via_unit_events =
        systemd::unit_events(&good, &units, at - 60, now(), Duration::from_secs(5));
    assert_eq!(via_unit_events.len(), if systemd_here { 2 } else { 0 });

    // An old systemctl without --timestamp: asked again, the default form parsed.
    let old = fake_systemctl(
        dir.path(),
        "old",
        "case \"$*\" in *--timestamp*) echo \"systemctl: unrecognized option '--timestamp=unix'\" >&2; exit 1 ;; esac\n\
         printf 'ExecMainStartTimestamp=Wed 2025-12-02 07:20:00 UTC\\nNRestarts=0\\nActiveState=active\\n'",
    );
    let events = systemd::show_units(
        &old,
        &["api.service".to_string()],
        1_764_659_000,
        1_764_661_000,
        Duration::from_secs(5),
    );
    assert_eq!(
        texts(&events),
        [(EventKind::ServiceRestart, "api.service started".to_string())]
    );
    assert_eq!(events[0].at, 1_764_660_000);

    // One that hangs is killed at the time limit; one that prints garbage and control bytes
    // gives sanitised text and no panic.
    let hung = fake_systemctl(dir.path(), "hung", "sleep 30");
    let t = Instant::now();
    let none = systemd::show_units(
        &hung,
        &["x.service".into()],
        0,
        now(),
        Duration::from_millis(500),
    );
    assert!(none.is_empty());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    // Binary garbage first (NULs, control bytes, invalid UTF-8): a binary's first bytes, the same
    // on every run, so that a failure is one that can be run again.
    let garbage = fake_systemctl(
        dir.path(),
        "garbage",
        &format!(
            "head -c 3000 /bin/sh; printf '\\nExecMainStartTimestamp=@{at}\\nNRestarts=\\033[2J\\nActiveState=\\033]0;x\\007\\n'; \
             printf 'ExecMainExitTimestamp=@{at}\\nExecMainCode=1\\nExecMainStatus=1\\n'"
        ),
    );
    let events = systemd::show_units(
        &garbage,
        &["e\u{1b}[31mvil.service".into()],
        at - 1,
        now(),
        Duration::from_secs(5),
    );
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert!(!e.text.chars().any(char::is_control), "{e:?}");
        assert!(e.text.starts_with("e\\x1b[31mvil.service "), "{e:?}");
    }
    // Not a program at all: nothing, no error.
    assert!(
        systemd::show_units(
            &dir.path().join("missing"),
            &["a".into()],
            0,
            now(),
            Duration::from_secs(1)
        )
        .is_empty()
    );
}
