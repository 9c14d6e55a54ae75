//! Container lifecycle events through a real Docker Engine the test starts: nginx in a container
//! proxies to four upstream containers; one is stopped, one killed with an exit code of its own,
//! one OOM-killed under a memory limit, one restarted. `check --json` puts each on the timeline
//! with its kind and text, and the findings name the OOM kill of a container still down.

mod common;
#[path = "common/docker.rs"]
mod docker;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::Sandbox;
use docker::Dockerd;

const NET: &str = "events";
const UPSTREAMS: [&str; 4] = ["victim", "quitter", "glutton", "bouncer"];

/// nginx with a location per upstream container, every path it writes under tmpfs.
fn nginx_conf() -> String {
    let locations: String = UPSTREAMS
        .iter()
        .map(|name| {
            format!(
                "location /{name} {{ proxy_pass http://{name}:8000; proxy_connect_timeout 1s; }}\n"
            )
        })
        .collect();
    docker::nginx_conf(
        "/tmp/error.log",
        "/tmp/access.log",
        &format!("server {{ listen 80; {locations} }}"),
    )
}

fn state(d: &Dockerd, name: &str) -> String {
    d.docker(&["inspect", "--format", "{{.State.Status}}", name])
}

/// `check --json` seeing the test's daemon, with the host's kernel log and package logs out.
fn check(sb: &Sandbox, d: &Dockerd) -> serde_json::Value {
    let config = sb.write(
        "gatewatch.toml",
        "[timeline]\nkernel = \"/dev/null\"\npackages = []\n",
    );
    let config = config.display().to_string();
    let args = sb.isolated(&["--config", &config, "check", "--json"]);
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sb.env())
        .env("GATEWATCH_DOCKER_SOCKET", d.socket())
        .output()
        .expect("run gatewatch");
    docker::json_of(&out)
}

/// The timeline's events as (kind, text, source).
fn events(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["timeline"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("timeline events: {v:#}"))
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("text"), s("source"))
        })
        .collect()
}

#[test]
fn stopped_killed_oom_killed_and_restarted_upstream_containers_are_events_and_findings() {
    let d = Dockerd::start();
    d.network(NET);
    let sb = Sandbox::new();
    // sleep as pid 1 ignores SIGTERM: a stop or restart kills it after a second (137).
    d.run("victim", NET, &[], &["/bin/sleep", "1000"]);
    d.run("bouncer", NET, &[], &["/bin/sleep", "1000"]);
    // Exits 3 when told to end.
    d.run(
        "quitter",
        NET,
        &[],
        &[
            "/bin/sh",
            "-c",
            "trap 'exit 3' TERM; while true; do sleep 0.2; done",
        ],
    );
    // Writes 256 MiB under a 32 MiB limit without swap when told to: the OOM killer ends it.
    d.run(
        "glutton",
        NET,
        &["--memory", "32m", "--memory-swap", "32m"],
        &[
            "/usr/bin/python3",
            "-c",
            "import signal, time\n\
             hoard = []\n\
             signal.signal(signal.SIGUSR1, lambda *a: hoard.append(b'x' * (256 << 20)))\n\
             while True: time.sleep(0.2)\n",
        ],
    );
    let etc = d.scratch("web-etc");
    fs::write(etc.join("nginx.conf"), nginx_conf()).expect("nginx.conf");
    let etc = format!("{}:/etc/nginx:ro", etc.display());
    d.start_nginx("web", NET, &["-v", &etc]);

    d.docker(&["stop", "-t", "1", "victim"]);
    d.docker(&["kill", "--signal", "TERM", "quitter"]);
    d.docker(&["kill", "--signal", "USR1", "glutton"]);
    d.docker(&["restart", "-t", "1", "bouncer"]);
    d.wait_for(
        "quitter's and glutton's end",
        Duration::from_secs(20),
        || state(&d, "quitter") == "exited" && state(&d, "glutton") == "exited",
    );
    assert_eq!(
        d.docker(&["inspect", "--format", "{{.State.OOMKilled}}", "glutton"]),
        "true"
    );

    let v = check(&sb, &d);
    let events = events(&v);
    let socket = d.socket().display().to_string();
    let has = |kind: &str, text: &str| {
        events
            .iter()
            .any(|(k, t, s)| k == kind && t.starts_with(text) && *s == socket)
    };
    for (kind, text) in [
        ("container_start", "container web: started ("),
        ("container_exit", "container victim: exited with code 137 ("),
        ("container_exit", "container victim: stopped ("),
        ("container_exit", "container quitter: exited with code 3 ("),
        ("oom_kill", "container glutton: a process was OOM-killed ("),
        (
            "container_exit",
            "container glutton: exited with code 137 (",
        ),
        (
            "container_exit",
            "container bouncer: exited with code 137 (",
        ),
        ("container_start", "container bouncer: restarted ("),
    ] {
        assert!(has(kind, text), "{kind} {text}: {events:#?}");
    }
    // Each engine event once, though the first round reads the whole span.
    let stamped: Vec<String> = v["timeline"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| format!("{} {} {}", e["at"], e["kind"], e["text"]))
        .collect();
    let mut unique = stamped.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), stamped.len(), "{stamped:#?}");

    let findings = v["findings"].as_array().expect("findings");
    let finding = |text: &str| {
        findings
            .iter()
            .find(|f| f["message"].as_str().is_some_and(|m| m.contains(text)))
            .unwrap_or_else(|| panic!("no finding with {text:?}: {findings:#?}"))
    };
    let oom = finding("upstream container glutton was OOM-killed at ");
    assert_eq!(oom["status"], "critical", "{oom:#}");
    assert!(
        oom["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("(exit code 137); still down")),
        "{oom:#}"
    );
    assert_eq!(
        finding("upstream container quitter exited with code 3 at ")["status"],
        "warning"
    );
    assert!(
        finding("upstream container victim was stopped at ")["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("(exit code 137); still down"))
    );
    assert!(
        finding("upstream container bouncer was stopped at ")["message"]
            .as_str()
            .is_some_and(|m| m.contains("; running again since ")),
        "{findings:#?}"
    );
    assert_eq!(v["status"], "critical", "{v:#}");
}
