//! Counters over classified lines: per cause, per upstream, 5xx/502, requests, and per minute of
//! the lines' own timestamps, with the newest line of each cause as an example. Shared by the
//! follower's consumers and by `check`'s scan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::classify::Classified;
use super::example::{Example, Seen};
use super::status_class::StatusClasses;
use super::{Cause, LogLine};

/// Distinct upstreams counted by name; more are summed under [`OTHER_UPSTREAMS`]. Upstream names
/// come from the proxy config, so a real host has few; the cap only guards memory.
pub const MAX_UPSTREAMS: usize = 256;
pub const OTHER_UPSTREAMS: &str = "(other)";
/// Minutes of per-minute counts kept (the newest, by the lines' timestamps).
pub const MINUTES_KEPT: usize = 60;

/// Whether an answered status is a failed request in the sense of the failure share: the
/// gateway class a proxy answers when its upstream failed it (502 bad gateway, 503 no server
/// available (HAProxy) or limited, 504 upstream timed out). An application's own 500 is not: it
/// is counted in `status_5xx` but the proxy did its job.
pub fn is_gateway_failure(status: u16) -> bool {
    matches!(status, 502..=504)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MinuteCounts {
    pub status_5xx: u64,
    pub status_502: u64,
    /// Lines with a [`Cause`], per cause (the sparklines and the window's counts).
    pub by_cause: BTreeMap<Cause, u64>,
    /// Failures per upstream named (a cause, or a 5xx naming a server); at most
    /// [`MAX_UPSTREAMS`] names a minute, more under [`OTHER_UPSTREAMS`].
    pub by_upstream: BTreeMap<String, u64>,
    /// Lines with an HTTP status (access and HAProxy lines), whatever the status.
    pub requests: u64,
    /// The same lines by status class; their total is `requests`.
    pub classes: StatusClasses,
    /// Of those, the gateway failures (see [`is_gateway_failure`]).
    pub failed_requests: u64,
    /// Requests per upstream named by the line (`$upstream_addr`, HAProxy's server), capped
    /// like `by_upstream`.
    pub upstream_requests: BTreeMap<String, u64>,
    /// Of those, the gateway failures.
    pub upstream_failed: BTreeMap<String, u64>,
    /// The newest line of each cause in the minute, in the proxy's words.
    pub examples: BTreeMap<Cause, Example>,
    /// Unix second of the minute's earliest bad-gateway event (a cause or a 502): where the
    /// onset of a failure falls within its first minute.
    #[serde(skip)]
    pub first_event: Option<i64>,
    /// Unix second of the minute's earliest line counted in it, failing or not: a first minute
    /// whose lines began before its first failure shows the proxy working until then.
    #[serde(skip)]
    pub earliest: Option<i64>,
}

impl MinuteCounts {
    /// Lines with a [`Cause`].
    pub fn causes(&self) -> u64 {
        self.by_cause.values().sum()
    }
}

/// What a span of minutes holds: the counts the checklist, the findings and `check` judge. One
/// definition of a bad-gateway event ([`WindowCounts::events`]) for every front end, and one of
/// severity ([`super::severity`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    pub causes: BTreeMap<Cause, u64>,
    /// Failures per upstream as logged, most first (ties by name).
    pub upstreams: Vec<(String, u64)>,
    pub status_5xx: u64,
    pub status_502: u64,
    /// Lines with an HTTP status: the requests the proxy answered.
    pub requests: u64,
    /// The same requests by status class.
    pub classes: StatusClasses,
    /// Requests answered 502, 503 or 504 (see [`is_gateway_failure`]).
    pub failed_requests: u64,
    /// Requests per upstream, most first (ties by name).
    pub upstream_requests: Vec<(String, u64)>,
    /// Failed requests per upstream, most first (ties by name).
    pub upstream_failed: Vec<(String, u64)>,
    /// The newest line of each cause in the window.
    pub examples: BTreeMap<Cause, Example>,
}

