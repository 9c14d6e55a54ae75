//! Lines counted without being kept: a flood's lines that are certain to leave the ring, and a
//! scan's, go straight into the tallies ([`Skipped`]) exactly as building each [`LogLine`] and
//! adding it would count them, at a fraction of the cost.
//!
//! [`LogLine`]: super::LogLine

use super::access::{self, Request};
use super::classify::{classify_with, is_quiet, plain_request};
use super::lines::{make_line_with, strip_cr, time_of};
use super::nginx::Memo;
use super::status_class::StatusClasses;
use super::tally::minute_of;
use super::text::printable_str;
use super::{Cause, Format, Skipped, TimeParser};
use crate::config::LogKind;

/// Adds every line of `block` to `out` exactly as [`LineSplitter`](super::LineSplitter) (capping lines at
/// `max_line`), [`make_line`](super::lines::make_line) and [`super::Tally::add_line`] would count them, without building
/// any. `block` holds whole lines: bytes after its last newline are ignored.
///
/// Most lines of a flood are access lines in printable ASCII ([`plain_request`]): their time and
/// upstream are reused from the line before when its texts are the same, and the quiet ones
/// (not 5xx) are summed in runs ([`QuietRun`]). A line like the one before costs the parse of its
/// head and two compares: no time parse, no search for the upstream, no map lookup.
pub fn count_lines(
    block: &[u8],
    max_line: usize,
    kind: Option<LogKind>,
    times: &mut TimeParser,
    out: &mut Skipped,
) {
    let max_line = max_line.max(1);
    let mut memo = Memo::default();
    let mut run: Option<QuietRun<'_>> = None;
    let mut last_failed: Option<Told<'_>> = None;
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
        match plain_request(line, kind) {
            // Quiet requests are sums, so counting them apart from the marks, in any order, gives
            // the same tally.
            Some(request) if !is_5xx(request.status) => {
                count_quiet(request, &mut run, times, out);
            }
            Some(request) => {
                let told = Told::of(request, last_failed.as_ref(), times);
                out.mark(None, Some(request.status), told.upstream, told.time);
                last_failed = Some(told);
            }
            None => count_line_with(line, kind, times, out, &mut memo),
        }
    }
    if let Some(run) = run {
        run.add_to(out);
    }
}

fn is_5xx(status: u16) -> bool {
    (500..=599).contains(&status)
}

/// What the counters read from a [`Request`]: its time and upstream, with the texts they were
/// read from (borrowed from the block), so that a next line with the same texts reuses them.
#[derive(Clone, Copy)]
struct Told<'a> {
    time_text: &'a [u8],
    extras: &'a [u8],
    time: Option<i64>,
    upstream: Option<&'a str>,
}

impl<'a> Told<'a> {
    /// Reads `request`'s time and upstream as [`count_text`] would, reusing `last`'s where the
    /// texts are the same.
    #[inline]
    fn of(request: Request<'a>, last: Option<&Told<'a>>, times: &mut TimeParser) -> Self {
        let time = match last {
            Some(last) if last.time_text == request.time => last.time,
            _ => std::str::from_utf8(request.time)
                .ok()
                .and_then(|text| times.parse(Format::Access, text)),
        };
        let upstream = match last {
            Some(last) if last.extras == request.extras => last.upstream,
            _ => access::upstream_of_extras(request.extras),
        };
        Told {
            time_text: request.time,
            extras: request.extras,
            time,
            upstream,
        }
    }
}

/// Consecutive quiet requests that count alike (one minute, one upstream), summed here and added
/// to [`Skipped`] once.
struct QuietRun<'a> {
    /// The last line's; every line of the run is in the minute of its time.
    told: Told<'a>,
    classes: StatusClasses,
}

impl QuietRun<'_> {
    fn add_to(&self, out: &mut Skipped) {
        out.quiet_requests(self.told.upstream, self.told.time, self.classes);
    }
}

