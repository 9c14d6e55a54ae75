//! nginx in a container, seen by the real binary through a real Docker Engine the test starts:
//! its config read inside the container, its upstream `app:8000` probed from its network (Docker's
//! embedded DNS), and, once `app` is recreated with a new address while nginx keeps the old one,
//! the stale address as `check`'s verdict. Then the official image's layout: logs linked to
//! /dev/stderr, the 502s read from the container's log stream.

mod common;
#[path = "common/docker.rs"]
mod docker;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::Sandbox;
use docker::Dockerd;

const NET: &str = "shop";

/// nginx proxying to `app:PORT`, its logs where its image keeps them.
fn web_conf(port: u16) -> String {
    docker::nginx_conf(
        "/var/log/nginx/error.log",
        "/var/log/nginx/access.log",
        &format!(
            "server {{ listen 80; location / {{ proxy_pass http://app:{port}; \
             proxy_connect_timeout 2s; }} }}"
        ),
    )
}

/// nginx in container `name` with `etc` as its /etc/nginx and `logs` as /var/log/nginx; its
/// address.
fn start_nginx(d: &Dockerd, name: &str, etc: &Path, logs: &Path) -> String {
    let etc = format!("{}:/etc/nginx:ro", etc.display());
    let logs = format!("{}:/var/log/nginx", logs.display());
    d.start_nginx(name, NET, &["-v", &etc, "-v", &logs]);
    d.address(name, NET).expect("an address")
}

fn start_app(d: &Dockerd, name: &str) {
    d.run(
        name,
        NET,
        &["--network-alias", "app"],
        &["/usr/bin/python3", "-m", "http.server", "8000"],
    );
}

/// `check --json` seeing the test's daemon only: the host's proxy configs are empty files.
fn check(sb: &Sandbox, d: &Dockerd) -> serde_json::Value {
    let args = sb.isolated(&["check", "--json"]);
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(&args)
        .envs(sb.env())
        .env("GATEWATCH_DOCKER_SOCKET", d.socket())
        .output()
        .expect("run gatewatch");
    docker::json_of(&out)
}

fn upstream<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no upstream {name}: {v:#}"))
}

#[test]
fn nginx_in_a_container_its_stale_address_and_its_log_stream() {
    common::require_tool(&["curl"], "apt-get install -y curl");
    let d = Dockerd::start();
    d.network(NET);
    let sb = Sandbox::new();
    start_app(&d, "app");
    let old = d.address("app", NET).expect("app's address");

    let etc = d.scratch("web-etc");
    let logs = d.scratch("web-logs");
    fs::write(etc.join("nginx.conf"), web_conf(8000)).expect("nginx.conf");
    let web = start_nginx(&d, "web", &etc, &logs);
    assert_eq!(
        docker::http_statuses(&web, 2),
        [200, 200],
        "nginx reaches app"
    );

    // Found through the API, read inside the container, probed from its network: `app` exists
    // only on the Compose-like network, through Docker's DNS at 127.0.0.11.
    let v = check(&sb, &d);
    let discovered = v["discovered_from"].to_string();
    assert!(discovered.contains("nginx in container web"), "{v:#}");
    let app = upstream(&v, "app:8000");
    assert_eq!(app["state"], "up", "{app:#}");
    assert!(
        app["source"].to_string().contains("container web"),
        "{app:#}"
    );
    assert_ne!(v["verdict"]["cause"], "dns", "{v:#}");

    // `app` is recreated: another container takes its old address first, so nginx's cached
    // address now refuses; the new `app` answers elsewhere.
    d.docker(&["rm", "-f", "app"]);
    d.run("filler", NET, &[], &["/usr/bin/sleep", "600"]);
    assert_eq!(d.address("filler", NET).as_deref(), Some(old.as_str()));
    start_app(&d, "app");
    let new = d.address("app", NET).expect("the new address");
    assert_ne!(new, old);
    let statuses = docker::http_statuses(&web, 6);
    assert!(statuses.iter().all(|&s| s == 502), "{statuses:?}");

    let v = check(&sb, &d);
    let verdict = &v["verdict"];
    assert_eq!(verdict["cause"], "dns", "{v:#}");
    assert_eq!(v["status"], "critical", "{v:#}");
    let text = verdict["text"].as_str().expect("text");
    assert!(
        text.contains(&format!("nginx still connects to {old}"))
            && text.contains("which now belongs to `filler`")
            && text.contains(&format!("which is now {new}"))
            && text.contains("reload nginx in `web`"),
        "{text}"
    );
    assert!(
        verdict["next_step"]
            .to_string()
            .contains("resolver 127.0.0.11"),
        "{v:#}"
    );
    // The probe from nginx's network resolves `app` afresh: the app itself is fine.
    assert_eq!(upstream(&v, "app:8000")["state"], "up", "{v:#}");

    // The official image's layout: the log files are links to the container's stdout and
    // stderr, so the 502s are in the container's log stream, read through the engine.
    let etc2 = d.scratch("edge-etc");
    let logs2 = d.scratch("edge-logs");
    std::os::unix::fs::symlink("/dev/stderr", logs2.join("error.log")).expect("link");
    std::os::unix::fs::symlink("/dev/stdout", logs2.join("access.log")).expect("link");
    fs::write(etc2.join("nginx.conf"), web_conf(8001)).expect("nginx.conf");
    // `web` goes, and `edge` proxies to a port `app` does not listen on: refused, 502.
    d.docker(&["stop", "-t", "1", "web"]);
    let edge = start_nginx(&d, "edge", &etc2, &logs2);
    let statuses = docker::http_statuses(&edge, 5);
    assert!(statuses.iter().all(|&s| s == 502), "{statuses:?}");
    assert!(
        fs::read_dir(&logs2).expect("logs").count() == 2,
        "nothing written through the links on the host"
    );

    let v = check(&sb, &d);
    let stream = v["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find(|l| l["path"] == "container edge")
        .unwrap_or_else(|| panic!("no container log: {v:#}"));
    assert_eq!(stream["status_502"], 5, "{stream:#}");
    let events = stream["causes"].as_object().expect("causes");
    assert!(
        !events.is_empty(),
        "the error lines are classified: {stream:#}"
    );

    // What the follower runs for that stream: gatewatch's own reader of the engine's API,
    // writing as `docker logs -t` does (the container's stderr to stderr), no docker CLI.
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .arg("container-logs")
        .arg("--socket")
        .arg(d.socket())
        .args(["-t", "--tail", "2", "edge"])
        .output()
        .expect("container-logs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let access: Vec<&str> = stdout.lines().collect();
    assert!(
        !access.is_empty() && access.iter().all(|l| l.contains("\" 502 ")),
        "{stdout}"
    );
    let stamp = access[0].split(' ').next().expect("a stamp");
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connect() failed"), "{stderr}");
}