impl WindowCounts {
    /// Lines that mean a bad gateway: every classified cause plus every 502 answered. Other 5xx
    /// (an application's own 500s) are reported but do not count.
    pub fn events(&self) -> u64 {
        self.causes.values().sum::<u64>() + self.status_502
    }

    /// Failed requests and requests to `upstream` (as the log names it, e.g.
    /// `127.0.0.1:8080`), when the log counted any: "all 6 requests to it failed".
    pub fn upstream_share(&self, upstream: &str) -> Option<(u64, u64)> {
        let total = lookup(&self.upstream_requests, upstream)?;
        Some((lookup(&self.upstream_failed, upstream).unwrap_or(0), total))
    }
}

fn lookup(counts: &[(String, u64)], name: &str) -> Option<u64> {
    counts.iter().find(|(n, _)| n == name).map(|(_, c)| *c)
}

/// What a line adds to a [`Tally`] beyond the line count, without its text; `lines` consecutive
/// lines that add the same (a 502 storm is one mark per second and upstream, not one per line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub cause: Option<Cause>,
    pub status: Option<u16>,
    pub upstream: Option<String>,
    pub time: Option<i64>,
    pub lines: u64,
}

impl Mark {
    fn same(
        &self,
        cause: Option<Cause>,
        status: Option<u16>,
        upstream: Option<&str>,
        time: Option<i64>,
    ) -> bool {
        self.cause == cause
            && self.status == status
            && self.time == time
            && self.upstream.as_deref() == upstream
    }
}

/// Lines the follower counted but did not turn into [`LogLine`]s: more lines than the ring keeps
/// followed them, so they would have been evicted on arrival. They precede the batch's lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Lines that add no failure (no cause, no 5xx): the bulk of a flood.
    pub quiet: u64,
    /// The requests among the quiet lines. A sum does not depend on order, so they are summed
    /// per minute as they come instead of marked in order: a flood of 200s from a few upstreams
    /// costs a map lookup a line and no allocation.
    pub quiet_requests: QuietRequests,
    /// The others, in order.
    pub marks: Vec<Mark>,
    /// The 1-based number in its file of the batch's first line (skipped or not), when the
    /// follower read that file from its start; `None` when it started at the file's last lines.
    pub first_line: Option<u64>,
}

/// Quiet lines with a status: their total, and per minute when their time was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuietRequests {
    pub total: u64,
    /// Only `requests` and `upstream_requests` are filled. Drained with every batch, so at most
    /// a batch's lines long; in practice one or two minutes.
    pub per_minute: BTreeMap<i64, MinuteCounts>,
}

impl Skipped {
    pub fn lines(&self) -> u64 {
        self.quiet + self.marks.iter().map(|m| m.lines).sum::<u64>()
    }

    /// Counts one quiet line (no cause, no 5xx); `status` when it is a request.
    pub fn quiet(&mut self, status: Option<u16>, upstream: Option<&str>, time: Option<i64>) {
        match status {
            Some(status) => self.quiet_requests(upstream, time, StatusClasses::of(status, 1)),
            None => self.quiet += 1,
        }
    }

    /// Counts quiet lines that are requests to `upstream` in the minute of `time`, `classes`
    /// telling how many of each status class: one map lookup for a run of alike lines.
    pub fn quiet_requests(
        &mut self,
        upstream: Option<&str>,
        time: Option<i64>,
        classes: StatusClasses,
    ) {
        let n = classes.total();
        self.quiet += n;
        self.quiet_requests.total += n;
        if let Some(time) = time {
            let minute = self
                .quiet_requests
                .per_minute
                .entry(minute_of(time))
                .or_default();
            minute.requests += n;
            minute.classes.merge(&classes);
            minute.earliest = earlier(minute.earliest, Some(time));
            if let Some(upstream) = upstream {
                count_upstream(&mut minute.upstream_requests, upstream, n);
            }
        }
    }

