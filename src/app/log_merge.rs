//! The Logs pane across sources: the merged view (every source's lines interleaved by time), the
//! selected line (the one Enter opens and `y` copies), the source shown on open (the one with the
//! most bad-gateway lines) and the sideways scroll of unwrapped lines.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::logs::LogView;
use crate::logs::{LogBook, LogLine, SourceLog};

/// Columns one ←/→ moves unwrapped lines.
pub const SIDEWAYS_STEP: usize = 20;
/// Far enough for the longest line kept (lines are capped well below).
const SIDEWAYS_MAX: usize = u16::MAX as usize;

impl LogView {
    /// The lines shown with the index of their source, oldest first: the current source's, or
    /// in the merged view every source's by time.
    pub fn tagged<'b>(&self, book: &'b LogBook) -> Vec<(usize, &'b LogLine)> {
        if self.merged {
            return merge(&book.sources, |l| self.shows(l));
        }
        self.visible(book)
            .into_iter()
            .map(|l| (self.current, l))
            .collect()
    }

    /// The selected line and its source: `scroll` lines up from the newest shown (the pane's
    /// bottom line; following, the newest).
    pub fn selected<'b>(&self, book: &'b LogBook, scroll: usize) -> Option<(usize, &'b LogLine)> {
        let lines = self.tagged(book);
        let at = lines.len().checked_sub(1)?.checked_sub(scroll)?;
        lines.get(at).copied()
    }

    /// `m`: the merged view, or back to one source. Either way the operator chose.
    pub fn toggle_merged(&mut self) {
        self.merged = !self.merged;
        self.picked = true;
        self.cause = None;
    }

    /// Until the operator picks a source (or the merged view), show the one that says most about
    /// the bad gateways ([`bad_gateway_lines`]), the earliest of equals; a view paused or scrolled back is left alone.
    /// Returns whether it moved.
    pub fn pick_busiest(&mut self, book: &LogBook, scroll: usize) -> bool {
        if self.picked || self.merged || !self.follow || scroll > 0 {
            return false;
        }
        let best = book
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (bad_gateway_lines(s), Reverse(i)))
            .max()
            .filter(|((causes, answered), _)| causes + answered > 0)
            .map(|(_, Reverse(i))| i);
        match best {
            Some(i) if i != self.current => {
                self.current = i;
                self.cause = None;
                true
            }
            _ => false,
        }
    }

    /// ←/→: unwrapped lines move sideways by [`SIDEWAYS_STEP`] columns.
    pub fn scroll_sideways(&mut self, right: bool) {
        self.hscroll = if right {
            (self.hscroll + SIDEWAYS_STEP).min(SIDEWAYS_MAX)
        } else {
            self.hscroll.saturating_sub(SIDEWAYS_STEP)
        };
    }

    /// How many lines the merged view holds, without merging them.
    pub(super) fn merged_len(&self, book: &LogBook) -> usize {
        book.sources
            .iter()
            .map(|s| s.lines().iter().filter(|l| self.shows(l)).count())
            .sum()
    }
}

/// How much a source says about the bad gateways, as the tally counts them: first the lines that
/// explain one (a classified cause: the error log's "connect() failed"), then the 502s answered
/// (the access log). The error log that says why wins over the access log that only counts, even
/// when the access log has more lines: the why is what the engineer opens the pane for.
fn bad_gateway_lines(source: &SourceLog) -> (u64, u64) {
    (
        source.tally.causes.values().sum::<u64>(),
        source.tally.status_502,
    )
}

