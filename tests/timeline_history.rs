//! A log's hours per minute (`timeline::history`) read from real files the tests write: the
//! onset found from them, hostile timestamps and bytes, and a 6-hour log of 1,000 lines a second
//! read within its budgets; and a real nginx's own logs, read in the same pass.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::nginx::{Nginx, free_port};
use common::require_tool;
use gatewatch::config::LogKind;
use gatewatch::timeline::history::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_TIME, History, HistorySpan, Minute, scan_history,
};
use gatewatch::timeline::onset::FUTURE_SLACK;
use gatewatch::timeline::{EventKind, OnsetState, onset};
use jiff::tz::TimeZone;

/// 2026-12-01 14:00:00 UTC, a minute boundary.
const M0: i64 = 1_796_133_600;

fn stamp(t: i64, format: &str) -> String {
    jiff::Timestamp::from_second(t)
        .expect("a time in range")
        .strftime(format)
        .to_string()
}

fn refused(t: i64) -> String {
    format!(
        "{} [error] 31#31: *{t} connect() failed (111: Connection refused) while connecting to \
         upstream, client: 127.0.0.1, server: app, request: \"GET /api HTTP/1.1\", upstream: \
         \"http://127.0.0.1:8081/api\", host: \"app\"\n",
        stamp(t, "%Y/%m/%d %H:%M:%S")
    )
}

fn access(t: i64, status: u16) -> String {
    format!(
        "127.0.0.1 - - [{}] \"GET /api HTTP/1.1\" {status} 15 \"-\" \"curl/8.5\"\n",
        stamp(t, "%d/%b/%Y:%H:%M:%S +0000")
    )
}

fn span_at(now: i64) -> HistorySpan {
    HistorySpan {
        tz: TimeZone::UTC,
        ..HistorySpan::recent(now)
    }
}

fn events(h: &History) -> u64 {
    h.minutes.values().map(|m| m.events).sum()
}

/// An nginx error log and its access log over the same hour: a quiet baseline with a stray
/// failure now and then, a reload, then a rise. Each log alone, and the two merged, put the
/// onset at the rise's first minute, and the reload comes back as a notice before it.
#[test]
fn an_error_log_and_an_access_log_give_the_onset_and_the_reload_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rise = M0 + 45 * 60;
    let now = M0 + 60 * 60 + 20;
    let (mut error_log, mut access_log) = (String::new(), String::new());
    for t in (M0..rise).step_by(5) {
        access_log.push_str(&access(t, 200));
        if (t - M0) % 600 == 0 {
            error_log.push_str(&refused(t));
            access_log.push_str(&access(t, 502));
        }
    }
    error_log.push_str(&format!(
        "{} [notice] 1#1: signal 1 (SIGHUP) received from 900, reconfiguring\n",
        stamp(rise - 12, "%Y/%m/%d %H:%M:%S")
    ));
    error_log.push_str(&format!(
        "{} [notice] 1#1: reconfiguring\n",
        stamp(rise - 12, "%Y/%m/%d %H:%M:%S")
    ));
    for t in rise..now - 20 {
        access_log.push_str(&access(t, 200));
        if t % 3 == 0 {
            error_log.push_str(&refused(t));
            access_log.push_str(&access(t, 502));
        }
    }
    let (error_path, access_path) = (dir.path().join("error.log"), dir.path().join("access.log"));
    std::fs::write(&error_path, &error_log).expect("write");
    std::fs::write(&access_path, &access_log).expect("write");

    let span = span_at(now);
    let errors = scan_history("error.log", &error_path, Some(LogKind::Error), &span);
    let requests = scan_history("access.log", &access_path, Some(LogKind::Access), &span);
    for h in [&errors, &requests] {
        assert_eq!((h.error.as_deref(), h.covered_from), (None, None));
        let o = onset(&h.events_per_minute(), now);
        assert_eq!((o.at, o.state), (Some(rise), OnsetState::Ongoing));
    }
    // The sparkline's counts: every request and every 5xx of a rise minute.
    let m = requests.minutes[&(rise + 60)];
    assert_eq!((m.events, m.status_5xx, m.requests), (20, 20, 80), "{m:?}");
    // Its first failing second, and its first line of all.
    assert!(
        m.first_event
            .is_some_and(|t| t >= rise + 60 && t < rise + 120),
        "{m:?}"
    );
    assert!(m.earliest <= m.first_event, "{m:?}");
    assert_eq!(errors.minutes[&(rise + 60)].requests, 0);
    // One history of both: a minute is the larger count, never the sum.
    let mut both = errors.clone();
    for (&minute, &m) in &requests.minutes {
        both.merge_max(minute, m);
    }
    assert_eq!(both.minutes[&(rise + 60)].events, 20);
    let o = onset(&both.events_per_minute(), now);
    assert_eq!(o.at, Some(rise));

    let kinds: Vec<(EventKind, i64)> = errors.notices.iter().map(|e| (e.kind, e.at)).collect();
    assert_eq!(kinds, [(EventKind::ProxyReload, rise - 12)]);
    assert_eq!(errors.notices[0].text, "nginx: reconfiguring");
    assert!(requests.notices.is_empty());
    assert_eq!(errors.bytes_read, error_log.len() as u64);
}

