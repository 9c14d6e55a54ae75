//! Bytes to lines: splitting a byte stream at newlines with a cap on line length, and turning
//! one raw line into a safe, classified [`LogLine`].

use super::classify::{Classified, classify, is_quiet};
use super::{LogLine, Mark, Skipped, TimeParser};
use crate::config::LogKind;
use crate::sanitize::sanitize_bytes;

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

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The marker appended to a line that was cut, e.g. `…[cut 1048576 bytes]`.
pub fn cut_marker(cut: u64) -> String {
    format!("…[cut {cut} bytes]")
}

/// Decodes (lossily), sanitises and classifies one raw line. The timestamp is parsed only for
/// lines the per-minute counters need (failures and 5xx), which keeps a flood cheap.
pub fn make_line(raw: &[u8], cut: u64, kind: Option<LogKind>, times: &mut TimeParser) -> LogLine {
    let mut text = sanitize_bytes(raw);
    let c = classify(&text, kind);
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

fn time_of(c: &Classified<'_>, times: &mut TimeParser) -> Option<i64> {
    let interesting = c.cause.is_some() || c.status.is_some_and(|s| s >= 500);
    match (interesting, c.format, c.time) {
        (true, Some(format), Some(t)) => times.parse(format, t),
        _ => None,
    }
}

/// Adds one raw line to `skipped` exactly as [`make_line`] plus [`super::Tally::add_line`]
/// would count it, without building the line.
pub fn count_line(raw: &[u8], kind: Option<LogKind>, times: &mut TimeParser, out: &mut Skipped) {
    // Printable ASCII is what sanitising would return unchanged, so the bytes can be classified
    // in place; anything else takes the full path.
    // A fold without early exit, so the compiler vectorises it.
    let plain = raw
        .iter()
        .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b));
    let (cause, status, upstream, time) = match std::str::from_utf8(raw) {
        Ok(text) if plain => {
            if is_quiet(text, kind) {
                out.quiet += 1;
                return;
            }
            let c = classify(text, kind);
            let time = time_of(&c, times);
            (c.cause, c.status, c.upstream.map(str::to_owned), time)
        }
        _ => {
            let l = make_line(raw, 0, kind, times);
            (l.cause, l.status, l.upstream, l.time)
        }
    };
    let is_5xx = status.is_some_and(|s| (500..=599).contains(&s));
    if cause.is_none() && !is_5xx {
        out.quiet += 1;
    } else {
        out.marks.push(Mark {
            cause,
            status,
            upstream,
            time,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Tally;

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
    fn counting_a_line_matches_building_it() {
        let lines: [&[u8]; 10] = [
            br#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "x" us=200 ua=127.0.0.1:8080"#,
            br#"10.0.0.1 - - [01/May/2024:12:00:59 +0000] "GET /\" HTTP/1.1" 502 512 "-" "x" us=502 ua=10.0.0.9:80"#,
            br#"10.0.0.1 - - [01/May/2024:12:01:00 +0000] "GET / HTTP/1.1" +0504 1"#,
            br#"   [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 502 1"#,
            b"2024/05/01 12:00:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://10.0.0.5:8080/\"",
            b"2024/05/01 12:00:00 [notice] 1#1: start worker processes",
            b"1.2.3.4:5 [01/May/2024:12:00:00.123] fe be/s1 0/0/-1/-1/0 503 1 - - SC-- 0/0/0/0/0 0/0",
            b"10.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /\x1b[2J HTTP/1.1\" 502 1",
            b"10.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /\xff\" 502\t1",
            b"hello",
        ];
        for kind in [None, Some(LogKind::Access), Some(LogKind::Error)] {
            let (mut built, mut counted) = (Tally::default(), Tally::default());
            let mut skipped = Skipped::default();
            let (mut t1, mut t2) = (TimeParser::default(), TimeParser::default());
            for raw in lines {
                built.add_line(&make_line(raw, 0, kind, &mut t1));
                count_line(raw, kind, &mut t2, &mut skipped);
            }
            counted.add_skipped(&skipped);
            assert_eq!(counted, built, "{kind:?}");
            assert!(kind == Some(LogKind::Error) || built.status_5xx >= 4);
        }
    }

    #[test]
    fn made_lines_are_safe_and_marked() {
        let mut times = TimeParser::default();
        let line = make_line(b"a\x1b]0;x\x07\xff", 3, None, &mut times);
        assert_eq!(line.text, "a\\x1b]0;x\\x07\u{fffd}…[cut 3 bytes]");
        assert_eq!(line.format, None);
    }
}
