//! Bytes to lines: splitting a byte stream at newlines with a cap on line length, and turning
//! one raw line into a safe, classified [`LogLine`].

use super::classify::{Classified, classify, is_quiet};
use super::text::is_printable;
use super::{Cause, LogLine, Skipped, TimeParser};
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

fn strip_cr(line: &[u8]) -> &[u8] {
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
    // Printable ASCII (most lines) is what sanitising would return unchanged.
    let mut text = match std::str::from_utf8(raw) {
        Ok(text) if is_printable(raw) => text.to_owned(),
        Ok(text) => sanitize(text).into_owned(),
        Err(_) => sanitize_bytes(raw),
    };
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
    let interesting = c.cause.is_some() || c.status.is_some();
    match (interesting, c.format, c.time) {
        (true, Some(format), Some(t)) => times.parse(format, t),
        _ => None,
    }
}

/// Adds every line of `block` to `out` exactly as [`LineSplitter`] (capping lines at
/// `max_line`), [`make_line`] and [`super::Tally::add_line`] would count them, without building
/// any. `block` holds whole lines: bytes after its last newline are ignored.
pub fn count_lines(
    block: &[u8],
    max_line: usize,
    kind: Option<LogKind>,
    times: &mut TimeParser,
    out: &mut Skipped,
) {
    let max_line = max_line.max(1);
    let mut rest = block;
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        let segment = &rest[..nl];
        rest = &rest[nl + 1..];
        // The splitter's rule: a line within the cap loses its `\r`; a longer one is cut.
        let line = if segment.len() <= max_line {
            strip_cr(segment)
        } else {
            &segment[..max_line]
        };
        count_line(line, kind, times, out);
    }
}

/// Adds one raw line to `out` exactly as [`make_line`] plus [`super::Tally::add_line`] would
/// count it, without building the line.
pub fn count_line(raw: &[u8], kind: Option<LogKind>, times: &mut TimeParser, out: &mut Skipped) {
    // Printable ASCII is what sanitising would return unchanged, so the bytes can be classified
    // in place; anything else takes the full path.
    if is_printable(raw)
        && let Ok(text) = std::str::from_utf8(raw)
    {
        count_text(text, kind, times, out);
        return;
    }
    let l = make_line(raw, 0, kind, times);
    add_mark(l.cause, l.status, l.upstream.as_deref(), l.time, out);
}

/// [`count_line`] for a line already known to be printable ASCII.
fn count_text(text: &str, kind: Option<LogKind>, times: &mut TimeParser, out: &mut Skipped) {
    let c = classify(text, kind);
    let time = time_of(&c, times);
    if is_quiet(&c) {
        out.quiet(c.status, c.upstream, time);
        return;
    }
    add_mark(c.cause, c.status, c.upstream, time, out);
}

