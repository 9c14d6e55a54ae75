//! The timeline's readers against the real programs that write what they read.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::require_tool;
use gatewatch::logs::TimeParser;
use gatewatch::timeline::proxy_notices::NoticeReader;
use gatewatch::timeline::{EventKind, Events};

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A real nginx started, then `nginx -s reload` against its own prefix and config: its error
/// log (at `info`, which includes the `notice` lifecycle lines) gives a start, then a reload
/// within a few seconds of the signal, and the old worker retiring is not read as a stop.
#[test]
fn a_real_nginx_reload_is_a_proxy_reload_event_at_its_time() {
    let bin = require_tool(&["/usr/sbin/nginx", "nginx"], "apt-get install -y nginx");
    let nginx = Nginx::start("", "    location / { return 200 'ok'; }\n");
    assert_eq!(nginx.get("/").0, 200);
    let started = now();
    let prefix = nginx.dir.path();
    let reloaded_at = now();
    let out = Command::new(&bin)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&nginx.conf)
        .args(["-s", "reload"])
        .output()
        .expect("run nginx -s reload");
    assert!(out.status.success(), "nginx -s reload: {out:?}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = nginx.error_log();
        // The old worker's `exiting` comes last: wait for it too, so the test sees it ignored.
        if log.contains(": reconfiguring") && log.contains(": exiting") {
            break log;
        }
        assert!(Instant::now() < deadline, "no reload notices in:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    };

    let path = prefix.join("error.log");
    let source = path.display().to_string();
    let text = gatewatch::timeline::read_tail(&path, gatewatch::timeline::DEFAULT_BUDGET)
        .expect("read the error log");
    let mut events = Events::default();
    for event in NoticeReader::new(TimeParser::default()).events(&text, &source) {
        events.push(event, now());
    }
    let kinds: Vec<EventKind> = events.as_slice().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::ProxyStart, EventKind::ProxyReload],
        "{events:?}\n{log}"
    );
    let start = &events.as_slice()[0];
    let reload = &events.as_slice()[1];
    assert!(
        start.at <= started && started - start.at <= 15,
        "start at {} against {started}",
        start.at
    );
    assert!(
        (reload.at - reloaded_at).abs() <= 3,
        "reload at {} against {reloaded_at}",
        reload.at
    );
    assert_eq!(reload.text, "nginx: reconfiguring");
    assert_eq!(reload.source, source);
}

/// An OOM kill line written to the real `/dev/kmsg` (as root) is read back from it as an
/// `oom_kill` event at the time it was written. The process name is unique to this run, so
/// the host's own kernel messages cannot satisfy the test.
#[test]
fn an_oom_kill_written_to_the_kernel_log_is_read_back() {
    let kmsg = std::path::Path::new("/dev/kmsg");
    assert!(
        unsafe { libc::geteuid() } == 0 && kmsg.exists(),
        "this test writes to /dev/kmsg: run it as root (./scripts/test.sh does)"
    );
    let name = format!("gw-oom-{}-{}", std::process::id(), now());
    let pid = 4_000_000 + std::process::id() % 100_000;
    let written_at = now();
    std::fs::write(
        kmsg,
        format!("<3>Out of memory: Killed process {pid} ({name}) total-vm:1024kB, anon-rss:512kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0\n"),
    )
    .expect("write /dev/kmsg");
    let boot = gatewatch::timeline::kernel::boot_time().expect("boot time");
    let events = gatewatch::timeline::kernel::read_kmsg(
        kmsg,
        boot,
        gatewatch::timeline::kernel::MAX_KMSG_RECORDS,
    )
    .expect("read /dev/kmsg");
    let want = format!("{name} (pid {pid}) killed by the OOM killer");
    let ours: Vec<_> = events.iter().filter(|e| e.text == want).collect();
    assert_eq!(ours.len(), 1, "{want} not among {} events", events.len());
    assert_eq!(ours[0].kind, EventKind::OomKill);
    assert_eq!(ours[0].source, "kernel");
    assert!(
        (ours[0].at - written_at).abs() <= 2,
        "read at {} against {written_at}",
        ours[0].at
    );
}
