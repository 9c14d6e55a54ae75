//! `check`'s scan of a log's recent end: the window by the lines' own timestamps, the line
//! budget, the report's JSON shape and the warning/critical thresholds.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Sandbox;
use gatewatch::config::LogKind;
use gatewatch::logs::{
    CRITICAL_EVENTS, Cause, DEFAULT_MAX_LINES, DEFAULT_WINDOW, Format, LogReport, OLDER_RUN_LINES,
    ScanSpan, WARNING_EVENTS, assess, scan, scan_at, scan_source,
};
use gatewatch::status::Status;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// 2024-05-01T12:00:00Z
const NOW: i64 = 1_714_564_800;

fn nginx_time(t: i64) -> String {
    common::utc_stamp(t, "%Y/%m/%d %H:%M:%S")
}

fn access_time(t: i64) -> String {
    common::utc_stamp(t, "%d/%b/%Y:%H:%M:%S +0000")
}

fn error_line(t: i64, errno: &str, upstream: &str) -> String {
    format!(
        "{} [error] 7#7: *1 connect() failed ({errno}) while connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", upstream: \"{upstream}/\", host: \"shop\"\n",
        nginx_time(t)
    )
}

fn scan_utc(path: &Path, max_lines: usize) -> LogReport {
    scan_at(path, None, DEFAULT_WINDOW, max_lines, NOW, TimeZone::UTC)
}

fn write_error_log(path: &Path) {
    let mut text = String::new();
    for i in 0..30 {
        text += &error_line(NOW - 1200 + i, "111: Connection refused", "http://old:1");
    }
    for i in 0..10 {
        text += &error_line(NOW - 300 + i, "111: Connection refused", "http://a:1");
    }
    for i in 0..5 {
        text += &format!(
            "{} [error] 7#7: *2 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", upstream: \"http://b:2/x\", host: \"shop\"\n",
            nginx_time(NOW - 60 + i)
        );
    }
    text += &format!(
        "{} [notice] 7#7: signal process started\n",
        nginx_time(NOW - 5)
    );
    fs::write(path, text).unwrap();
}

/// A budget that stops the scan inside the window says how much it covered, and the counts are
/// only those lines; a scan that reaches the window's start covers all of it.
#[test]
fn a_scan_stopped_by_its_budget_says_what_it_covered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    // One refused line every 6 s over the last 10 minutes: 100 lines.
    let text: String = (0..100)
        .map(|i| error_line(NOW - 594 + i * 6, "111: Connection refused", "http://a:1"))
        .collect();
    fs::write(&path, text).unwrap();
    let cut = scan_utc(&path, 20);
    assert_eq!(cut.lines_scanned, 20);
    assert_eq!(cut.causes.get(&Cause::Refused), Some(&20));
    // The 20 newest lines span NOW-114 .. NOW.
    assert_eq!(cut.covered_seconds, Some(114));
    let whole = scan_utc(&path, DEFAULT_MAX_LINES);
    assert_eq!(whole.causes.get(&Cause::Refused), Some(&100));
    assert_eq!(whole.covered_seconds, None);
    // A log that starts inside the window is whole too: nothing older was left unread.
    let short = scan_utc(&path, 100);
    assert_eq!(short.covered_seconds, None);
}

#[test]
fn only_the_window_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    write_error_log(&path);
    let r = scan_utc(&path, DEFAULT_MAX_LINES);
    assert_eq!(r.error, None);
    assert_eq!(r.kind, Some(Format::NginxError));
    assert_eq!(r.lines_scanned, 16);
    assert_eq!(r.causes.get(&Cause::Refused), Some(&10));
    assert_eq!(r.causes.get(&Cause::Timeout), Some(&5));
    assert_eq!(
        r.top_upstreams,
        vec![
            ("http://a:1".to_string(), 10),
            ("http://b:2".to_string(), 5)
        ]
    );
    assert_eq!(r.events(), 15);
}

#[test]
fn the_line_budget_stops_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    write_error_log(&path);
    let r = scan_utc(&path, 7);
    assert_eq!(r.lines_scanned, 7);
    assert_eq!(r.causes.get(&Cause::Timeout), Some(&5));
    assert_eq!(r.causes.get(&Cause::Refused), Some(&1));
}

#[test]
fn access_logs_count_5xx_and_502() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut text = String::new();
    for (i, status) in [200, 502, 200, 504, 502, 500, 301, 502].iter().enumerate() {
        text += &format!(
            "10.0.0.1 - - [{}] \"GET /{i} HTTP/1.1\" {status} 10 \"-\" \"ua\" ua=10.0.0.5:80 us={status}\n",
            access_time(NOW - 100 + i as i64)
        );
    }
    fs::write(&path, text).unwrap();
    let r = scan_at(
        &path,
        Some(LogKind::Access),
        DEFAULT_WINDOW,
        DEFAULT_MAX_LINES,
        NOW,
        TimeZone::UTC,
    );
    assert_eq!(r.kind, Some(Format::Access));
    assert_eq!((r.lines_scanned, r.status_5xx, r.status_502), (8, 5, 3));
    let classes: Vec<_> = r.responses.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(classes, [("2xx", 2), ("3xx", 1), ("5xx", 5)]);
    assert!(r.causes.is_empty());
    assert_eq!(r.top_upstreams, vec![("10.0.0.5:80".to_string(), 5)]);
}

