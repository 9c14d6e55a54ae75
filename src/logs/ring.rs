//! What the app keeps per source: a bounded ring of recent lines, totals that keep counting
//! after lines fall out of the ring, and the latest status.

use std::collections::VecDeque;
use std::time::Duration;

use super::{FollowEvent, Format, LogBatch, LogLine, SourceSpec, SourceStatus, Tally};

/// Bounds of one source's ring. Both apply: 10,000 lines of 16 KiB would be 160 MiB, so a byte
/// budget keeps hostile long lines from costing more than ordinary ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLimits {
    pub lines: usize,
    pub bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        RingLimits {
            lines: 10_000,
            bytes: 16 * 1024 * 1024,
        }
    }
}

/// Events remembered per source (the newest).
const EVENTS_KEPT: usize = 16;

#[derive(Clone, Debug)]
pub struct SourceLog {
    /// Display name, safe for a terminal.
    pub label: String,
    pub status: SourceStatus,
    /// The format of the latest line that had one.
    pub format: Option<Format>,
    /// Counters over every line ever received, not just those still in the ring.
    pub tally: Tally,
    /// Set when a scan's budget stopped it inside the window: the unix time its oldest counted
    /// line was written, where the counts really start.
    pub covered_from: Option<i64>,
    pub events: VecDeque<FollowEvent>,
    lines: VecDeque<LogLine>,
    /// Lines ever put in the ring: with the ring's length, a reader that looked before knows
    /// how many were appended and how many fell out since (the Logs pane's search cache).
    pushed: u64,
    bytes: usize,
    limits: RingLimits,
}

impl SourceLog {
    pub fn new(label: impl Into<String>, limits: RingLimits) -> Self {
        SourceLog {
            label: label.into(),
            status: SourceStatus::Starting,
            format: None,
            tally: Tally::default(),
            covered_from: None,
            events: VecDeque::new(),
            lines: VecDeque::new(),
            pushed: 0,
            bytes: 0,
            limits,
        }
    }

    /// What `check`'s backward scan of a file found: its tally, its newest relevant lines
    /// (oldest first) and, when it could not read to the window's start, why.
    pub fn scanned(
        label: String,
        format: Option<Format>,
        error: Option<String>,
        tally: Tally,
        lines: Vec<LogLine>,
    ) -> Self {
        let bytes = lines.iter().map(|l| l.text.len()).sum();
        let pushed = lines.len() as u64;
        SourceLog {
            label,
            status: error.map_or(SourceStatus::Following, SourceStatus::Failed),
            format,
            tally,
            covered_from: None,
            events: VecDeque::new(),
            lines: lines.into(),
            pushed,
            bytes,
            limits: RingLimits::default(),
        }
    }

    /// What the counts cover of the last `window` before `now` (unix seconds): all of it, or
    /// back to the oldest line a budget-stopped scan counted.
    pub fn covered(&self, window: Duration, now: i64) -> Duration {
        match self.covered_from {
            Some(from) => window.min(Duration::from_secs(u64::try_from(now - from).unwrap_or(0))),
            None => window,
        }
    }

    /// Why the source cannot be read, when it cannot.
    pub fn error(&self) -> Option<&str> {
        match &self.status {
            SourceStatus::Failed(why) => Some(why),
            _ => None,
        }
    }

    pub fn apply(&mut self, batch: LogBatch) {
        self.status = batch.status;
        for event in batch.events {
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(event);
        }
        self.tally.add_skipped(&batch.skipped);
        // The skipped lines come first, then these.
        let first = batch.skipped.first_line.map(|n| n + batch.skipped.lines());
        self.tally.add_lines(&batch.lines, first);
        for line in batch.lines {
            if line.format.is_some() {
                self.format = line.format;
            }
            self.bytes += line.text.len();
            self.pushed += 1;
            self.lines.push_back(line);
        }
        while self.lines.len() > self.limits.lines
            || (self.bytes > self.limits.bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len();
            }
        }
    }

    /// The retained lines, oldest first.
    pub fn lines(&self) -> &VecDeque<LogLine> {
        &self.lines
    }

    /// Lines ever put in the ring, including those that fell out of it since.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Every line received, including those no longer retained.
    pub fn total_lines(&self) -> u64 {
        self.tally.lines
    }

    /// Bytes of text retained.
    pub fn retained_bytes(&self) -> usize {
        self.bytes
    }
}

/// One [`SourceLog`] per source, in the order given to the follower.
#[derive(Clone, Debug, Default)]
pub struct LogBook {
    pub sources: Vec<SourceLog>,
}

impl LogBook {
    pub fn new(specs: &[SourceSpec], limits: RingLimits) -> Self {
        LogBook {
            sources: specs
                .iter()
                .map(|s| SourceLog::new(s.label(), limits))
                .collect(),
        }
    }

    /// Files a batch under its source; false for a source index this book does not know.
    pub fn apply(&mut self, batch: LogBatch) -> bool {
        match self.sources.get_mut(batch.source) {
            Some(source) => {
                source.apply(batch);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, len: usize) -> LogBatch {
        LogBatch {
            source: 0,
            skipped: Default::default(),
            lines: (0..n)
                .map(|_| LogLine {
                    text: "x".repeat(len),
                    format: None,
                    cause: None,
                    status: None,
                    upstream: None,
                    time: None,
                })
                .collect(),
            status: SourceStatus::Following,
            events: vec![],
        }
    }

    #[test]
    fn lines_after_skipped_ones_get_their_numbers_in_the_file() {
        let mut log = SourceLog::new("a", RingLimits::default());
        let mut b = batch(0, 0);
        b.skipped.quiet = 5;
        b.skipped.first_line = Some(11);
        b.lines.push(LogLine {
            text: "2024/05/01 12:00:00 [error] 1#1: *1 upstream timed out (110: x)".into(),
            format: Some(Format::NginxError),
            cause: Some(crate::logs::Cause::Timeout),
            status: None,
            upstream: None,
            time: Some(60),
        });
        log.apply(b);
        let w = log.tally.window(0, 100);
        // Lines 11 to 15 were skipped: the built line is the 16th.
        assert_eq!(w.examples[&crate::logs::Cause::Timeout].line, Some(16));
    }

    #[test]
    fn ring_is_bounded_by_lines_and_bytes_while_totals_count() {
        let mut log = SourceLog::new(
            "a",
            RingLimits {
                lines: 10,
                bytes: 1000,
            },
        );
        log.apply(batch(25, 1));
        assert_eq!(log.lines().len(), 10);
        assert_eq!(log.total_lines(), 25);
        log.apply(batch(3, 400));
        assert_eq!(log.lines().len(), 2);
        assert!(log.retained_bytes() <= 1000);
        assert_eq!(log.total_lines(), 28);
        assert_eq!(log.status, SourceStatus::Following);
    }
}
