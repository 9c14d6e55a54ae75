//! The actions engine against real commands: true, false, a sleep past its time limit, a script
//! printing escape sequences, the test guard, the audit trail, and a real nginx's `-t` and
//! `-s reload`.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gatewatch::actions::{
    self, ActionEvent, ActionResult, AuditLog, Exit, Outcome, Request, RunnerOptions, ServiceSpec,
    ServiceState, Verb,
};
use gatewatch::config::Argv;
use gatewatch::outbox::Outbox;

fn argv(words: &[&str]) -> Option<Argv> {
    Some(Argv(words.iter().map(|w| (*w).to_owned()).collect()))
}

fn service(name: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        status: None,
        test: None,
        reload: None,
        restart: None,
        timeout: Duration::from_secs(10),
        origin: "test".into(),
    }
}

/// Runs `verb` on the one service through the runner's own code path, collecting its events.
fn perform(spec: ServiceSpec, verb: Verb, options: &RunnerOptions) -> (ActionResult, Vec<String>) {
    let mut output = Vec::new();
    let mut started = Vec::new();
    let stop = AtomicBool::new(false);
    let request = Request {
        id: 7,
        service: 0,
        verb,
    };
    let result = actions::perform(&[spec.into()], options, request, &stop, &mut |ev| {
        match ev {
            ActionEvent::Started { id, command } => {
                assert_eq!(id, 7);
                started.push(format!("$ {command}"));
            }
            ActionEvent::Output { id, lines } => {
                assert_eq!(id, 7);
                output.extend(lines);
            }
            other => panic!("unexpected event {other:?}"),
        }
        true
    });
    started.extend(output);
    (result, started)
}

fn sh(script: &str) -> Option<Argv> {
    argv(&["sh", "-c", script])
}

#[test]
fn true_and_false_report_their_exit_status() {
    let mut ok = service("web");
    ok.restart = argv(&["true"]);
    let (r, _) = perform(ok, Verb::Restart, &RunnerOptions::default());
    assert_eq!(r.outcome, Outcome::Ran(Exit::Code(0)));
    assert!(r.success());
    assert!(
        r.summary().starts_with("restart web: exit 0 in 0."),
        "{}",
        r.summary()
    );

    let mut bad = service("web");
    bad.reload = argv(&["false"]);
    let (r, _) = perform(bad, Verb::Reload, &RunnerOptions::default());
    assert_eq!(r.outcome, Outcome::Ran(Exit::Code(1)));
    assert!(!r.success());
    assert!(r.summary().starts_with("reload web: exit 1 in "));
}

