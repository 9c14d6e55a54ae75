//! The Logs pane's line detail, sideways scroll, merged view and copy, with the real binary in a
//! real terminal following two real log files.

mod common;

use std::process::Command;

use common::{Sandbox, Tmux, append};

/// An upstream address long enough that the pane, even zoomed at 120 columns, cuts it.
const UPSTREAM: &str =
    "http://127.0.0.1:35073/checkout/payment/confirm?order=12345&session=abcdef0123456789";

fn error_line(second: u32) -> String {
    format!(
        "2027/01/15 08:00:{second:02} [error] 12#12: *{second} connect() failed (111: Connection refused) \
         while connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET \
         /checkout/payment/confirm?order=12345&session=abcdef0123456789 HTTP/1.1\", upstream: \
         \"{UPSTREAM}\", host: \"shop.example\"\n"
    )
}

fn access_line(second: u32) -> String {
    format!(
        "203.0.113.7 - - [15/Jan/2027:08:00:{second:02} +0000] \"GET /api/items HTTP/1.1\" 200 157 \
         \"-\" \"curl/8\" ACCESS-{second:02}\n"
    )
}

/// Two logs: the access log (listed first) with no failure, the error log with the 502s' causes.
fn two_logs(files: &Sandbox) -> std::path::PathBuf {
    let access = files.path().join("access.log");
    let error = files.path().join("error.log");
    for s in 0..4 {
        append(&access, &access_line(s * 2));
        append(&error, &error_line(s * 2 + 1));
    }
    files.write(
        "config.toml",
        &format!(
            "[[log]]\npath = \"{}\"\n\n[[log]]\npath = \"{}\"\n",
            access.display(),
            error.display()
        ),
    )
}

/// The popup's inner columns of every row at 120 columns, joined: a wrapped line reads whole.
fn joined(screen: &str) -> String {
    screen
        .lines()
        .flat_map(|r| r.chars().skip(3).take(114))
        .collect()
}

#[test]
fn the_detail_reads_the_whole_line_and_the_merged_view_names_each_file() {
    let files = Sandbox::new();
    let cfg = two_logs(&files);
    let t = Tmux::start_with(
        &["--config", cfg.to_str().unwrap()],
        120,
        40,
        &[("GATEWATCH_OSC52", "on")],
    );
    // tmux keeps what an application copies with OSC 52 when told to: the copy is then readable.
    let socket = t.format("#{socket_path}");
    let set = Command::new("tmux")
        .args(["-S", &socket, "set", "-g", "set-clipboard", "on"])
        .output()
        .expect("tmux set");
    assert!(set.status.success(), "{set:?}");

    t.keys(&["4", "z"]);
    // Opened on the file with the 502-class lines, though it is the second source.
    let screen = t.wait_for("[2/2]");
    assert!(screen.contains("error.log"), "{screen}");
    let screen = t.wait_for("*7 connect() failed");
    assert!(
        !screen.contains(UPSTREAM),
        "the pane cuts the upstream:\n{screen}"
    );

    // Enter: the newest line, whole.
    t.keys(&["Enter"]);
    let screen = t.wait_for("Log line");
    let all = joined(&screen);
    assert!(
        all.contains(&format!("upstream: \"{UPSTREAM}\"")),
        "{screen}"
    );
    assert!(screen.contains("refused"), "the cause field:\n{screen}");
    assert!(screen.contains("shop.example"), "the host field:\n{screen}");

    // y in the detail: copied, and tmux received exactly the line.
    t.keys(&["y"]);
    t.wait_for("copied the line");
    let buffer = Command::new("tmux")
        .args(["-S", &socket, "show-buffer"])
        .output()
        .expect("tmux show-buffer");
    assert_eq!(
        String::from_utf8_lossy(&buffer.stdout),
        error_line(7).trim_end(),
        "the clipboard holds the line"
    );
    t.keys(&["Escape"]);
    t.wait_until("the detail closed", |t| !t.screen().contains("Log line"));

    // → twice: 40 columns sideways, said in the title.
    t.keys(&["Right", "Right"]);
    let screen = t.wait_for("→40");
    assert!(!screen.contains("2027/01/15 08:00:07"), "{screen}");
    t.keys(&["Left", "Left"]);
    t.wait_until("back to the start", |t| {
        t.screen().contains("[refused] 2027/01/15 08:00:07")
    });

    // m: both files' lines by time, each with its file's name.
    t.keys(&["m"]);
    let screen = t.wait_for("all 2 logs");
    let order: Vec<&str> = screen
        .lines()
        .filter_map(|r| {
            if r.contains("access.log ") && r.contains("ACCESS-") {
                Some("a")
            } else if r.contains("error.log ") && r.contains("[error]") {
                Some("e")
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        order,
        ["a", "e", "a", "e", "a", "e", "a", "e"],
        "by time, each named:\n{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn y_says_why_nothing_was_copied_inside_tmux_by_default() {
    let files = Sandbox::new();
    let cfg = two_logs(&files);
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    t.keys(&["4", "z"]);
    t.wait_for("*7 connect() failed");
    t.keys(&["y"]);
    t.wait_for("not copied: inside tmux");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
