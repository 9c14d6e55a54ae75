//! Upstream services restarting or exiting, from systemd's own record of each unit: when its
//! main process last started and exited, how it ended, and how often systemd restarted it.
//!
//! Read with `systemctl show -p ... --timestamp=unix UNIT` (argv through the actions' runner:
//! stdin closed, own process group, killed at the time limit, output sanitised). systemd older
//! than 248 has no `--timestamp`; then the command is run again without it and the default
//! `Mon 2026-12-02 07:42:10 UTC` form is parsed.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::actions::{self, Exit};
use crate::config::Argv;

use super::event::{Event, EventKind};

pub const SHOW_PROPERTIES: &str = "ActiveEnterTimestamp,ExecMainStartTimestamp,ExecMainExitTimestamp,ExecMainStatus,ExecMainCode,NRestarts,Result,ActiveState";

/// Where systemd events say they came from.
pub const SOURCE: &str = "systemd";
/// Output kept per command: the properties asked for are a few hundred bytes.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Units asked about per call, at most (each is one short process, run side by side).
pub const MAX_UNITS: usize = 32;

/// The properties of one unit that make events.
#[derive(Debug, Default, PartialEq, Eq)]
struct Show<'a> {
    start: Option<i64>,
    exit: Option<i64>,
    status: Option<i32>,
    /// siginfo's si_code: 1 exited, 2 killed, 3 dumped core.
    code: Option<i32>,
    restarts: u64,
    result: Option<&'a str>,
    active: Option<&'a str>,
}

fn parse(output: &str) -> Show<'_> {
    let mut show = Show::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "ExecMainStartTimestamp" => show.start = timestamp(value),
            "ExecMainExitTimestamp" => show.exit = timestamp(value),
            "ExecMainStatus" => show.status = value.parse().ok(),
            "ExecMainCode" => show.code = value.parse().ok(),
            "NRestarts" => show.restarts = value.parse().unwrap_or(0),
            "Result" if !value.is_empty() => show.result = Some(value),
            "ActiveState" if !value.is_empty() => show.active = Some(value),
            _ => {}
        }
    }
    show
}

/// `@1733140930` (`--timestamp=unix`, maybe with a fraction) or `Mon 2026-12-02 07:42:10 UTC`
/// (the default; a zone other than UTC is read in the host's time zone, which is the one
/// systemctl printed it in). Empty, `n/a` and `0` mean never.
fn timestamp(value: &str) -> Option<i64> {
    if let Some(unix) = value.strip_prefix('@') {
        let whole = unix.split('.').next()?;
        return whole.parse().ok().filter(|&t: &i64| t > 0);
    }
    let mut words = value.split_ascii_whitespace();
    let first = words.next()?;
    // The weekday is optional (`--timestamp=utc` still has it, but be lenient).
    let date = if first.contains('-') {
        first
    } else {
        words.next()?
    };
    let time = words.next()?;
    let zone = words.next();
    let time = time.split('.').next()?;
    let civil: jiff::civil::DateTime = format!("{date}T{time}").parse().ok()?;
    let tz = match zone {
        None | Some("UTC" | "GMT" | "UTC0" | "Z") => jiff::tz::TimeZone::UTC,
        Some(_) => jiff::tz::TimeZone::system(),
    };
    let at = tz.to_ambiguous_zoned(civil).compatible().ok()?;
    Some(at.timestamp().as_second()).filter(|&t| t > 0)
}