/// Every source's lines that `keep` passes, interleaved by time, oldest first.
///
/// A line's time is the newest timestamp seen in its source up to it (a line without one, or
/// with one older than a line before it, stays after that line: its file's order is kept);
/// lines before a source's first timestamp take that first one. So each source is already in
/// order, and merging is one pass over the lines (a heap of one head per source) rather than a
/// sort of them all, every frame. Equal times keep the sources' order.
pub fn merge<'b>(
    sources: &'b [SourceLog],
    keep: impl Fn(&LogLine) -> bool,
) -> Vec<(usize, &'b LogLine)> {
    let mut keyed: Vec<Vec<(i64, &'b LogLine)>> = Vec::with_capacity(sources.len());
    for src in sources {
        let first = src.lines().iter().find_map(|l| l.time).unwrap_or(i64::MIN);
        let mut newest = first;
        let lines: Vec<(i64, &LogLine)> = src
            .lines()
            .iter()
            .filter_map(|l| {
                newest = newest.max(l.time.unwrap_or(newest));
                keep(l).then_some((newest, l))
            })
            .collect();
        keyed.push(lines);
    }
    let total = keyed.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut next = vec![0usize; keyed.len()];
    let mut heads: BinaryHeap<Reverse<(i64, usize)>> = keyed
        .iter()
        .enumerate()
        .filter_map(|(s, lines)| Some(Reverse((lines.first()?.0, s))))
        .collect();
    while let Some(Reverse((_, s))) = heads.pop() {
        let lines = &keyed[s];
        // Take this source's run while it stays before the next head.
        let limit = heads.peek().map(|Reverse(h)| *h);
        while let Some(&(time, line)) = lines.get(next[s]) {
            if limit.is_some_and(|h| (time, s) > h) {
                heads.push(Reverse((time, s)));
                break;
            }
            out.push((s, line));
            next[s] += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogBatch, RingLimits, SourceSpec};

    fn line(text: &str, time: Option<i64>, status: Option<u16>) -> LogLine {
        LogLine {
            text: text.into(),
            format: None,
            cause: None,
            status,
            upstream: None,
            time,
        }
    }

    fn book(sources: Vec<Vec<LogLine>>) -> LogBook {
        let specs: Vec<SourceSpec> = (0..sources.len())
            .map(|i| SourceSpec::file(format!("/logs/{i}.log"), None))
            .collect();
        let mut book = LogBook::new(&specs, RingLimits::default());
        for (source, lines) in sources.into_iter().enumerate() {
            book.apply(LogBatch::following(source, lines));
        }
        book
    }

    fn texts(lines: &[(usize, &LogLine)]) -> Vec<String> {
        lines
            .iter()
            .map(|(s, l)| format!("{s}:{}", l.text))
            .collect()
    }

    #[test]
    fn merged_lines_are_ordered_by_time_and_untimed_lines_keep_their_place() {
        let book = book(vec![
            vec![
                line("a-start", None, None),
                line("a10", Some(10), None),
                line("a-note", None, None),
                line("a30", Some(30), None),
                line("a-late-stamp", Some(20), None),
                line("a40", Some(40), None),
            ],
            vec![
                line("b5", Some(5), None),
                line("b20", Some(20), None),
                line("b30", Some(30), None),
                line("b-end", None, None),
            ],
            vec![],
        ]);
        let mut v = LogView::default();
        v.toggle_merged();
        let merged = v.tagged(&book);
        assert_eq!(
            texts(&merged),
            [
                "1:b5",
                // Before its source's first stamp: that stamp's time.
                "0:a-start",
                "0:a10",
                // No stamp: after the line before it in its file.
                "0:a-note",
                "1:b20",
                // Equal times: the sources' order.
                "0:a30",
                // Older than the line before it in its file: stays after it.
                "0:a-late-stamp",
                "1:b30",
                "1:b-end",
                "0:a40",
            ]
        );
        assert_eq!(v.visible_len(&book), merged.len());
        assert_eq!(
            v.selected(&book, 0).map(|(_, l)| l.text.as_str()),
            Some("a40")
        );
        assert_eq!(v.selected(&book, 2).map(|(s, _)| s), Some(1));
        assert_eq!(v.selected(&book, 10), None);
    }

    #[test]
    fn the_merged_view_is_filtered_like_one_source() {
        let book = book(vec![
            vec![
                line("a ok", Some(1), Some(200)),
                line("a bad", Some(3), Some(502)),
            ],
            vec![
                line("b bad", Some(2), Some(504)),
                line("b ok", Some(4), Some(200)),
            ],
        ]);
        let mut v = LogView::default();
        v.toggle_merged();
        v.cycle_level();
        v.cycle_level();
        assert_eq!(texts(&v.tagged(&book)), ["1:b bad", "0:a bad"]);
        assert_eq!(v.visible_len(&book), 2);
        assert_eq!(v.visible(&book).len(), 2);
    }

    #[test]
    fn the_source_with_the_most_bad_gateway_lines_is_shown_until_one_is_picked() {
        let mut b = book(vec![
            vec![line("a", Some(1), Some(200))],
            vec![line("b", Some(1), Some(502)), line("b", Some(2), Some(502))],
            vec![line("c", Some(1), Some(502))],
        ]);
        let mut v = LogView::default();
        assert!(v.pick_busiest(&b, 0));
        assert_eq!(v.current, 1);
        assert!(!v.pick_busiest(&b, 3), "a scrolled-back view stays");
        b.apply(LogBatch::following(
            2,
            vec![line("c", Some(3), Some(502)); 4],
        ));
        assert!(v.pick_busiest(&b, 0));
        assert_eq!(v.current, 2, "overtaken while the operator has not chosen");
        v.switch_source(true, 3);
        assert_eq!(v.current, 0);
        assert!(!v.pick_busiest(&b, 0), "the operator chose");
        assert_eq!(v.current, 0);
    }

    #[test]
    fn the_log_that_says_why_wins_over_the_one_that_only_counts() {
        let refused = LogLine {
            cause: Some(crate::logs::Cause::Refused),
            ..line("connect() failed (111: Connection refused)", Some(1), None)
        };
        // The access log has three 502s; the error log one line that says why.
        let b = book(vec![
            vec![line("GET / 502", Some(1), Some(502)); 3],
            vec![refused],
        ]);
        let mut v = LogView::default();
        assert!(v.pick_busiest(&b, 0));
        assert_eq!(v.current, 1);
    }

    #[test]
    fn no_bad_gateway_line_leaves_the_first_source() {
        let b = book(vec![
            vec![line("a", Some(1), Some(200))],
            vec![line("b", Some(1), Some(500))],
        ]);
        let mut v = LogView::default();
        assert!(!v.pick_busiest(&b, 0));
        assert_eq!(v.current, 0, "an application's 500 is no bad gateway");
    }

    #[test]
    fn sideways_scroll_is_bounded() {
        let mut v = LogView::default();
        v.scroll_sideways(false);
        assert_eq!(v.hscroll, 0);
        v.scroll_sideways(true);
        v.scroll_sideways(true);
        assert_eq!(v.hscroll, 2 * SIDEWAYS_STEP);
        for _ in 0..10_000 {
            v.scroll_sideways(true);
        }
        assert_eq!(v.hscroll, SIDEWAYS_MAX);
    }
}