/// Counts one quiet request as [`count_text`] would.
#[inline]
fn count_quiet<'a>(
    request: Request<'a>,
    run: &mut Option<QuietRun<'a>>,
    times: &mut TimeParser,
    out: &mut Skipped,
) {
    if let Some(run) = run
        && run.told.time_text == request.time
        && run.told.extras == request.extras
    {
        run.classes.add(request.status, 1);
        return;
    }
    let told = Told::of(request, run.as_ref().map(|r| &r.told), times);
    match run {
        Some(run)
            if run.told.upstream == told.upstream
                && run.told.time.map(minute_of) == told.time.map(minute_of) =>
        {
            run.classes.add(request.status, 1);
            run.told = told;
        }
        _ => {
            let classes = StatusClasses::of(request.status, 1);
            if let Some(done) = run.replace(QuietRun { told, classes }) {
                done.add_to(out);
            }
        }
    }
}

/// Adds one raw line to `out` exactly as [`make_line`](super::lines::make_line) plus [`super::Tally::add_line`] would
/// count it, without building the line.
pub fn count_line(raw: &[u8], kind: Option<LogKind>, times: &mut TimeParser, out: &mut Skipped) {
    count_line_with(raw, kind, times, out, &mut Memo::default());
}

/// [`count_line`] for one of a stream of lines, with the stream's [`Memo`].
fn count_line_with(
    raw: &[u8],
    kind: Option<LogKind>,
    times: &mut TimeParser,
    out: &mut Skipped,
    memo: &mut Memo,
) {
    // Printable ASCII is what sanitising would return unchanged, so the bytes can be classified
    // in place; anything else takes the full path.
    if let Some(text) = printable_str(raw) {
        count_text(text, kind, times, out, memo);
        return;
    }
    let l = make_line_with(raw, 0, kind, times, memo);
    add_mark(l.cause, l.status, l.upstream.as_deref(), l.time, out);
}

/// [`count_line`] for a line already known to be printable ASCII.
fn count_text(
    text: &str,
    kind: Option<LogKind>,
    times: &mut TimeParser,
    out: &mut Skipped,
    memo: &mut Memo,
) {
    let c = classify_with(text, kind, memo);
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
    if cause.is_none() && !status.is_some_and(is_5xx) {
        out.quiet(status, upstream, time);
    } else {
        out.mark(cause, status, upstream, time);
    }
}

#[cfg(test)]
mod tests {
    //! Counting a line tallies it exactly as building it ([`make_line`]) and adding it would.
    use super::*;
    use crate::logs::classify::classify;
    use crate::logs::lines::make_line;
    use crate::logs::text::is_printable;
    use crate::logs::{LineSplitter, Tally};

    /// Lines of every format, and access lines that differ from the usual in the places the
    /// plain fast path looks at.
    const SEEDS: &[&[u8]] = &[
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
        // Behind collector prefixes (see `prefix`).
        b"2024-05-01T12:00:01.123456789Z 2024/05/01 12:00:00 [error] 1#1: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, upstream: \"http://10.0.0.5:8080/\"",
        b"web-1  | Sep  1 12:00:00 h nginx[1]: nginx: [emerg] host not found in upstream \"b:80\" in /x.conf:1",
        b"<11>1 2024-05-01T12:00:01Z h nginx - - [a b=\"]\"] [Wed May 01 12:00:00 2024] [error] proxy: HTTP: disabled connection for (10.0.0.7)",
        b"web-1  | 10.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /[01/May/2024:12:00:00 +0000] HTTP/1.1\" 502 1",
        // Sanitised, the tab becomes a space and the line an Apache error with a cause; raw, it
        // looks like an access line (its fourth `[` opens a date) with status 200.
        b"[Wed\tMay 01 12:00:00.1 2024] [proxy:error] [pid 1] (111)Connection refused: AH00957: x [01/May/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
        // Traefik's common format, and lines of formats read before the access format that
        // hold an access line's date.
        br#"127.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /x HTTP/1.1" 502 11 "-" "curl/8" 42 "shop@docker" "http://10.0.0.5:80" 3ms"#,
        br#"[2024-05-01T12:00:00.123Z] "GET /[01/May/2024:12:00:00 +0000] HTTP/1.1" 503 UF 0 91 2 - "-" "curl/8" "id" "shop" "10.0.0.5:80""#,
        br#"time="2024-05-01T12:00:00Z" level=debug msg="'502 Bad Gateway' caused by: EOF" x [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
        br#"{"DownstreamStatus":502,"ServiceAddr":"10.0.0.5:80","StartUTC":"2024-05-01T12:00:00Z","x":"a [01/May/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1"}"#,
        br#"2024-05-01T12:00:00Z DBG p.go:1 > 502 Bad Gateway error="dial tcp 10.0.0.5:80: connect: connection refused" [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
    ];