#[test]
fn the_report_serialises_with_the_agreed_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    write_error_log(&path);
    let json = serde_json::to_value(scan_utc(&path, DEFAULT_MAX_LINES)).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "path",
        "kind",
        "lines_scanned",
        "causes",
        "status_5xx",
        "status_502",
        "top_upstreams",
        "requests",
        "failed_requests",
        "responses",
        "top_upstream_requests",
        "covered_seconds",
        "error",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(json["kind"], "nginx_error");
    assert_eq!(json["causes"]["refused"], 10);
    assert_eq!(json["causes"]["timeout"], 5);
    assert_eq!(json["top_upstreams"][0][0], "http://a:1");
    assert_eq!(json["error"], serde_json::Value::Null);
}

#[test]
fn a_missing_file_is_an_error_in_the_report() {
    let r = scan(
        Path::new("/nonexistent/gatewatch/error.log"),
        None,
        DEFAULT_WINDOW,
        DEFAULT_MAX_LINES,
    );
    assert_eq!(
        r.error.as_deref(),
        Some("cannot open: No such file or directory")
    );
    assert_eq!(r.lines_scanned, 0);
    assert_eq!(assess(&r, DEFAULT_WINDOW).status, Status::Unknown);
}

#[test]
fn thresholds_make_warning_and_critical() {
    let mut r = LogReport {
        path: "/var/log/nginx/error.log".into(),
        kind: Some(Format::NginxError),
        lines_scanned: 100,
        causes: Default::default(),
        status_5xx: 0,
        status_502: 0,
        top_upstreams: vec![],
        requests: 0,
        failed_requests: 0,
        responses: Default::default(),
        top_upstream_requests: vec![],
        covered_seconds: None,
        error: None,
    };
    assert_eq!(assess(&r, DEFAULT_WINDOW).status, Status::Ok);
    r.causes.insert(Cause::Refused, WARNING_EVENTS);
    let f = assess(&r, DEFAULT_WINDOW);
    assert_eq!(f.status, Status::Warning);
    assert!(f.message.contains("refused 1"), "{}", f.message);
    r.status_502 = CRITICAL_EVENTS - WARNING_EVENTS;
    r.top_upstreams = vec![("http://a:1".into(), 7)];
    let f = assess(&r, DEFAULT_WINDOW);
    assert_eq!(f.status, Status::Critical);
    assert!(f.message.contains("in the last 10m"), "{}", f.message);
    assert!(f.message.contains("http://a:1"), "{}", f.message);

    // An access log: 3 of 14 requests failing is critical by share, far below CRITICAL_EVENTS;
    // 2 of 14 are a warning (too few failed to call it).
    r.causes.clear();
    r.top_upstreams = vec![("127.0.0.1:8080".into(), 3)];
    (r.status_502, r.status_5xx, r.requests, r.failed_requests) = (3, 3, 14, 3);
    r.top_upstream_requests = vec![("127.0.0.1:8080".into(), 3, 14)];
    let f = assess(&r, DEFAULT_WINDOW);
    assert_eq!(f.status, Status::Critical);
    assert!(
        f.message.contains("3 of 14 requests failed (21%), 10 min"),
        "{}",
        f.message
    );
    assert!(f.message.contains("3 of its 14 requests"), "{}", f.message);
    (r.status_502, r.status_5xx, r.failed_requests) = (2, 2, 2);
    r.top_upstream_requests = vec![("127.0.0.1:8080".into(), 2, 14)];
    assert_eq!(assess(&r, DEFAULT_WINDOW).status, Status::Warning);
}

#[test]
fn a_huge_file_is_never_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    // 64 GiB of hole (no newline anywhere), then a few recent lines.
    fs::File::create(&path).unwrap().set_len(64 << 30).unwrap();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"\n").unwrap();
    for i in 0..3 {
        f.write_all(error_line(NOW - 10 + i, "111: Connection refused", "http://a:1").as_bytes())
            .unwrap();
    }
    drop(f);
    let started = Instant::now();
    let r = scan_utc(&path, DEFAULT_MAX_LINES);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.causes.get(&Cause::Refused), Some(&3));
    assert_eq!(r.lines_scanned, 3);
}

