//! A log's recent hours, per minute: the 502-class events the onset is judged on, the 5xx and
//! requests the sparkline draws, and the proxy's lifecycle notices, all in one backward pass so
//! a log is read once.
//!
//! This is `check`'s 10-minute scan ([`crate::logs::scan_source`]) stretched to hours, keeping
//! only counts: the same classifier, the same backward reader, the same end of the span (a run
//! of older lines, since Apache's `%t` is a request's start and lines are not in time order).
//! An hours-long span of a busy log is gigabytes, so a byte budget and a time budget bound the
//! read, and say so ([`History::covered_from`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use serde::Serialize;

use super::event::{DEFAULT_CAP, Event};
use super::onset::FUTURE_SLACK;
use super::proxy_notices::NoticeReader;
use crate::config::LogKind;
use crate::logs::{
    ClassifyMemo, ReverseLines, SCAN_MAX_LINE, TimeParser, WindowEnd, classify_with, describe,
    earlier, minute_of, safe_text,
};
use crate::regular_file::open_regular;
use crate::sanitize::sanitize;

/// How far back from the end a history reaches.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(6 * 3600);
/// Bytes read back at most. A release build scans 480-720 MB/s of 100-byte access lines from the
/// page cache (5-7M lines/s, measured by tests/timeline_history.rs on a shared 2-core VM), so
/// this is about half a second, and a cold disk at 200 MB/s still fits [`DEFAULT_MAX_TIME`]. At
/// 1,000 requests a second it reaches back ~45 minutes, baseline enough before a recent rise;
/// at 100 a second, the whole [`DEFAULT_SPAN`].
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Wall time a scan may take at most, whatever it has read: a slow disk or a starved CPU.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(3);
/// Lines read between looks at the clock.
const CLOCK_EVERY: u64 = 1024;

/// One minute of a log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// Bad-gateway events, as [`crate::logs::WindowCounts::events`] counts them: lines with a
    /// classified cause, plus lines answered 502.
    pub events: u64,
    /// Lines answered 500-599.
    pub status_5xx: u64,
    /// Lines with an HTTP status.
    pub requests: u64,
    /// Unix second of the earliest event: where a failure began within its first minute.
    pub first_event: Option<i64>,
    /// Unix second of the earliest line counted, failing or not: a first minute whose lines
    /// began before its first event shows the proxy working until then.
    pub earliest: Option<i64>,
}

impl Minute {
    /// Each count's larger, each time's earlier: the same lines seen by two readers.
    fn max(self, other: Minute) -> Minute {
        Minute {
            events: self.events.max(other.events),
            status_5xx: self.status_5xx.max(other.status_5xx),
            requests: self.requests.max(other.requests),
            first_event: earlier(self.first_event, other.first_event),
            earliest: earlier(self.earliest, other.earliest),
        }
    }
}

/// How much of a log's end a history reads: back `span` before `now` (unix seconds, by the lines'
/// own timestamps, read in `tz` when they carry no offset), at most `max_bytes` and `max_time`.
#[derive(Clone, Debug)]
pub struct HistorySpan {
    pub span: Duration,
    pub max_bytes: u64,
    pub max_time: Duration,
    pub now: i64,
    pub tz: TimeZone,
}

