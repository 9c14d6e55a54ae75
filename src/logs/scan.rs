//! `check`'s look at a log: the recent end only, read backwards until the window's start (by
//! the lines' own timestamps) or a line budget, whichever comes first.
//!
//! A log's lines are not in time order: Apache's `%t` and HAProxy's accept date are a request's
//! start, written when it ends, so a long download lands after newer lines with an older time.
//! The window therefore ends only after a run of older lines ([`OLDER_RUN_LINES`] or
//! [`OLDER_RUN_BYTES`]); an older line inside a shorter run is skipped, not counted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::classify::{Classified, classify, classify_with};
use super::example::Seen;
use super::file::describe;
use super::lines::cut_marker;
use super::nginx::Memo;
use super::ring::SourceLog;
use super::tail::{ReverseLines, line_numbers};
use super::tally::{Run, minute_of};
use super::text::printable_str;
use super::{
    Cause, Format, LogLine, StatusClasses, Tally, TimeParser, WindowCounts, percent, severity,
};
use crate::config::LogKind;
use crate::regular_file::open_regular;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::status::{Finding, Status};

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Lines read back at most: a busy proxy's whole 10 minutes (5M lines of ~250 bytes is 1.2 GB).
/// A budget that stops a scan inside the window is said (`covered_seconds`).
pub const DEFAULT_MAX_LINES: usize = 5_000_000;
/// Bytes read back from the end at most, whatever the line count (a file of huge lines).
pub const SCAN_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Consecutive lines older than the window that end it: fewer are taken for late-logged
/// requests and skipped.
pub const OLDER_RUN_LINES: u64 = 100;
/// Bytes of consecutive older lines that end the window whatever their count (huge lines).
pub const OLDER_RUN_BYTES: u64 = 1024 * 1024;
/// Lines are cut to this many bytes for classification, as when following.
pub(crate) const SCAN_MAX_LINE: usize = 16 * 1024;
/// Examples' line numbers are counted from the file's start only this far into it: counting
/// costs about what `wc -l` does (see the report of issue 12), and a log this large on a host in
/// trouble is better left unread than numbered.
pub const LINE_NUMBER_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Upstreams listed in a report.
const TOP_UPSTREAMS: usize = 5;
/// Failing lines a scan keeps for the incident report (the newest).
pub const RECENT_LINES: usize = 50;
/// A kept line longer than this is cut (with the follower's visible marker).
pub const RECENT_LINE_BYTES: usize = 4096;

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
    /// Lines with an HTTP status, and those answered 502, 503 or 504.
    pub requests: u64,
    pub failed_requests: u64,
    /// The requests by status class (`{"1xx": 0, "2xx": 9812, …, "other": 0}`).
    pub responses: StatusClasses,
    /// The upstreams with the most requests, with their failed ones: (name, failed, total).
    pub top_upstream_requests: Vec<(String, u64, u64)>,
    /// When a scan budget stopped before the window's start: the seconds the counts do cover
    /// (`null`: the whole window).
    pub covered_seconds: Option<u64>,
    pub error: Option<String>,
}

impl LogReport {
    /// One source's last `window` before `now` (unix seconds), as `check --json` lists it.
    pub fn of(source: &SourceLog, window: Duration, now: i64) -> Self {
        let counts = source.tally.last(window, now);
        let top_upstream_requests = counts
            .upstream_requests
            .iter()
            .take(TOP_UPSTREAMS)
            .map(|(u, total)| {
                let failed = counts.upstream_share(u).map_or(0, |(f, _)| f);
                (u.clone(), failed, *total)
            })
            .collect();
        let mut top_upstreams = counts.upstreams;
        top_upstreams.truncate(TOP_UPSTREAMS);
        LogReport {
            path: source.label.clone(),
            kind: source.format,
            lines_scanned: source.tally.lines,
            causes: counts.causes,
            status_5xx: counts.status_5xx,
            status_502: counts.status_502,
            top_upstreams,
            requests: counts.requests,
            failed_requests: counts.failed_requests,
            responses: counts.classes,
            top_upstream_requests,
            covered_seconds: source
                .covered_from
                .map(|_| source.covered(window, now).as_secs()),
            error: source.error().map(str::to_owned),
        }
    }

    /// See [`WindowCounts::events`].
    pub fn events(&self) -> u64 {
        self.counts().events()
    }