/// Lines whose times go backwards are counted in their own minute; lines from a clock a day
/// ahead count nowhere and do not end the span (the baseline behind them is still read); lines
/// without a time, binary garbage and a 2 MB line count nothing and break nothing.
#[test]
fn backwards_future_untimed_huge_and_binary_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("access.log");
    let rise = M0 + 40 * 60;
    let now = M0 + 50 * 60 + 5;
    let mut log: Vec<u8> = Vec::new();
    for t in (M0..rise).step_by(10) {
        log.extend(access(t, 200).as_bytes());
        if (t - M0) % 300 == 0 {
            log.extend(access(t, 502).as_bytes());
        }
    }
    // In the middle of the baseline, 500 lines from a clock a day ahead: more than the run of
    // lines that ends a span, so they must not be taken as a run of older or newer ones.
    for _ in 0..500 {
        log.extend(access(now + 86_400, 502).as_bytes());
    }
    for t in (M0..rise).step_by(10) {
        log.extend(access(t, 200).as_bytes());
    }
    log.extend(b"\x00\x01\xff\xfe binary \x1b[2J garbage\n");
    log.extend(vec![b'x'; 2 * 1024 * 1024]);
    log.extend(b"\n\n\nno time here 502\n");
    for t in rise..now - 5 {
        log.extend(access(t, 502).as_bytes());
        // Every tenth second, a line logged late for a request that began 3 minutes earlier.
        if t % 10 == 0 {
            log.extend(access(t - 180, 502).as_bytes());
        }
        // And one from a clock a minute and a half ahead, past the slack.
        if t % 30 == 0 {
            log.extend(access(now + FUTURE_SLACK + 30, 502).as_bytes());
        }
    }
    std::fs::write(&path, &log).expect("write");

    let h = scan_history("access.log", &path, None, &span_at(now));
    assert_eq!((h.error.as_deref(), h.covered_from), (None, None));
    assert!(*h.minutes.keys().last().expect("minutes") <= now);
    // The minute before the rise holds the late lines logged in the rise's third minute.
    assert_eq!(h.minutes[&(rise - 60)].events, 6);
    assert_eq!(h.minutes[&(rise + 60)].events, 60 + 6);
    // Baseline: 502s every 5 minutes from M0, all read (the future block did not end the scan).
    let baseline: u64 = h.minutes.range(..rise - 180).map(|(_, m)| m.events).sum();
    assert_eq!(baseline, 8);
    assert_eq!(h.minutes[&M0].requests, 6 + 6 + 1);
    let all_rise = u64::try_from(now - 5 - rise).expect("positive");
    assert_eq!(events(&h), 8 + all_rise + all_rise / 10);
    let o = onset(&h.events_per_minute(), now);
    assert_eq!((o.at, o.state), (Some(rise - 180), OnsetState::Ongoing));
    assert!(h.minutes.len() <= 6 * 60 + 3);
}

