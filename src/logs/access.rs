//! Access log lines in nginx's (and Apache's) combined format, with whatever the admin appended:
//! `10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/8.5.0"`
//! optionally followed by `us=502 ua=127.0.0.1:8080` style pairs or bare trailing fields such as
//! `127.0.0.1:8080 502 0.004`. Parsing is lenient: whatever is recognised is returned.

/// Where a `[dd/Mon/yyyy:hh:mm:ss ...]` date sits in a line, and which of the two styles it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BracketDate {
    /// Index of the first digit after `[`.
    pub start: usize,
    /// Index of the closing `]`.
    pub end: usize,
    /// `.123` milliseconds and no offset: HAProxy's accept date. Otherwise ` +0000`: access log.
    pub millis: bool,
    /// The date opens the line's first `[`, as in a bare access or HAProxy line. When it does
    /// not, the line may be an error line behind a prefix, whose message quotes a date.
    pub first: bool,
}

/// The first bracketed date in the first few `[`s of the line.
#[inline]
pub fn find_date(line: &str) -> Option<BracketDate> {
    find_date_in(line.as_bytes())
}

#[inline(always)]
pub(super) fn find_date_in(b: &[u8]) -> Option<BracketDate> {
    for (nth, open) in memchr::memchr_iter(b'[', b).take(4).enumerate() {
        let d = &b[open + 1..];
        let shape = d.len() > 21
            && d[0].is_ascii_digit()
            && d[1].is_ascii_digit()
            && d[2] == b'/'
            && d[6] == b'/'
            && d[11] == b':'
            && d[14] == b':'
            && d[17] == b':';
        if !shape {
            continue;
        }
        let start = open + 1;
        let millis = d[20] == b'.';
        let offset = d[20] == b' ' && matches!(d[21], b'+' | b'-');
        if !(millis || offset) {
            continue;
        }
        // The usual ` +0000]` ends the date at a fixed place: no search.
        let end = if d.get(26) == Some(&b']')
            && !d[..26].iter().fold(false, |any, &c| any | (c == b']'))
        {
            start + 26
        } else {
            start + memchr::memchr(b']', d)?
        };
        return Some(BracketDate {
            start,
            end,
            millis,
            first: nth == 0,
        });
    }
    None
}

/// A parsed access line; fields borrow from the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLine<'a> {
    pub client: &'a str,
    pub user: Option<&'a str>,
    pub time: &'a str,
    pub request: &'a str,
    pub status: u16,
    pub bytes: Option<u64>,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// `$upstream_status` as logged: one code, or several (`502, 502 : 200`) after retries.
    pub upstream_status: Option<&'a str>,
    /// `$upstream_addr` as logged: one address or several after retries.
    pub upstream_addr: Option<&'a str>,
}

impl<'a> AccessLine<'a> {
    /// The server that gave the final answer: the last address of `$upstream_addr`.
    pub fn last_upstream(&self) -> Option<&'a str> {
        last_address(self.upstream_addr?)
    }
}

/// The last address of an `$upstream_addr` value (see [`AccessLine::last_upstream`]).
fn last_address(addr: &str) -> Option<&str> {
    // Groups are separated by " : " (internal redirects), retries within a group by ", ";
    // a single address ("host:port", "unix:/x.sock") holds ':' itself.
    // By hand rather than `rsplit(" : ")`, whose searcher costs more to set up than this
    // takes on every 5xx line of a 502 storm.
    let b = addr.as_bytes();
    let group_at = memchr::memrchr_iter(b':', b)
        .find(|&i| i > 0 && b[i - 1] == b' ' && b.get(i + 1) == Some(&b' '))
        .map_or(0, |i| i + 2);
    let last_group = &addr[group_at..];
    let addr_at = memchr::memrchr(b',', last_group.as_bytes()).map_or(0, |i| i + 1);
    let last_addr = last_group[addr_at..].trim();
    (!last_addr.is_empty() && last_addr != "-").then_some(last_addr)
}

const STATUS_KEYS: [&str; 5] = ["us", "ups", "upstream_status", "u_status", "upstatus"];
const ADDR_KEYS: [&str; 6] = ["ua", "upa", "upstream_addr", "upstream", "u_addr", "upaddr"];