    /// The counts again, as far as the report keeps them (the top upstreams only).
    fn counts(&self) -> WindowCounts {
        let requests = &self.top_upstream_requests;
        WindowCounts {
            causes: self.causes.clone(),
            upstreams: self.top_upstreams.clone(),
            status_5xx: self.status_5xx,
            status_502: self.status_502,
            requests: self.requests,
            classes: self.responses,
            failed_requests: self.failed_requests,
            upstream_requests: requests.iter().map(|(u, _, n)| (u.clone(), *n)).collect(),
            upstream_failed: requests
                .iter()
                .filter(|(_, f, _)| *f > 0)
                .map(|(u, f, _)| (u.clone(), *f))
                .collect(),
            examples: Default::default(),
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
    let label = sanitize(&path.display().to_string()).into_owned();
    let span = ScanSpan {
        window,
        max_lines,
        now,
        tz,
        lines_past_window: false,
    };
    LogReport::of(&scan_source(label, path, kind, &span), window, now)
}

/// How much of a log's end a scan reads: back to `window` before `now` (unix seconds, by the
/// lines' own timestamps, read in `tz` when they carry no offset), at most `max_lines` lines.
#[derive(Clone, Debug)]
pub struct ScanSpan {
    pub window: Duration,
    pub max_lines: usize,
    pub now: i64,
    pub tz: TimeZone,
    /// Past the window, keep reading (within `max_lines`) for the newest failing lines, counting
    /// nothing: a report of an incident that ended a while ago still shows its lines. `check`
    /// stops at the window's start.
    pub lines_past_window: bool,
}

impl ScanSpan {
    /// `check`'s span: the default window and line budget, ending now, in the system's zone.
    pub fn recent(now: i64) -> Self {
        ScanSpan {
            window: DEFAULT_WINDOW,
            max_lines: DEFAULT_MAX_LINES,
            now,
            tz: TimeZone::system(),
            lines_past_window: false,
        }
    }
}

/// The recent end of one log as the model keeps a followed source: its tally over the window
/// and its newest relevant lines (at most [`RECENT_LINES`]), read in one backward pass. A failure
/// line without a timestamp of its own counts at `now`, when it was read, as a followed one does.
pub fn scan_source(
    label: String,
    path: &Path,
    kind: Option<LogKind>,
    span: &ScanSpan,
) -> SourceLog {
    scan_source_with(label, path, kind, span, &mut |_| {}).log
}

/// A [`scan_source`] and where it stopped counting, for a longer look back to go on from.
pub struct Scanned {
    pub log: SourceLog,
    /// The start of the oldest line counted (the file's length when none was): everything from
    /// here to the end was read, and counted in the window or skipped as older.
    pub floor: u64,
}

/// [`scan_source`], handing each line of the window that has neither a cause nor a status
/// (a proxy's notices are among them) to `quiet`, and saying where the counting stopped: the
/// incident timeline reads the same lines for notices and goes on further back from `floor`,
/// so `check` reads each byte of a log once.
pub fn scan_source_with(
    label: String,
    path: &Path,
    kind: Option<LogKind>,
    span: &ScanSpan,
    quiet: &mut dyn FnMut(&str),
) -> Scanned {
    let (window, max_lines, now) = (span.window, span.max_lines, span.now);
    let failed = |why: String| Scanned {
        log: SourceLog::scanned(label.clone(), None, Some(why), Tally::default(), vec![]),
        floor: u64::MAX,
    };
    let file = match open_regular(path) {
        Ok(file) => file,
        Err(e) => return failed(format!("cannot open: {}", describe(&e))),
    };
    let len = match file.metadata() {
        Ok(meta) => meta.len(),
        Err(e) => return failed(format!("cannot stat: {}", describe(&e))),
    };
    let cutoff = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
    let mut lines = ReverseLines::new(&file, len, SCAN_MAX_LINE, SCAN_MAX_BYTES);
    let mut times = TimeParser::new(span.tz.clone());
    let mut tally = Tally::default();
    let mut run = Run::default();
    let mut memo = Memo::default();
    // The cause and minute whose example was last looked at.
    let mut example_kept: Option<(Cause, i64)> = None;
    let mut format = None;
    let mut error = None;
    let mut recent = Vec::new();
    let mut raw = Vec::new();
    let mut read = 0u64;
    // The start of the oldest line read, and how many lines were read back to it.
    let mut oldest_read: Option<(u64, u64)> = None;
    // The oldest time among the lines counted: where the counts start if a budget stops us.
    let mut oldest_counted: Option<i64> = None;
    let mut end = WindowEnd::new(len);
    let mut floor = len;
    while read < max_lines as u64 {
        read += 1;
        let at = match lines.next_line(&mut raw) {
            Ok(Some(at)) => at,
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("cannot read: {}", describe(&e)));
                break;
            }
        };
        oldest_read = Some((at.start, read));
        let text = safe_text(&raw);
        let c = classify_with(&text, kind, &mut memo);
        let time = c.stamp().and_then(|(clock, t)| times.parse(clock, t));
        let relevant = c.cause.is_some() || c.status.is_some_and(|s| (500..=599).contains(&s));
        if end.older(at.start, time.map(|t| t < cutoff)) {
            // Nothing older counts; a report still looks back for failing lines to show.
            if !span.lines_past_window || recent.len() >= RECENT_LINES {
                if end.past {
                    break;
                }
                continue;
            }
            if relevant {
                recent.push(recent_line(&text, at.cut, &c, time));
            }
            continue;
        }
        if format.is_none() {
            format = c.format;
        }
        floor = at.start;
        if c.cause.is_none() && c.status.is_none() {
            quiet(&text);
        }
        let time = if relevant { time.or(Some(now)) } else { time };
        if let Some(t) = time {
            oldest_counted = Some(oldest_counted.map_or(t, |o| o.min(t)));
        }
        run.add(&mut tally, c.cause, c.status, c.upstream, time);
        if let (Some(cause), Some(time)) = (c.cause, time)
            && example_kept != Some((cause, minute_of(time)))
        {
            // The minute's first line seen is its example (the newest): later ones of the same
            // cause and minute change nothing, so only a new pair is looked up.
            example_kept = Some((cause, minute_of(time)));
            run.flush(&mut tally);
            // Numbered below, once the scan knows where its oldest line is: how far back this
            // one was read for now.
            let seen = Seen {
                cause,
                text: &text,
                format: c.format,
                upstream: c.upstream,
                time,
                line: Some(read),
            };
            tally.keep_example(&seen, false);
        }
        if relevant && recent.len() < RECENT_LINES {
            recent.push(recent_line(&text, at.cut, &c, time));
        }
    }
    run.flush(&mut tally);
    recent.reverse();
    number_examples(&file, &mut tally, oldest_read);
    // A budget, not the window's start or the file's, ended the scan: the counts cover less.
    let cut_short = !end.past
        && error.is_none()
        && (lines.hit_floor
            || (read >= max_lines as u64
                && next_is_in_window(&mut lines, &mut raw, kind, &mut times, cutoff)));
    let mut log = SourceLog::scanned(label, format, error, tally, recent);
    if cut_short {
        log.covered_from = Some(oldest_counted.unwrap_or(now));
    }
    Scanned { log, floor }
}