/// Something that is not a regular file is refused with a message saying what it is.
#[test]
fn a_fifo_or_a_device_is_refused_not_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo.log");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let h = scan_history("fifo.log", &fifo, None, &span_at(M0));
    let error = h.error.expect("an error");
    assert!(error.contains("FIFO"), "{error}");
    let h = scan_history("zero", Path::new("/dev/zero"), None, &span_at(M0));
    let error = h.error.expect("an error");
    assert!(error.contains("character device"), "{error}");
    assert!(h.minutes.is_empty() && h.bytes_read == 0);
}

/// Peak resident memory of this process so far, in kB.
fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Writes `hours` of an access log at 1,000 lines a second ending at `end` (exclusive), each
/// line 100 bytes: one 502 a minute, and 50 a second from `rise` on. One second's block is
/// patched in place rather than formatted line by line, so 21.6M lines take seconds.
fn write_busy_log(path: &Path, end: i64, hours: i64, rise: i64) -> u64 {
    const PER_SECOND: usize = 1000;
    let line = access(M0, 200);
    // Padded to 100 bytes in the user agent.
    let pad = "-".repeat(100 - line.len());
    let line = line.replace("curl/8.5", &format!("curl/8.5{pad}"));
    assert_eq!(line.len(), 100);
    let time_at = line.find('[').expect("a date") + 1;
    let status_at = line.find("\" 200 ").expect("a status") + 2;
    let mut block = line.repeat(PER_SECOND).into_bytes();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create log"));
    let start = end - hours * 3600;
    let mut written = 0u64;
    for t in start..end {
        let time = stamp(t, "%d/%b/%Y:%H:%M:%S +0000");
        let failing = if t >= rise {
            50
        } else {
            usize::from(t % 60 == 0)
        };
        for i in 0..PER_SECOND {
            let at = i * line.len();
            block[at + time_at..at + time_at + time.len()].copy_from_slice(time.as_bytes());
            let status: &[u8] = if i < failing { b"502" } else { b"200" };
            block[at + status_at..at + status_at + 3].copy_from_slice(status);
        }
        out.write_all(&block).expect("write log");
        written += block.len() as u64;
    }
    out.flush().expect("flush log");
    written
}

/// Deletes the file when the test ends, passed or failed: it is 2 GB.
struct Remove<'p>(&'p Path);