/// The same backward pass keeps the newest failing lines for the report; `check` stops at the
/// window, a report looks further back for lines to show but counts nothing from there.
#[test]
fn a_report_shows_failing_lines_from_before_the_window_and_counts_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let mut text = String::new();
    for i in 0..3 {
        text += &error_line(NOW - 1800 + i, "111: Connection refused", "http://gone:1");
    }
    text += &format!(
        "{} [notice] 7#7: signal process started\n",
        nginx_time(NOW - 5)
    );
    fs::write(&path, text).unwrap();
    let span = |lines_past_window| ScanSpan {
        window: DEFAULT_WINDOW,
        max_lines: DEFAULT_MAX_LINES,
        now: NOW,
        tz: TimeZone::UTC,
        lines_past_window,
    };
    let check = scan_source("error.log".into(), &path, None, &span(false));
    assert!(check.lines().is_empty(), "{:?}", check.lines());
    assert_eq!(check.tally.lines, 1, "the notice, in the window");
    let report = scan_source("error.log".into(), &path, None, &span(true));
    let shown: Vec<i64> = report.lines().iter().filter_map(|l| l.time).collect();
    assert_eq!(shown, [NOW - 1800, NOW - 1799, NOW - 1798], "oldest first");
    assert_eq!(
        report.tally, check.tally,
        "nothing before the window counts"
    );
}

/// An nginx access line with upstream extras, and Apache's combined format (`%t`, the request's
/// start): both write a long request's line when it ends, after newer ones.
fn nginx_access_line(t: i64, status: u16) -> String {
    format!(
        "10.0.0.1 - - [{}] \"GET /x HTTP/1.1\" {status} 10 \"-\" \"ua\" ua=10.0.0.5:80 us={status}\n",
        access_time(t)
    )
}

fn apache_access_line(t: i64, status: u16) -> String {
    format!(
        "10.0.0.2 - - [{}] \"GET /big.iso HTTP/1.1\" {status} 341 \"-\" \"curl/8.5.0\"\n",
        access_time(t)
    )
}

fn scan_access(path: &Path) -> LogReport {
    scan_at(
        path,
        Some(LogKind::Access),
        DEFAULT_WINDOW,
        DEFAULT_MAX_LINES,
        NOW,
        TimeZone::UTC,
    )
}

#[test]
fn one_late_logged_older_line_does_not_hide_the_recent_502s() {
    let dir = tempfile::tempdir().unwrap();
    for line in [nginx_access_line, apache_access_line] {
        let path = dir.path().join("access.log");
        let mut text = String::new();
        for i in 0..60 {
            text += &line(NOW - 120 + i, 502);
        }
        // Written last, started 11 minutes ago: outside the window, so not counted either.
        text += &line(NOW - 660, 502);
        fs::write(&path, text).unwrap();
        let r = scan_access(&path);
        assert_eq!(r.kind, Some(Format::Access));
        assert_eq!((r.status_502, r.requests, r.lines_scanned), (60, 60, 60));
        assert_eq!(assess(&r, DEFAULT_WINDOW).status, Status::Critical);
    }
}

#[test]
fn a_run_of_older_lines_ends_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    // In file order: 5 fresh lines, a run of older ones, 3 fresh lines at the end.
    let write = |run: u64| {
        let mut text = String::new();
        for i in 0..5 {
            text += &apache_access_line(NOW - 100 + i, 502);
        }
        for i in 0..run {
            text += &apache_access_line(NOW - 3600 + i as i64, 502);
        }
        for i in 0..3 {
            text += &apache_access_line(NOW - 10 + i, 502);
        }
        fs::write(&path, text).unwrap();
    };
    write(OLDER_RUN_LINES - 1);
    assert_eq!(scan_access(&path).status_502, 8, "a shorter run is skipped");
    write(OLDER_RUN_LINES);
    assert_eq!(scan_access(&path).status_502, 3, "the run ends the window");
}

/// A run of huge older lines ends the window by its bytes, long before its line count.
#[test]
fn a_run_of_huge_older_lines_ends_the_window_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut text = apache_access_line(NOW - 100, 502);
    let long = format!("/{}", "a".repeat(15_000));
    for i in 0..90 {
        text += &apache_access_line(NOW - 3600 + i, 502).replace("/big.iso", &long);
    }
    text += &apache_access_line(NOW - 10, 502);
    fs::write(&path, text).unwrap();
    assert_eq!(scan_access(&path).status_502, 1);
}

#[test]
fn check_json_counts_recent_502s_before_a_late_logged_line() {
    let sb = Sandbox::new();
    let now = Timestamp::now().as_second();
    let mut text = String::new();
    for i in 0..60 {
        text += &apache_access_line(now - 60 + i, 502);
    }
    text += &apache_access_line(now - 660, 200);
    let log = sb.write("access.log", &text);
    let cfg = sb.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\nkind = \"access\"\n", log.display()),
    );
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let logs = v["logs"].as_array().expect("logs");
    assert_eq!(logs[0]["status_502"], 60, "{v}");
    assert_eq!(logs[0]["requests"], 60, "{v}");
    assert_eq!(v["status"], "critical", "{v}");
    assert!(
        !v["findings"].to_string().contains("no upstream failures"),
        "{v}"
    );
}
