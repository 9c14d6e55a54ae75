//! What the Logs pane knows: every followed source's bounded ring of lines and its totals, plus
//! the operator's view of them (source, follow or pause, filters, search).

use std::collections::BTreeMap;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::logs::{self, Cause, LogBatch, LogBook, LogLine, RingLimits, SourceSpec};
use crate::status::{Finding, Status};

/// Minutes of per-cause counts kept for the sparklines.
pub const RATE_MINUTES: usize = 30;

/// Severity of a line, from its own text (nginx `[error]`, Apache `[proxy:error]`) or, for an
/// access line, its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Crit => "crit",
        }
    }

    fn parse(word: &str) -> Option<Level> {
        // Apache writes "proxy:error"; the part after the colon is the level.
        let word = word.rsplit(':').next().unwrap_or(word);
        Some(match word {
            "debug" | "trace1" | "trace2" | "trace3" | "trace4" | "trace5" | "trace6"
            | "trace7" | "trace8" => Level::Debug,
            "info" => Level::Info,
            "notice" => Level::Notice,
            "warn" | "warning" => Level::Warn,
            "error" | "err" => Level::Error,
            "crit" | "alert" | "emerg" => Level::Crit,
            _ => return None,
        })
    }

    /// The level of a line: the first bracketed word near its start, or its HTTP status.
    pub fn of(line: &LogLine) -> Option<Level> {
        if let Some(status) = line.status {
            return Some(match status {
                500..=599 => Level::Error,
                400..=499 => Level::Warn,
                _ => Level::Info,
            });
        }
        let head = line
            .text
            .get(..line.text.len().min(80))
            .unwrap_or(&line.text);
        head.split('[')
            .skip(1)
            .filter_map(|s| s.split(']').next())
            .find_map(Level::parse)
    }
}

/// Which lines the pane shows: all, or those at or above a level.
pub const LEVEL_FILTERS: [Option<Level>; 4] = [
    None,
    Some(Level::Warn),
    Some(Level::Error),
    Some(Level::Crit),
];

#[derive(Debug)]
pub struct LogView {
    pub book: LogBook,
    /// The source shown.
    pub current: usize,
    /// Following: the view stays on the newest line. Paused: new lines do not move it.
    pub follow: bool,
    pub wrap: bool,
    pub level: Option<Level>,
    pub cause: Option<Cause>,
    /// The search in effect, highlighted; `n`/`N` move between its matches.
    pub search: String,
    /// Per source: failures per cause per minute (unix minute start), for the rate sparklines.
    pub rates: Vec<BTreeMap<Cause, BTreeMap<i64, u64>>>,
    /// Per source: failures (a cause, or a 5xx naming a server) per upstream as logged, per
    /// minute; at most [`logs::MAX_UPSTREAMS`] upstreams and [`RATE_MINUTES`] minutes each, for
    /// the checklist's "which upstream, lately".
    pub upstream_rates: Vec<BTreeMap<String, BTreeMap<i64, u64>>>,
}

impl Default for LogView {
    fn default() -> Self {
        LogView::new(&[])
    }
}

impl LogView {
    pub fn new(specs: &[SourceSpec]) -> Self {
        LogView {
            book: LogBook::new(specs, RingLimits::default()),
            current: 0,
            follow: true,
            wrap: false,
            level: None,
            cause: None,
            search: String::new(),
            rates: vec![BTreeMap::new(); specs.len()],
            upstream_rates: vec![BTreeMap::new(); specs.len()],
        }
    }