impl Drop for Remove<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// 6 hours of 1,000 lines a second (21.6M lines, 2.16 GB), the rise 15 minutes before the end.
/// With the default budgets the scan stops at one of them, within the time budget, and says
/// from when its counts are; with time enough, the byte budget stops it and the onset is the
/// rise's first minute. The map holds at most the span's minutes, and the process's peak memory
/// stays at a few MB.
#[test]
fn six_hours_at_a_thousand_lines_a_second_stay_within_the_budgets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("busy.log");
    let _remove = Remove(&path);
    let now = M0 + 6 * 3600 + 2;
    let end = M0 + 6 * 3600;
    let rise = end - 15 * 60;
    let wrote = Instant::now();
    let size = write_busy_log(&path, end, 6, rise);
    assert_eq!(size, 6 * 3600 * 1000 * 100);
    eprintln!("wrote {size} bytes in {:?}", wrote.elapsed());

    // The default budgets, whichever stops first.
    let hwm_before = vm_hwm_kb();
    let started = Instant::now();
    let h = scan_history("busy.log", &path, Some(LogKind::Access), &span_at(now));
    let took = started.elapsed();
    eprintln!(
        "default budgets: {} bytes in {took:?}, covered from {:?} ({} s before now)",
        h.bytes_read,
        h.covered_from,
        now - h.covered_from.unwrap_or(now)
    );
    assert_eq!(h.error, None);
    assert!(h.covered_from.is_some(), "a budget stopped the scan");
    assert!(
        took < DEFAULT_MAX_TIME + Duration::from_millis(500),
        "{took:?}"
    );
    assert!(h.bytes_read <= DEFAULT_MAX_BYTES);
    assert!(h.minutes.len() <= 6 * 60 + 3);

    // Time enough: the byte budget stops it, 256 MiB back (2,684,354 lines, ~44.7 minutes).
    let span = HistorySpan {
        max_time: Duration::from_secs(600),
        ..span_at(now)
    };
    let started = Instant::now();
    let h = scan_history("busy.log", &path, Some(LogKind::Access), &span);
    let took = started.elapsed();
    let hwm_after = vm_hwm_kb();
    eprintln!(
        "byte budget: {} bytes in {took:?} ({:.0} MB/s, {:.0} lines/s), peak RSS {hwm_before} kB \
         before the scans, {hwm_after} kB after",
        h.bytes_read,
        h.bytes_read as f64 / 1e6 / took.as_secs_f64(),
        h.bytes_read as f64 / 100.0 / took.as_secs_f64(),
    );
    let covered = h.covered_from.expect("the byte budget stopped the scan");
    let lines_back = i64::try_from(DEFAULT_MAX_BYTES / 100).expect("small");
    assert!((end - covered - lines_back / 1000).abs() <= 1, "{covered}");
    assert!(h.bytes_read <= DEFAULT_MAX_BYTES && h.bytes_read > DEFAULT_MAX_BYTES - 200);
    assert_eq!(h.minutes.len(), 45);
    assert_eq!(h.minutes[&(rise + 60)].events, 3000);
    assert_eq!(h.minutes[&(rise + 60)].requests, 60_000);
    assert_eq!(h.minutes[&(rise - 60)].events, 1);
    let o = onset(&h.events_per_minute(), now);
    assert_eq!((o.at, o.state), (Some(rise), OnsetState::Ongoing));
    // A map of 45 minutes and a block of the file: nothing grows with the bytes read (the
    // whole test process, 2 GB written and 350 MB scanned, peaks at a few MB).
    assert!(hwm_after < 32 * 1024, "peak RSS {hwm_after} kB");
}

/// A real nginx answering 200, then reloaded (`nginx -s reload`) into proxying to a port where
/// nothing listens: one pass over its error log gives the start and the reload as notices and
/// every refused connection as an event, and its access log gives each request and each 502,
/// in the minutes nginx wrote them.
#[test]
fn a_real_nginx_reloaded_into_failing_is_counted_and_its_reload_noticed() {
    require_tool(&["/usr/sbin/nginx", "nginx"], "apt-get install -y nginx");
    let nginx = Nginx::start("", "    location / { return 200 'ok'; }\n");
    let fine = nginx.traffic("/", 20, 4, Duration::from_secs(5));
    assert_eq!(fine, vec![200; 20]);
    let conf = std::fs::read_to_string(&nginx.conf).expect("read nginx.conf");
    let dead = free_port();
    let broken = conf.replace(
        "return 200 'ok';",
        &format!("proxy_pass http://127.0.0.1:{dead};"),
    );
    assert_ne!(broken, conf);
    std::fs::write(&nginx.conf, broken).expect("write nginx.conf");
    let reloaded = jiff::Timestamp::now().as_second();
    nginx.reload();
    // The old worker serves until it has gone: wait for its `exiting`.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(nginx.error_log().contains(": reconfiguring")
        && nginx.error_log().contains(": exiting"))
    {
        assert!(
            Instant::now() < deadline,
            "no reload in:\n{}",
            nginx.error_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let failing = nginx.traffic("/", 12, 4, Duration::from_secs(5));
    assert_eq!(failing, vec![502; 12]);
    let now = jiff::Timestamp::now().as_second();

    let span = HistorySpan::recent(now);
    let error_path = nginx.dir.path().join("error.log");
    let errors = scan_history("error.log", &error_path, Some(LogKind::Error), &span);
    let access_path = nginx.dir.path().join("access.log");
    let requests = scan_history("access.log", &access_path, Some(LogKind::Access), &span);
    let log = nginx.error_log();
    for h in [&errors, &requests] {
        assert_eq!((h.error.as_deref(), h.covered_from), (None, None), "{log}");
        assert!(
            h.minutes.keys().all(|&m| m >= now - 120 && m <= now),
            "{:?}",
            h.minutes
        );
    }
    // Every 502 request was one refused connect() in the error log, and a 502 in the access log.
    assert_eq!(events(&errors), 12, "{log}");
    let sum = |f: fn(&Minute) -> u64| requests.minutes.values().map(f).sum::<u64>();
    let answered = nginx.access_log().lines().count() as u64;
    assert_eq!(
        (
            sum(|m| m.events),
            sum(|m| m.status_5xx),
            sum(|m| m.requests)
        ),
        (12, 12, answered),
        "{}",
        nginx.access_log()
    );
    let kinds: Vec<EventKind> = errors.notices.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::ProxyStart, EventKind::ProxyReload],
        "{log}"
    );
    let reload = &errors.notices[1];
    assert!(
        (reload.at - reloaded).abs() <= 3,
        "{reload:?} against {reloaded}"
    );
    assert_eq!(reload.text, "nginx: reconfiguring");
    // The first failing minute is not before the reload's.
    let first_failing = errors
        .minutes
        .iter()
        .find(|(_, m)| m.events > 0)
        .map(|(&t, _)| t);
    assert!(first_failing >= Some(reload.at - reload.at.rem_euclid(60)));
}