/// Where a backward scan's window ends. Lines are not in time order (see the module's doc), so
/// an older line alone is skipped, and only a run of them ([`OLDER_RUN_LINES`] lines or
/// [`OLDER_RUN_BYTES`] bytes) ends the window: [`past`](Self::past) is then set, and every line
/// further back is older.
#[derive(Clone, Debug)]
pub(crate) struct WindowEnd {
    /// Lines in the current run of older ones.
    run: u64,
    /// Where that run began: the end of its newest line.
    run_from: u64,
    /// The start of the line read before (the end of the next one, read backwards).
    newer_start: u64,
    pub(crate) past: bool,
}

impl WindowEnd {
    /// For a file of `len` bytes read from its end.
    pub(crate) fn new(len: u64) -> Self {
        WindowEnd {
            run: 0,
            run_from: len,
            newer_start: len,
            past: false,
        }
    }

    /// Whether the next line back, starting at byte `start`, is outside the window; `older` is
    /// what its own time says (`None`: it has none, and goes with the timed lines around it).
    pub(crate) fn older(&mut self, start: u64, older: Option<bool>) -> bool {
        let line_end = std::mem::replace(&mut self.newer_start, start);
        let older = self.past || older.unwrap_or(self.run > 0);
        if !older {
            self.run = 0;
        } else if !self.past {
            if self.run == 0 {
                self.run_from = line_end;
            }
            self.run += 1;
            self.past = self.run >= OLDER_RUN_LINES
                || self.run_from.saturating_sub(start) >= OLDER_RUN_BYTES;
        }
        older
    }
}