/// The part of a line up to its status, which decides whether it parses at all.
struct Head<'a> {
    request: &'a str,
    after_request: usize,
    status: u16,
}

/// [`Head`] as byte indices.
struct RawHead {
    /// The request, between its quotes.
    request: (usize, usize),
    after_request: usize,
    status: u16,
}

/// `date` is the line's [`find_date`].
#[inline(always)]
fn head(line: &str, date: BracketDate) -> Option<Head<'_>> {
    if !has_client(line.as_bytes(), date) {
        return None;
    }
    let rest_from = trim_start_from(line, date.end + 1)?;
    let h = head_from(line.as_bytes(), rest_from)?;
    Some(Head {
        request: &line[h.request.0..h.request.1],
        after_request: h.after_request,
        status: h.status,
    })
}

/// Not HAProxy's date, and a client comes first.
#[inline(always)]
fn has_client(b: &[u8], date: BracketDate) -> bool {
    !date.millis && !b[..date.start - 1].iter().all(u8::is_ascii_whitespace)
}

/// The quoted request starting at `rest_from`, then the status token.
#[inline(always)]
fn head_from(b: &[u8], rest_from: usize) -> Option<RawHead> {
    let (request_start, request_end) = quoted_span(b, rest_from)?;
    let after_request = request_end + 1;
    let status = match b[after_request..] {
        // The usual ` 200 `, checked without scanning: this runs on every line of a flood.
        [
            b' ',
            a @ b'0'..=b'9',
            b @ b'0'..=b'9',
            c @ b'0'..=b'9',
            ref rest @ ..,
        ] if rest.first().is_none_or(u8::is_ascii_whitespace) => digits3(a, b, c),
        ref after => {
            // The first whitespace-separated token.
            let begin = after.iter().position(|c| !c.is_ascii_whitespace())?;
            let len = after[begin..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(after.len() - begin);
            let token = &after[begin..begin + len];
            match *token {
                [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => digits3(a, b, c),
                _ => std::str::from_utf8(token).ok()?.parse().ok()?,
            }
        }
    };
    if !(100..=599).contains(&status) {
        return None;
    }
    Some(RawHead {
        request: (request_start, request_end),
        after_request,
        status,
    })
}

/// Three ASCII digits as a number, without `str::parse`'s generality (sign, overflow).
#[inline(always)]
fn digits3(a: u8, b: u8, c: u8) -> u16 {
    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
}

/// The index of the first non-whitespace char at or after `from` (`str::trim_start`'s rule), or
/// `None` when `from` is past the end. ASCII is skipped byte by byte; other text takes the
/// general path.
#[inline(always)]
fn trim_start_from(line: &str, from: usize) -> Option<usize> {
    let rest = line.get(from..)?;
    match rest
        .bytes()
        .position(|b| !matches!(b, b' ' | b'\t'..=b'\r'))
    {
        Some(i) if rest.as_bytes()[i].is_ascii() => Some(from + i),
        Some(_) => Some(line.len() - rest.trim_start().len()),
        None => Some(line.len()),
    }
}

pub fn parse(line: &str) -> Option<AccessLine<'_>> {
    parse_at(line, find_date(line)?)
}

/// [`parse`], given the line's [`find_date`].
pub fn parse_at(line: &str, date: BracketDate) -> Option<AccessLine<'_>> {
    let Head {
        request,
        after_request,
        status,
    } = head(line, date)?;
    let mut head = line[..date.start - 1].split_ascii_whitespace();
    let client = head.next()?;
    let _ident = head.next();
    let user = head.next().filter(|u| *u != "-");
    let mut tail = line[after_request..].split_ascii_whitespace();
    let _status = tail.next();
    let bytes = tail.next().and_then(|b| b.parse().ok());
    let mut parsed = AccessLine {
        client,
        user,
        time: &line[date.start..date.end],
        request,
        status,
        bytes,
        referer: None,
        user_agent: None,
        upstream_status: None,
        upstream_addr: None,
    };
    let (referer, user_agent, at) = referer_and_agent(line, after_request);
    (parsed.referer, parsed.user_agent) = (referer, user_agent);
    (parsed.upstream_status, parsed.upstream_addr) = extras(&line[at..]);
    Some(parsed)
}

