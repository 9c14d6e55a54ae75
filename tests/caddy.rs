//! Against a real Caddy (the Debian package) with its own home and loopback ports: real traffic
//! makes it write its own 502 lines, and `check --json` finds its upstreams in its Caddyfile,
//! follows its logs and reads its running config from the admin API.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::time::Duration;

use common::caddy::Caddy;
// `upstreams` reaches it as `super::require_tool`.
use common::nginx::{free_port, traffic};
use common::require_tool;
use servers::{Behaviour, refusing_port};
use upstreams::Upstreams;

fn check(sb: &common::Sandbox, conf: &std::path::Path) -> serde_json::Value {
    let out = sb.run(&["--caddy-conf", conf.to_str().unwrap(), "check", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn upstream<'a>(v: &'a serde_json::Value, target: &str) -> &'a serde_json::Value {
    v["upstreams"]
        .as_array()
        .and_then(|ups| ups.iter().find(|u| u["target"] == target))
        .unwrap_or_else(|| panic!("no upstream {target} in {}", v["upstreams"]))
}

fn line_of(conf: &std::path::Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(conf).unwrap();
    text.lines().position(|l| l.contains(needle)).expect("line") + 1
}

#[test]
fn check_finds_caddy_upstreams_follows_its_logs_and_reads_its_running_config() {
    let ups = Upstreams::new();
    let live = ups.start(Behaviour::status(200));
    let refusing = refusing_port();
    let dead = refusing.port;
    let caddy = Caddy::start(&format!(
        "\thandle /live/* {{\n\t\treverse_proxy 127.0.0.1:{}\n\t}}\n\thandle {{\n\t\treverse_proxy 127.0.0.1:{dead}\n\t}}\n",
        live.port()
    ));
    let codes = traffic(caddy.port, "/shop", 5, 1, Duration::from_secs(5));
    assert_eq!(
        codes,
        [502; 5],
        "caddy itself answers 502; its log: {}",
        caddy.log("caddy.log")
    );
    assert_eq!(
        traffic(caddy.port, "/live/x", 2, 1, Duration::from_secs(5)),
        [200; 2]
    );
    caddy.wait_for_lines("access.log", "\"status\":502", 5);
    caddy.wait_for_lines("caddy.log", "connection refused", 5);

    let sb = common::Sandbox::new();
    let v = check(&sb, &caddy.conf);
    assert_eq!(v["status"], "critical", "{v}");
    let down = upstream(&v, &format!("http://127.0.0.1:{dead}/"));
    assert_eq!(down["state"], "down", "{down}");
    assert_eq!(down["outcome"], "refused", "{down}");
    let up = upstream(&v, &format!("http://127.0.0.1:{}/", live.port()));
    assert_eq!(up["state"], "up", "{up}");
    // The running config's places: Caddy's JSON has no lines of its own.
    assert_eq!(
        down["source"],
        format!("caddy admin API 127.0.0.1:{}/config/:1", caddy.admin)
    );
    let from = v["discovered_from"].to_string();
    assert!(
        from.contains(&format!(
            "caddy running config from the admin API at 127.0.0.1:{}",
            caddy.admin
        )),
        "{from}"
    );
    assert!(
        from.contains(&format!("caddy {}", caddy.conf.display())),
        "{from}"
    );

    // Caddy's own lines, from the logs its config names.
    let logs = v["logs"].as_array().expect("logs");
    let log = |name: &str| {
        logs.iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} not scanned: {logs:?}"))
    };
    assert_eq!(log("access.log")["status_502"], 5, "{}", log("access.log"));
    let errors = log("caddy.log");
    assert_eq!(errors["causes"]["refused"], 5, "{errors}");
    assert!(
        errors["top_upstreams"]
            .to_string()
            .contains(&format!("127.0.0.1:{dead}")),
        "{errors}"
    );

    // The file edited but not loaded: Caddy still proxies to the old port, which is what is
    // probed, and the difference is a finding.
    let other = free_port();
    let text = std::fs::read_to_string(&caddy.conf).unwrap();
    std::fs::write(
        &caddy.conf,
        text.replace(&dead.to_string(), &other.to_string()),
    )
    .unwrap();
    let v = check(&sb, &caddy.conf);
    upstream(&v, &format!("http://127.0.0.1:{dead}/"));
    let findings = v["findings"].to_string();
    assert!(
        findings.contains("caddy is running another config"),
        "{findings}"
    );
    assert!(
        findings.contains(&format!("only in the file: 127.0.0.1:{other}")),
        "{findings}"
    );
    assert!(
        !v["upstreams"].to_string().contains(&format!(":{other}/")),
        "{}",
        v["upstreams"]
    );
}

#[test]
fn without_its_admin_api_the_caddyfile_is_read_with_its_lines() {
    let refusing = refusing_port();
    let dead = refusing.port;
    let caddy = Caddy::start(&format!("\treverse_proxy 127.0.0.1:{dead}\n"));
    // Caddy's admin endpoint is somewhere else now: the file is all there is.
    let text = std::fs::read_to_string(&caddy.conf).unwrap();
    let closed = free_port();
    std::fs::write(
        &caddy.conf,
        text.replace(
            &format!("127.0.0.1:{}", caddy.admin),
            &format!("127.0.0.1:{closed}"),
        ),
    )
    .unwrap();
    let sb = common::Sandbox::new();
    let v = check(&sb, &caddy.conf);
    let down = upstream(&v, &format!("http://127.0.0.1:{dead}/"));
    let line = line_of(&caddy.conf, &format!("reverse_proxy 127.0.0.1:{dead}"));
    assert_eq!(down["source"], format!("{}:{line}", caddy.conf.display()));
    assert!(
        !v["discovered_from"].to_string().contains("admin API"),
        "{v}"
    );
}
