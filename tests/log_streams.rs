//! A unit's journal and a container's log as followed sources, against fake `journalctl` and
//! `docker` scripts that print what the real ones print (`journalctl -o json` entries, `docker
//! logs -t` lines on both pipes). Real journald and dockerd are not used: a test machine (a
//! container) may have neither running, and no image can be pulled reliably.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatewatch::logs::{
    Cause, FollowOptions, LogBatch, LogFollower, LogLine, Origin, SourceSpec, SourceStatus,
};
use gatewatch::outbox::Outbox;
use tokio::sync::mpsc::{self, error::TryRecvError};

const PATIENCE: Duration = Duration::from_secs(20);

fn fake(dir: &Path, name: &str, body: &str) -> PathBuf {
    common::fake_program(dir, name, body)
}

/// The argv kept in `dir/FILE.argv` (`file` being the program's name, or `NAME.argv.N` whole).
fn recorded_argv(dir: &Path, file: &str) -> Vec<String> {
    let file = if file.contains(".argv") {
        file.to_owned()
    } else {
        format!("{file}.argv")
    };
    fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Follows `spec` until `done` holds for the lines so far (or `PATIENCE` runs out).
fn follow(spec: SourceSpec, done: impl Fn(&[LogLine], &SourceStatus) -> bool) -> Vec<LogLine> {
    follow_with(spec, Duration::from_secs(3600), done)
}

/// [`follow`], an ended program started again after `restart_after`.
fn follow_with(
    spec: SourceSpec,
    restart_after: Duration,
    done: impl Fn(&[LogLine], &SourceStatus) -> bool,
) -> Vec<LogLine> {
    let (tx, mut rx) = mpsc::channel::<LogBatch>(16);
    let options = FollowOptions {
        poll: Duration::from_millis(20),
        restart_after,
        ..FollowOptions::default()
    };
    let _follower = LogFollower::spawn(vec![spec], options, Outbox::new(tx)).unwrap();
    let mut lines = Vec::new();
    let mut status = SourceStatus::Starting;
    let deadline = Instant::now() + PATIENCE;
    while !done(&lines, &status) {
        assert!(
            Instant::now() < deadline,
            "timed out; status {status:?}, lines {lines:#?}"
        );
        match rx.try_recv() {
            Ok(batch) => {
                lines.extend(batch.lines);
                status = batch.status;
            }
            Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(5)),
            Err(TryRecvError::Disconnected) => panic!("follower ended"),
        }
    }
    lines
}

/// 2024-09-27T02:33:25Z in microseconds, as journald writes `__REALTIME_TIMESTAMP`.
const REALTIME: &str = "1727404405123456";
const AT: i64 = 1_727_404_405;

/// nginx writes its stamp in local time: 2024/09/27 02:33:SS here, in unix seconds.
fn nginx_at(second: i8) -> i64 {
    let civil = jiff::civil::datetime(2024, 9, 27, 2, 33, second, 0);
    jiff::tz::TimeZone::system()
        .to_ambiguous_timestamp(civil)
        .compatible()
        .unwrap()
        .as_second()
}

