//! The dashboard beside a real Docker Engine the test starts: the Host pane lists the containers
//! nginx's container involves, and once `app` is recreated while nginx keeps its old address,
//! the relist (every probe interval) shows the new `app` and the stale address as the verdict,
//! without restarting gatewatch.

mod common;
#[path = "common/docker.rs"]
mod docker;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Tmux;
use docker::Dockerd;

const NET: &str = "shop";

fn nginx_conf() -> String {
    docker::nginx_conf(
        "/var/log/nginx/error.log",
        "/var/log/nginx/access.log",
        "server { listen 80; location / { proxy_pass http://app:8000; proxy_connect_timeout 2s; } }",
    )
}

fn start_nginx(d: &Dockerd, etc: &Path, logs: &Path) -> String {
    let etc = format!("{}:/etc/nginx:ro", etc.display());
    let logs = format!("{}:/var/log/nginx", logs.display());
    d.start_nginx("web", NET, &["-v", &etc, "-v", &logs]);
    d.address("web", NET).expect("an address")
}

fn start_app(d: &Dockerd) {
    d.run(
        "app",
        NET,
        &["--network-alias", "app"],
        &["/usr/bin/python3", "-m", "http.server", "8000"],
    );
}

/// Waits up to `limit` for the screen to satisfy `cond` (Tmux's own wait is 10 s: the first
/// frame here waits for the catalog's container scan).
fn wait_screen(t: &Tmux, what: &str, limit: Duration, cond: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let screen = t.screen();
        if cond(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Host pane's row for container `name`: the line that starts with it inside the pane.
fn row<'s>(screen: &'s str, name: &str) -> Option<&'s str> {
    screen
        .lines()
        .find(|l| l.trim_start_matches('│').starts_with(&format!("{name} ")))
}

#[test]
fn the_host_pane_lists_the_containers_and_a_relist_shows_the_stale_address() {
    common::require_tool(&["curl"], "apt-get install -y curl");
    let d = Dockerd::start();
    d.network(NET);
    start_app(&d);
    let old = d.address("app", NET).expect("app's address");
    let etc = d.scratch("web-etc");
    let logs = d.scratch("web-logs");
    fs::write(etc.join("nginx.conf"), nginx_conf()).expect("nginx.conf");
    let web = start_nginx(&d, &etc, &logs);
    assert_eq!(
        docker::http_statuses(&web, 2),
        [200, 200],
        "nginx reaches app"
    );

    let socket = d.socket().display().to_string();
    let t = Tmux::start_with(&[], 120, 40, &[("GATEWATCH_DOCKER_SOCKET", &socket)]);
    let screen = wait_screen(&t, "the containers", Duration::from_secs(30), |s| {
        row(s, "web").is_some() && row(s, "app").is_some()
    });
    assert!(screen.contains("CONTAINER"), "{screen}");
    for name in ["web", "app"] {
        let line = row(&screen, name).unwrap_or_default();
        assert!(line.contains("running"), "{name}: {line}\n{screen}");
    }
    assert!(row(&screen, "filler").is_none(), "{screen}");

    // `app` is recreated: another container takes its old address first, so nginx's cached
    // address now refuses, and the new `app` answers elsewhere.
    d.docker(&["rm", "-f", "app"]);
    d.run("filler", NET, &[], &["/usr/bin/sleep", "600"]);
    assert_eq!(d.address("filler", NET).as_deref(), Some(old.as_str()));
    start_app(&d);
    let new = d.address("app", NET).expect("the new address");
    assert_ne!(new, old);
    let statuses = docker::http_statuses(&web, 6);
    assert!(statuses.iter().all(|&s| s == 502), "{statuses:?}");

    // Within a probe interval or two (and the log follower's read), live: the verdict names
    // both addresses, and `filler` is not one of the containers nginx involves.
    let screen = wait_screen(&t, "the stale address", Duration::from_secs(15), |s| {
        s.contains(&format!("nginx still connects to {old}"))
    });
    assert!(row(&screen, "app").is_some(), "{screen}");
    assert!(row(&screen, "filler").is_none(), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
