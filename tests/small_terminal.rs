//! The real binary at 80x24, the size a terminal opens at: the footer keeps the keys that act on
//! the diagnosis, htop's F10 quits, and `Z` freezes the whole screen while a log grows.

mod common;

use std::time::{Duration, Instant};

use common::{Sandbox, Tmux, append};

fn line(n: u32, what: &str) -> String {
    format!("2027/01/15 08:00:{n:02} [error] 12#12: {what}\n")
}

fn footer(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn at_80x24_the_footer_keeps_its_keys_z_freezes_and_f10_quits() {
    let files = Sandbox::new();
    let log = files.path().join("error.log");
    append(&log, &line(1, "first"));
    let cfg = files.write(
        "config.toml",
        &format!(
            "refresh = \"500ms\"\n[[log]]\npath = \"{}\"\n",
            log.display()
        ),
    );
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 80, 24);
    t.keys(&["4"]);
    let screen = t.wait_for("08:00:01 [error]");
    let shown = footer(&screen);
    for hint in ["q/^C quit", "? help", "r rerun", "a actions", "v verdict"] {
        assert!(shown.contains(hint), "{hint:?} missing from {shown:?}");
    }

    // How long a new line takes to show on a live screen, to wait well past it when frozen.
    let started = Instant::now();
    append(&log, &line(2, "live"));
    t.wait_for("08:00:02 [error]");
    let shows_within = started.elapsed();

    t.keys(&["Z"]);
    let frozen = t.wait_for("FROZEN");
    append(&log, &line(3, "held"));
    // Past the time a line takes to show, and past several host samples (every 500 ms).
    std::thread::sleep((shows_within * 4).max(Duration::from_secs(2)));
    assert_eq!(t.screen(), frozen, "a frozen screen changed");

    // Keys still work on the frozen content.
    t.keys(&["F1"]);
    t.wait_for("show or hide this help");
    t.keys(&["Escape"]);
    t.wait_until("the help to close", |t| {
        !t.screen().contains("show or hide this help")
    });

    t.keys(&["Z"]);
    let thawed = t.wait_for("08:00:03 [error]");
    assert!(!thawed.contains("FROZEN"), "{thawed}");

    t.keys(&["F10"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

/// tmux answers a pane's background query (OSC 11) with its `window-style`: set white before
/// gatewatch starts, by a wrapper in the pane, it is a light terminal.
fn on_a_light_terminal(args: &[&str]) -> Tmux {
    let wrapper: Vec<String> = [
        "sh",
        "-c",
        "tmux set -g window-style bg=#ffffff && exec \"$@\"",
        "sh",
    ]
    .map(String::from)
    .to_vec();
    // TERM=screen (tmux's default) is a terminal the query library does not ask.
    // COLORFGBG emptied: the sandbox says "dark" there, and this test is about the query.
    let env = [
        ("TERM", "tmux-256color"),
        ("COLORTERM", "truecolor"),
        ("COLORFGBG", ""),
    ];
    Tmux::start_under(&wrapper, args, 100, 30, &env)
}

/// The light theme's accent (#005fd7) as a truecolor SGR parameter.
const LIGHT_ACCENT: &str = "38;2;0;95;215";

#[test]
fn a_light_terminal_gets_the_light_theme_unless_one_is_chosen() {
    let t = on_a_light_terminal(&[]);
    t.wait_for("PID");
    let ansi = t.screen_ansi();
    assert!(
        ansi.contains(LIGHT_ACCENT),
        "not the light theme:\n{ansi:?}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let chosen = on_a_light_terminal(&["--theme", "default"]);
    chosen.wait_for("PID");
    let ansi = chosen.screen_ansi();
    assert!(
        !ansi.contains(LIGHT_ACCENT),
        "--theme default was ignored:\n{ansi:?}"
    );
    chosen.keys(&["q"]);
    assert_eq!(chosen.wait_exit(), 0);
}