/// Parses `systemctl show -p SHOW_PROPERTIES --timestamp=unix UNIT` output into the events
/// within `since..=now`: `service_restart` at ExecMainStartTimestamp, `service_exit` at
/// ExecMainExitTimestamp when the unit is not active or its main process did not exit 0.
pub fn show_events(unit: &str, output: &str, since: i64, now: i64) -> Vec<Event> {
    let show = parse(output);
    let within = |t: &i64| (since..=now).contains(t);
    let mut events = Vec::new();
    if let Some(at) = show.start.filter(within) {
        let text = match show.restarts {
            0 => format!("{unit} started"),
            1 => format!("{unit} started (restarted once by systemd)"),
            n => format!("{unit} started (restarted {n} times by systemd)"),
        };
        events.push(Event::new(at, EventKind::ServiceRestart, SOURCE, &text));
    }
    let clean_exit = show.code == Some(1) && show.status == Some(0);
    let active = show.active == Some("active");
    if let Some(at) = show.exit.filter(within)
        && (!active || !clean_exit)
    {
        let mut text = format!("{unit} {}", how_it_ended(show.code, show.status));
        let state = [
            show.active.map(|a| format!("now {a}")),
            show.result
                .filter(|r| *r != "success")
                .map(|r| format!("result {r}")),
        ];
        let state: Vec<String> = state.into_iter().flatten().collect();
        if !state.is_empty() {
            text.push_str(&format!(" ({})", state.join(", ")));
        }
        events.push(Event::new(at, EventKind::ServiceExit, SOURCE, &text));
    }
    events
}

fn how_it_ended(code: Option<i32>, status: Option<i32>) -> String {
    let status = status.unwrap_or(0);
    match code {
        Some(1) => format!("exited with status {status}"),
        Some(2) => format!("was killed by {}", signal_name(status)),
        Some(3) => format!("dumped core on {}", signal_name(status)),
        _ => format!("exited (code {}, status {status})", code.unwrap_or(0)),
    }
}