impl HistorySpan {
    /// The default span and budgets, ending `now`, in the system's zone.
    pub fn recent(now: i64) -> Self {
        HistorySpan {
            span: DEFAULT_SPAN,
            max_bytes: DEFAULT_MAX_BYTES,
            max_time: DEFAULT_MAX_TIME,
            now,
            tz: TimeZone::system(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct History {
    /// Keyed by the unix time of the minute's start; only minutes from the span's start to
    /// [`FUTURE_SLACK`] past `now`, so at most `span / 60 + 3` of them.
    pub minutes: BTreeMap<i64, Minute>,
    /// The proxy's lifecycle notices within the span, oldest first; the newest [`DEFAULT_CAP`]
    /// read. A notice dated ahead of `now` is kept as dated: [`super::Events::push`] flags it.
    pub notices: Vec<Event>,
    /// Set when a budget (bytes or time) stopped the scan before the span's start: the counts
    /// cover this time (the oldest line counted; its minute is partial) to `now` only.
    pub covered_from: Option<i64>,
    pub bytes_read: u64,
    /// Why the log could not be read (or not to the end of the span), sanitised.
    pub error: Option<String>,
}

impl History {
    /// Adds `m` as the counts of `minute`, keeping each field's larger value: a scan and a
    /// follower that both counted the same lines must not count them twice.
    pub fn merge_max(&mut self, minute: i64, m: Minute) {
        let slot = self.minutes.entry(minute_of(minute)).or_default();
        *slot = slot.max(m);
    }

    /// `(minute, events)` pairs, oldest first, for [`super::onset`].
    pub fn events_per_minute(&self) -> Vec<(i64, u64)> {
        self.minutes.iter().map(|(&t, m)| (t, m.events)).collect()
    }
}

/// The history of the log at `path` over `span`; `label` names it in the notices (a sanitised
/// path). Errors are carried in the result, never a panic.
pub fn scan_history(
    label: &str,
    path: &Path,
    kind: Option<LogKind>,
    span: &HistorySpan,
) -> History {
    scan_history_before(label, path, kind, span, u64::MAX)
}

/// [`scan_history`] of the part of the file before byte `end` (a line's start): `check` counts
/// the last 10 minutes in its own scan and goes on from where that stopped.
pub fn scan_history_before(
    label: &str,
    path: &Path,
    kind: Option<LogKind>,
    span: &HistorySpan,
    end: u64,
) -> History {
    let started = Instant::now();
    let mut history = History::default();
    let file = match open_regular(path) {
        Ok(file) => file,
        Err(e) => {
            history.error = Some(format!("cannot open: {}", sanitize(&describe(&e))));
            return history;
        }
    };
    let len = match file.metadata() {
        Ok(meta) => meta.len().min(end),
        Err(e) => {
            history.error = Some(format!("cannot stat: {}", sanitize(&describe(&e))));
            return history;
        }
    };
    let now = span.now;
    let cutoff = now.saturating_sub(i64::try_from(span.span.as_secs()).unwrap_or(i64::MAX));
    let future = now.saturating_add(FUTURE_SLACK);
    let mut lines = ReverseLines::new(&file, len, SCAN_MAX_LINE, span.max_bytes);
    let mut times = TimeParser::at(span.tz.clone(), now);
    let mut notices = NoticeReader::new(TimeParser::at(span.tz.clone(), now));
    let mut newest_notices = Vec::new();
    let mut memo = ClassifyMemo::default();
    let mut end = WindowEnd::new(len);
    let mut raw = Vec::new();
    let (mut read, mut lowest, mut timed_out) = (0u64, len, false);
    // The oldest time counted: where the counts start if a budget stops the scan.
    let mut oldest_counted: Option<i64> = None;
    loop {
        read += 1;
        if read.is_multiple_of(CLOCK_EVERY) && started.elapsed() >= span.max_time {
            timed_out = true;
            break;
        }
        let at = match lines.next_line(&mut raw) {
            Ok(Some(at)) => at,
            Ok(None) => break,
            Err(e) => {
                history.error = Some(format!("cannot read: {}", sanitize(&describe(&e))));
                break;
            }
        };
        lowest = at.start;
        let text = safe_text(&raw);
        let c = classify_with(&text, kind, &mut memo);
        // A time past the slack is a clock that jumped: the line is taken as untimed, so it
        // neither counts nor ends the span (it goes with the lines around it).
        let time = c
            .stamp()
            .and_then(|(clock, t)| times.parse(clock, t))
            .filter(|&t| t <= future);
        if end.older(at.start, time.map(|t| t < cutoff)) {
            if end.past {
                break;
            }
            continue;
        }
        // A request or a failure is never a lifecycle notice; those are rare lines of their own.
        if c.status.is_none()
            && c.cause.is_none()
            && newest_notices.len() < DEFAULT_CAP
            && let Some(event) = notices.notice(&text, label)
        {
            newest_notices.push(event);
        }
        let Some(t) = time else {
            continue;
        };
        if c.cause.is_none() && c.status.is_none() {
            continue;
        }
        let is_5xx = c.status.is_some_and(|s| (500..=599).contains(&s));
        let minute = history.minutes.entry(minute_of(t)).or_default();
        // Both terms as WindowCounts::events adds them: a 502 line with a cause is two.
        let event = u64::from(c.cause.is_some()) + u64::from(c.status == Some(502));
        minute.events += event;
        if event > 0 {
            minute.first_event = earlier(minute.first_event, Some(t));
        }
        minute.earliest = earlier(minute.earliest, Some(t));
        minute.status_5xx += u64::from(is_5xx);
        minute.requests += u64::from(c.status.is_some());
        oldest_counted = Some(oldest_counted.map_or(t, |o| o.min(t)));
    }
    history.bytes_read = len - lowest;
    // Out of time just as the file ran out is not cut short.
    let floor = lines.hit_floor;
    let more = timed_out && matches!(lines.next_line(&mut raw), Ok(Some(_)));
    if !end.past && history.error.is_none() && (floor || more) {
        history.covered_from = Some(oldest_counted.unwrap_or(now));
    }
    // Read newest first; the sort is stable, so a second's notices keep their order.
    newest_notices.reverse();
    newest_notices.sort_by_key(|e| e.at);
    history.notices = newest_notices;
    history
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::io::Write;

    use super::*;
    use crate::logs::{Tally, TimeParser as Parser, classify};
    use crate::timeline::{EventKind, OnsetState, onset};

    /// 2026-12-01 14:00:00 UTC, a minute boundary.
    const M0: i64 = 1_796_133_600;

    fn nginx_stamp(t: i64) -> String {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .strftime("%Y/%m/%d %H:%M:%S")
            .to_string()
    }

    fn access_stamp(t: i64) -> String {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .strftime("%d/%b/%Y:%H:%M:%S +0000")
            .to_string()
    }

    fn refused(t: i64) -> String {
        format!(
            "{} [error] 7#7: *{t} connect() failed (111: Connection refused) while connecting to \
             upstream, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \
             \"http://127.0.0.1:9/\", host: \"x\"",
            nginx_stamp(t)
        )
    }

    fn access(t: i64, status: u16) -> String {
        format!(
            "127.0.0.1 - - [{}] \"GET /a HTTP/1.1\" {status} 12 \"-\" \"curl/8\"",
            access_stamp(t)
        )
    }

    fn span_at(now: i64) -> HistorySpan {
        HistorySpan {
            tz: TimeZone::UTC,
            ..HistorySpan::recent(now)
        }
    }

    fn write(lines: &[String]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        f.flush().unwrap();
        f
    }

    #[test]
    fn events_are_what_the_tally_calls_events() {
        // Causes, 502s, other 5xx, 200s, and a line that is nothing.
        let lines = vec![
            refused(M0 + 1),
            refused(M0 + 2),
            access(M0 + 3, 502),
            access(M0 + 4, 503),
            access(M0 + 5, 200),
            access(M0 + 65, 502),
            "not a log line".to_owned(),
        ];
        let f = write(&lines);
        let h = scan_history("x", f.path(), None, &span_at(M0 + 120));
        let mut tally = Tally::default();
        let mut times = Parser::new(TimeZone::UTC);
        for l in &lines {
            let c = classify(l, None);
            let t = c.stamp().and_then(|(clock, t)| times.parse(clock, t));
            tally.add(&c, t);
        }
        for (&minute, m) in &h.minutes {
            let w = tally.window(minute, minute + 59);
            assert_eq!(m.events, w.events(), "minute {minute}");
            assert_eq!((m.status_5xx, m.requests), (w.status_5xx, w.requests));
        }
        let total: u64 = h.minutes.values().map(|m| m.events).sum();
        assert_eq!(total, 4);
        assert_eq!(h.minutes[&M0].status_5xx, 2);
        assert_eq!(h.minutes[&M0].requests, 3);
        assert_eq!((h.covered_from, h.error.as_deref()), (None, None));
    }

    #[test]
    fn a_rise_after_a_baseline_gives_its_first_minute_and_the_reload_before_it() {
        // 30 quiet minutes of one refusal every other minute, a reload, then 20 a minute.
        let mut lines = Vec::new();
        for i in 0..30 {
            if i % 2 == 0 {
                lines.push(refused(M0 + i * 60 + 5));
            }
        }
        lines.push(format!(
            "{} [notice] 1#1: reconfiguring",
            nginx_stamp(M0 + 30 * 60 - 3)
        ));
        for i in 30..40 {
            for s in 0..20 {
                lines.push(refused(M0 + i * 60 + s));
            }
        }
        let f = write(&lines);
        let now = M0 + 40 * 60 + 1;
        let h = scan_history("error.log", f.path(), None, &span_at(now));
        let o = onset(&h.events_per_minute(), now);
        assert_eq!((o.at, o.state), (Some(M0 + 30 * 60), OnsetState::Ongoing));
        assert_eq!(h.notices.len(), 1);
        let n = &h.notices[0];
        assert_eq!((n.kind, n.at), (EventKind::ProxyReload, M0 + 30 * 60 - 3));
        assert_eq!(n.source, "error.log");
    }

    #[test]
    fn the_span_ends_at_a_run_of_older_lines_not_at_one() {
        let now = M0 + 7 * 3600;
        let span = span_at(now);
        let start = now - 6 * 3600;
        let mut lines: Vec<String> = (0..200).map(|i| access(start - 1000 + i, 502)).collect();
        // A late-logged request older than the span among newer lines is skipped; the run of
        // 200 older lines ends the span.
        lines.push(access(start + 10, 502));
        lines.push(access(start - 5000, 502));
        lines.push(access(start + 20, 502));
        let f = write(&lines);
        let h = scan_history("a", f.path(), None, &span);
        let total: u64 = h.minutes.values().map(|m| m.events).sum();
        assert_eq!(total, 2);
        assert_eq!(h.covered_from, None);
        assert!(h.minutes.keys().all(|&m| m >= minute_of(start)));
    }

    #[test]
    fn future_lines_inside_a_run_of_older_ones_do_not_keep_the_span_open() {
        let now = M0 + 7 * 3600;
        let start = now - 6 * 3600;
        let mut lines = vec![access(start - 9000, 502); 1000];
        for i in 0..300 {
            lines.push(access(start - 300 + i, 502));
            if i % 10 == 0 {
                lines.push(access(now + 86_400, 502));
            }
        }
        lines.push(access(start + 60, 502));
        let f = write(&lines);
        let h = scan_history("a", f.path(), None, &span_at(now));
        let len = f.as_file().metadata().unwrap().len();
        // Stopped 100 older lines in (and the future ones among them), not at the 300th.
        assert!(h.bytes_read < 150 * 100, "{} of {len}", h.bytes_read);
        assert_eq!(h.covered_from, None);
        assert_eq!(h.minutes.values().map(|m| m.events).sum::<u64>(), 1);
    }

    #[test]
    fn the_time_budget_stops_the_scan_and_says_from_when() {
        let lines: Vec<String> = (0..5000).map(|i| access(M0 + i, 502)).collect();
        let f = write(&lines);
        let span = HistorySpan {
            max_time: Duration::ZERO,
            ..span_at(M0 + 5000)
        };
        let h = scan_history("a", f.path(), None, &span);
        // The clock is looked at every CLOCK_EVERY lines: the newest 1,023 were counted.
        assert_eq!(h.covered_from, Some(M0 + 5000 - 1023));
        let total: u64 = h.minutes.values().map(|m| m.events).sum();
        assert_eq!(total, 1023);
    }

    #[test]
    fn notices_are_capped_keeping_the_newest() {
        let lines: Vec<String> = (0..DEFAULT_CAP as i64 + 100)
            .map(|i| format!("{} [notice] 1#1: reconfiguring", nginx_stamp(M0 + i)))
            .collect();
        let f = write(&lines);
        let now = M0 + 3600;
        let h = scan_history("e", f.path(), None, &span_at(now));
        assert_eq!(h.notices.len(), DEFAULT_CAP);
        assert_eq!(h.notices[0].at, M0 + 100);
        assert!(h.notices.windows(2).all(|w| w[0].at < w[1].at));
        assert!(h.minutes.is_empty());
    }

    #[test]
    fn merge_max_never_adds() {
        let mut h = History::default();
        let a = Minute {
            events: 5,
            status_5xx: 1,
            requests: 10,
            ..Minute::default()
        };
        let b = Minute {
            events: 3,
            status_5xx: 4,
            requests: 10,
            ..Minute::default()
        };
        h.merge_max(M0 + 7, a);
        h.merge_max(M0, b);
        h.merge_max(M0, a);
        assert_eq!(h.minutes.len(), 1);
        assert_eq!(
            h.minutes[&M0],
            Minute {
                events: 5,
                status_5xx: 4,
                requests: 10,
                ..Minute::default()
            }
        );
    }

    #[test]
    fn an_unreadable_path_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let h = scan_history("d", &dir.path().join("missing"), None, &span_at(M0));
        assert!(h.error.unwrap().starts_with("cannot open:"));
        let h = scan_history("d", dir.path(), None, &span_at(M0));
        assert!(h.error.is_some());
    }

    #[test]
    fn the_byte_budget_stops_the_scan_and_says_from_when() {
        let lines: Vec<String> = (0..3000).map(|i| access(M0 + i, 502)).collect();
        let f = write(&lines);
        let span = HistorySpan {
            max_bytes: 10_000,
            ..span_at(M0 + 3000)
        };
        let h = scan_history("a", f.path(), None, &span);
        let covered = h.covered_from.unwrap();
        assert!(covered > M0 + 2800 && covered < M0 + 3000, "{covered}");
        assert!(h.bytes_read <= 10_000);
        let total: u64 = h.minutes.values().map(|m| m.events).sum();
        assert_eq!(total, u64::try_from(M0 + 3000 - covered).unwrap());
    }
}
