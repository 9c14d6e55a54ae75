//! Actions on nginx in a container, through the action layer and a real Docker Engine the test
//! starts: the reload runs `nginx -t` inside the container first and takes effect only when it
//! passes; a broken config is refused and the old one keeps serving; a restart gives the
//! container a new main process; the audit trail names the container and the argv of each step.

mod common;
#[path = "common/docker.rs"]
mod docker;

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gatewatch::actions::{
    self, ActionEvent, ActionResult, AuditLog, ContainerCommand, Exit, Outcome, Request,
    RunnerOptions, Target, Verb,
};
use gatewatch::config::Argv;
use gatewatch::containers::{Lookup, scan};

use common::Tmux;
use docker::Dockerd;

const NET: &str = "acts";

/// nginx answering `version` itself, writing only under tmpfs mounts of the container.
fn nginx_conf(version: &str) -> String {
    docker::nginx_conf(
        "/tmp/error.log",
        "off",
        &format!("server {{ listen 80; location / {{ return 200 \"{version}\"; }} }}"),
    )
}

/// nginx's answer body, from the host to the container's address.
fn answer(ip: &str) -> String {
    docker::http_get(ip).1
}

/// Runs `verb` on the one target through the runner's code path; its result and every line the
/// output view would show (commands started and their output).
fn perform(target: &Target, verb: Verb, options: &RunnerOptions) -> (ActionResult, Vec<String>) {
    let mut lines = Vec::new();
    let stop = AtomicBool::new(false);
    let request = Request {
        id: 3,
        service: 0,
        verb,
    };
    let result = actions::perform(
        std::slice::from_ref(target),
        options,
        request,
        &stop,
        &mut |ev| {
            match ev {
                ActionEvent::Started { command, .. } => lines.push(format!("$ {command}")),
                ActionEvent::Output { lines: more, .. } => lines.extend(more),
                other => panic!("unexpected event {other:?}"),
            }
            true
        },
    );
    (result, lines)
}