/// Past status and bytes: the optional `"referer" "user agent"`, and where the extras begin.
fn referer_and_agent(line: &str, after_request: usize) -> (Option<&str>, Option<&str>, usize) {
    let (referer, agent, at) = referer_and_agent_spans(line.as_bytes(), after_request);
    let text = |span: Option<(usize, usize)>| span.map(|(start, end)| &line[start..end]);
    (text(referer), text(agent), at)
}

/// [`referer_and_agent`] as indices.
#[inline(always)]
fn referer_and_agent_spans(b: &[u8], after_request: usize) -> (Span, Span, usize) {
    let mut at = skip_tokens(b, after_request, 2);
    let (mut referer, mut user_agent) = (None, None);
    if let Some(span) = quoted_span(b, at.min(b.len())) {
        referer = Some(span);
        at = span.1 + 1;
        if let Some(span) = quoted_span(b, at.min(b.len())) {
            user_agent = Some(span);
            at = span.1 + 1;
        }
    }
    (referer, user_agent, at)
}

type Span = Option<(usize, usize)>;

/// A request as the per-minute counters see it, without the rest of the parse: what
/// [`parse_at`] would find, cut where the upstream starts to matter. Borrows the line's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub status: u16,
    /// The timestamp as written (`AccessLine::time`).
    pub time: &'a [u8],
    /// The trailing fields after the combined format, the only part of the line
    /// [`AccessLine::last_upstream`] depends on: see [`upstream_of_extras`].
    pub extras: &'a [u8],
}

/// [`parse_at`] cut short, for a line of printable ASCII (where the byte rules used here and
/// the `str` rules of [`parse_at`] agree): `Some` exactly when the parse is, with the same status
/// and time, and the bytes whose [`upstream_of_extras`] is the parse's
/// [`AccessLine::last_upstream`]. `date` is the line's [`find_date`]. No decoding: this runs on
/// most lines of a flood.
#[inline]
pub fn request_in_printable(b: &[u8], date: BracketDate) -> Option<Request<'_>> {
    if !has_client(b, date) {
        return None;
    }
    // `trim_start_from`, whose ASCII whitespace is these bytes.
    let from = date.end + 1;
    let rest = b.get(from..)?;
    let rest_from = from
        + rest
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t'..=b'\r'))
            .unwrap_or(rest.len());
    let h = head_from(b, rest_from)?;
    Some(request_after(b, date, h.status, h.after_request))
}

/// [`request_in_printable`] for any text: `Some` exactly when [`parse_at`] is.
pub fn request_at(line: &str, date: BracketDate) -> Option<Request<'_>> {
    let h = head(line, date)?;
    Some(request_after(
        line.as_bytes(),
        date,
        h.status,
        h.after_request,
    ))
}

#[inline(always)]
fn request_after(b: &[u8], date: BracketDate, status: u16, after_request: usize) -> Request<'_> {
    let (_, _, at) = referer_and_agent_spans(b, after_request);
    Request {
        status,
        time: &b[date.start..date.end],
        extras: b.get(at..).unwrap_or_default(),
    }
}

/// The upstream that answered, from a [`Request::extras`].
pub fn upstream_of_extras(extras_text: &[u8]) -> Option<&str> {
    last_address(extras(std::str::from_utf8(extras_text).ok()?).1?)
}

/// A `"..."` value starting at or after `from` (after spaces), as indices: from after the opening
/// quote to the closing one. A backslash escapes a quote (Apache writes `\"`; nginx writes
/// `\x22` and needs no help).
#[inline(always)]
fn quoted_span(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let open = match b.get(from) {
        Some(b'"') => from,
        _ => from + b.get(from..)?.iter().position(|&c| c != b' ')?,
    };
    if b[open] != b'"' {
        return None;
    }
    let mut i = open + 1;
    while i < b.len() {
        i += memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some((open + 1, i));
        }
        i += 2;
    }
    None
}

/// The index after `n` whitespace-separated tokens starting at `from`.
fn skip_tokens(b: &[u8], from: usize, n: usize) -> usize {
    let mut i = from;
    for _ in 0..n {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        while i < b.len() && b[i] != b' ' {
            i += 1;
        }
    }
    i
}

