//! The timeline's readers against the real programs that write what they read.

mod common;

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
    require_tool(&["/usr/sbin/nginx", "nginx"], "apt-get install -y nginx");
    let nginx = Nginx::start("", "    location / { return 200 'ok'; }\n");
    assert_eq!(nginx.get("/").0, 200);
    let started = now();
    let prefix = nginx.dir.path();
    let reloaded_at = now();
    nginx.reload();

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

/// The real kernel ring is read without blocking and within its bounds. Nothing is written to
/// it: a made-up OOM kill in the host's kernel log would mislead whoever reads it after us.
#[test]
fn the_real_kernel_ring_is_read_without_blocking() {
    let kmsg = std::path::Path::new("/dev/kmsg");
    assert!(
        unsafe { libc::geteuid() } == 0 && kmsg.exists(),
        "this test reads /dev/kmsg: run it as root (./scripts/test.sh does)"
    );
    let boot = gatewatch::timeline::kernel::boot_time().expect("boot time");
    assert!(boot > 0 && boot <= now(), "boot time {boot}");
    let started = std::time::Instant::now();
    let events = gatewatch::timeline::kernel::read_kmsg(kmsg, boot, 16).expect("read /dev/kmsg");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(events.len() <= 16, "{} events", events.len());
    for e in &events {
        assert!(e.at >= boot && e.at <= now() + 1, "{e:?}");
        assert!(!e.text.chars().any(char::is_control), "{e:?}");
    }
    // Not a character device: refused, not read.
    let file = std::env::temp_dir().join(format!("gw-not-kmsg-{}", std::process::id()));
    std::fs::write(&file, "6,1,1,-;Out of memory: Killed process 1 (x)\n").expect("write");
    let refused = gatewatch::timeline::kernel::read_kmsg(&file, boot, 16);
    std::fs::remove_file(&file).expect("remove");
    assert!(refused.is_err(), "{refused:?}");
}
