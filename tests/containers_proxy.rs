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
use std::time::Duration;

use common::Sandbox;
use docker::Dockerd;

const NET: &str = "shop";

/// nginx as Debian builds it, with every path it writes under tmpfs mounts of the container.
fn nginx_conf(error_log: &str, access_log: &str, port: u16) -> String {
    format!(
        "pid /tmp/nginx.pid;\n\
         worker_processes 1;\n\
         error_log {error_log};\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           access_log {access_log};\n\
           client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy;\n\
           fastcgi_temp_path /tmp/fastcgi; uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;\n\
           server {{\n\
             listen 80;\n\
             location / {{ proxy_pass http://app:{port}; proxy_connect_timeout 2s; }}\n\
           }}\n\
         }}\n"
    )
}

/// Runs nginx in container `name` with `etc` as its /etc/nginx and `logs` as /var/log/nginx.
fn start_nginx(d: &Dockerd, name: &str, etc: &Path, logs: &Path) -> String {
    let etc = format!("{}:/etc/nginx:ro", etc.display());
    let logs = format!("{}:/var/log/nginx", logs.display());
    let extra = ["-v", &etc, "-v", &logs, "--tmpfs", "/tmp"];
    d.run(
        name,
        NET,
        &extra,
        &[
            "/usr/sbin/nginx",
            "-c",
            "/etc/nginx/nginx.conf",
            "-g",
            "daemon off;",
        ],
    );
    d.wait_for(&format!("nginx in {name}"), Duration::from_secs(10), || {
        address(d, name).is_some()
            && fs::read_to_string(format!("/proc/{}/comm", d.pid(name)))
                .is_ok_and(|c| c.trim() == "nginx")
    });
    address(d, name).expect("an address")
}

fn start_app(d: &Dockerd, name: &str) {
    d.run(
        name,
        NET,
        &["--network-alias", "app"],
        &["/usr/bin/python3", "-m", "http.server", "8000"],
    );
}

/// The container's address on the test's network.
fn address(d: &Dockerd, name: &str) -> Option<String> {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{NET}\").IPAddress}}}}");
    let out = d.docker_output(&["inspect", "--format", &format, name]);
    let ip = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !ip.is_empty()).then_some(ip)
}

/// `n` requests to nginx at `ip` from the host (the bridge is the test's own); their statuses.
fn requests(ip: &str, n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5"])
                .arg(format!("http://{ip}/"))
                .output()
                .expect("curl");
            String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
        })
        .collect()
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
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
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
    let old = address(&d, "app").expect("app's address");

    let etc = d.scratch("web-etc");
    let logs = d.scratch("web-logs");
    fs::write(
        etc.join("nginx.conf"),
        nginx_conf(
            "/var/log/nginx/error.log",
            "/var/log/nginx/access.log",
            8000,
        ),
    )
    .expect("nginx.conf");
    let web = start_nginx(&d, "web", &etc, &logs);
    assert_eq!(requests(&web, 2), [200, 200], "nginx reaches app");

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
    assert_eq!(address(&d, "filler").as_deref(), Some(old.as_str()));
    start_app(&d, "app");
    let new = address(&d, "app").expect("the new address");
    assert_ne!(new, old);
    let statuses = requests(&web, 6);
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
    fs::write(
        etc2.join("nginx.conf"),
        nginx_conf(
            "/var/log/nginx/error.log",
            "/var/log/nginx/access.log",
            8001,
        ),
    )
    .expect("nginx.conf");
    // `web` goes, and `edge` proxies to a port `app` does not listen on: refused, 502.
    d.docker(&["stop", "-t", "1", "web"]);
    let edge = start_nginx(&d, "edge", &etc2, &logs2);
    let statuses = requests(&edge, 5);
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