/// Trailing fields after the combined format: `$upstream_status` and `$upstream_addr` (or
/// Traefik's service URL, see [`super::traefik::service_url`]). Values may
/// hold lists (`a:1, b:2 : c:3`), so a token ending in `,` or followed by a lone `:` continues
/// into the next one.
fn extras(text: &str) -> (Option<&str>, Option<&str>) {
    if let Some(url) = super::traefik::service_url(text) {
        return (None, Some(url));
    }
    let (mut upstream_status, mut upstream_addr) = (None, None);
    let mut tokens = Tokens { text, at: 0 };
    while let Some((start, mut end)) = tokens.next() {
        loop {
            let value = &text[start..end];
            let continues = value.ends_with(',') || tokens.peek_is(":") || value.ends_with(" :");
            if !continues {
                break;
            }
            match tokens.next() {
                Some((_, e)) => end = e,
                None => break,
            }
        }
        let token = text[start..end].trim_matches('"');
        let (key, value) = match token.split_once('=') {
            Some((k, v)) => (Some(k), v.trim_matches('"')),
            None => (None, token),
        };
        if value.is_empty() || value == "-" {
            continue;
        }
        match key {
            Some(k) if STATUS_KEYS.contains(&k) => upstream_status = Some(value),
            Some(k) if ADDR_KEYS.contains(&k) => upstream_addr = Some(value),
            Some(_) => {}
            None if upstream_addr.is_none() && looks_like_addr(value) => {
                upstream_addr = Some(value);
            }
            None if upstream_status.is_none() && looks_like_status(value) => {
                upstream_status = Some(value);
            }
            None => {}
        }
    }
    (upstream_status, upstream_addr)
}

struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl Tokens<'_> {
    fn next(&mut self) -> Option<(usize, usize)> {
        let b = self.text.as_bytes();
        while self.at < b.len() && b[self.at] == b' ' {
            self.at += 1;
        }
        if self.at >= b.len() {
            return None;
        }
        let start = self.at;
        let mut in_quotes = false;
        while self.at < b.len() && (in_quotes || b[self.at] != b' ') {
            if b[self.at] == b'"' {
                in_quotes = !in_quotes;
            }
            self.at += 1;
        }
        Some((start, self.at))
    }

    fn peek_is(&self, token: &str) -> bool {
        let rest = self.text[self.at..].trim_start();
        rest.strip_prefix(token)
            .is_some_and(|after| after.is_empty() || after.starts_with(' '))
    }
}

/// `10.0.0.1:80`, `[::1]:80`, `unix:/run/x.sock`, or a list starting with one.
fn looks_like_addr(v: &str) -> bool {
    let first = v.split([',', ' ']).next().unwrap_or(v);
    first.starts_with("unix:")
        || (first.contains(':')
            && first.starts_with(|c: char| c.is_ascii_digit() || c == '[')
            && !first.contains('/'))
}

