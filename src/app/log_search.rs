//! lnav-style finding in the Logs pane: a regex search whose matches are counted and stepped
//! through, filters that keep (`&`) or hide (`x`) lines, and the time a line was written (for
//! "go to time"). A pattern is compiled once, when committed. The lines a view shows and the
//! search's matches among them are worked out once per change of the ring, and when lines were
//! only appended (and old ones dropped) the previous answer is extended rather than redone, so a
//! flood with a filter costs its new lines, not the whole ring, per frame.

use std::cell::RefCell;
use std::ops::Range;

use regex::{Regex, RegexBuilder};

use super::logs::{Level, LogView};
use crate::logs::{Cause, LogBook, LogLine, SourceLog, TimeParser, classify};
use crate::model::upstream_links::UpstreamLines;

/// Longest pattern a prompt takes: a pasted megabyte must not become a megabyte regex.
pub const PATTERN_MAX: usize = 128;
/// Compiled-program budget: a pattern like `(a{100}){100}` is refused instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Filters in effect at once (the oldest goes first): the title has to name them all.
pub const FILTERS_MAX: usize = 3;

/// A committed regex and the text it was typed as.
#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    regex: Regex,
}

impl Pattern {
    /// Smartcase, as in less and lnav: case-insensitive unless the pattern has an upper-case
    /// letter of its own (the `S` of `\S` is not one). The error is one line, for the prompt.
    pub fn compile(text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("empty pattern".into());
        }
        if text.chars().count() > PATTERN_MAX {
            return Err(format!("pattern longer than {PATTERN_MAX} characters"));
        }
        RegexBuilder::new(text)
            .case_insensitive(!has_upper(text))
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(|regex| Pattern {
                text: text.to_string(),
                regex,
            })
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => "invalid regex: too large".to_string(),
                // The syntax error draws a caret diagram; its last line says what is wrong.
                other => {
                    let msg = other.to_string();
                    let last = msg.lines().last().unwrap_or_default();
                    format!("invalid regex: {}", last.trim_start_matches("error: "))
                }
            })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// Byte ranges of the non-empty matches in `text`, for highlighting.
    pub fn ranges(&self, text: &str) -> Vec<Range<usize>> {
        self.regex
            .find_iter(text)
            .map(|m| m.range())
            .filter(|r| !r.is_empty())
            .collect()
    }
}

/// An upper-case letter that is not the letter of an escape (`\S`, `\W`, `\D`, `\B`).
fn has_upper(text: &str) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c.is_uppercase() {
            return true;
        }
    }
    false
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// `&`: only lines matching.
    In,
    /// `x`: every line but those matching.
    Out,
}

impl FilterKind {
    pub fn sigil(self) -> char {
        match self {
            FilterKind::In => '&',
            FilterKind::Out => 'x',
        }
    }
}

#[derive(Clone, Debug)]
pub struct Filter {
    pub kind: FilterKind,
    pub pattern: Pattern,
}

impl Filter {
    pub fn keeps(&self, text: &str) -> bool {
        self.pattern.is_match(text) == (self.kind == FilterKind::In)
    }

    /// "& 5xx|timeout", as the title names it.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.sigil(), self.pattern.text())
    }
}

/// The search and filters in effect, with the lines they leave cached.
#[derive(Debug, Default)]
pub struct Finder {
    search: Option<Pattern>,
    /// Oldest first; a line shows when every one keeps it.
    filters: Vec<Filter>,
    /// Bumped on every change above: part of the cache's key.
    generation: u64,
    cache: RefCell<Option<Cache>>,
}

impl Finder {
    pub fn search(&self) -> Option<&Pattern> {
        self.search.as_ref()
    }

    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    pub fn set_search(&mut self, search: Option<Pattern>) {
        self.search = search;
        self.generation += 1;
    }

    /// Adds a filter on top of the others; past [`FILTERS_MAX`] the oldest is dropped.
    pub fn add_filter(&mut self, filter: Filter) {
        if self.filters.len() == FILTERS_MAX {
            self.filters.remove(0);
        }
        self.filters.push(filter);
        self.generation += 1;
    }