    /// Files a batch; returns how many of its lines the current view shows (the caller keeps a
    /// paused view still by that much), or `None` for an unknown source.
    pub fn apply(&mut self, batch: LogBatch) -> Option<usize> {
        let source = batch.source;
        let rates = self.rates.get_mut(source)?;
        let skipped = batch
            .skipped
            .marks
            .iter()
            .map(|m| (m.cause, m.time, m.lines));
        let built = batch.lines.iter().map(|l| (l.cause, l.time, 1));
        for (cause, time, n) in skipped.chain(built) {
            if let (Some(cause), Some(t)) = (cause, time) {
                *rates
                    .entry(cause)
                    .or_default()
                    .entry(t - t.rem_euclid(60))
                    .or_default() += n;
            }
        }
        for minutes in rates.values_mut() {
            while minutes.len() > RATE_MINUTES {
                minutes.pop_first();
            }
        }
        if let Some(by_upstream) = self.upstream_rates.get_mut(source) {
            let marks = batch
                .skipped
                .marks
                .iter()
                .map(|m| (&m.upstream, m.cause, m.status, m.time));
            let lines = batch
                .lines
                .iter()
                .map(|l| (&l.upstream, l.cause, l.status, l.time));
            for (upstream, cause, status, time) in marks.chain(lines) {
                let failed = cause.is_some() || status.is_some_and(|s| s >= 500);
                let (Some(upstream), Some(t), true) = (upstream, time, failed) else {
                    continue;
                };
                if !by_upstream.contains_key(upstream) && by_upstream.len() >= logs::MAX_UPSTREAMS {
                    continue;
                }
                let minutes = by_upstream.entry(upstream.clone()).or_default();
                *minutes.entry(t - t.rem_euclid(60)).or_default() += 1;
                while minutes.len() > RATE_MINUTES {
                    minutes.pop_first();
                }
            }
        }
        let shown = if source == self.current {
            batch.lines.iter().filter(|l| self.shows(l)).count()
        } else {
            0
        };
        self.book.apply(batch).then_some(shown)
    }

    pub fn shows(&self, line: &LogLine) -> bool {
        let level_ok = match self.level {
            None => true,
            Some(min) => Level::of(line).is_some_and(|l| l >= min),
        };
        level_ok && self.cause.is_none_or(|c| line.cause == Some(c))
    }

    /// The current source's lines that pass the filters, oldest first.
    pub fn visible(&self) -> Vec<&LogLine> {
        match self.book.sources.get(self.current) {
            Some(src) => src.lines().iter().filter(|l| self.shows(l)).collect(),
            None => Vec::new(),
        }
    }

    /// Causes seen in the current source, most frequent first: what `c` cycles through.
    pub fn causes_present(&self) -> Vec<Cause> {
        let Some(src) = self.book.sources.get(self.current) else {
            return vec![];
        };
        let mut causes: Vec<(Cause, u64)> =
            src.tally.causes.iter().map(|(c, n)| (*c, *n)).collect();
        causes.sort_by_key(|(c, n)| (std::cmp::Reverse(*n), *c));
        causes.into_iter().map(|(c, _)| c).collect()
    }

    pub fn cycle_level(&mut self) {
        let i = LEVEL_FILTERS
            .iter()
            .position(|l| *l == self.level)
            .unwrap_or(0);
        self.level = LEVEL_FILTERS[(i + 1) % LEVEL_FILTERS.len()];
    }

    pub fn cycle_cause(&mut self) {
        let present = self.causes_present();
        self.cause = match self
            .cause
            .and_then(|c| present.iter().position(|p| *p == c))
        {
            None if self.cause.is_none() => present.first().copied(),
            Some(i) => present.get(i + 1).copied(),
            None => None,
        };
    }

    pub fn switch_source(&mut self, forward: bool) {
        let n = self.book.sources.len();
        if n > 0 {
            self.current = if forward {
                (self.current + 1) % n
            } else {
                (self.current + n - 1) % n
            };
            self.cause = None;
        }
    }

