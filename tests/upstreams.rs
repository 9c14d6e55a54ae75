//! Upstreams end to end: real loopback servers that answer, fail and hang, probed by the real
//! binary, seen in `check --json` and in the dashboard in a real terminal.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::{Duration, Instant};

use common::{Sandbox, Tmux};
use servers::{Behaviour, Server, closed_port};

/// Servers on a runtime of their own, so they keep serving while the test thread waits.
struct Servers {
    rt: tokio::runtime::Runtime,
}

impl Servers {
    fn new() -> Self {
        Servers {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn start(&self, b: Behaviour) -> Server {
        self.rt.block_on(Server::start(b))
    }
}

fn config(entries: &[(&str, String)]) -> String {
    entries
        .iter()
        .map(|(name, url)| {
            format!("[[upstream]]\nname = \"{name}\"\nurl = \"{url}\"\ntimeout = \"1s\"\n\n")
        })
        .collect()
}

#[test]
fn check_json_classifies_each_real_failure_and_lists_failing_first() {
    let servers = Servers::new();
    let ok = servers.start(Behaviour::status(200));
    let bad = servers.start(Behaviour::status(502));
    let hang = servers.start(Behaviour::Hang);
    let reset = servers.start(Behaviour::Reset);
    let banner = servers.start(Behaviour::Banner(b"SSH-2.0-OpenSSH_9.2\r\n"));
    let dead = closed_port();
    let sb = Sandbox::new();
    let cfg = sb.write(
        "config.toml",
        &config(&[
            ("fine", ok.url("http", "/health")),
            ("bad-gateway", bad.url("http", "/")),
            ("hangs", hang.url("http", "/")),
            ("resets", reset.url("http", "/")),
            ("not-http", banner.url("http", "/")),
            ("dead", format!("http://127.0.0.1:{dead}/")),
            (
                "no-socket",
                format!("unix:{}", sb.path().join("php-fpm.sock").display()),
            ),
            ("tcp-ok", format!("tcp://127.0.0.1:{}", ok.port())),
        ]),
    );
    let started = Instant::now();
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "probes are bounded by their 1 s timeout"
    );
    assert_eq!(out.status.code(), Some(2), "an upstream down is critical");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["status"], "critical");
    let ups = v["upstreams"].as_array().expect("upstreams");
    let by_name = |n: &str| {
        ups.iter()
            .find(|u| u["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {v}"))
    };
    let expect = [
        ("fine", "up", "ok"),
        ("tcp-ok", "up", "ok"),
        ("bad-gateway", "down", "bad_status"),
        ("hangs", "down", "timeout"),
        ("resets", "down", "reset"),
        ("not-http", "down", "invalid_response"),
        ("dead", "down", "refused"),
        ("no-socket", "down", "refused"),
    ];
    for (name, state, outcome) in expect {
        let u = by_name(name);
        assert_eq!(
            (u["state"].as_str(), u["outcome"].as_str()),
            (Some(state), Some(outcome)),
            "{name}: {u}"
        );
        assert_eq!(u["source"], "config");
    }
    assert_eq!(by_name("bad-gateway")["status_code"], 502);
    assert_eq!(by_name("fine")["kind"], "http");
    assert_eq!(by_name("tcp-ok")["kind"], "tcp");
    assert_eq!(by_name("no-socket")["kind"], "unix");
    assert!(by_name("fine")["latency_ms"].as_f64().is_some());
    assert!(by_name("dead")["latency_ms"].is_null());
    let states: Vec<&str> = ups.iter().filter_map(|u| u["state"].as_str()).collect();
    let first_up = states
        .iter()
        .position(|s| *s == "up")
        .unwrap_or(states.len());
    assert!(
        states[first_up..].iter().all(|s| *s == "up"),
        "failing first: {states:?}"
    );
    let findings = v["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.contains("dead") && m.contains("refused"))),
        "{findings:?}"
    );
}

#[test]
fn check_text_lists_upstreams_and_exits_ok_when_all_answer() {
    let servers = Servers::new();
    let ok = servers.start(Behaviour::status(204));
    let sb = Sandbox::new();
    let cfg = sb.write("config.toml", &config(&[("api", ok.url("http", "/ping"))]));
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("upstreams_down=0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("up") && l.contains("api") && l.contains("204")),
        "{text}"
    );
    // The host may itself be busy on a shared CI machine: only the upstream part is asserted.
    assert!(
        !text.contains("upstream api"),
        "no finding about a healthy upstream: {text}"
    );
}

#[test]
fn the_dashboard_shows_the_failing_upstream_first_and_its_detail_on_enter() {
    let servers = Servers::new();
    let ok = servers.start(Behaviour::status(200));
    let dead = closed_port();
    let files = Sandbox::new();
    let cfg = files.write(
        "config.toml",
        &config(&[
            ("aaa-live", ok.url("http", "/")),
            ("zzz-dead", format!("http://127.0.0.1:{dead}/")),
        ]),
    );
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    let screen = t.wait_for("refused");
    let dead_row = screen
        .lines()
        .position(|l| l.contains("zzz-dead"))
        .expect("dead row");
    let live_row = screen
        .lines()
        .position(|l| l.contains("aaa-live"))
        .expect("live row");
    assert!(dead_row < live_row, "failing first:\n{screen}");
    assert!(
        screen.contains("upstream zzz-dead"),
        "the header names it:\n{screen}"
    );
    t.keys(&["2", "Enter"]);
    let detail = t.wait_for("last failure");
    assert!(detail.contains("ADDRESS"), "{detail}");
    assert!(detail.contains(&format!("127.0.0.1:{dead}")), "{detail}");
    t.keys(&["Escape"]);
    t.wait_until("the table to come back", |t| t.screen().contains("RESULT"));
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