/// Entries as `journalctl -o json` prints them, one per line, written for this test: a text
/// message with nginx's own stamp, nginx's stderr form without one, a message journald keeps as
/// a byte array (it holds an escape byte), a hostile escape in a text message, an invalid line,
/// a message of two lines.
fn journal_entries() -> String {
    let refused = r#"2024/09/27 02:33:20 [error] 31#31: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"x\""#;
    let emerg = r#"nginx: [emerg] host not found in upstream \"backend:8080\" in /etc/nginx/conf.d/app.conf:12"#;
    let timeout_bytes: Vec<String> = b"2024/09/27 02:33:21 [error] 31#31: *10 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: \x1b[31m_"
        .iter()
        .map(|b| b.to_string())
        .collect();
    let common = format!(
        r#""__CURSOR":"s=6f1;i=1a2;b=9c;m=1f;t=623;x=77","__REALTIME_TIMESTAMP":"{REALTIME}","__MONOTONIC_TIMESTAMP":"123456","_BOOT_ID":"9c","PRIORITY":"3","SYSLOG_IDENTIFIER":"nginx","_PID":"880","_SYSTEMD_UNIT":"nginx.service""#
    );
    [
        format!(r#"{{{common},"MESSAGE":"{refused}"}}"#),
        format!(r#"{{{common},"MESSAGE":"{emerg}"}}"#),
        format!(r#"{{{common},"MESSAGE":[{}]}}"#, timeout_bytes.join(",")),
        format!(r#"{{{common},"MESSAGE":"title \u001b]0;pwned\u0007 done"}}"#),
        r#"{"__CURSOR":"s=6f1","MESSAGE":"cut off"#.to_owned(),
        format!(r#"{{{common},"MESSAGE":"first\nsecond"}}"#),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn a_units_journal_is_read_from_json_entries() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dir.path().join("entries.json");
    fs::write(&entries, journal_entries()).unwrap();
    // Like `journalctl -f`: the history, then it keeps running until killed.
    let program = fake(
        dir.path(),
        "journalctl",
        &format!("cat '{}'\nexec sleep 60", entries.display()),
    );
    let spec = SourceSpec {
        origin: Origin::Journal {
            unit: "nginx.service".into(),
            program: program.display().to_string(),
        },
        kind: None,
    };
    let lines = follow(spec, |lines, _| lines.len() >= 7);
    assert_eq!(
        recorded_argv(dir.path(), "journalctl"),
        [
            "-f",
            "-o",
            "json",
            "-n",
            "1000",
            "-u",
            "nginx.service",
            "--no-pager"
        ]
    );
    let read: Vec<(Option<Cause>, Option<i64>)> = lines.iter().map(|l| (l.cause, l.time)).collect();
    assert_eq!(
        read,
        [
            // Its own stamp, not the journal's.
            (Some(Cause::Refused), Some(nginx_at(20))),
            // None of its own: the journal's.
            (Some(Cause::Dns), Some(AT)),
            (Some(Cause::Timeout), Some(nginx_at(21))),
            (None, None),
            (None, None),
            (None, None),
            (None, None),
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[1].upstream.as_deref(), Some("backend:8080"));
    // Bytes and escapes arrive made visible, never raw.
    assert!(
        lines[2].text.contains("server: \\x1b[31m_"),
        "{}",
        lines[2].text
    );
    assert!(
        lines[3].text.contains("title \\x1b]0;pwned\\x07 done"),
        "{}",
        lines[3].text
    );
    for line in &lines {
        assert!(!line.text.chars().any(char::is_control), "{}", line.text);
    }
    assert!(
        lines[4]
            .text
            .starts_with("gatewatch: journal entry skipped: not valid JSON"),
        "{}",
        lines[4].text
    );
    assert!(
        !lines[4].text.contains("cut off"),
        "the note quotes nothing"
    );
    assert!(lines[5].text.ends_with(" first") && lines[6].text.ends_with(" second"));
}

#[test]
fn a_journal_that_cannot_start_says_why() {
    let spec = SourceSpec {
        origin: Origin::Journal {
            unit: "nginx.service".into(),
            program: "/nonexistent/journalctl".into(),
        },
        kind: None,
    };
    follow(
        spec,
        |_, status| matches!(status, SourceStatus::Failed(why) if why.contains("cannot run /nonexistent/journalctl")),
    );
}

#[test]
fn a_containers_log_is_read_from_both_pipes_without_mixing_lines() {
    let dir = tempfile::tempdir().unwrap();
    // nginx's official image sends the access log to stdout and the error log to stderr; docker
    // logs -t puts each on the same pipe, stamped. The stderr line is written in two parts with
    // a stdout line in between, which must not split it.
    let body = r#"
printf '%s\n' '2024-09-27T02:33:25.100000000Z 172.18.0.1 - - [27/Sep/2024:02:33:25 +0000] "GET /api HTTP/1.1" 502 157 "-" "curl/8.5.0"'
printf '%s' '2024-09-27T02:33:25.200000000Z 2024/09/27 02:33:25 [error] 31#31: *9 connect() failed (111: Connection refused) ' >&2
sleep 0.3
printf '%s\n' '2024-09-27T02:33:26.000000000Z 172.18.0.1 - - [27/Sep/2024:02:33:26 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.5.0"'
sleep 0.3
printf '%s\n' 'while connecting to upstream, client: 172.18.0.1, server: _, request: "GET /api HTTP/1.1", upstream: "http://172.18.0.3:8080/api", host: "localhost"' >&2
printf '%s\n' '2024-09-27T02:33:27.000000000Z nginx: [emerg] host not found in upstream "app:8080" in /etc/nginx/conf.d/default.conf:3' >&2
printf '%s' 'Error response from daemon: container stopped' >&2
exit 1"#;
    let program = fake(dir.path(), "docker", body);
    let spec = SourceSpec {
        origin: Origin::Container {
            name: "web-1".into(),
            program: program.display().to_string(),
            socket: None,
        },
        kind: None,
    };
    let lines = follow(spec, |_, status| matches!(status, SourceStatus::Ended(_)));
    assert_eq!(
        recorded_argv(dir.path(), "docker"),
        ["logs", "-f", "-t", "--tail", "1000", "web-1"]
    );
    let read: Vec<(Option<Cause>, Option<u16>, Option<i64>)> =
        lines.iter().map(|l| (l.cause, l.status, l.time)).collect();
    assert_eq!(
        read,
        [
            (None, Some(502), Some(AT)),
            (None, Some(200), Some(AT + 1)),
            (Some(Cause::Refused), None, Some(nginx_at(25))),
            (Some(Cause::Dns), None, Some(AT + 2)),
            (None, None, None),
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[2].upstream.as_deref(), Some("http://172.18.0.3:8080"));
}

/// A fake that prints `first` and exits on its first run, and `then` and keeps running on the
/// next; each run's argv is kept in `NAME.argv.N`.
fn restarting_fake(dir: &Path, name: &str, first: &str, then: &str) -> PathBuf {
    let count = dir.join(format!("{name}.runs"));
    let argv = dir.join(format!("{name}.argv"));
    fake(
        dir,
        name,
        &format!(
            "n=$(( $(cat '{c}' 2>/dev/null || echo 0) + 1 ))\necho $n > '{c}'\ncp '{a}' '{a}.'$n\n\
             if [ $n = 1 ]; then\n{first}\nexit 1\nfi\n{then}\nexec sleep 60",
            c = count.display(),
            a = argv.display(),
        ),
    )
}

fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

#[test]
fn an_ended_container_log_is_started_again_from_its_last_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let program = restarting_fake(
        dir.path(),
        "docker",
        "printf '%s\\n' '2024-09-27T02:33:25.100000000Z one' '2024-09-27T02:33:25.200000000Z two'",
        "printf '%s\\n' '2024-09-27T02:33:26.000000000Z three'",
    );
    let spec = SourceSpec {
        origin: Origin::Container {
            name: "web-1".into(),
            program: program.display().to_string(),
            socket: None,
        },
        kind: None,
    };
    let lines = follow_with(spec, Duration::from_millis(200), |lines, _| {
        lines.len() >= 3
    });
    assert_eq!(
        texts(&lines),
        [
            "2024-09-27T02:33:25.100000000Z one",
            "2024-09-27T02:33:25.200000000Z two",
            "2024-09-27T02:33:26.000000000Z three"
        ]
    );
    assert_eq!(
        recorded_argv(dir.path(), "docker.argv.2"),
        [
            "logs",
            "-f",
            "-t",
            "--since",
            "2024-09-27T02:33:25.200000001Z",
            "web-1"
        ]
    );
}

#[test]
fn an_ended_journal_is_started_again_after_its_last_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let program = restarting_fake(
        dir.path(),
        "journalctl",
        r#"printf '%s\n' '{"__CURSOR":"s=ab;i=1","MESSAGE":"one"}' '{"__CURSOR":"s=ab;i=2","MESSAGE":"two"}'"#,
        r#"printf '%s\n' '{"__CURSOR":"s=ab;i=3","MESSAGE":"three"}'"#,
    );
    let spec = SourceSpec {
        origin: Origin::Journal {
            unit: "nginx.service".into(),
            program: program.display().to_string(),
        },
        kind: None,
    };
    let lines = follow_with(spec, Duration::from_millis(200), |lines, _| {
        lines.len() >= 3
    });
    assert_eq!(texts(&lines), ["one", "two", "three"]);
    assert_eq!(
        recorded_argv(dir.path(), "journalctl.argv.2"),
        [
            "-f",
            "-o",
            "json",
            "--after-cursor",
            "s=ab;i=2",
            "-u",
            "nginx.service",
            "--no-pager"
        ]
    );
}

/// The config's `journal` and `container` keys through the real binary, its programs named by
/// `GATEWATCH_JOURNALCTL` and `GATEWATCH_DOCKER`: the Logs pane shows each source's lines with
/// their causes.
#[test]
fn the_dashboard_follows_a_journal_and_a_container_named_in_the_config() {
    let files = common::Sandbox::new();
    let entries = files.write("entries.json", &journal_entries());
    let journalctl = fake(
        files.path(),
        "journalctl",
        &format!("cat '{}'\nexec sleep 600", entries.display()),
    );
    let docker = fake(
        files.path(),
        "docker",
        "printf '%s\\n' '2024-09-27T02:33:27.5Z nginx: [emerg] host not found in upstream \"app:8080\" in /etc/nginx/conf.d/default.conf:3' >&2\nexec sleep 600",
    );
    let cfg = files.write(
        "config.toml",
        "[[log]]\njournal = \"nginx.service\"\n\n[[log]]\ncontainer = \"web-1\"\n",
    );
    let t = common::Tmux::start_with(
        &["--config", cfg.to_str().unwrap()],
        160,
        40,
        &[
            ("GATEWATCH_JOURNALCTL", journalctl.to_str().unwrap()),
            ("GATEWATCH_DOCKER", docker.to_str().unwrap()),
        ],
    );
    t.keys(&["4", "z"]);
    let screen = t.wait_for("[refused]");
    assert!(screen.contains("journal of nginx.service"), "{screen}");
    assert!(screen.contains("[dns]"), "{screen}");
    assert!(
        screen.contains("gatewatch: journal entry skipped"),
        "{screen}"
    );
    t.keys(&["]"]);
    let screen = t.wait_for("conf.d/default.conf:3");
    assert!(screen.contains("container web-1"), "{screen}");
    assert!(screen.contains("[dns]"), "{screen}");
    assert_eq!(
        recorded_argv(files.path(), "docker"),
        ["logs", "-f", "-t", "--tail", "1000", "web-1"]
    );
}