fn signal_name(n: i32) -> String {
    let name = match n {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.to_owned()
}

/// Runs `systemctl show` for each unit (at most [`MAX_UNITS`], side by side) and parses it. No
/// systemd on the host (no /run/systemd/system): empty, no error.
pub fn unit_events(
    systemctl: &Path,
    units: &[String],
    since: i64,
    now: i64,
    timeout: Duration,
) -> Vec<Event> {
    if !actions::has_systemd() {
        return Vec::new();
    }
    show_units(systemctl, units, since, now, timeout)
}

/// [`unit_events`] without asking whether systemd runs here (for a `systemctl` that answers
/// anyway, as tests' does).
pub fn show_units(
    systemctl: &Path,
    units: &[String],
    since: i64,
    now: i64,
    timeout: Duration,
) -> Vec<Event> {
    let mut units: Vec<&String> = units.iter().take(MAX_UNITS).collect();
    units.sort();
    units.dedup();
    std::thread::scope(|s| {
        let handles: Vec<_> = units
            .iter()
            .map(|unit| s.spawn(move || show(systemctl, unit, timeout)))
            .collect();
        let mut events = Vec::new();
        for (handle, unit) in handles.into_iter().zip(&units) {
            if let Ok(Some(output)) = handle.join() {
                events.extend(show_events(unit, &output, since, now));
            }
        }
        events.sort_by_key(|e| e.at);
        events
    })
}

/// The output of `systemctl show` for `unit`, or `None` when it could not run or said nothing.
fn show(systemctl: &Path, unit: &str, timeout: Duration) -> Option<String> {
    let (exit, output) = run_show(systemctl, unit, timeout, true);
    if matches!(exit, Exit::Code(c) if c != 0) && !has_properties(&output) {
        // An old systemctl refusing `--timestamp`: ask again for the default form.
        let (exit, output) = run_show(systemctl, unit, timeout, false);
        return ok_output(&exit, output, unit);
    }
    ok_output(&exit, output, unit)
}

fn ok_output(exit: &Exit, output: String, unit: &str) -> Option<String> {
    match exit {
        Exit::Code(_) | Exit::Signal(_) if has_properties(&output) => Some(output),
        _ => {
            tracing::debug!("systemctl show {unit}: {exit}");
            None
        }
    }
}

/// Whether any line is one of the properties asked for (an old systemctl's complaint about
/// `--timestamp=unix` has a `=` too).
fn has_properties(output: &str) -> bool {
    output.lines().any(|line| {
        line.split_once('=')
            .is_some_and(|(key, _)| SHOW_PROPERTIES.split(',').any(|p| p == key.trim()))
    })
}

fn run_show(systemctl: &Path, unit: &str, timeout: Duration, unix: bool) -> (Exit, String) {
    let mut argv = vec![
        systemctl.to_string_lossy().into_owned(),
        "show".to_owned(),
        "--no-pager".to_owned(),
        "--no-ask-password".to_owned(),
        "-p".to_owned(),
        SHOW_PROPERTIES.to_owned(),
    ];
    if unix {
        argv.push("--timestamp=unix".to_owned());
    }
    // A unit name starting with `-` is a name, not an option.
    argv.extend(["--".to_owned(), unit.to_owned()]);
    let mut output = String::new();
    let stop = AtomicBool::new(false);
    let (exit, _) = actions::run(&Argv(argv), timeout, &stop, &mut |lines| {
        for line in lines {
            if output.len() + line.len() < MAX_OUTPUT {
                output.push_str(&line);
                output.push('\n');
            }
        }
    });
    (exit, output)
}

/// The systemd unit a service's status command names: `systemctl [options] VERB [options] UNIT`
/// for a status-like verb, maybe behind `sudo [options]`.
pub fn unit_of(argv: &[String]) -> Option<String> {
    let mut words = argv.iter().map(String::as_str).peekable();
    if words.peek().is_some_and(|w| program(w) == "sudo") {
        words.next();
        while let Some(w) = words.next_if(|w| w.starts_with('-')) {
            // The sudo options that take a value as the next word.
            if matches!(
                w,
                "-u" | "-g" | "-U" | "-h" | "-p" | "-C" | "-D" | "-r" | "-t" | "-T"
            ) {
                words.next();
            }
        }
    }
    if program(words.next()?) != "systemctl" {
        return None;
    }
    let mut operands = words.filter(|w| !w.starts_with('-'));
    let verb = operands.next()?;
    if !matches!(verb, "is-active" | "is-failed" | "status" | "show") {
        return None;
    }
    let unit = operands.next()?;
    let valid = unit.len() <= 256
        && unit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.@\\".contains(&b));
    valid.then(|| unit.to_owned())
}

fn program(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// A unit systemd restarted three times after its main process died of SIGKILL; still
    /// running now.
    const RESTARTED: &str = "\
ActiveEnterTimestamp=@1764660130
ExecMainStartTimestamp=@1764660130
ExecMainExitTimestamp=
ExecMainStatus=0
ExecMainCode=0
NRestarts=3
Result=success
ActiveState=active
";

    /// A unit whose main process exited 1 and that systemd gave up on.
    const FAILED: &str = "\
ActiveEnterTimestamp=Wed 2025-12-02 07:20:00 UTC
ExecMainStartTimestamp=Wed 2025-12-02 07:20:00 UTC
ExecMainExitTimestamp=Wed 2025-12-02 07:22:10 UTC
ExecMainStatus=1
ExecMainCode=1
NRestarts=0
Result=exit-code
ActiveState=failed
";

    #[test]
    fn a_restarted_unit_gives_its_start_with_the_restart_count() {
        let events = show_events("app.service", RESTARTED, 1_764_660_000, 1_764_660_200);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::ServiceRestart);
        assert_eq!(events[0].at, 1_764_660_130);
        assert_eq!(
            events[0].text,
            "app.service started (restarted 3 times by systemd)"
        );
        assert_eq!(events[0].source, "systemd");
        // Outside the window: nothing.
        assert!(show_events("app.service", RESTARTED, 1_764_660_131, 1_764_660_200).is_empty());
        assert!(show_events("app.service", RESTARTED, 0, 1_764_660_129).is_empty());
    }

    #[test]
    fn a_failed_unit_gives_its_start_and_its_exit_in_the_default_time_form() {
        let start = 1_764_660_000; // 2025-12-02 07:20:00 UTC
        let events = show_events("api.service", FAILED, start - 60, start + 600);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            (events[0].at, events[0].text.as_str()),
            (start, "api.service started")
        );
        assert_eq!(events[1].kind, EventKind::ServiceExit);
        assert_eq!(events[1].at, start + 130);
        assert_eq!(
            events[1].text,
            "api.service exited with status 1 (now failed, result exit-code)"
        );
    }

    #[test]
    fn signals_and_clean_exits() {
        let killed = "ExecMainExitTimestamp=@100\nExecMainCode=2\nExecMainStatus=9\nActiveState=activating\nResult=signal\n";
        let e = show_events("w.service", killed, 0, 200);
        assert_eq!(
            e[0].text,
            "w.service was killed by SIGKILL (now activating, result signal)"
        );
        let dumped =
            "ExecMainExitTimestamp=@100\nExecMainCode=3\nExecMainStatus=11\nActiveState=active\n";
        assert_eq!(
            show_events("w", dumped, 0, 200)[0].text,
            "w dumped core on SIGSEGV (now active)"
        );
        // A oneshot that exited 0 and stays active is no exit worth showing.
        let oneshot =
            "ExecMainExitTimestamp=@100\nExecMainCode=1\nExecMainStatus=0\nActiveState=active\n";
        assert!(show_events("o", oneshot, 0, 200).is_empty());
        // Stopped cleanly: shown (the unit is not active).
        let stopped = "ExecMainExitTimestamp=@100\nExecMainCode=1\nExecMainStatus=0\nActiveState=inactive\nResult=success\n";
        assert_eq!(
            show_events("o", stopped, 0, 200)[0].text,
            "o exited with status 0 (now inactive)"
        );
    }

    #[test]
    fn timestamps_in_every_form_and_nonsense() {
        assert_eq!(timestamp("@1764660130"), Some(1_764_660_130));
        assert_eq!(timestamp("@1764660130.123456"), Some(1_764_660_130));
        assert_eq!(
            timestamp("Wed 2025-12-02 07:20:00 UTC"),
            Some(1_764_660_000)
        );
        assert_eq!(
            timestamp("Wed 2025-12-02 07:20:00.5 UTC"),
            Some(1_764_660_000)
        );
        assert_eq!(timestamp("2025-12-02 07:20:00"), Some(1_764_660_000));
        for bad in [
            "",
            "n/a",
            "0",
            "@0",
            "@",
            "@-5",
            "@x",
            "Wed",
            "Wed 2025-13-02 07:20:00 UTC",
            "\\x1b[2J",
        ] {
            assert_eq!(timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_output_gives_no_events_and_no_panic() {
        for junk in [
            "",
            "=",
            "==\n=@\n",
            "ExecMainStartTimestamp=@99999999999999999999999",
            "\u{0}\u{1b}=\u{7}",
        ] {
            assert!(show_events("x", junk, 0, i64::MAX).is_empty(), "{junk:?}");
        }
        // Hostile unit names and values are sanitised in the text.
        let e = show_events(
            "a\x1b]0;t\x07",
            "ExecMainStartTimestamp=@50\nNRestarts=\x1b[2J\n",
            0,
            100,
        );
        assert_eq!(e[0].text, "a\\x1b]0;t\\x07 started");
    }

    #[test]
    fn the_unit_of_a_status_command() {
        let argv = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            unit_of(&argv(&["systemctl", "is-active", "nginx"])),
            Some("nginx".into())
        );
        assert_eq!(
            unit_of(&argv(&["sudo", "-n", "systemctl", "status", "app.service"])),
            Some("app.service".into())
        );
        assert_eq!(
            unit_of(&argv(&[
                "systemctl",
                "is-active",
                "--no-pager",
                "--no-ask-password",
                "nginx"
            ])),
            Some("nginx".into())
        );
        assert_eq!(
            unit_of(&argv(&[
                "/usr/bin/sudo",
                "-u",
                "root",
                "/bin/systemctl",
                "--quiet",
                "is-active",
                "php8.2-fpm"
            ])),
            Some("php8.2-fpm".into())
        );
        assert_eq!(
            unit_of(&argv(&["systemctl", "is-active", "getty@tty1.service"])),
            Some("getty@tty1.service".into())
        );
        for other in [
            &["pgrep", "-x", "nginx"][..],
            &["systemctl", "restart", "nginx"],
            &["systemctl", "status"],
            &["service", "nginx", "status"],
            &["systemctl", "status", "a;rm -rf /"],
            &[],
        ] {
            assert_eq!(unit_of(&argv(other)), None, "{other:?}");
        }
    }
}