    /// One Esc: the search first, then the newest filter. Says what went.
    pub fn clear_one(&mut self) -> Option<String> {
        let gone = match self.search.take() {
            Some(search) => format!("search /{}", search.text()),
            None => format!("filter {}", self.filters.pop()?.label()),
        };
        self.generation += 1;
        Some(gone)
    }

    /// Whether the filters keep a line (the search never hides one).
    pub fn keeps(&self, text: &str) -> bool {
        self.filters.iter().all(|f| f.keeps(text))
    }

    pub fn has_filters(&self) -> bool {
        !self.filters.is_empty()
    }
}

/// What the cached answer depends on besides the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    source: usize,
    level: Option<Level>,
    cause: Option<Cause>,
    upstream: Option<UpstreamLines>,
    generation: u64,
}

#[derive(Debug)]
struct Cache {
    key: Key,
    /// The ring as it was: lines ever pushed, and its length.
    pushed: u64,
    len: usize,
    /// Ring indices of the lines the view shows, oldest first.
    shown: Vec<usize>,
    /// Indices into `shown` of the lines the search matches.
    matches: Vec<usize>,
}

impl Cache {
    fn empty(key: Key) -> Cache {
        Cache {
            key,
            pushed: 0,
            len: 0,
            shown: Vec::new(),
            matches: Vec::new(),
        }
    }

    /// Brings the answer up to `src`: drops what fell out of the ring, reads what was appended.
    /// A ring that did anything else (a different source, fewer lines ever pushed) is read again.
    fn update(&mut self, src: &SourceLog, view: &LogView) {
        let lines = src.lines();
        let added = src.pushed().checked_sub(self.pushed);
        let dropped = added.and_then(|a| (self.len as u64 + a).checked_sub(lines.len() as u64));
        let (added, dropped) = match (added, dropped) {
            (Some(a), Some(d)) if a <= lines.len() as u64 => (a as usize, d as usize),
            _ => (lines.len(), self.len),
        };
        if dropped > 0 {
            let gone = self.shown.partition_point(|&i| i < dropped);
            self.shown.drain(..gone);
            for i in &mut self.shown {
                *i -= dropped;
            }
            let gone_matches = self.matches.partition_point(|&m| m < gone);
            self.matches.drain(..gone_matches);
            for m in &mut self.matches {
                *m -= gone;
            }
        }
        let search = view.find.search();
        let first = lines.len() - added;
        for (i, line) in (first..).zip(lines.range(first..)) {
            if view.shows(line) {
                if search.is_some_and(|s| s.is_match(&line.text)) {
                    self.matches.push(self.shown.len());
                }
                self.shown.push(i);
            }
        }
        self.pushed = src.pushed();
        self.len = lines.len();
    }
}

impl LogView {
    fn key(&self) -> Key {
        Key {
            source: self.current,
            level: self.level,
            cause: self.cause,
            upstream: self.upstream.clone(),
            generation: self.find.generation,
        }
    }

    /// Runs `f` on the cache brought up to date with the current source.
    fn cached<R>(&self, src: &SourceLog, f: impl FnOnce(&Cache) -> R) -> R {
        let key = self.key();
        let mut slot = self.find.cache.borrow_mut();
        let cache = match slot.take() {
            Some(c) if c.key == key => c,
            _ => Cache::empty(key),
        };
        let cache = slot.insert(cache);
        cache.update(src, self);
        f(cache)
    }