fn audit_lines(log: &AuditLog) -> Vec<serde_json::Value> {
    fs::read_to_string(log.path())
        .expect("audit trail")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn reload_and_restart_nginx_in_its_container_tested_first_and_audited() {
    let d = Dockerd::start();
    d.network(NET);
    let etc = d.scratch("etc-nginx");
    let conf = etc.join("nginx.conf");
    fs::write(&conf, nginx_conf("v1")).expect("nginx.conf");
    let mount = format!("{}:/etc/nginx:ro", etc.display());
    d.run(
        "web",
        NET,
        &["-v", &mount, "--tmpfs", "/tmp", "--tmpfs", "/var/log/nginx"],
        &["/usr/sbin/nginx", "-g", "daemon off;"],
    );
    d.wait_for("nginx answers v1", Duration::from_secs(10), || {
        d.address("web", NET).is_some_and(|ip| answer(&ip) == "v1")
    });
    let ip = d.address("web", NET).expect("an address");

    let found = scan(
        &Lookup::Socket(d.socket()),
        Path::new("/proc"),
        Duration::from_secs(10),
    );
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let targets = actions::targets(&[], &found);
    assert_eq!(targets.len(), 1, "{targets:?}");
    let target = &targets[0];
    assert_eq!(target.name(), "nginx in web");
    let menu: Vec<(Verb, String)> = target.verbs();
    assert_eq!(
        menu,
        [
            (Verb::Test, "in web: nginx -t".to_string()),
            (Verb::Reload, "in web: nginx -s reload".to_string()),
            (
                Verb::Restart,
                "restart container web (engine API, 10 s to stop)".to_string()
            ),
        ]
    );

    let audit_dir = tempfile::tempdir().expect("audit dir");
    let log = AuditLog::new(audit_dir.path().join("actions.log"));
    let options = RunnerOptions {
        read_only: false,
        audit: Some(log.clone()),
        user: "tester".into(),
    };

    // A new config on disk: the reload tests it in the container, then nginx serves it.
    fs::write(&conf, nginx_conf("v2")).expect("nginx.conf v2");
    let (r, out) = perform(target, Verb::Reload, &options);
    assert_eq!(r.outcome, Outcome::Ran(Exit::Code(0)), "{out:#?}");
    assert_eq!(r.summary().split(':').next(), Some("reload nginx in web"));
    assert_eq!(out[0], "$ in web: nginx -t", "{out:#?}");
    assert!(
        out.iter().any(|l| l.contains("test is successful")),
        "{out:#?}"
    );
    assert!(
        out.iter().any(|l| l == "$ in web: nginx -s reload"),
        "{out:#?}"
    );
    d.wait_for("nginx answers v2", Duration::from_secs(10), || {
        answer(&ip) == "v2"
    });

    // A broken config: the test fails in the container, nothing is reloaded.
    fs::write(
        &conf,
        nginx_conf("v3").replace("listen 80;", "listen 80 bogus;"),
    )
    .expect("broken nginx.conf");
    let (r, out) = perform(target, Verb::Reload, &options);
    match &r.outcome {
        Outcome::Refused { test, exit } => {
            assert_eq!(test, "in web: nginx -t");
            assert_eq!(*exit, Exit::Code(1));
        }
        other => panic!("the reload ran: {other:?} {out:#?}"),
    }
    assert!(
        r.outcome_text().contains("failed (exit 1)"),
        "{}",
        r.outcome_text()
    );
    assert!(
        out.iter()
            .any(|l| l.contains("[emerg]") && l.contains("bogus")),
        "nginx -t's error is shown: {out:#?}"
    );
    assert!(
        !out.iter().any(|l| l.contains("nginx -s reload")),
        "{out:#?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(answer(&ip), "v2", "the old config keeps serving");

    // The time limit holds in the container too.
    let Target::Container(spec) = target.clone() else {
        panic!("a container target");
    };
    let slow = Target::Container(actions::ContainerSpec {
        test: Some(ContainerCommand::Exec(Argv(vec![
            "/bin/sleep".into(),
            "10".into(),
        ]))),
        timeout: Duration::from_secs(1),
        ..spec
    });
    let started = Instant::now();
    let (r, out) = perform(&slow, Verb::Test, &RunnerOptions::default());
    assert_eq!(
        r.outcome,
        Outcome::Ran(Exit::TimedOut(Duration::from_secs(1))),
        "{out:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // A restart of a container that is down (what a crash loop leaves): nothing can run in it,
    // so no test is asked first, and it comes back with a new main process.
    fs::write(&conf, nginx_conf("v4")).expect("nginx.conf v4");
    let before = d.pid("web");
    d.docker(&["stop", "-t", "1", "web"]);
    let (r, out) = perform(target, Verb::Restart, &options);
    assert_eq!(r.outcome, Outcome::Ran(Exit::Done), "{out:#?}");
    let after = d.pid("web");
    assert!(after != before && after != 0, "pid {before} -> {after}");
    assert!(
        out.iter()
            .any(|l| l.contains(&format!("web restarted: running, main pid {after}"))),
        "{out:#?}"
    );
    d.wait_for("nginx answers v4", Duration::from_secs(10), || {
        d.address("web", NET).is_some_and(|ip| answer(&ip) == "v4")
    });

    // Every step audited: the container by name and id, the argv or the engine call.
    let id = d.docker(&["inspect", "--format", "{{.Id}}", "web"]);
    let audited = audit_lines(&log);
    let steps: Vec<(String, String, String)> = audited
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap_or("").to_string(),
                l["step"].as_str().unwrap_or("").to_string(),
                l["result"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let step = |a: &str, s: &str, r: &str| (a.to_string(), s.to_string(), r.to_string());
    assert_eq!(
        steps,
        [
            step("reload", "test", "exit 0"),
            step("reload", "reload", "exit 0"),
            step("reload", "test", "exit 1"),
            step("restart", "restart", "done"),
        ],
        "{audited:#?}"
    );
    for line in &audited {
        assert_eq!(line["service"], "nginx in web");
        assert_eq!(line["user"], "tester");
        assert_eq!(line["container"], format!("web (id {})", &id[..12]));
    }
    assert_eq!(audited[0]["argv"], serde_json::json!(["nginx", "-t"]));
    assert_eq!(
        audited[1]["argv"],
        serde_json::json!(["nginx", "-s", "reload"])
    );
    assert!(audited[1].get("engine_call").is_none(), "{:#}", audited[1]);
    assert_eq!(audited[2]["exit_code"], 1);
    assert_eq!(audited[3]["argv"], serde_json::json!([]));
    assert_eq!(audited[3]["engine_call"], "restart --time 10");

    // A reload by signal through the engine's kill call (how haproxy's master is reloaded; nginx's
    // master reloads on SIGHUP): the signal reaches the container's main process.
    fs::write(&conf, nginx_conf("v5")).expect("nginx.conf v5");
    let Target::Container(spec) = target.clone() else {
        panic!("a container target");
    };
    let by_signal = Target::Container(actions::ContainerSpec {
        reload: Some(ContainerCommand::Signal("SIGHUP")),
        ..spec
    });
    let (r, out) = perform(&by_signal, Verb::Reload, &RunnerOptions::default());
    assert_eq!(r.outcome, Outcome::Ran(Exit::Done), "{out:#?}");
    assert!(
        out.iter().any(|l| l == "SIGHUP sent to web's main process"),
        "{out:#?}"
    );
    let ip = d.address("web", NET).expect("an address");
    d.wait_for("nginx answers v5", Duration::from_secs(10), || {
        answer(&ip) == "v5"
    });

    // The real binary: the container's actions are in the `a` menu, confirmed, run and audited.
    fs::write(&conf, nginx_conf("v6")).expect("nginx.conf v6");
    let socket = d.socket().display().to_string();
    let t = Tmux::start_with(&[], 120, 40, &[("GATEWATCH_DOCKER_SOCKET", &socket)]);
    t.wait_for("gatewatch");
    t.keys(&["a"]);
    let screen = t.wait_for("nginx in web");
    assert!(screen.contains("in web: nginx -s reload"), "{screen}");
    assert!(screen.contains("container web via"), "{screen}");
    // The host's services come first (the sandbox's empty nginx config offers nginx's status,
    // test and reload), then the container's test, reload and restart.
    t.keys(&["G", "k", "Enter"]);
    let screen = t.wait_for("Confirm: reload nginx in web");
    assert!(
        screen.contains("in web: nginx -t"),
        "the guard is shown:\n{screen}"
    );
    t.keys(&["y"]);
    let screen = t.wait_for("reload nginx in web: exit 0 in");
    assert!(screen.contains("test is successful"), "{screen}");
    d.wait_for("nginx answers v6", Duration::from_secs(10), || {
        answer(&ip) == "v6"
    });
    let audit = AuditLog::new(t.sandbox.path().join("state/gatewatch/actions.log"));
    let audited = audit_lines(&audit);
    assert_eq!(audited.len(), 2, "{audited:#?}");
    assert_eq!(
        audited[1]["argv"],
        serde_json::json!(["nginx", "-s", "reload"])
    );
    assert_eq!(audited[1]["container"], format!("web (id {})", &id[..12]));
}
