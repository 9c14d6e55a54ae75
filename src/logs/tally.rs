//! Counters over classified lines: per cause, per upstream, 5xx/502, and per minute of the
//! lines' own timestamps. Shared by the follower's consumers and by `check`'s scan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::classify::Classified;
use super::{Cause, LogLine};

/// Distinct upstreams counted by name; more are summed under [`OTHER_UPSTREAMS`]. Upstream names
/// come from the proxy config, so a real host has few; the cap only guards memory.
pub const MAX_UPSTREAMS: usize = 256;
pub const OTHER_UPSTREAMS: &str = "(other)";
/// Minutes of per-minute counts kept (the newest, by the lines' timestamps).
pub const MINUTES_KEPT: usize = 60;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MinuteCounts {
    pub status_5xx: u64,
    pub status_502: u64,
    /// Lines with a [`Cause`], per cause (the sparklines and the window's counts).
    pub by_cause: BTreeMap<Cause, u64>,
    /// Failures per upstream named (a cause, or a 5xx naming a server); at most
    /// [`MAX_UPSTREAMS`] names a minute, more under [`OTHER_UPSTREAMS`].
    pub by_upstream: BTreeMap<String, u64>,
}

impl MinuteCounts {
    /// Lines with a [`Cause`].
    pub fn causes(&self) -> u64 {
        self.by_cause.values().sum()
    }
}

/// What a span of minutes holds: the counts the checklist, the findings and `check` judge. One
/// definition of a bad-gateway event ([`WindowCounts::events`]) for every front end.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    pub causes: BTreeMap<Cause, u64>,
    /// Failures per upstream as logged, most first (ties by name).
    pub upstreams: Vec<(String, u64)>,
    pub status_5xx: u64,
    pub status_502: u64,
}

impl WindowCounts {
    /// Lines that mean a bad gateway: every classified cause plus every 502 answered. Other 5xx
    /// (an application's own 500s) are reported but do not count.
    pub fn events(&self) -> u64 {
        self.causes.values().sum::<u64>() + self.status_502
    }
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
    /// Lines that add nothing but the line count (no cause, no 5xx): the bulk of a flood.
    pub quiet: u64,
    /// The others, in order.
    pub marks: Vec<Mark>,
}

impl Skipped {
    pub fn lines(&self) -> u64 {
        self.quiet + self.marks.iter().map(|m| m.lines).sum::<u64>()
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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    pub causes: BTreeMap<Cause, u64>,
    /// Failures per upstream: error-log causes, and 5xx access or HAProxy lines naming one.
    pub upstreams: BTreeMap<String, u64>,
    pub status_5xx: u64,
    pub status_502: u64,
    /// Keyed by the unix time of the minute's start.
    pub per_minute: BTreeMap<i64, MinuteCounts>,
}

impl Tally {
    pub fn add_line(&mut self, line: &LogLine) {
        let (cause, status, upstream) = (line.cause, line.status, line.upstream.as_deref());
        self.record(cause, status, upstream, line.time, 1);
    }

    pub fn add(&mut self, c: &Classified<'_>, time: Option<i64>) {
        self.record(c.cause, c.status, c.upstream, time, 1);
    }

    /// Same totals as adding each skipped line: quiet lines only bump the count, so their order
    /// relative to the marks does not matter.
    pub fn add_skipped(&mut self, skipped: &Skipped) {
        self.lines += skipped.quiet;
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
        if cause.is_none() && !is_5xx {
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
            let minute = self.per_minute.entry(time.div_euclid(60) * 60).or_default();
            minute.status_5xx += n_5xx;
            minute.status_502 += n_502;
            if let Some(cause) = cause {
                *minute.by_cause.entry(cause).or_default() += n;
            }
            if let Some(upstream) = upstream {
                count_upstream(&mut minute.by_upstream, upstream, n);
            }
            while self.per_minute.len() > MINUTES_KEPT {
                self.per_minute.pop_first();
            }
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
        for m in self
            .per_minute
            .range(since.div_euclid(60) * 60..=until)
            .map(|(_, m)| m)
        {
            out.status_5xx += m.status_5xx;
            out.status_502 += m.status_502;
            for (cause, n) in &m.by_cause {
                *out.causes.entry(*cause).or_default() += n;
            }
            for (upstream, n) in &m.by_upstream {
                *upstreams.entry(upstream).or_default() += n;
            }
        }
        out.upstreams = most_first(upstreams.into_iter().map(|(u, n)| (u.to_owned(), n)));
        out
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
mod tests {
    use super::*;

    fn line(cause: Option<Cause>, status: Option<u16>, up: Option<&str>, t: i64) -> LogLine {
        LogLine {
            text: String::new(),
            format: None,
            cause,
            status,
            upstream: up.map(str::to_owned),
            time: Some(t),
        }
    }

    #[test]
    fn counts_causes_statuses_upstreams_and_minutes() {
        let mut t = Tally::default();
        t.add_line(&line(Some(Cause::Refused), None, Some("a"), 60));
        t.add_line(&line(Some(Cause::Refused), None, Some("a"), 119));
        t.add_line(&line(None, Some(502), Some("b"), 120));
        t.add_line(&line(None, Some(504), None, 130));
        t.add_line(&line(None, Some(200), Some("ignored"), 130));
        assert_eq!(t.lines, 5);
        assert_eq!(t.causes.get(&Cause::Refused), Some(&2));
        assert_eq!((t.status_5xx, t.status_502), (2, 1));
        assert_eq!(t.top_upstreams(5), vec![("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(t.per_minute[&60].causes(), 2);
        assert_eq!(t.per_minute[&120].status_5xx, 2);
        assert_eq!(t.per_minute[&120].status_502, 1);
    }

    #[test]
    fn alike_consecutive_marks_merge_and_count_as_many_lines() {
        let mut skipped = Skipped::default();
        let mut one_by_one = Tally::default();
        let storm = [
            (502, "a", 60),
            (502, "a", 60),
            (502, "a", 60),
            (502, "b", 60),
            (502, "a", 61),
        ];
        for (status, up, t) in storm {
            skipped.mark(None, Some(status), Some(up), Some(t));
            one_by_one.add_line(&line(None, Some(status), Some(up), t));
        }
        assert_eq!(skipped.marks.len(), 3);
        assert_eq!(skipped.marks[0].lines, 3);
        assert_eq!(skipped.lines(), 5);
        let mut merged = Tally::default();
        merged.add_skipped(&skipped);
        assert_eq!(merged, one_by_one);
        assert_eq!((merged.status_502, merged.upstreams["a"]), (5, 4));
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Tally::default();
        for i in 0..(MAX_UPSTREAMS as i64 + 10) {
            t.add_line(&line(
                Some(Cause::Reset),
                None,
                Some(&format!("u{i}")),
                i * 60,
            ));
        }
        assert_eq!(t.upstreams.len(), MAX_UPSTREAMS + 1);
        assert_eq!(t.upstreams[OTHER_UPSTREAMS], 10);
        assert_eq!(t.per_minute.len(), MINUTES_KEPT);
    }
}