    /// Counts one line that is not quiet, after the others.
    pub fn mark(
        &mut self,
        cause: Option<Cause>,
        status: Option<u16>,
        upstream: Option<&str>,
        time: Option<i64>,
    ) {
        match self.marks.last_mut() {
            Some(last) if last.same(cause, status, upstream, time) => last.lines += 1,
            _ => self.marks.push(Mark {
                cause,
                status,
                upstream: upstream.map(str::to_owned),
                time,
                lines: 1,
            }),
        }
    }
}

/// Consecutive lines that add the same to a [`Tally`] (cause, status, upstream, minute), summed
/// and added as one: a storm of one cause at one upstream costs a compare a line instead of
/// half a dozen map lookups. The same totals as adding each line, since a run keeps their order.
#[derive(Debug, Default)]
pub struct Run {
    cause: Option<Cause>,
    status: Option<u16>,
    upstream: Option<String>,
    /// The earliest line's (all are in one minute): its minute, and its second as the
    /// minute's first failure ([`MinuteCounts::first_event`]).
    time: Option<i64>,
    lines: u64,
}

impl Run {
    /// Adds one line to `tally`, through the run.
    pub fn add(
        &mut self,
        tally: &mut Tally,
        cause: Option<Cause>,
        status: Option<u16>,
        upstream: Option<&str>,
        time: Option<i64>,
    ) {
        let same = self.lines > 0
            && self.cause == cause
            && self.status == status
            && self.time.map(minute_of) == time.map(minute_of)
            && self.upstream.as_deref() == upstream;
        if !same {
            self.flush(tally);
            self.time = time;
            (self.cause, self.status) = (cause, status);
            match (&mut self.upstream, upstream) {
                (Some(kept), Some(new)) => {
                    kept.clear();
                    kept.push_str(new);
                }
                (kept, new) => *kept = new.map(str::to_owned),
            }
        }
        // Lines come oldest first when followed and newest first when scanned backwards.
        self.time = earlier(self.time, time);
        self.lines += 1;
    }

    /// Adds the lines summed so far to `tally`.
    pub fn flush(&mut self, tally: &mut Tally) {
        if self.lines > 0 {
            let upstream = self.upstream.as_deref();
            tally.record(self.cause, self.status, upstream, self.time, self.lines);
            self.lines = 0;
        }
    }
}

/// The earlier of two times, either of which may be unknown.
pub fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn minute_of(time: i64) -> i64 {
    time.div_euclid(60) * 60
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    pub causes: BTreeMap<Cause, u64>,
    /// Failures per upstream: error-log causes, and 5xx access or HAProxy lines naming one.
    pub upstreams: BTreeMap<String, u64>,
    pub status_5xx: u64,
    pub status_502: u64,
    /// Lines with an HTTP status, timestamped or not.
    pub requests: u64,
    /// Keyed by the unix time of the minute's start.
    pub per_minute: BTreeMap<i64, MinuteCounts>,
}

impl Tally {
    pub fn add_line(&mut self, line: &LogLine) {
        self.add_numbered(line, None);
    }

    /// [`add_line`](Self::add_line) for a line newer than every line added before, `number`
    /// being its line number in its file when known; a line with a cause becomes its minute's
    /// example.
    pub fn add_numbered(&mut self, line: &LogLine, number: Option<u64>) {
        let (cause, status, upstream) = (line.cause, line.status, line.upstream.as_deref());
        self.record(cause, status, upstream, line.time, 1);
        if let (Some(cause), Some(time)) = (cause, line.time) {
            self.keep_example(
                &Seen {
                    cause,
                    text: &line.text,
                    format: line.format,
                    upstream,
                    time,
                    line: number,
                },
                true,
            );
        }
    }

