//! Many logs under a low open-file limit: the real binary raises its soft limit to the hard one,
//! `check` never holds more than a log at a time, and the dashboard follows what its descriptor
//! budget allows and polls the rest, so every log is read and probes still find descriptors.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::{Sandbox, Tmux, append, require_tool};

const LOGS: usize = 300;

fn refused(id: &str) -> String {
    let stamp = jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S");
    format!(
        "{stamp} [error] 12#12: *1 connect() failed (111: Connection refused) while connecting to \
         upstream, client: 10.0.0.1, server: busy, request: \"GET /{id} HTTP/1.1\", upstream: \
         \"http://127.0.0.1:9/\", host: \"busy\"\n"
    )
}

/// A loopback upstream answering 200 to every request.
fn healthy_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = [0u8; 1024];
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                );
            });
        }
    });
    port
}

/// 300 quiet logs and a busy one last, with a healthy upstream: the config's path.
fn many_logs(sb: &Sandbox, port: u16) -> (PathBuf, PathBuf) {
    let mut cfg = format!("[[upstream]]\nname = \"shop\"\nurl = \"http://127.0.0.1:{port}/\"\n");
    for i in 0..LOGS - 1 {
        let log = sb.write(&format!("logs/vhost{i}.log"), "");
        cfg += &format!("[[log]]\npath = \"{}\"\nkind = \"error\"\n", log.display());
    }
    let busy = sb.write("logs/busy.log", "");
    cfg += &format!("[[log]]\npath = \"{}\"\nkind = \"error\"\n", busy.display());
    (sb.write("config.toml", &cfg), busy)
}

fn prlimit(soft: u32, hard: u32) -> Vec<String> {
    let tool = require_tool(&["prlimit"], "apt-get install -y util-linux");
    vec![
        tool.display().to_string(),
        format!("--nofile={soft}:{hard}"),
        "--".into(),
    ]
}

#[test]
fn check_under_a_low_limit_probes_the_upstream_and_counts_every_log() {
    let sb = Sandbox::new();
    let (cfg, busy) = many_logs(&sb, healthy_upstream());
    for i in 0..5 {
        append(&busy, &refused(&format!("fresh{i}")));
    }
    let out = sb.run_under(
        &prlimit(256, 256),
        &["--config", cfg.to_str().expect("utf-8"), "check", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let shop = &v["upstreams"][0];
    assert_eq!(
        (shop["state"].as_str(), shop["outcome"].as_str()),
        (Some("up"), Some("ok")),
        "{shop}"
    );
    let logs = v["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), LOGS, "{v}");
    assert!(logs.iter().all(|l| l["error"].is_null()), "{v}");
    assert_eq!(logs[LOGS - 1]["causes"]["refused"], 5, "{v}");
    assert!(!v.to_string().contains("Too many open files"), "{v}");
}

/// Open descriptors of a process, from /proc.
fn open_descriptors(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc/PID/fd")
        .count()
}

#[test]
fn the_dashboard_polls_what_its_budget_cannot_keep_open_and_still_follows_the_busy_log() {
    let port = healthy_upstream();
    let files = Sandbox::new();
    let (cfg, busy) = many_logs(&files, port);
    let t = Tmux::start_under(
        &prlimit(256, 256),
        &["--config", cfg.to_str().expect("utf-8")],
        140,
        40,
        &[],
    );
    t.keys(&["4", "z"]);
    // Soft 256 after raising (the hard limit): (256 - 64) / 2 = 96 files kept open.
    t.wait_for("96 of 300 logs followed, the rest polled");
    // The busy log is the last source, polled at first; its lines wrapped, to see their ends.
    t.keys(&["[", "w"]);
    for i in 0..3 {
        append(&busy, &refused(&format!("busy{i}")));
        t.wait_for(&format!("GET /busy{i}"));
    }
    t.wait_for("refused 3");
    let fds = open_descriptors(t.pid());
    assert!(fds < 96 + 40, "{fds} descriptors open");
    // Still responsive: another pane answers at once.
    t.keys(&["1"]);
    t.wait_for(" processes ");
}

#[test]
fn a_soft_limit_below_the_hard_one_is_raised_and_every_log_followed() {
    let files = Sandbox::new();
    let (cfg, _) = many_logs(&files, healthy_upstream());
    let t = Tmux::start_under(
        &prlimit(128, 4096),
        &["--config", cfg.to_str().expect("utf-8")],
        140,
        40,
        &[],
    );
    t.keys(&["4", "z"]);
    let pid = t.pid();
    t.wait_until("every log open", |_| open_descriptors(pid) > LOGS);
    assert!(!t.screen().contains("the rest polled"), "{}", t.screen());
}
