//! lnav-style finding in the Logs pane, with the real binary in a real terminal on a real log
//! file: the search counter, a filter, Esc clearing them, the jump to an error line, the jump to
//! a time, and the count of lines that arrive while paused.

mod common;

use common::{Sandbox, Tmux, append};

/// nginx's error-log stamp of `at`, in UTC (the binary runs with TZ=UTC).
fn stamp(at: jiff::Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y/%m/%d %H:%M:%S")
        .to_string()
}

/// Rows of the screen between the Logs pane's top and bottom borders.
fn pane_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|r| !r.contains("4 Logs"))
        .skip(1)
        .take_while(|r| !r.starts_with('└'))
        .collect()
}

/// The last row of the pane holding a log line (the blank rows after it left out).
fn bottom_line(screen: &str) -> String {
    pane_rows(screen)
        .into_iter()
        .rev()
        .find(|r| !r.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .map(str::to_string)
        .unwrap_or_default()
}

#[test]
fn search_counts_filters_clear_and_jumps_to_errors_and_times() {
    let files = Sandbox::new();
    let now = jiff::Timestamp::now();
    let ago = |mins: i64| stamp(now - jiff::SignedDuration::from_mins(mins));
    let mut text = format!("{} [notice] 1#1: start worker processes\n", ago(60));
    let filler = |text: &mut String, at: &str, what: &str| {
        for i in 0..45 {
            text.push_str(&format!("{at} [info] 12#12: *{i} {what} filler line {i}\n"));
        }
    };
    filler(&mut text, &ago(55), "early");
    text.push_str(&format!(
        "{} [error] 12#12: *90 THE-ERROR-LINE connect() failed (111: Connection refused) while connecting to \
         upstream, upstream: \"http://127.0.0.1:8080/\"\n",
        ago(50)
    ));
    filler(&mut text, &ago(40), "middle");
    let target = now - jiff::SignedDuration::from_mins(30);
    text.push_str(&format!(
        "{} [info] 12#12: *91 GOTO-TARGET the first line at its time\n",
        stamp(target)
    ));
    filler(&mut text, &ago(20), "late");
    for (i, mins) in [(1, 5), (2, 4), (3, 3)] {
        text.push_str(&format!(
            "{} [info] 12#12: *9{i} GET /needle-{i} 200\n",
            ago(mins)
        ));
        text.push_str(&format!("{} [info] 12#12: between {i}\n", ago(mins)));
    }
    let log = files.write("error.log", &text);
    let cfg = files.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\n", log.display()),
    );
    let t = Tmux::start_with(
        &["--config", cfg.to_str().unwrap()],
        120,
        40,
        &[("TZ", "UTC")],
    );
    t.keys(&["4", "z"]);
    t.wait_for("between 3");

    // A search: the first match from the top of the pane, then the next.
    t.keys(&["/"]);
    t.keys(&["-l", "NEEDLE-\\d"]);
    t.wait_for("regex, smartcase");
    t.wait_for("/NEEDLE-\\d█");
    // Smartcase: an upper-case letter makes it case-sensitive, nothing matches.
    t.wait_for("0 matches");
    for _ in 0.."NEEDLE-\\d".len() {
        t.keys(&["BSpace"]);
    }
    t.keys(&["-l", "needle-\\d"]);
    t.wait_for("3 matches");
    t.keys(&["Enter"]);
    t.wait_for("/needle-\\d 1/3");
    t.keys(&["n"]);
    let screen = t.wait_for("/needle-\\d 2/3");
    assert!(
        bottom_line(&screen).contains("needle-2"),
        "the current match is the bottom line:\n{screen}"
    );

    // A filter in: only matching lines.
    t.keys(&["&"]);
    t.keys(&["-l", "needle"]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("& needle");
    let rows = pane_rows(&screen);
    assert!(rows.iter().any(|r| r.contains("needle-1")), "{screen}");
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("filler") || r.contains("between")),
        "other lines hidden:\n{screen}"
    );

    // Esc: the search first, then the filter.
    t.keys(&["Escape"]);
    t.wait_for("cleared the search /needle-\\d");
    t.keys(&["Escape"]);
    let screen = t.wait_for("cleared the filter & needle");
    assert!(screen.contains("between 3"), "{screen}");
    let top = screen
        .lines()
        .find(|r| r.contains("4 Logs"))
        .unwrap_or_default();
    assert!(!top.contains("needle"), "{screen}");

    // From the oldest line, `>` goes to the next error line.
    t.keys(&["g"]);
    let screen = t.wait_for("early filler line 0");
    assert!(!screen.contains("THE-ERROR-LINE"), "{screen}");
    t.keys(&[">"]);
    let screen = t.wait_for("THE-ERROR-LINE");
    assert!(bottom_line(&screen).contains("THE-ERROR-LINE"), "{screen}");
    assert!(screen.contains("paused"), "{screen}");

    // Go to a time: the first line written then.
    t.keys(&["G"]);
    t.wait_for("following");
    let hhmmss = target
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S")
        .to_string();
    t.keys(&[":"]);
    t.keys(&["-l", "soon"]);
    t.keys(&["Enter"]);
    t.wait_for("cannot read \"soon\" as a time");
    for _ in 0..4 {
        t.keys(&["BSpace"]);
    }
    t.keys(&["-l", &hhmmss]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("GOTO-TARGET");
    assert!(bottom_line(&screen).contains("GOTO-TARGET"), "{screen}");
    assert!(screen.contains("paused"), "{screen}");

    // Paused, lines arriving are counted; f follows and shows them.
    t.keys(&["G"]);
    t.wait_for("following");
    t.keys(&["f"]);
    t.wait_for("paused");
    append(
        &log,
        &format!(
            "{0} [info] 12#12: ARRIVED-1\n{0} [info] 12#12: ARRIVED-2\n{0} [info] 12#12: ARRIVED-3\n",
            ago(0)
        ),
    );
    let screen = t.wait_for("▼ 3 new lines");
    assert!(!screen.contains("ARRIVED-3"), "{screen}");
    t.keys(&["f"]);
    let screen = t.wait_for("ARRIVED-3");
    assert!(!screen.contains("new lines"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