    /// 502 signatures in the last [`logs::DEFAULT_WINDOW`] of each source, by the lines' own
    /// timestamps, with the thresholds `check` uses.
    pub fn findings(&self, now: SystemTime) -> Vec<Finding> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let since = now - logs::DEFAULT_WINDOW.as_secs() as i64 - 60;
        let mut out = Vec::new();
        for (src, rates) in self.book.sources.iter().zip(&self.rates) {
            let mut by_cause: Vec<(Cause, u64)> = rates
                .iter()
                .map(|(c, minutes)| (*c, minutes.range(since..=now).map(|(_, n)| n).sum::<u64>()))
                .filter(|(_, n)| *n > 0)
                .collect();
            let total: u64 = by_cause.iter().map(|(_, n)| n).sum();
            if total < logs::WARNING_EVENTS {
                continue;
            }
            by_cause.sort_by_key(|(c, n)| (std::cmp::Reverse(*n), *c));
            let list: Vec<String> = by_cause
                .iter()
                .map(|(c, n)| format!("{n} {}", c.name()))
                .collect();
            let status = if total >= logs::CRITICAL_EVENTS {
                Status::Critical
            } else {
                Status::Warning
            };
            let minutes = logs::DEFAULT_WINDOW.as_secs() / 60;
            out.push(Finding::new(
                status,
                format!("{}: {} in {minutes} min", src.label, list.join(", ")),
            ));
        }
        out
    }

    /// Indices into [`visible`](Self::visible) of lines holding the search text.
    pub fn matches(&self) -> Vec<usize> {
        if self.search.is_empty() {
            return vec![];
        }
        let needle = self.search.to_lowercase();
        self.visible()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.text.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{Format, SourceStatus};

    fn line(text: &str, cause: Option<Cause>, status: Option<u16>) -> LogLine {
        LogLine {
            text: text.into(),
            format: Some(Format::NginxError),
            cause,
            status,
            upstream: None,
            time: Some(1_800_000_000),
        }
    }

    fn view() -> LogView {
        let mut v = LogView::new(&[SourceSpec::file("/var/log/nginx/error.log", None)]);
        v.apply(LogBatch {
            source: 0,
            skipped: Default::default(),
            lines: vec![
                line("2027/01/15 08:00:00 [notice] 1#1: start worker processes", None, None),
                line("2027/01/15 08:00:01 [error] 12#12: *3 connect() failed (111: Connection refused)", Some(Cause::Refused), None),
                line("2027/01/15 08:00:02 [warn] 12#12: *4 an upstream response is buffered", None, None),
                line("2027/01/15 08:00:03 [error] 12#12: *5 upstream timed out (110: Connection timed out)", Some(Cause::Timeout), None),
                line("2027/01/15 08:00:04 [error] 12#12: *6 connect() failed (111: Connection refused)", Some(Cause::Refused), None),
            ],
            status: SourceStatus::Following,
            events: vec![],
        });
        v
    }

    #[test]
    fn levels_come_from_the_line_or_its_status() {
        assert_eq!(
            Level::of(&line("2027/01/15 08:00:00 [crit] x", None, None)),
            Some(Level::Crit)
        );
        assert_eq!(
            Level::of(&line(
                "[Mon Jan 15 08:00:00 2027] [proxy:error] [pid 1] AH00957",
                None,
                None
            )),
            Some(Level::Error)
        );
        assert_eq!(
            Level::of(&line(
                "10.0.0.1 - - [15/Jan/2027:08:00:00 +0000] \"GET /\" 502 0",
                None,
                Some(502)
            )),
            Some(Level::Error)
        );
        assert_eq!(Level::of(&line("no level here", None, None)), None);
    }

    #[test]
    fn filters_by_level_and_cause_and_searches() {
        let mut v = view();
        assert_eq!(v.visible().len(), 5);
        v.cycle_level();
        assert_eq!(v.visible().len(), 4, "warn and above");
        v.cycle_level();
        assert_eq!(v.visible().len(), 3, "error and above");
        v.cycle_cause();
        assert_eq!(
            v.cause,
            Some(Cause::Refused),
            "the most frequent cause first"
        );
        assert_eq!(v.visible().len(), 2);
        v.cycle_cause();
        assert_eq!(v.cause, Some(Cause::Timeout));
        v.cycle_cause();
        assert_eq!(v.cause, None);
        v.search = "TIMED OUT".into();
        assert_eq!(v.matches(), vec![1]);
    }

    #[test]
    fn per_minute_rates_are_kept_per_cause() {
        let v = view();
        assert_eq!(v.rates[0][&Cause::Refused].values().sum::<u64>(), 2);
        assert_eq!(v.rates[0][&Cause::Timeout].len(), 1);
    }

    #[test]
    fn skipped_lines_count_in_totals_and_rates() {
        let mut v = view();
        let mark = |cause, time, lines| logs::Mark {
            cause: Some(cause),
            status: None,
            upstream: Some("u".into()),
            time: Some(time),
            lines,
        };
        v.apply(LogBatch {
            source: 0,
            skipped: logs::Skipped {
                quiet: 10,
                // Three consecutive lines alike are one mark.
                marks: vec![
                    mark(Cause::Refused, 1_800_000_000, 3),
                    mark(Cause::Reset, 60, 1),
                ],
            },
            lines: vec![],
            status: SourceStatus::Following,
            events: vec![],
        });
        let src = &v.book.sources[0];
        assert_eq!((src.total_lines(), src.lines().len()), (19, 5));
        assert_eq!(src.tally.causes[&Cause::Refused], 5);
        assert_eq!(src.tally.upstreams["u"], 4);
        assert_eq!(v.rates[0][&Cause::Refused].values().sum::<u64>(), 5);
        assert_eq!(v.rates[0][&Cause::Reset][&60], 1);
        assert_eq!(v.upstream_rates[0]["u"][&1_800_000_000], 1);
        assert_eq!(v.upstream_rates[0]["u"][&60], 1);
    }
}
