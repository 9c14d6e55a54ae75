//! The operator's view of the followed logs (source, follow or pause, filters, search); the
//! lines and their totals are the model's ([`LogBook`]).

use super::log_search::Finder;
use crate::logs::{Cause, LogBatch, LogBook, LogLine};
use crate::model::upstream_links::UpstreamLines;

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
    /// The source shown.
    pub current: usize,
    /// Following: the view stays on the newest line. Paused: new lines do not move it.
    pub follow: bool,
    pub wrap: bool,
    pub level: Option<Level>,
    pub cause: Option<Cause>,
    /// The search in effect (highlighted; `n`/`N` move between its matches) and the filters.
    pub find: Finder,
    /// Lines shown that arrived while paused: the "N new lines" marker.
    pub unseen: usize,
    /// Only the lines of this upstream (`L` in the Upstreams pane, the verdict's evidence).
    pub upstream: Option<UpstreamLines>,
    /// Every source's lines interleaved by time (`m`; see `log_merge`).
    pub merged: bool,
    /// The operator chose the source (or the merged view): it no longer follows the one with
    /// the most bad-gateway lines.
    pub picked: bool,
    /// Columns unwrapped lines are scrolled sideways (←/→).
    pub hscroll: usize,
}

impl Default for LogView {
    fn default() -> Self {
        LogView {
            current: 0,
            follow: true,
            wrap: false,
            level: None,
            cause: None,
            find: Finder::default(),
            unseen: 0,
            upstream: None,
            merged: false,
            picked: false,
            hscroll: 0,
        }
    }
}

impl LogView {
    /// How many of a batch's lines the current view shows (the caller keeps a paused view
    /// still by that much).
    pub fn shown_of(&self, batch: &LogBatch) -> usize {
        if self.merged || batch.source == self.current {
            batch.lines.iter().filter(|l| self.shows(l)).count()
        } else {
            0
        }
    }

    pub fn shows(&self, line: &LogLine) -> bool {
        let level_ok = match self.level {
            None => true,
            Some(min) => Level::of(line).is_some_and(|l| l >= min),
        };
        level_ok
            && self.cause.is_none_or(|c| line.cause == Some(c))
            && self.upstream.as_ref().is_none_or(|u| {
                line.upstream
                    .as_deref()
                    .is_some_and(|logged| u.names(logged))
            })
            && self.find.keeps(&line.text)
    }

    /// Drops the upstream filter; whether there was one (Esc in the Logs pane).
    pub fn clear_upstream(&mut self) -> bool {
        self.upstream.take().is_some()
    }

    /// Causes seen in the current source, most frequent first: what `c` cycles through.
    pub fn causes_present(&self, book: &LogBook) -> Vec<Cause> {
        let shown = book
            .sources
            .iter()
            .enumerate()
            .filter(|(i, _)| self.merged || *i == self.current);
        let mut counts = std::collections::BTreeMap::<Cause, u64>::new();
        for (_, src) in shown {
            for (c, n) in &src.tally.causes {
                *counts.entry(*c).or_default() += n;
            }
        }
        let mut causes: Vec<(Cause, u64)> = counts.into_iter().collect();
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

    pub fn cycle_cause(&mut self, book: &LogBook) {
        let present = self.causes_present(book);
        self.cause = match self
            .cause
            .and_then(|c| present.iter().position(|p| *p == c))
        {
            None if self.cause.is_none() => present.first().copied(),
            Some(i) => present.get(i + 1).copied(),
            None => None,
        };
    }

    pub fn switch_source(&mut self, forward: bool, sources: usize) {
        let n = sources;
        if n > 0 {
            let next = if forward {
                (self.current + 1) % n
            } else {
                (self.current + n - 1) % n
            };
            self.cause = None;
            self.show_source(next);
        }
    }

    /// Shows one source, as the operator (or a cross-link they followed) chose: the busiest
    /// source no longer takes the pane over ([`LogView::pick_busiest`]).
    pub fn show_source(&mut self, source: usize) {
        if source != self.current {
            self.cause = None;
        }
        self.current = source;
        self.merged = false;
        self.picked = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{Format, RingLimits, SourceSpec};

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

    fn book() -> LogBook {
        let mut book = LogBook::new(
            &[SourceSpec::file("/var/log/nginx/error.log", None)],
            RingLimits::default(),
        );
        book.apply(LogBatch::following(0, vec![
                line("2027/01/15 08:00:00 [notice] 1#1: start worker processes", None, None),
                line("2027/01/15 08:00:01 [error] 12#12: *3 connect() failed (111: Connection refused)", Some(Cause::Refused), None),
                line("2027/01/15 08:00:02 [warn] 12#12: *4 an upstream response is buffered", None, None),
                line("2027/01/15 08:00:03 [error] 12#12: *5 upstream timed out (110: Connection timed out)", Some(Cause::Timeout), None),
                line("2027/01/15 08:00:04 [error] 12#12: *6 connect() failed (111: Connection refused)", Some(Cause::Refused), None),
            ]));
        book
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
        let book = book();
        let mut v = LogView::default();
        assert_eq!(v.visible(&book).len(), 5);
        assert_eq!(v.visible_len(&book), 5);
        v.cycle_level();
        assert_eq!(v.visible(&book).len(), 4, "warn and above");
        assert_eq!(v.visible_len(&book), 4);
        v.cycle_level();
        assert_eq!(v.visible(&book).len(), 3, "error and above");
        v.cycle_cause(&book);
        assert_eq!(
            v.cause,
            Some(Cause::Refused),
            "the most frequent cause first"
        );
        assert_eq!(v.visible(&book).len(), 2);
        assert_eq!(v.visible_len(&book), 2);
        v.cycle_cause(&book);
        assert_eq!(v.cause, Some(Cause::Timeout));
        v.cycle_cause(&book);
        assert_eq!(v.cause, None);
        v.find
            .set_search(super::super::log_search::Pattern::compile("timed out").ok());
        assert_eq!(v.matches(&book), vec![1]);
    }
}