    /// Bytes that matter to a parser or to sanitising.
    const SPICE: [u8; 16] = [
        b' ', b'\t', b'\r', b'"', b'\\', b'[', b']', b'5', b'0', b'2', 0x1b, 0x7f, 0xff, 0xc3,
        b'-', b'\n',
    ];

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
        for kind in LogKind::ANY {
            let (mut built, mut counted) = (Tally::default(), Tally::default());
            let mut skipped = Skipped::default();
            let (mut t1, mut t2) = (TimeParser::default(), TimeParser::default());
            for raw in lines {
                built.add_line(&make_line(raw, 0, kind, &mut t1));
                count_line(raw, kind, &mut t2, &mut skipped);
            }
            counted.add_skipped(&skipped);
            assert_eq!(counted, built.clone().without_examples(), "{kind:?}");
            assert!(matches!(kind, Some(LogKind::Error | LogKind::Envoy)) || built.status_5xx >= 4);
        }
    }

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
            for kind in LogKind::ANY {
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

    /// Real-format lines as a proxy writes them during an incident: access lines of three
    /// minutes with and without `$upstream_addr` (keyed, bare, lists, a unix socket, `-`),
    /// timings that differ from line to line, 5xx among them, odd bytes (a tab, an escape, a
    /// byte that is not UTF-8, a `\r`), and the fixture's error lines and HAProxy lines between.
    fn mixed_fixture() -> Vec<Vec<u8>> {
        let errors: Vec<&str> = include_str!("../../tests/fixtures/logs/causes.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.splitn(3, '\t').nth(2))
            .collect();
        assert!(errors.len() > 10);
        let mut out = Vec::new();
        for i in 0..3000u32 {
            let second = i / 20;
            let (m, s) = (second / 60, second % 60);
            let status = match i % 50 {
                0 => 502,
                17 => 504,
                33 => 500,
                5 | 6 => 404,
                9 => 301,
                _ => 200,
            };
            let tail = match (i / 7) % 9 {
                0..=2 => format!(" us={status} ua=127.0.0.1:8080"),
                3 => format!(" us={status} ua=127.0.0.1:8080 rt=0.{:03}", i % 13),
                4 => format!(" 10.0.0.{}:80, 10.0.0.9:80 {status} 0.004", i % 3),
                5 => String::new(),
                6 => {
                    r#" upstream_addr="unix:/run/php/php8.2-fpm.sock" upstream_status="200""#.into()
                }
                7 => " ua=- us=-".into(),
                _ => " ua=10.0.0.5:80, 10.0.0.6:80 : 10.0.0.7:80 us=502, 502 : 200".into(),
            };
            let offset = if i % 11 == 0 { "+0200" } else { "+0000" };
            let agent = match i % 97 {
                3 => "Mozilla/5.0 (X11;\tLinux)",
                4 => "Mozilla/5.0 (X11; \u{1b}[2J)",
                _ => "Mozilla/5.0 (X11; Linux x86_64)",
            };
            let mut line = format!(
                "10.0.{}.{} - - [01/May/2024:12:{m:02}:{s:02} {offset}] \"GET /api/items/{i} HTTP/1.1\" {status} 512 \"-\" \"{agent}\"{tail}",
                i / 250,
                i % 250
            )
            .into_bytes();
            match i % 89 {
                5 => line.insert(60, 0xff),
                6 => line.push(b'\r'),
                7 => line.truncate(70),
                _ => {}
            }
            out.push(line);
            if i % 61 == 0 {
                out.push(errors[(i as usize / 61) % errors.len()].as_bytes().to_vec());
            }
            if i % 83 == 0 {
                out.push(
                    format!("1.2.3.4:5 [01/May/2024:12:{m:02}:{s:02}.123] fe be/s1 0/0/0/0/0 200 1 - - ---- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"")
                        .into_bytes(),
                );
            }
        }
        out
    }

    #[test]
    fn the_fast_path_and_the_slow_path_count_the_same() {
        let lines = mixed_fixture();
        let fast = lines.iter().filter(|l| plain_request(l, None).is_some());
        assert!(
            fast.count() * 10 > lines.len() * 7,
            "most lines take the fast path"
        );
        let mut block = Vec::new();
        for line in &lines {
            block.extend_from_slice(line);
            block.push(b'\n');
        }
        for max in [16 * 1024, 90] {
            for kind in LogKind::ANY {
                // Fast: in bulk, quiet requests in runs.
                let mut skipped = Skipped::default();
                count_lines(&block, max, kind, &mut TimeParser::default(), &mut skipped);
                let mut fast = Tally::default();
                fast.add_skipped(&skipped);
                // Slow: each line classified whole, as before the fast path.
                let mut skipped = Skipped::default();
                let mut times = TimeParser::default();
                LineSplitter::new(max).push(&block, |raw, _| {
                    let c = std::str::from_utf8(raw)
                        .ok()
                        .filter(|_| is_printable(raw))
                        .map(|text| classify(text, kind));
                    match c {
                        Some(c) => {
                            let time = time_of(&c, &mut times);
                            add_mark(c.cause, c.status, c.upstream, time, &mut skipped);
                        }
                        None => count_line(raw, kind, &mut times, &mut skipped),
                    }
                });
                let mut slow = Tally::default();
                slow.add_skipped(&skipped);
                assert_eq!(fast, slow, "max {max}, {kind:?}");
                assert_eq!(fast, built_tally(&lines, max, kind).without_examples());
                if matches!(kind, None | Some(LogKind::Access)) && max > 1024 {
                    let w = fast.window(0, i64::MAX);
                    assert!(w.status_5xx > 100 && w.requests > 2900, "{w:?}");
                    assert!(w.upstream_requests.len() >= 5, "{w:?}");
                    assert!(fast.per_minute.len() >= 4, "{:?}", fast.per_minute.keys());
                }
            }
        }
    }

    #[test]
    fn a_plain_request_is_what_classify_finds() {
        let mut seen = 0;
        for line in mutated_lines().iter().chain(&mixed_fixture()) {
            for kind in LogKind::ANY {
                let Some(r) = plain_request(line, kind) else {
                    continue;
                };
                seen += 1;
                let text = std::str::from_utf8(line).unwrap();
                let c = classify(text, kind);
                assert_eq!(is_quiet(&c), !is_5xx(r.status), "{text}");
                let upstream = access::upstream_of_extras(r.extras);
                let full = access::parse(text).unwrap();
                assert_eq!(upstream, full.last_upstream(), "{text}");
                let time = std::str::from_utf8(r.time).ok();
                assert_eq!(
                    (c.format, c.cause, c.status, c.time, c.upstream),
                    (Some(Format::Access), None, Some(r.status), time, upstream),
                    "{text}"
                );
                let made = make_line(line, 0, kind, &mut TimeParser::default());
                assert_eq!(made.text, text, "sanitising leaves it as it is");
            }
        }
        assert!(seen > 2000);
    }
}