/// `check` reads a log once: its 10-minute scan, then the history on from where that scan
/// stopped counting. The two together count every minute as the history alone does, and find
/// the notices of both parts (one in the last 10 minutes, one before).
#[test]
fn the_window_then_the_history_before_it_count_what_the_history_alone_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = M0 + 3600;
    let mut error_log = String::new();
    let notice = |t: i64| {
        format!(
            "{} [notice] 1#1: reconfiguring\n",
            stamp(t, "%Y/%m/%d %H:%M:%S")
        )
    };
    for t in (M0..now - 10).step_by(7) {
        if t == M0 + 1400 {
            error_log.push_str(&notice(t));
        }
        if t == M0 + 7 * 472 {
            error_log.push_str(&notice(t));
        }
        if (t / 60) % 4 == 0 || t > now - 900 {
            error_log.push_str(&refused(t));
        }
    }
    let path = dir.path().join("error.log");
    std::fs::write(&path, &error_log).expect("write");

    let alone = scan_history("error.log", &path, Some(LogKind::Error), &span_at(now));
    let window = gatewatch::logs::ScanSpan {
        tz: TimeZone::UTC,
        ..gatewatch::logs::ScanSpan::recent(now)
    };
    let mut quiet = Vec::new();
    let scanned = gatewatch::logs::scan_source_with(
        "error.log".into(),
        &path,
        Some(LogKind::Error),
        &window,
        &mut |line| quiet.push(line.to_owned()),
    );
    assert!(scanned.floor > 0 && scanned.floor < error_log.len() as u64);
    let mut both = gatewatch::timeline::scan_history_before(
        "error.log",
        &path,
        Some(LogKind::Error),
        &span_at(now),
        scanned.floor,
    );
    assert!(
        both.bytes_read < alone.bytes_read,
        "the window is not read twice"
    );
    for (&minute, counts) in &scanned.log.tally.per_minute {
        both.merge_max(minute, gatewatch::model::timeline::as_minute(counts));
    }
    assert_eq!(both.minutes, alone.minutes);
    // The older notice came from the history; the newer one was a quiet line of the window.
    assert_eq!(both.notices.len(), 1, "{:?}", both.notices);
    assert_eq!(alone.notices.len(), 2, "{:?}", alone.notices);
    assert_eq!(quiet.len(), 1, "{quiet:?}");
    assert!(quiet[0].ends_with("reconfiguring"), "{quiet:?}");
}