fn looks_like_status(v: &str) -> bool {
    let first = v.split([',', ' ']).next().unwrap_or(v);
    first.len() == 3 && first.parse::<u16>().is_ok_and(|s| (100..=599).contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_alone_agrees_with_the_full_parse() {
        for line in [
            COMBINED,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /" 0502"#,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /"x" 200 1"#,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /"200"#,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET / 200"#,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] GET / 200"#,
            r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /" 600"#,
            r#"  [01/May/2024:12:00:00 +0000] "GET /" 502"#,
        ] {
            let status = find_date(line)
                .and_then(|d| request_at(line, d))
                .map(|r| r.status);
            assert_eq!(status, parse(line).map(|a| a.status), "{line}");
        }
    }

    /// The cut-short parse the counters use agrees with the full one, on any text: lines with
    /// extras of every kind, each also with characters that matter to either parse (quotes,
    /// backslashes, spaces ASCII or not, commas, colons) put in at pseudo-random places.
    #[test]
    fn the_request_agrees_with_the_full_parse() {
        let seeds = [
            COMBINED.to_owned(),
            format!("{COMBINED} us=502 ua=127.0.0.1:8080 rt=0.002"),
            format!(r#"{COMBINED} upstream_addr="10.0.0.5:80, 10.0.0.6:80" upstream_status="502, 502""#),
            format!("{COMBINED} 127.0.0.1:8080, 127.0.0.1:8081 : unix:/run/app.sock 502 0.004"),
            format!(r#"{COMBINED} "-" "-" ua=-"#),
            r#"::1 - - [01/May/2024:12:00:00 +0000] "GET /\"x HTTP/1.0" 503 - "-" "a\"b" ua=[::1]:80"#
                .to_owned(),
        ];
        let spice = [
            '"', '\\', ' ', '\u{a0}', '\u{2003}', ',', ':', '=', '-', 'é', '\t',
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut checked = 0;
        for seed in &seeds {
            for round in 0..300 {
                let mut line: Vec<char> = seed.chars().collect();
                for _ in 0..usize::from(round > 0) * (1 + next(3)) {
                    let at = next(line.len() + 1);
                    line.insert(at, spice[next(spice.len())]);
                }
                let line: String = line.into_iter().collect();
                let Some(date) = find_date(&line) else {
                    continue;
                };
                let full = parse_at(&line, date);
                let cut = request_at(&line, date);
                assert_eq!(cut.is_some(), full.is_some(), "{line}");
                if let (Some(cut), Some(full)) = (cut, full) {
                    checked += 1;
                    assert_eq!(cut.status, full.status, "{line}");
                    assert_eq!(cut.time, full.time.as_bytes(), "{line}");
                    assert_eq!(
                        upstream_of_extras(cut.extras),
                        full.last_upstream(),
                        "{line}"
                    );
                    if line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                        assert_eq!(request_in_printable(line.as_bytes(), date), Some(cut));
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    const COMBINED: &str = r#"10.0.0.1 - alice [01/May/2024:12:00:00 +0000] "GET /cart?id=1 HTTP/1.1" 502 157 "https://shop/" "Mozilla/5.0 (X11)""#;

    #[test]
    fn combined_format() {
        let a = parse(COMBINED).expect("access line");
        assert_eq!(a.client, "10.0.0.1");
        assert_eq!(a.user, Some("alice"));
        assert_eq!(a.time, "01/May/2024:12:00:00 +0000");
        assert_eq!(a.request, "GET /cart?id=1 HTTP/1.1");
        assert_eq!(a.status, 502);
        assert_eq!(a.bytes, Some(157));
        assert_eq!(a.referer, Some("https://shop/"));
        assert_eq!(a.user_agent, Some("Mozilla/5.0 (X11)"));
        assert_eq!(a.upstream_status, None);
        assert_eq!(a.last_upstream(), None);
    }

    #[test]
    fn key_value_extras() {
        let line = format!("{COMBINED} us=502 ua=127.0.0.1:8080 rt=0.002");
        let a = parse(&line).unwrap();
        assert_eq!(a.upstream_status, Some("502"));
        assert_eq!(a.upstream_addr, Some("127.0.0.1:8080"));
        let line = format!(
            r#"{COMBINED} upstream_addr="10.0.0.5:80, 10.0.0.6:80" upstream_status="502, 502""#
        );
        let a = parse(&line).unwrap();
        assert_eq!(a.upstream_addr, Some("10.0.0.5:80, 10.0.0.6:80"));
        assert_eq!(a.last_upstream(), Some("10.0.0.6:80"));
        assert_eq!(a.upstream_status, Some("502, 502"));
    }

    #[test]
    fn bare_trailing_extras() {
        let line =
            format!("{COMBINED} 127.0.0.1:8080, 127.0.0.1:8081 : unix:/run/app.sock 502 0.004");
        let a = parse(&line).unwrap();
        assert_eq!(a.last_upstream(), Some("unix:/run/app.sock"));
        assert_eq!(a.upstream_status, Some("502"));
        let line = format!(r#"{COMBINED} "-" "-""#);
        let a = parse(&line).unwrap();
        assert_eq!(a.upstream_addr, None);
    }

    #[test]
    fn common_format_and_escaped_quotes() {
        let a = parse(r#"::1 - - [01/May/2024:12:00:00 +0000] "GET /\"x HTTP/1.0" 503 -"#).unwrap();
        assert_eq!(a.request, r#"GET /\"x HTTP/1.0"#);
        assert_eq!(a.status, 503);
        assert_eq!(a.bytes, None);
        assert!(parse("10.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /\" abc 1").is_none());
        assert!(parse("garbage").is_none());
    }
}