/// Whether a line the budget left unread belongs to the window (a line without a time of its
/// own is taken to).
fn next_is_in_window(
    lines: &mut ReverseLines<'_>,
    raw: &mut Vec<u8>,
    kind: Option<LogKind>,
    times: &mut TimeParser,
    cutoff: i64,
) -> bool {
    if !matches!(lines.next_line(raw), Ok(Some(_))) {
        return false;
    }
    let text = safe_text(raw);
    let c = classify(&text, kind);
    let time = c.stamp().and_then(|(clock, t)| times.parse(clock, t));
    time.is_none_or(|t| t >= cutoff)
}

/// A raw line as text safe to show: printable ASCII as it is (what sanitising would return),
/// anything else sanitised.
pub(crate) fn safe_text(raw: &[u8]) -> Cow<'_, str> {
    match printable_str(raw) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(sanitize_bytes(raw)),
    }
}

/// Turns the examples' places in the scan (the `n`th line read back) into line numbers: the
/// oldest line read, `oldest = (start, n)`, is numbered by counting the newlines before it,
/// within [`LINE_NUMBER_MAX_BYTES`], and the lines read after it follow it. Only the part of the
/// file before the scan is read again: nothing when the scan reached the file's start. A number
/// that cannot be had is left out rather than failing the scan.
fn number_examples(file: &File, tally: &mut Tally, oldest: Option<(u64, u64)>) {
    let base = oldest.and_then(|(start, n)| {
        let number = match start {
            0 => Some(1),
            _ => line_numbers(file, &[start], LINE_NUMBER_MAX_BYTES)
                .ok()?
                .first()
                .copied()
                .flatten(),
        };
        Some((number?, n))
    });
    for example in tally
        .per_minute
        .values_mut()
        .flat_map(|m| m.examples.values_mut())
    {
        example.line = match (base, example.line) {
            (Some((number, oldest_n)), Some(n)) => Some(number + (oldest_n - n)),
            _ => None,
        };
    }
}

/// A relevant line as the report shows it: cut to [`RECENT_LINE_BYTES`], marked where cut.
fn recent_line(text: &str, cut: u64, c: &Classified<'_>, time: Option<i64>) -> LogLine {
    let mut end = text.len().min(RECENT_LINE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut kept = text[..end].to_owned();
    let cut = cut + (text.len() - end) as u64;
    if cut > 0 {
        kept.push_str(&cut_marker(cut));
    }
    LogLine {
        text: kept,
        format: c.format,
        cause: c.cause,
        status: c.status,
        upstream: c.upstream.map(str::to_owned),
        time,
    }
}

/// The finding for one report: unknown when unreadable, else by [`super::severity`].
pub fn assess(report: &LogReport, window: Duration) -> Finding {
    judge(
        &report.path,
        report.error.as_deref(),
        &report.counts(),
        report.lines_scanned,
        window,
    )
}

/// The one log finding, for every front end: a source's counts over `window`, judged by
/// [`super::severity`]; a log of requests words the failed share.
pub fn judge(
    source: &str,
    error: Option<&str>,
    counts: &WindowCounts,
    lines: u64,
    window: Duration,
) -> Finding {
    if let Some(error) = error {
        return Finding::new(Status::Unknown, format!("{source}: {error}"));
    }
    let status = severity(counts);
    let events = counts.events();
    let minutes = window.as_secs().div_ceil(60);
    if events == 0 && status == Status::Ok {
        return Finding::new(
            status,
            format!("{source}: no upstream failures in the last {minutes}m ({lines} lines)"),
        );
    }
    let mut causes: Vec<(&Cause, &u64)> = counts.causes.iter().collect();
    causes.sort_by(|a, b| b.1.cmp(a.1));
    let mut parts: Vec<String> = causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    if counts.status_502 > 0 {
        parts.push(format!("502 x{}", counts.status_502));
    }
    let mut message = if counts.requests > 0 {
        let (failed, total) = (counts.failed_requests, counts.requests);
        format!(
            "{source}: {failed} of {total} requests failed ({}%), {minutes} min",
            percent(failed, total)
        )
    } else {
        format!("{source}: {events} upstream failures in the last {minutes}m")
    };
    if !parts.is_empty() {
        message.push_str(&format!(" ({})", parts.join(", ")));
    }
    if let Some((upstream, n)) = counts.upstreams.first() {
        message.push_str(&format!("; most at {upstream} ({n})"));
        if let Some((failed, total)) = counts.upstream_share(upstream) {
            message.push_str(&format!(", {failed} of its {total} requests"));
        }
    }
    Finding::new(status, message)
}
