//! `gatewatch demo`, the real binary in a real terminal: every pane comes alive on its own scene
//! within seconds, the scene's config and service work from outside, and the scratch directory is
//! gone after `q` and after SIGTERM.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, Tmux};

/// The demo with TMPDIR pointed at a directory of the test's own, so what it leaves is visible.
fn start(files: &Sandbox) -> (Tmux, PathBuf) {
    start_with(files, &[])
}

fn start_with(files: &Sandbox, env: &[(&str, &str)]) -> (Tmux, PathBuf) {
    let tmp = files.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let mut env = env.to_vec();
    env.push(("TMPDIR", tmp.to_str().expect("utf-8")));
    let t = Tmux::start_with(&["demo"], 120, 40, &env);
    (t, tmp)
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read tmp dir")
        .map(|e| e.expect("entry").path())
        .collect()
}

/// The one directory the demo made in `tmp`.
fn scene_dir(t: &Tmux, tmp: &Path) -> PathBuf {
    let mut found = Vec::new();
    t.wait_until("the demo's directory", |_| {
        found = entries(tmp);
        found.len() == 1 && found[0].join("gatewatch.toml").exists()
    });
    let dir = found.remove(0);
    assert!(
        dir.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("gatewatch-demo-")),
        "{}",
        dir.display()
    );
    dir
}

/// A cause counted in the Logs pane's strip: the name followed by a count.
fn counted(screen: &str, cause: &str) -> bool {
    screen.match_indices(&format!("{cause} ")).any(|(i, m)| {
        screen[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn every_pane_comes_alive_and_q_leaves_nothing_behind() {
    let files = Sandbox::new();
    let (t, tmp) = start(&files);
    let dir = scene_dir(&t, &tmp);
    t.wait_until("every pane to show the scene", |t| {
        let s = t.screen();
        let row = |name: &str, what: &str| s.lines().any(|l| l.contains(name) && l.contains(what));
        row("inventory", "refused")
            && row("payments", "502")
            && row("search", "timeout")
            && row("recommendations", "reset")
            && row("shop-web", "200")
            && counted(&s, "refused")
            && counted(&s, "timeout")
            && row("shop.demo.internal", "127.0.0.1")
            && row("legacy.demo.internal", "NXDOMAIN")
            && s.contains("[refused]")
    });
    // What the Logs pane shows was really written, in nginx's formats.
    let error_log = std::fs::read_to_string(dir.join("error.log")).expect("error log");
    assert!(
        error_log
            .contains("connect() failed (111: Connection refused) while connecting to upstream")
            && error_log.contains("upstream timed out (110: Connection timed out)"),
        "{error_log}"
    );
    let access_log = std::fs::read_to_string(dir.join("access.log")).expect("access log");
    for status in ["\" 200 ", "\" 502 ", "\" 504 "] {
        assert!(access_log.contains(status), "{status} in:\n{access_log}");
    }

    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
    assert_eq!(entries(&tmp), Vec::<PathBuf>::new(), "the demo left files");
}

#[test]
fn the_scene_config_checks_from_outside_and_its_restart_brings_the_refusing_upstream_back() {
    let files = Sandbox::new();
    let (t, tmp) = start(&files);
    let dir = scene_dir(&t, &tmp);
    let config = dir.join("gatewatch.toml");
    t.wait_for("[refused]");

    let out = files.run(&[
        "--config",
        config.to_str().expect("utf-8"),
        "check",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ups = v["upstreams"].as_array().expect("upstreams");
    let outcome = |name: &str| {
        let u = ups
            .iter()
            .find(|u| u["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"));
        (u["state"].as_str(), u["outcome"].as_str())
    };
    assert_eq!(outcome("shop-web"), (Some("up"), Some("ok")));
    assert_eq!(outcome("images"), (Some("degraded"), Some("ok")));
    assert_eq!(outcome("payments"), (Some("down"), Some("bad_status")));
    assert_eq!(outcome("inventory"), (Some("down"), Some("refused")));
    assert_eq!(outcome("search"), (Some("down"), Some("timeout")));
    assert_eq!(outcome("recommendations"), (Some("down"), Some("reset")));
    let dns = v["dns"].to_string();
    assert!(
        dns.contains("api.demo.internal") && dns.contains("127.0.10.1"),
        "{dns}"
    );
    assert!(v["logs"].to_string().contains("refused"), "{}", v["logs"]);

    // The service's restart, run as the dashboard would run it: an argv, no shell.
    let text = std::fs::read_to_string(&config).expect("config");
    let parsed = gatewatch::config::parse(&text, &config).expect("the scene's config parses");
    let restart = parsed.services[0]
        .restart
        .as_ref()
        .expect("a restart command");
    let status = Command::new(restart.program())
        .args(&restart.0[1..])
        .status()
        .expect("run restart");
    assert!(status.success());
    t.wait_until("inventory to answer after its restart", |t| {
        // The Upstreams row ("● inventory  http://127.0.0.1:PORT/health  200 ..."), not a port
        // number with 200 in it: the word after the name, or after its target.
        t.screen().lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(3).any(|w| {
                w[0] == "inventory" && (w[1] == "200" || (w[1].contains(':') && w[2] == "200"))
            })
        })
    });
    let status_file = std::fs::read_to_string(dir.join("inventory.status")).expect("status");
    assert!(status_file.contains("running since"), "{status_file}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    assert_eq!(entries(&tmp), Vec::<PathBuf>::new(), "the demo left files");
}

#[test]
fn sigterm_restores_the_terminal_and_removes_the_scene() {
    let files = Sandbox::new();
    let (t, tmp) = start(&files);
    scene_dir(&t, &tmp);
    t.wait_for("PID");
    t.signal("TERM");
    assert_eq!(t.wait_exit(), 128 + 15);
    t.assert_restored();
    assert_eq!(entries(&tmp), Vec::<PathBuf>::new(), "the demo left files");
}

#[test]
fn sighup_and_a_panic_remove_the_scene_too() {
    let files = Sandbox::new();
    let (t, tmp) = start(&files);
    scene_dir(&t, &tmp);
    t.wait_for("PID");
    t.signal("HUP");
    assert_eq!(t.wait_exit(), 128 + 1);
    assert_eq!(entries(&tmp), Vec::<PathBuf>::new(), "SIGHUP left files");

    // The dashboard panics on purpose after its first host sample (see dashboard.rs).
    let files = Sandbox::new();
    let (t, tmp) = start_with(&files, &[("GATEWATCH_TEST_PANIC", "1")]);
    assert_eq!(t.wait_exit(), 101);
    t.assert_restored();
    assert_eq!(entries(&tmp), Vec::<PathBuf>::new(), "a panic left files");
}
