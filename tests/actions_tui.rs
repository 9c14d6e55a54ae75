//! Service actions with the real binary in a real terminal: the confirm flow (Enter alone, n and
//! Esc cancel; y runs), the output view, the test guard, the audit trail and --read-only.

mod common;

use std::path::Path;

use common::{Sandbox, Tmux};

struct Setup {
    files: Sandbox,
    config: String,
}

impl Setup {
    fn new() -> Setup {
        let files = Sandbox::new();
        let dir = files.path().display().to_string();
        let config = files.write(
            "config.toml",
            &format!(
                r#"
[[service]]
name = "web"
status = ["sh", "-c", "if test -e {dir}/web.up; then echo active; else echo inactive; exit 3; fi"]
restart = ["sh", "-c", "echo restarting web; touch {dir}/web.up"]

[[service]]
name = "proxy"
test = ["sh", "-c", "echo 'proxy.conf:3: unknown directive'; exit 1"]
reload = ["touch", "{dir}/proxy.reloaded"]
"#
            ),
        );
        Setup {
            files,
            config: config.display().to_string(),
        }
    }

    fn exists(&self, name: &str) -> bool {
        self.files.path().join(name).exists()
    }
}

#[test]
fn confirm_flow_enter_n_and_esc_cancel_y_runs_and_the_guard_refuses_a_bad_reload() {
    let s = Setup::new();
    let t = Tmux::start(&["--config", &s.config], 120, 40);
    t.wait_for("web ✖ stopped (inactive (exit 3))");

    t.keys(&["a"]);
    t.wait_for("Actions");
    t.keys(&["j", "Enter"]);
    let screen = t.wait_for("Confirm: restart web");
    assert!(
        screen.contains("sh -c 'echo restarting web; touch "),
        "the exact command is shown:\n{screen}"
    );
    assert!(screen.contains("[ Cancel ]"), "{screen}");

    t.keys(&["Enter"]);
    t.wait_for("cancelled: nothing was run");
    t.keys(&["Enter"]);
    t.wait_for("Confirm: restart web");
    t.keys(&["n"]);
    t.wait_for("cancelled: nothing was run");
    t.keys(&["Enter"]);
    t.wait_for("Confirm: restart web");
    t.keys(&["Escape"]);
    t.wait_until("the dialog closes", |t| !t.screen().contains("Confirm:"));
    assert!(!s.exists("web.up"), "a cancelled action ran");

    t.keys(&["Enter"]);
    t.wait_for("Confirm: restart web");
    t.keys(&["y"]);
    let screen = t.wait_for("restart web: exit 0 in");
    assert!(screen.contains("Output: restart web"), "{screen}");
    assert!(
        screen.contains("restarting web"),
        "output is shown:\n{screen}"
    );
    assert!(s.exists("web.up"));
    t.keys(&["Escape"]);
    t.wait_until("the output view closes", |t| {
        !t.screen().contains("Output:")
    });
    // The finished action reruns the status check: the Host pane sees the service come up.
    t.wait_for("web ● running");

    t.keys(&["a", "G", "Enter"]);
    let screen = t.wait_for("Confirm: reload proxy");
    assert!(
        screen.contains("after this test, and only if it passes:"),
        "{screen}"
    );
    t.keys(&["y"]);
    let screen = t.wait_for("reload proxy: refused");
    assert!(
        screen.contains("proxy.conf:3: unknown directive"),
        "the test's output says why:\n{screen}"
    );
    assert!(
        !s.exists("proxy.reloaded"),
        "the guard let a reload through"
    );

    let audit = t.sandbox.path().join("state/gatewatch/actions.log");
    let text = std::fs::read_to_string(&audit).expect("the audit trail exists");
    let steps: Vec<(String, String, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object a line");
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (field("service"), field("step"), field("result"))
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("web".into(), "restart".into(), "exit 0".into()),
            ("proxy".into(), "test".into(), "exit 1".into()),
        ]
    );

    // e writes the incident report, with the actions taken.
    // (q closes a popup too; Escape followed at once by a key would read as Alt+key.)
    t.keys(&["q"]);
    t.wait_until("the output view closes", |t| {
        !t.screen().contains("Output:")
    });
    t.keys(&["e"]);
    t.wait_for("report written: ");
    let dir = t.sandbox.path().join("state/gatewatch");
    let report = std::fs::read_dir(&dir)
        .expect("the state dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("report-"))
        })
        .expect("a report file");
    let text = std::fs::read_to_string(&report).expect("read the report");
    assert!(text.starts_with("# gatewatch incident report: "), "{text}");
    assert!(text.contains("## Actions taken"), "{text}");
    assert!(text.contains(" restart web: exit 0 in "), "{text}");
    assert!(text.contains(" reload proxy: refused, "), "{text}");

    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

#[test]
fn read_only_shows_actions_greyed_and_runs_nothing() {
    let s = Setup::new();
    let t = Tmux::start(&["--config", &s.config, "--read-only"], 120, 40);
    t.wait_for("web ✖ stopped");
    t.keys(&["a"]);
    t.wait_for("Actions (read-only: --read-only)");
    t.keys(&["j", "Enter"]);
    t.wait_for("read-only: actions are disabled (--read-only)");
    assert!(!t.screen().contains("Confirm:"));
    t.keys(&["y"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!s.exists("web.up"));
    assert!(!Path::new(&t.sandbox.path().join("state/gatewatch/actions.log")).exists());
    t.keys(&["q"]);
    t.wait_until("the menu closes", |t| !t.screen().contains("Actions ("));
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
