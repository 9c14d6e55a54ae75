//! `check`'s look at a log: the recent end only, read backwards until the window's start (by
//! the lines' own timestamps) or a line budget, whichever comes first.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::classify::classify;
use super::file::describe;
use super::tail::ReverseLines;
use super::{Cause, Format, Tally, TimeParser};
use crate::config::LogKind;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::status::{Finding, Status};

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_MAX_LINES: usize = 100_000;
/// Bytes read back from the end at most, whatever the line count (a file of huge lines).
pub const SCAN_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Lines are cut to this many bytes for classification, as when following.
const SCAN_MAX_LINE: usize = 16 * 1024;
/// Upstreams listed in a report.
const TOP_UPSTREAMS: usize = 5;

/// Bad-gateway events in the window ([`LogReport::events`]) from which `check` warns: any one
/// means requests are failing upstream right now.
pub const WARNING_EVENTS: u64 = 1;
/// ... and from which it is critical: a sustained failure, not a blip (5 a minute over the
/// default 10-minute window).
pub const CRITICAL_EVENTS: u64 = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogReport {
    pub path: String,
    /// Format of the newest line that had one; `null` when no line was recognised.
    pub kind: Option<Format>,
    pub lines_scanned: u64,
    pub causes: BTreeMap<Cause, u64>,
    pub status_5xx: u64,
    pub status_502: u64,
    pub top_upstreams: Vec<(String, u64)>,
    pub error: Option<String>,
}

impl LogReport {
    /// Lines that mean a bad gateway: every classified cause plus every 502 answered. Other 5xx
    /// (an application's own 500s) are reported but do not count.
    pub fn events(&self) -> u64 {
        self.causes.values().sum::<u64>() + self.status_502
    }

    fn empty(path: &Path) -> Self {
        LogReport {
            path: sanitize(&path.display().to_string()).into_owned(),
            kind: None,
            lines_scanned: 0,
            causes: BTreeMap::new(),
            status_5xx: 0,
            status_502: 0,
            top_upstreams: Vec::new(),
            error: None,
        }
    }
}

/// Scans the last `window` (by timestamp) of the log at `path`, at most `max_lines` lines,
/// reading backwards from the end. Errors are carried in the report.
pub fn scan(path: &Path, kind: Option<LogKind>, window: Duration, max_lines: usize) -> LogReport {
    let now = jiff::Timestamp::now().as_second();
    scan_at(path, kind, window, max_lines, now, TimeZone::system())
}

/// [`scan`] as if it were `now` (unix seconds), with times without an offset in `tz`.
pub fn scan_at(
    path: &Path,
    kind: Option<LogKind>,
    window: Duration,
    max_lines: usize,
    now: i64,
    tz: TimeZone,
) -> LogReport {
    let mut report = LogReport::empty(path);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            report.error = Some(format!("cannot open: {}", describe(&e)));
            return report;
        }
    };
    let len = match file.metadata() {
        Ok(meta) => meta.len(),
        Err(e) => {
            report.error = Some(format!("cannot stat: {}", describe(&e)));
            return report;
        }
    };
    let cutoff = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
    let mut lines = ReverseLines::new(&file, len, SCAN_MAX_LINE, SCAN_MAX_BYTES);
    let mut times = TimeParser::new(tz);
    let mut tally = Tally::default();
    let mut raw = Vec::new();
    while tally.lines < max_lines as u64 {
        match lines.next_line(&mut raw) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                report.error = Some(format!("cannot read: {}", describe(&e)));
                break;
            }
        }
        let text = sanitize_bytes(&raw);
        let c = classify(&text, kind);
        let time = match (c.format, c.time) {
            (Some(format), Some(t)) => times.parse(format, t),
            _ => None,
        };
        if time.is_some_and(|t| t < cutoff) {
            break;
        }
        if report.kind.is_none() {
            report.kind = c.format;
        }
        tally.add(&c, time);
    }
    report.lines_scanned = tally.lines;
    report.status_5xx = tally.status_5xx;
    report.status_502 = tally.status_502;
    report.top_upstreams = tally.top_upstreams(TOP_UPSTREAMS);
    report.causes = tally.causes;
    report
}

/// The finding for one report: unknown when unreadable, else by [`WARNING_EVENTS`] and
/// [`CRITICAL_EVENTS`].
pub fn assess(report: &LogReport, window: Duration) -> Finding {
    if let Some(error) = &report.error {
        return Finding::new(Status::Unknown, format!("{}: {error}", report.path));
    }
    let events = report.events();
    let status = if events >= CRITICAL_EVENTS {
        Status::Critical
    } else if events >= WARNING_EVENTS {
        Status::Warning
    } else {
        Status::Ok
    };
    let minutes = window.as_secs().div_ceil(60);
    if events == 0 {
        return Finding::new(
            status,
            format!(
                "{}: no upstream failures in the last {minutes}m ({} lines)",
                report.path, report.lines_scanned
            ),
        );
    }
    let mut causes: Vec<(&Cause, &u64)> = report.causes.iter().collect();
    causes.sort_by(|a, b| b.1.cmp(a.1));
    let mut parts: Vec<String> = causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    if report.status_502 > 0 {
        parts.push(format!("502 x{}", report.status_502));
    }
    let mut message = format!(
        "{}: {events} upstream failures in the last {minutes}m ({})",
        report.path,
        parts.join(", ")
    );
    if let Some((upstream, n)) = report.top_upstreams.first() {
        message.push_str(&format!("; most at {upstream} ({n})"));
    }
    Finding::new(status, message)
}
