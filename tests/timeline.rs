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

    let source = prefix.join("error.log").display().to_string();
    let mut reader = NoticeReader::new(TimeParser::default());
    let mut events = Events::default();
    for line in log.lines() {
        if let Some(event) = reader.notice(line, &source) {
            events.push(event, now());
        }
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