    /// [`add_numbered`](Self::add_numbered) for lines in the order they were written, the
    /// first numbered `first` when known. Only the newest line of each cause and minute can end
    /// as the minute's example, so only those are made one, and alike lines are counted as one
    /// [`Run`]: a batch of a flood's lines costs a compare a line.
    pub fn add_lines(&mut self, lines: &[LogLine], first: Option<u64>) {
        let mut pairs: Vec<(Cause, i64)> = Vec::new();
        let mut example = vec![false; lines.len()];
        for (i, line) in lines.iter().enumerate().rev() {
            if let (Some(cause), Some(time)) = (line.cause, line.time) {
                let pair = (cause, minute_of(time));
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                    example[i] = true;
                }
            }
        }
        let mut run = Run::default();
        for (i, line) in lines.iter().enumerate() {
            let (cause, status, upstream) = (line.cause, line.status, line.upstream.as_deref());
            run.add(self, cause, status, upstream, line.time);
            if let (true, Some(cause), Some(time)) = (example[i], cause, line.time) {
                run.flush(self);
                let seen = Seen {
                    cause,
                    text: &line.text,
                    format: line.format,
                    upstream,
                    time,
                    line: first.map(|n| n + i as u64),
                };
                self.keep_example(&seen, true);
            }
        }
        run.flush(self);
    }

    pub fn add(&mut self, c: &Classified<'_>, time: Option<i64>) {
        self.record(c.cause, c.status, c.upstream, time, 1);
    }

    /// Makes `seen` its minute's example of its cause: always when `newest` (lines added oldest
    /// first, as followed), else only when the minute has none yet (a backward scan sees the
    /// newest first). Nothing when the minute is no longer kept. The example's text buffer is
    /// reused, so a storm of one cause does not allocate a line.
    pub(super) fn keep_example(&mut self, seen: &Seen<'_>, newest: bool) {
        let Some(minute) = self.per_minute.get_mut(&minute_of(seen.time)) else {
            return;
        };
        match minute.examples.get_mut(&seen.cause) {
            Some(example) if newest => example.set(seen),
            Some(_) => {}
            None => {
                minute.examples.insert(seen.cause, Example::of(seen));
            }
        }
    }

    /// Same totals as adding each skipped line: quiet lines only bump the counts, so their order
    /// relative to the marks does not matter.
    pub fn add_skipped(&mut self, skipped: &Skipped) {
        self.lines += skipped.quiet;
        self.requests += skipped.quiet_requests.total;
        for (&at, counts) in &skipped.quiet_requests.per_minute {
            let minute = self.per_minute.entry(at).or_default();
            minute.requests += counts.requests;
            minute.classes.merge(&counts.classes);
            minute.earliest = earlier(minute.earliest, counts.earliest);
            for (upstream, n) in &counts.upstream_requests {
                count_upstream(&mut minute.upstream_requests, upstream, *n);
            }
            self.evict();
        }
        for m in &skipped.marks {
            self.record(m.cause, m.status, m.upstream.as_deref(), m.time, m.lines);
        }
    }

    /// Adds `n` lines that each say the same.
    fn record(
        &mut self,
        cause: Option<Cause>,
        status: Option<u16>,
        upstream: Option<&str>,
        time: Option<i64>,
        n: u64,
    ) {
        self.lines += n;
        let is_5xx = status.is_some_and(|s| (500..=599).contains(&s));
        let is_502 = status == Some(502);
        let failed = status.is_some_and(is_gateway_failure);
        if status.is_some() {
            self.requests += n;
        }
        if cause.is_none() && !is_5xx {
            // A quiet line: only a request, when it is one, counts in its minute.
            if let (Some(status), Some(time)) = (status, time) {
                let minute = self.per_minute.entry(minute_of(time)).or_default();
                minute.requests += n;
                minute.classes.add(status, n);
                minute.earliest = earlier(minute.earliest, Some(time));
                if let Some(upstream) = upstream {
                    count_upstream(&mut minute.upstream_requests, upstream, n);
                }
                self.evict();
            }
            return;
        }
        let (n_5xx, n_502) = (n * u64::from(is_5xx), n * u64::from(is_502));
        if let Some(cause) = cause {
            *self.causes.entry(cause).or_default() += n;
        }
        self.status_5xx += n_5xx;
        self.status_502 += n_502;
        if let Some(upstream) = upstream {
            count_upstream(&mut self.upstreams, upstream, n);
        }
        if let Some(time) = time {
            let minute = self.per_minute.entry(minute_of(time)).or_default();
            minute.status_5xx += n_5xx;
            minute.status_502 += n_502;
            if cause.is_some() || is_502 {
                minute.first_event = earlier(minute.first_event, Some(time));
            }
            minute.earliest = earlier(minute.earliest, Some(time));
            if let Some(cause) = cause {
                *minute.by_cause.entry(cause).or_default() += n;
            }
            if let Some(upstream) = upstream {
                count_upstream(&mut minute.by_upstream, upstream, n);
            }
            if let Some(status) = status {
                minute.requests += n;
                minute.classes.add(status, n);
                minute.failed_requests += n * u64::from(failed);
                if let Some(upstream) = upstream {
                    count_upstream(&mut minute.upstream_requests, upstream, n);
                    if failed {
                        count_upstream(&mut minute.upstream_failed, upstream, n);
                    }
                }
            }
            self.evict();
        }
    }

    fn evict(&mut self) {
        while self.per_minute.len() > MINUTES_KEPT {
            self.per_minute.pop_first();
        }
    }

    /// The last `window` before `now` (unix seconds): from the minute `window` ago began, so
    /// the partial current minute never shortens it.
    pub fn last(&self, window: std::time::Duration, now: i64) -> WindowCounts {
        let span = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        self.window(now.saturating_sub(span), now)
    }

    /// The minutes from `since` to `until` (unix seconds, both included), by the lines' own
    /// timestamps.
    pub fn window(&self, since: i64, until: i64) -> WindowCounts {
        let mut out = WindowCounts::default();
        let mut upstreams: BTreeMap<&str, u64> = BTreeMap::new();
        let mut requests: BTreeMap<&str, u64> = BTreeMap::new();
        let mut failed: BTreeMap<&str, u64> = BTreeMap::new();
        // Oldest minute first, so a newer minute's example replaces an older one.
        for m in self
            .per_minute
            .range(minute_of(since)..=until)
            .map(|(_, m)| m)
        {
            out.status_5xx += m.status_5xx;
            out.status_502 += m.status_502;
            out.requests += m.requests;
            out.classes.merge(&m.classes);
            out.failed_requests += m.failed_requests;
            for (cause, n) in &m.by_cause {
                *out.causes.entry(*cause).or_default() += n;
            }
            for (into, from) in [
                (&mut upstreams, &m.by_upstream),
                (&mut requests, &m.upstream_requests),
                (&mut failed, &m.upstream_failed),
            ] {
                for (upstream, n) in from {
                    *into.entry(upstream).or_default() += n;
                }
            }
            for (cause, example) in &m.examples {
                out.examples.insert(*cause, example.clone());
            }
        }
        let owned =
            |m: BTreeMap<&str, u64>| most_first(m.into_iter().map(|(u, n)| (u.to_owned(), n)));
        out.upstreams = owned(upstreams);
        out.upstream_requests = owned(requests);
        out.upstream_failed = owned(failed);
        out
    }

    /// The tally without its examples: what counting lines without building them gives.
    #[cfg(test)]
    pub(crate) fn without_examples(mut self) -> Self {
        for minute in self.per_minute.values_mut() {
            minute.examples.clear();
        }
        self
    }

    /// Lines with any cause.
    pub fn cause_total(&self) -> u64 {
        self.causes.values().sum()
    }

    /// The `n` upstreams with the most failures, most first (ties by name).
    pub fn top_upstreams(&self, n: usize) -> Vec<(String, u64)> {
        let mut all = most_first(self.upstreams.iter().map(|(k, v)| (k.clone(), *v)));
        all.truncate(n);
        all
    }
}

/// Counts `n` for `upstream`, keeping at most [`MAX_UPSTREAMS`] names.
fn count_upstream(counts: &mut BTreeMap<String, u64>, upstream: &str, n: u64) {
    if let Some(count) = counts.get_mut(upstream) {
        *count += n;
    } else if counts.len() < MAX_UPSTREAMS {
        counts.insert(upstream.to_owned(), n);
    } else {
        *counts.entry(OTHER_UPSTREAMS.to_owned()).or_default() += n;
    }
}

fn most_first(counts: impl Iterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