#[test]
fn a_command_past_its_time_limit_is_killed_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let mut spec = service("slow");
    spec.timeout = Duration::from_millis(500);
    // The script's own child would keep running (and keep the pipe open) if only the script died.
    spec.restart = sh(&format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    ));
    let t = Instant::now();
    let (r, out) = perform(spec, Verb::Restart, &RunnerOptions::default());
    let took = t.elapsed();
    assert_eq!(
        r.outcome,
        Outcome::Ran(Exit::TimedOut(Duration::from_millis(500)))
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(out.iter().any(|l| l == "started"), "{out:?}");
    assert!(
        r.summary().contains("timed out after 500ms (killed)"),
        "{}",
        r.summary()
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    let gone = Instant::now() + Duration::from_secs(3);
    while Path::new(&proc).exists()
        && std::fs::read_to_string(format!("{proc}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(Instant::now() < gone, "the sleep child survived the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn escape_sequences_in_output_are_made_visible() {
    let mut spec = service("evil");
    // OSC title change, a CSI clear screen, an 8-bit CSI, a bell and invalid UTF-8.
    spec.test = sh(
        r"printf '\033]0;pwned\007title\n\033[2J\302\233c\n\377\376bytes\r\n'; printf 'err\033[31m\n' >&2",
    );
    let (r, out) = perform(spec, Verb::Test, &RunnerOptions::default());
    assert!(r.success(), "{}", r.summary());
    let text = out.join("\n");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "{text:?}"
    );
    assert!(!text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("\\x1b]0;pwned\\x07title"), "{text:?}");
    assert!(text.contains("\\x1b[2J\\u{9b}c"), "{text:?}");
    assert!(text.contains("\u{fffd}\u{fffd}bytes"), "{text:?}");
    assert!(text.contains("err\\x1b[31m"), "{text:?}");
}

#[test]
fn a_megabyte_line_is_cut_with_a_marker_and_nothing_after_it_is_lost() {
    let mut spec = service("chatty");
    spec.test = sh("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after");
    let (r, out) = perform(spec, Verb::Test, &RunnerOptions::default());
    assert!(r.success());
    let long = out.iter().find(|l| l.starts_with("xxx")).unwrap();
    assert!(long.len() < 17 * 1024, "{}", long.len());
    assert!(long.ends_with("[… line cut at 16 KiB]"));
    assert_eq!(out.last().map(String::as_str), Some("after"));
}

#[test]
fn a_missing_program_is_reported_not_run() {
    let mut spec = service("ghost");
    spec.restart = argv(&["/nonexistent/gatewatch-test-binary"]);
    let (r, _) = perform(spec, Verb::Restart, &RunnerOptions::default());
    assert_eq!(
        r.outcome,
        Outcome::Ran(Exit::NotStarted(
            "/nonexistent/gatewatch-test-binary: command not found".into()
        ))
    );
}

#[test]
fn a_failing_test_refuses_the_reload_and_a_passing_one_lets_it_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("reloaded");
    let mut spec = service("web");
    spec.test = sh("echo 'config line 3: unknown directive'; exit 1");
    spec.reload = argv(&["touch", &marker.display().to_string()]);
    let (r, out) = perform(spec.clone(), Verb::Reload, &RunnerOptions::default());
    assert_eq!(
        r.outcome,
        Outcome::Refused {
            test: "sh -c 'echo '\\''config line 3: unknown directive'\\''; exit 1'".into(),
            exit: Exit::Code(1)
        },
        "{}",
        r.summary()
    );
    assert!(!marker.exists(), "the reload ran despite the failed test");
    assert!(
        out.iter().any(|l| l.contains("unknown directive")),
        "{out:?}"
    );
    assert!(r.summary().starts_with("reload web: refused, `sh -c"));

    spec.test = argv(&["true"]);
    let (r, out) = perform(spec, Verb::Reload, &RunnerOptions::default());
    assert!(r.success(), "{}", r.summary());
    assert!(marker.exists());
    assert_eq!(out[0], "$ true");
    assert!(out[1].starts_with("$ touch "));
}

#[test]
fn read_only_refuses_everything_but_status() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("restarted");
    let mut spec = service("web");
    spec.restart = argv(&["touch", &marker.display().to_string()]);
    spec.status = argv(&["true"]);
    let options = RunnerOptions {
        read_only: true,
        ..RunnerOptions::default()
    };
    let (r, out) = perform(spec.clone(), Verb::Restart, &options);
    assert_eq!(
        r.outcome,
        Outcome::Denied("gatewatch runs with --read-only".into())
    );
    assert!(out.is_empty());
    assert!(!marker.exists());
    let (r, _) = perform(spec, Verb::Status, &options);
    assert!(r.success());
}

#[test]
fn every_command_run_is_audited_guard_included() {
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::new(dir.path().join("actions.log"));
    let mut spec = service("web");
    spec.test = argv(&["true"]);
    spec.restart = argv(&["false"]);
    let options = RunnerOptions {
        read_only: false,
        audit: Some(audit.clone()),
        user: "tester".into(),
    };
    let (r, _) = perform(spec, Verb::Restart, &options);
    assert_eq!(r.audit_error, None);
    let text = std::fs::read_to_string(audit.path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["step"], "test");
    assert_eq!(lines[0]["action"], "restart");
    assert_eq!(lines[0]["result"], "exit 0");
    assert_eq!(lines[1]["step"], "restart");
    assert_eq!(lines[1]["argv"][0], "false");
    assert_eq!(lines[1]["exit_code"], 1);
    assert_eq!(lines[1]["user"], "tester");
}

#[test]
fn an_unwritable_audit_trail_is_reported_but_the_action_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let mut spec = service("web");
    spec.restart = argv(&["true"]);
    let options = RunnerOptions {
        read_only: false,
        audit: Some(AuditLog::new(blocker.join("actions.log"))),
        user: "tester".into(),
    };
    let (r, _) = perform(spec, Verb::Restart, &options);
    assert!(r.success());
    let why = r.audit_error.unwrap();
    // The directory cannot be created where a file is: the message names the trail and the reason.
    assert!(
        why.starts_with(&format!("audit trail {}/actions.log: ", blocker.display())),
        "{why}"
    );
    assert!(why.contains("is not a directory"), "{why}");
}

