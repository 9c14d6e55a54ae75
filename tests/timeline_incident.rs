//! The incident timeline end to end, as the issue tells it: a real nginx serving fine through an
//! upstream named in an included file, then that file edited to point at a closed port and
//! nginx reloaded (`nginx -s reload`). Traffic then meets 502s. gatewatch, watching the whole
//! time in tmux, and `check --json` run afterwards, both date the onset within 5 s of the first
//! 502 and name the reload and the changed file as what happened just before.
//!
//! Hermetic: nginx runs from its own prefix on a loopback port, discovery reads only its
//! config, and the kernel log and package logs are pointed at nothing (`/dev/null`, none).

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::{Sandbox, Tmux, require_tool};
use serde_json::Value;
use servers::{Behaviour, closed_port};
use upstreams::Upstreams;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn rfc3339(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("a time, not {v}"));
    text.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .as_second()
}

#[test]
fn a_reload_that_breaks_the_upstream_is_the_change_before_the_onset() {
    require_tool(&["/usr/sbin/nginx", "nginx"], "apt-get install -y nginx");
    let sb = Sandbox::new();
    let upstreams = Upstreams::new();
    let app = upstreams.start(Behaviour::status(200));
    let conf_d = sb.path().join("conf.d");
    std::fs::create_dir_all(&conf_d).expect("mkdir conf.d");
    let app_conf = conf_d.join("app.conf");
    std::fs::write(
        &app_conf,
        format!("upstream app {{\n  server 127.0.0.1:{};\n}}\n", app.port()),
    )
    .expect("write app.conf");
    let nginx = Nginx::start(
        &format!("  include {}/*.conf;\n", conf_d.display()),
        "    location / {\n      proxy_pass http://app;\n    }\n",
    );
    let fine = nginx.traffic("/", 20, 2, Duration::from_secs(5));
    assert!(
        fine.iter().all(|&c| c == 200),
        "serving fine first: {fine:?}"
    );
    let served_fine = now();

    let config = sb.write(
        "gatewatch.toml",
        "[timeline]\nkernel = \"/dev/null\"\npackages = []\n",
    );
    let (config, nginx_conf) = (
        config.display().to_string(),
        nginx.conf.display().to_string(),
    );
    let args = ["--config", &config, "--nginx-conf", &nginx_conf];
    let tmux = Tmux::start(&args, 160, 45);
    tmux.wait_for("Upstreams");
    // The timeline collector's first round (the logs' past, the config files' hashes) is done
    // when the view lists the config files' mtimes.
    tmux.keys(&["t"]);
    tmux.wait_for("config_change");

    // Serving fine for two seconds at least: the logs' seconds tell fine from failing.
    while now() < served_fine + 2 {
        std::thread::sleep(Duration::from_millis(100));
    }

    // The change that breaks it: the upstream moved to a port nothing listens on, then a reload.
    std::fs::write(
        &app_conf,
        format!(
            "upstream app {{\n  server 127.0.0.1:{};\n}}\n",
            closed_port()
        ),
    )
    .expect("edit app.conf");
    nginx.reload();
    let reloaded_at = now();

    // Requests until the new config answers 502: the first 502 is the true onset.
    let deadline = Instant::now() + Duration::from_secs(15);
    let first_502 = loop {
        let asked = now();
        if common::nginx::get(nginx.port, "/", Duration::from_secs(5)).0 == 502 {
            break asked;
        }
        assert!(Instant::now() < deadline, "no 502 after the reload");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The old worker answers its open connections with the old config until it exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nginx.error_log().contains(": exiting") {
        assert!(Instant::now() < deadline, "the old worker never exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let failing = nginx.traffic("/", 40, 2, Duration::from_secs(5));
    assert!(failing.iter().all(|&c| c == 502), "{failing:?}");

    // The dashboard: the sentence, in the verdict and the timeline view.
    let screen = tmux.wait_for("reloaded with a changed");
    assert!(screen.contains("502s began"), "{screen}");
    let app_conf_text = app_conf.display().to_string();
    let shown = tmux.wait_until("the reload and the edited file listed", |t| {
        let s = t.screen();
        s.contains("proxy_reload") && s.contains("nginx: reconfiguring") && s.contains("app.conf")
    });
    let screen = shown.screen();
    assert!(screen.contains("config_change"), "{screen}");

    // `check --json`, afterwards, from the logs and files alone.
    let (json, stdout) = sb.check_json(&args);
    let timeline = &json["timeline"];
    let onset = rfc3339(&timeline["onset"]);
    assert!(
        (onset - first_502).abs() <= 5,
        "onset {onset} against the first 502 at {first_502}: {stdout}"
    );
    assert_eq!(timeline["state"], "ongoing", "{stdout}");
    let events = timeline["events"].as_array().expect("events");
    let before = |kind: &str| {
        events
            .iter()
            .filter(|e| e["kind"] == kind && rfc3339(&e["at"]) <= onset)
            .max_by_key(|e| rfc3339(&e["at"]))
            .unwrap_or_else(|| panic!("no {kind} event before the onset: {stdout}"))
            .clone()
    };
    let reload_event = before("proxy_reload");
    assert!(
        (rfc3339(&reload_event["at"]) - reloaded_at).abs() <= 3,
        "{reload_event}"
    );
    assert_eq!(reload_event["text"], "nginx: reconfiguring");
    let change = events
        .iter()
        .filter(|e| e["kind"] == "config_change" && e["source"] == app_conf_text.as_str())
        .max_by_key(|e| rfc3339(&e["at"]))
        .unwrap_or_else(|| panic!("no config_change for {app_conf_text}: {stdout}"));
    assert!(
        rfc3339(&change["at"]) <= rfc3339(&reload_event["at"]),
        "{change}"
    );
    let story = timeline["story"].as_str().expect("a sentence");
    assert!(
        story.contains(&format!(
            "after nginx reloaded with a changed {app_conf_text}"
        )),
        "{story}"
    );
    assert_eq!(json["verdict"]["since"].as_str(), Some(story), "{stdout}");
}
