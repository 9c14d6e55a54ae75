//! Bytes to lines: splitting a byte stream at newlines with a cap on line length, and turning
//! one raw line into a safe, classified [`LogLine`].

use super::classify::{Classified, classify_with};
use super::nginx::Memo;
use super::text::printable_str;
use super::{LogLine, TimeParser};
use crate::config::LogKind;
use crate::sanitize::{sanitize, sanitize_bytes};

/// Splits a stream into lines of at most `max_line` bytes. A longer line keeps its first
/// `max_line` bytes and counts the rest, which is dropped as it arrives: a 1 GB line without a
/// newline costs `max_line` bytes of memory, never more.
pub struct LineSplitter {
    max_line: usize,
    partial: Vec<u8>,
    dropped: u64,
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            max_line: max_line.max(1),
            partial: Vec::new(),
            dropped: 0,
        }
    }

    /// Feeds `data`; `emit(line, cut)` runs for each complete line (without `\n` or `\r\n`),
    /// `cut` being how many bytes past the cap were dropped.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8], u64)) {
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let segment = &data[..nl];
            if self.partial.is_empty() && self.dropped == 0 && segment.len() <= self.max_line {
                // The common case: the whole line is in this read; no copy.
                emit(strip_cr(segment), 0);
            } else {
                self.keep(segment);
                let cut = self.dropped;
                let line = if cut == 0 {
                    strip_cr(&self.partial)
                } else {
                    &self.partial[..]
                };
                emit(line, cut);
                self.partial.clear();
                self.dropped = 0;
            }
            data = &data[nl + 1..];
        }
        self.keep(data);
    }

    /// Like [`push`](Self::push), but returns the complete lines that begin in `data`, as one
    /// slice ending with a newline, for the caller to process in bulk (capping them included, see
    /// [`count_lines`]); only a line begun by earlier data goes to `emit`.
    pub fn push_bulk<'d>(&mut self, mut data: &'d [u8], emit: impl FnMut(&[u8], u64)) -> &'d [u8] {
        if !self.partial.is_empty() || self.dropped > 0 {
            let Some(nl) = memchr::memchr(b'\n', data) else {
                self.keep(data);
                return &[];
            };
            self.push(&data[..=nl], emit);
            data = &data[nl + 1..];
        }
        let whole = memchr::memrchr(b'\n', data).map_or(0, |last| last + 1);
        self.keep(&data[whole..]);
        &data[..whole]
    }

    /// Emits a pending unterminated line: its file has ended (rotated away or truncated).
    pub fn flush(&mut self, mut emit: impl FnMut(&[u8], u64)) {
        if !self.partial.is_empty() || self.dropped > 0 {
            emit(&self.partial, self.dropped);
            self.partial.clear();
            self.dropped = 0;
        }
    }

    /// Drops a pending unterminated line without emitting it.
    pub fn discard(&mut self) {
        self.partial.clear();
        self.dropped = 0;
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.max_line.saturating_sub(self.partial.len());
        let kept = bytes.len().min(room);
        self.partial.extend_from_slice(&bytes[..kept]);
        self.dropped += (bytes.len() - kept) as u64;
    }
}

pub(super) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The marker appended to a line that was cut, e.g. `…[cut 1048576 bytes]`.
pub fn cut_marker(cut: u64) -> String {
    format!("…[cut {cut} bytes]")
}

/// Decodes (lossily), sanitises and classifies one raw line. The timestamp is parsed only for
/// lines the per-minute counters need (failures and requests); [`TimeParser`] remembers the last
/// one, so a flood's lines of one second cost a compare.
pub fn make_line(raw: &[u8], cut: u64, kind: Option<LogKind>, times: &mut TimeParser) -> LogLine {
    make_line_with(raw, cut, kind, times, &mut Memo::default())
}

/// [`make_line`] for one of a stream of lines, with the stream's [`Memo`].
pub fn make_line_with(
    raw: &[u8],
    cut: u64,
    kind: Option<LogKind>,
    times: &mut TimeParser,
    memo: &mut Memo,
) -> LogLine {
    // Printable ASCII (most lines) is what sanitising would return unchanged.
    let mut text = match printable_str(raw) {
        Some(text) => text.to_owned(),
        None => match std::str::from_utf8(raw) {
            Ok(text) => sanitize(text).into_owned(),
            Err(_) => sanitize_bytes(raw),
        },
    };
    let c = classify_with(&text, kind, memo);
    let time = time_of(&c, times);
    let upstream = c.upstream.map(str::to_owned);
    let (format, cause, status) = (c.format, c.cause, c.status);
    if cut > 0 {
        text.push_str(&cut_marker(cut));
    }
    LogLine {
        text,
        format,
        cause,
        status,
        upstream,
        time,
    }
}

pub(super) fn time_of(c: &Classified<'_>, times: &mut TimeParser) -> Option<i64> {
    let interesting = c.cause.is_some() || c.status.is_some();
    match (interesting, c.stamp()) {
        (true, Some((clock, t))) => times.parse(clock, t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<(Vec<u8>, u64)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            s.push(chunk, |l, cut| out.push((l.to_vec(), cut)));
        }
        s.flush(|l, cut| out.push((l.to_vec(), cut)));
        out
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let got = split(&[b"ab", b"c\r\nde", b"f\n", b"tail"], 100);
        assert_eq!(
            got,
            vec![
                (b"abc".to_vec(), 0),
                (b"def".to_vec(), 0),
                (b"tail".to_vec(), 0)
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_dropped_until_the_newline() {
        let got = split(&[b"0123456789", b"abcdef", b"gh\nnext\n"], 4);
        assert_eq!(got, vec![(b"0123".to_vec(), 14), (b"next".to_vec(), 0)]);
        let got = split(&[b"123456\n"], 4);
        assert_eq!(got, vec![(b"1234".to_vec(), 2)]);
    }

    #[test]
    fn made_lines_are_safe_and_marked() {
        let mut times = TimeParser::default();
        let line = make_line(b"a\x1b]0;x\x07\xff", 3, None, &mut times);
        assert_eq!(line.text, "a\\x1b]0;x\\x07\u{fffd}…[cut 3 bytes]");
        assert_eq!(line.format, None);
    }
}