#[test]
fn the_runner_thread_runs_one_action_and_reports_it() {
    let mut spec = service("web");
    spec.restart = sh("echo restarting; sleep 0.2; echo done");
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let runner =
        actions::ActionRunner::spawn(vec![spec], RunnerOptions::default(), Outbox::new(tx))
            .unwrap();
    let clock = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut next = || {
        let event = clock
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), rx.recv()).await });
        event.unwrap().unwrap()
    };
    runner
        .submit(Request {
            id: 1,
            service: 0,
            verb: Verb::Restart,
        })
        .unwrap();
    let mut lines = Vec::new();
    let result = loop {
        match next() {
            ActionEvent::Output { lines: l, .. } => lines.extend(l),
            ActionEvent::Finished(r) => break r,
            _ => {}
        }
    };
    assert!(result.success(), "{}", result.summary());
    assert_eq!(lines, ["restarting", "done"]);
}

#[test]
fn status_commands_tell_running_stopped_and_unknown_apart() {
    let mut up = service("up");
    up.status = argv(&["echo", "active"]);
    let mut down = service("down");
    down.status = sh("echo inactive; exit 3");
    let mut hung = service("hung");
    hung.status = argv(&["sleep", "30"]);
    hung.timeout = Duration::from_millis(300);
    let none = service("none");
    let t = Instant::now();
    let got = actions::check_all(&[up, down, hung, none]);
    assert!(t.elapsed() < Duration::from_secs(4));
    let states: Vec<(ServiceState, &str)> =
        got.iter().map(|s| (s.state, s.detail.as_str())).collect();
    assert_eq!(
        states,
        [
            (ServiceState::Running, "active"),
            (ServiceState::Stopped, "inactive (exit 3)"),
            (ServiceState::Unknown, "timed out after 300ms (killed)"),
            (ServiceState::Unknown, "no status command"),
        ]
    );
}

#[test]
fn real_nginx_test_and_reload_and_the_guard_keeps_a_broken_config_out() {
    let nginx = common::nginx::Nginx::start("", "    location / { return 200 'one'; }");
    assert_eq!(nginx.get("/").1.rsplit("\r\n").next(), Some("one"));
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    let prefix = nginx.dir.path().display().to_string();
    let conf = nginx.conf.display().to_string();
    let base = [bin, "-e", "stderr", "-p", &prefix, "-c", &conf];
    let with = |extra: &[&str]| argv(&[&base[..], extra].concat());
    let mut spec = service("nginx");
    spec.test = with(&["-t"]);
    spec.reload = with(&["-s", "reload"]);

    let original = std::fs::read_to_string(&nginx.conf).unwrap();
    std::fs::write(&nginx.conf, original.replace("'one'", "'two'")).unwrap();
    let (r, out) = perform(spec.clone(), Verb::Reload, &RunnerOptions::default());
    assert!(r.success(), "{}\n{out:#?}", r.summary());
    assert!(
        out.iter().any(|l| l.contains("syntax is ok")),
        "nginx -t output: {out:#?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while nginx.get("/").1.rsplit("\r\n").next() != Some("two") {
        assert!(Instant::now() < deadline, "nginx did not reload");
        std::thread::sleep(Duration::from_millis(50));
    }

    std::fs::write(&nginx.conf, original.replace("return 200", "retrun 200")).unwrap();
    let (r, out) = perform(spec, Verb::Reload, &RunnerOptions::default());
    assert!(
        matches!(
            &r.outcome,
            Outcome::Refused {
                exit: Exit::Code(1),
                ..
            }
        ),
        "{}",
        r.summary()
    );
    assert!(
        out.iter()
            .any(|l| l.contains("unknown directive \"retrun\"")),
        "{out:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(nginx.get("/").1.rsplit("\r\n").next(), Some("two"));
}
