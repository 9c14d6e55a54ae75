//! The Logs pane with the real binary in a real terminal, following real files.

mod common;

use std::fs;

use common::{Sandbox, Tmux, append};

const REFUSED: &str = "2027/01/15 08:00:01 [error] 12#12: *3 connect() failed (111: Connection refused) while \
                       connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", \
                       upstream: \"http://127.0.0.1:8080/\", host: \"shop\"\n";

#[test]
fn follows_a_log_across_rename_rotation_and_never_passes_escapes_to_the_terminal() {
    let files = Sandbox::new();
    let log = files.path().join("error.log");
    append(&log, REFUSED);
    let cfg = files.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\n", log.display()),
    );
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    t.keys(&["4", "z"]);
    let screen = t.wait_for("[refused] 2027/01/15 08:00:01");
    assert!(
        screen.contains("refused 1"),
        "the cause strip counts it:\n{screen}"
    );

    // An attacker-controlled request line: OSC retitle, clear screen, 8-bit CSI, BEL.
    append(
        &log,
        "2027/01/15 08:00:02 [error] 12#12: GET /\x1b]0;pwned\x07\x1b[2J\u{9b}31m evil\n",
    );
    let screen = t.wait_for("evil");
    assert!(
        screen.contains("\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m evil"),
        "shown escaped:\n{screen}"
    );
    assert_ne!(
        t.format("#{pane_title}"),
        "pwned",
        "the title was not changed"
    );
    assert!(
        screen.contains("[refused]"),
        "the screen was not cleared:\n{screen}"
    );

    // logrotate's default: rename, then the proxy reopens a new file at the same path.
    fs::rename(&log, files.path().join("error.log.1")).expect("rotate");
    append(
        &files.path().join("error.log.1"),
        "2027/01/15 08:00:03 [warn] 12#12: last words of the old file\n",
    );
    append(
        &log,
        "2027/01/15 08:00:04 [error] 12#12: first line of the new file\n",
    );
    let screen = t.wait_for("first line of the new file");
    assert!(
        screen.contains("last words of the old file"),
        "the old file was finished first:\n{screen}"
    );

    // Search, then the cause filter.
    t.keys(&["/"]);
    t.keys(&["-l", "new file"]);
    t.keys(&["Enter"]);
    t.wait_for("/new file");
    t.keys(&["c"]);
    let screen = t.wait_for("· refused");
    assert!(
        !screen.contains("first line of the new file"),
        "only refused lines pass:\n{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn a_log_that_does_not_exist_yet_is_waited_for() {
    let files = Sandbox::new();
    let log = files.path().join("late.log");
    let cfg = files.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\nkind = \"error\"\n", log.display()),
    );
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    t.keys(&["4", "z"]);
    t.wait_for("waiting:");
    append(&log, REFUSED);
    t.wait_for("[refused]");
}

#[test]
fn check_counts_502_causes_in_the_recent_end_of_each_log() {
    let sb = Sandbox::new();
    let now = jiff::Zoned::now();
    let stamp = now.strftime("%Y/%m/%d %H:%M:%S").to_string();
    let mut text = String::new();
    for i in 0..3 {
        text.push_str(&format!(
            "{stamp} [error] 12#12: *{i} connect() failed (111: Connection refused) while connecting to upstream, \
             client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"shop\"\n"
        ));
    }
    let log = sb.write("error.log", &text);
    let cfg = sb.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\n", log.display()),
    );
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let logs = v["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{v}");
    assert_eq!(logs[0]["causes"]["refused"], 3, "{v}");
    assert_eq!(logs[0]["lines_scanned"], 3);
    assert!(logs[0]["error"].is_null());
    assert!(v["findings"].to_string().contains("refused"), "{v}");
    assert!(
        matches!(v["status"].as_str(), Some("warning" | "critical")),
        "{v}"
    );
}

/// Wrapped (`w`), a 4000-character line taller than half the pane is capped (its first rows,
/// then "… +K KiB") and the newest line below it stays whole at the bottom, with no blank row in
/// the pane; a line of combining marks takes one column per letter.
#[test]
fn wrapped_long_and_combining_lines_fill_the_pane_exactly() {
    let files = Sandbox::new();
    let log = files.path().join("error.log");
    append(&log, "first line\n");
    let cfg = files.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\n", log.display()),
    );
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    t.keys(&["4", "z"]);
    t.wait_for("first line");
    // 100 letters, each with a combining acute accent: 100 columns, not 200.
    let marked: String = "e"
        .repeat(100)
        .chars()
        .flat_map(|c| [c, '\u{301}'])
        .collect();
    append(&log, &format!("MARKS {marked} MARKS-END\n"));
    append(&log, &format!("LONG-START {} LONG-END\n", "x".repeat(4000)));
    append(
        &log,
        "NEWEST-START then the newest line ends here NEWEST-END\n",
    );
    t.wait_for("NEWEST-END");
    t.keys(&["w"]);
    let screen = t
        .wait_until("the long line wrapped and capped", |t| {
            t.screen().contains("… +")
        })
        .screen();
    let rows: Vec<&str> = screen.lines().collect();
    let newest = rows
        .iter()
        .position(|r| r.contains("NEWEST-START"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(rows[newest].contains("NEWEST-END"), "whole:\n{screen}");
    assert!(
        rows[newest - 1].contains("… +") && rows[newest - 1].contains(" KiB"),
        "the long line's cap right above:\n{screen}"
    );
    assert!(
        screen.contains("LONG-START") && !screen.contains("LONG-END"),
        "{screen}"
    );
    let top = rows
        .iter()
        .position(|r| r.contains("4 Logs"))
        .unwrap_or_else(|| panic!("{screen}"));
    for row in &rows[top + 2..newest] {
        assert!(
            !row.trim_matches(|c| c == '│' || c == ' ').is_empty(),
            "a blank row in the pane:\n{screen}"
        );
    }
    // The marked line is one row of 116 columns.
    let row = screen
        .lines()
        .find(|r| r.contains("MARKS "))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("MARKS-END"), "one row:\n{screen}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