fn add_mark(
    cause: Option<Cause>,
    status: Option<u16>,
    upstream: Option<&str>,
    time: Option<i64>,
    out: &mut Skipped,
) {
    let is_5xx = status.is_some_and(|s| (500..=599).contains(&s));
    if cause.is_none() && !is_5xx {
        out.quiet(status, upstream, time);
    } else {
        out.mark(cause, status, upstream, time);
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
            assert_eq!(counted, built.clone().without_examples(), "{kind:?}");
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

    /// Lines of every format, and access lines that differ from the usual in the places the
    /// plain fast path looks at.
    const SEEDS: [&[u8]; 13] = [
        br#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /a HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11)" us=200 ua=127.0.0.1:8080"#,
        br#"10.0.0.2 - bob [01/May/2024:12:00:59 +0200] "POST /b HTTP/1.1" 502 157 "-" "curl" us=502 ua=10.0.0.9:80, 10.0.0.8:80"#,
        br#"::1 - - [01/May/2024:12:01:00 +0000] "GET /"x HTTP/1.0" 504 -"#,
        br#"10.0.0.3 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200"#,
        br#"10.0.0.4 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" +0503 1"#,
        br#"10.0.0.5 - - [01/]ay/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#,
        br#"10.0.0.6 [x] [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 301 0"#,
        b"2024/05/01 12:00:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.5:8080/\", host: \"s\"",
        b"[Wed May 01 12:00:00.123456 2024] [proxy:error] [pid 1] (111)Connection refused: AH00957: http: attempt to connect to 10.0.0.5:8080 (10.0.0.5) failed",
        b"1.2.3.4:5 [01/May/2024:12:00:00.123] fe be/s1 0/0/-1/-1/0 503 1 - - SC-- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"",
        b"May  1 12:00:00 lb haproxy[1]: backend be has no server available!",
        b"hello [01/May/2024:12:00:00 +0000] \"GET\" 200",
        // Sanitised, the tab becomes a space and the line an Apache error with a cause; raw, it
        // looks like an access line (its fourth `[` opens a date) with status 200.
        b"[Wed\tMay 01 12:00:00.1 2024] [proxy:error] [pid 1] (111)Connection refused: AH00957: x [01/May/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
    ];

    /// Bytes that matter to a parser or to sanitising.
    const SPICE: [u8; 16] = [
        b' ', b'\t', b'\r', b'"', b'\\', b'[', b']', b'5', b'0', b'2', 0x1b, 0x7f, 0xff, 0xc3,
        b'-', b'\n',
    ];

    /// The seeds, each also with a few bytes replaced or inserted at pseudo-random places
    /// (a fixed xorshift, so a failure reproduces).
    fn mutated_lines() -> Vec<Vec<u8>> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut out = Vec::new();
        for seed in SEEDS {
            out.push(seed.to_vec());
            for _ in 0..400 {
                let mut line = seed.to_vec();
                for _ in 0..1 + next(3) {
                    let at = next(line.len() + 1);
                    let byte = SPICE[next(SPICE.len())];
                    if next(2) == 0 && at < line.len() {
                        line[at] = byte;
                    } else {
                        line.insert(at, byte);
                    }
                }
                // A newline would make two lines of one; keep one line per entry.
                line.retain(|&b| b != b'\n');
                out.push(line);
            }
        }
        out
    }

    fn built_tally(lines: &[Vec<u8>], max: usize, kind: Option<LogKind>) -> Tally {
        let mut stream = Vec::new();
        for line in lines {
            stream.extend_from_slice(line);
            stream.push(b'\n');
        }
        let mut splitter = LineSplitter::new(max);
        let (mut tally, mut times) = (Tally::default(), TimeParser::default());
        splitter.push(&stream, |raw, cut| {
            tally.add_line(&make_line(raw, cut, kind, &mut times));
        });
        tally
    }

    #[test]
    fn counting_a_block_matches_building_each_line() {
        let lines = mutated_lines();
        let mut block = Vec::new();
        for line in &lines {
            block.extend_from_slice(line);
            block.push(b'\n');
        }
        for max in [16 * 1024, 60] {
            for kind in [None, Some(LogKind::Access), Some(LogKind::Error)] {
                let mut skipped = Skipped::default();
                count_lines(&block, max, kind, &mut TimeParser::default(), &mut skipped);
                let mut counted = Tally::default();
                counted.add_skipped(&skipped);
                let built = built_tally(&lines, max, kind).without_examples();
                assert_eq!(counted, built, "max {max}, {kind:?}");
                assert_eq!(built.lines, lines.len() as u64);
            }
        }
    }

    #[test]
    fn bulk_pushes_in_any_chunks_count_like_line_by_line() {
        let lines = mutated_lines();
        let mut stream = Vec::new();
        for line in &lines {
            stream.extend_from_slice(line);
            stream.push(b'\n');
        }
        for max in [16 * 1024, 60] {
            for chunk in [1, 7, 100, 4096] {
                let mut splitter = LineSplitter::new(max);
                let mut skipped = Skipped::default();
                let mut times = TimeParser::default();
                for piece in stream.chunks(chunk) {
                    let block = splitter.push_bulk(piece, |raw, _| {
                        count_line(raw, None, &mut times, &mut skipped)
                    });
                    count_lines(block, max, None, &mut times, &mut skipped);
                }
                let mut counted = Tally::default();
                counted.add_skipped(&skipped);
                assert_eq!(
                    counted,
                    built_tally(&lines, max, None).without_examples(),
                    "max {max}, chunks of {chunk}"
                );
            }
        }
    }
}