    /// The current source's lines that pass the level, cause and filters, oldest first; in
    /// the merged view every source's by time (not cached: it interleaves the rings).
    pub fn visible<'b>(&self, book: &'b LogBook) -> Vec<&'b LogLine> {
        if self.merged {
            return self.tagged(book).into_iter().map(|(_, l)| l).collect();
        }
        let Some(src) = book.sources.get(self.current) else {
            return Vec::new();
        };
        let lines = src.lines();
        self.cached(src, |c| c.shown.iter().map(|&i| &lines[i]).collect())
    }

    /// How many lines [`visible`](Self::visible) gives: every batch of a flood asks (to keep
    /// the scroll inside the pane), and unfiltered it is the ring's length.
    pub fn visible_len(&self, book: &LogBook) -> usize {
        if self.merged {
            return self.merged_len(book);
        }
        match book.sources.get(self.current) {
            Some(src)
                if self.level.is_none()
                    && self.cause.is_none()
                    && self.upstream.is_none()
                    && !self.find.has_filters() =>
            {
                src.lines().len()
            }
            Some(src) => self.cached(src, |c| c.shown.len()),
            None => 0,
        }
    }

    /// Indices into [`visible`](Self::visible) of the lines the search matches.
    pub fn matches(&self, book: &LogBook) -> Vec<usize> {
        if self.merged {
            return self.merged_matches(book);
        }
        match book.sources.get(self.current) {
            Some(src) if self.find.search().is_some() => self.cached(src, |c| c.matches.clone()),
            _ => Vec::new(),
        }
    }

    /// The search's counter with the view's bottom line at visible index `bottom`: the current
    /// match (the newest at or above the bottom line; 0 when none is) and how many there are.
    /// `None` without a search.
    pub fn counter(&self, book: &LogBook, bottom: usize) -> Option<Counter> {
        self.find.search()?;
        let count = |matches: &[usize]| {
            let at = matches.partition_point(|&m| m <= bottom);
            Counter {
                current: at,
                total: matches.len(),
                line: at.checked_sub(1).map(|i| matches[i]),
            }
        };
        if self.merged {
            return Some(count(&self.merged_matches(book)));
        }
        let src = book.sources.get(self.current)?;
        Some(self.cached(src, |c| count(&c.matches)))
    }

    /// The search's matches in the merged view, worked out each time it is asked.
    fn merged_matches(&self, book: &LogBook) -> Vec<usize> {
        let Some(search) = self.find.search() else {
            return Vec::new();
        };
        self.tagged(book)
            .iter()
            .enumerate()
            .filter(|(_, (_, l))| search.is_match(&l.text))
            .map(|(i, _)| i)
            .collect()
    }
}

/// "3/41": the current match, 1-based (0 when none is at or above the view), of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    pub current: usize,
    pub total: usize,
    /// The current match's index among the visible lines.
    pub line: Option<usize>,
}

/// When a line was written: the time its reader parsed, or else its stamp read now (only
/// failures and requests get a parsed time as they are read).
pub fn line_time(line: &LogLine, parser: &mut TimeParser) -> Option<i64> {
    line.time.or_else(|| {
        let (clock, text) = classify(&line.text, None).stamp()?;
        parser.parse(clock, text)
    })
}

/// Longest relative jump back, a year: beyond it the arithmetic is not worth trusting.
const MAX_BACK_SECS: i64 = 366 * 86_400;

/// "go to time" input to unix seconds: `HH:MM` or `HH:MM:SS` (today in `now`'s time zone, or
/// yesterday when that is still to come), or `-90s`, `-5m`, `-2h` before `now`.
pub fn parse_time(input: &str, now: &jiff::Zoned) -> Result<i64, String> {
    let input = input.trim();
    let unreadable = || format!("cannot read {input:?} as a time: use HH:MM, HH:MM:SS or -5m");
    if let Some(rel) = input.strip_prefix('-') {
        let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
        let (digits, unit) = rel.split_at(split);
        let n: i64 = digits.parse().map_err(|_| unreadable())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(unreadable()),
        };
        let back = n
            .checked_mul(scale)
            .filter(|&b| b <= MAX_BACK_SECS)
            .ok_or_else(unreadable)?;
        return Ok(now.timestamp().as_second() - back);
    }
    let parts: Vec<&str> = input.split(':').collect();
    let field = |s: &str, max: i8| -> Option<i8> {
        let ok = (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        s.parse::<i8>().ok().filter(|&v| ok && v <= max)
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (field(h, 23), field(m, 59), Some(0)),
        [h, m, s] => (field(h, 23), field(m, 59), field(s, 59)),
        _ => return Err(unreadable()),
    };
    let (Some(h), Some(m), Some(s)) = (h, m, s) else {
        return Err(unreadable());
    };
    let time = jiff::civil::Time::new(h, m, s, 0).map_err(|_| unreadable())?;
    let at_day = |date: jiff::civil::Date| {
        date.to_datetime(time)
            .to_zoned(now.time_zone().clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|_| unreadable())
    };
    let today = at_day(now.date())?;
    if today <= now.timestamp().as_second() {
        return Ok(today);
    }
    at_day(now.date().yesterday().map_err(|_| unreadable())?)
}

#[cfg(test)]
#[path = "log_search_tests.rs"]
mod tests;
