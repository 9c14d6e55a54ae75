//! One entry point for every format: detect what a line is, then pull out what the counters
//! need (cause, HTTP status, upstream, timestamp text). No allocation, no regex: this runs on
//! every line of a flood.

use super::access::BracketDate;
use super::text::is_printable;
use super::timestamp::Clock;
use super::{Cause, Format, access, apache, caddy, envoy, haproxy, json, nginx, prefix, traefik};
use crate::config::LogKind;

/// What a line says, borrowed from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Classified<'a> {
    pub format: Option<Format>,
    pub cause: Option<Cause>,
    /// HTTP status of an access or HAProxy line.
    pub status: Option<u16>,
    /// The server a failure is attributed to (error-log causes), or that answered a request
    /// (access and HAProxy lines with a status, for the per-upstream request counts).
    pub upstream: Option<&'a str>,
    /// The timestamp as written; [`super::TimeParser`] turns it into seconds.
    pub time: Option<&'a str>,
    /// How `time` is written when it is not the format's own stamp: a collector prefix's, for
    /// a line without one (`nginx: [emerg] ...` in the journal).
    pub clock: Option<Clock>,
}

impl<'a> Classified<'a> {
    /// The timestamp and how it is written, for [`super::TimeParser::parse`].
    pub fn stamp(&self) -> Option<(Clock, &'a str)> {
        Some((self.clock.or(self.format.map(Clock::from))?, self.time?))
    }
}

/// The format a single line is in, from its shape alone (a JSON line's, from its keys).
pub fn detect(line: &str) -> Option<Format> {
    if line.starts_with('{') {
        if caddy::looks_like_bytes(line.as_bytes()) {
            return caddy::classify(line).format;
        }
        return json::classify(line).and_then(|c| c.format);
    }
    if nginx::looks_like(line) {
        return Some(if caddy::is_go_log(line) {
            Format::Caddy
        } else {
            Format::NginxError
        });
    }
    if apache::looks_like(line) {
        return Some(Format::ApacheError);
    }
    if envoy::looks_like(line) {
        return Some(Format::Envoy);
    }
    if traefik::looks_like(line) {
        return Some(Format::Traefik);
    }
    if caddy::looks_like_bytes(line.as_bytes()) {
        return caddy::classify(line).format;
    }
    match access::find_date(line) {
        Some(date) if date.millis => Some(Format::Haproxy),
        Some(_) => Some(Format::Access),
        None if line.contains("haproxy[") => Some(Format::Haproxy),
        None => None,
    }
}

/// Whether a line of `format` may appear in a source configured as `kind`.
pub fn allowed(format: Format, kind: Option<LogKind>) -> bool {
    match kind {
        None => true,
        Some(LogKind::Error) => format.is_error_log(),
        // HAProxy's traffic log is its access log.
        Some(LogKind::Access) => format.has_statuses(),
        // Its common access format is the combined one.
        Some(LogKind::Traefik) => matches!(
            format,
            Format::Traefik | Format::TraefikAccess | Format::Access
        ),
        Some(LogKind::Envoy) => format == Format::Envoy,
    }
}

/// Lines [`classify`] reads in a format of their own before it tries the access format (their
/// text may hold a bracketed date too). Byte compares that fail at once for other lines.
#[inline]
fn read_before_access(b: &[u8]) -> bool {
    b.first() == Some(&b'{')
        || envoy::looks_like_bytes(b)
        || traefik::looks_like_bytes(b)
        || caddy::looks_like_bytes(b)
}

/// Detects and classifies `line`; `kind` (from the config) rules out formats the source cannot
/// hold, so a stray line cannot be misread. [`detect`]'s order, each format parsed as soon as it
/// is recognised (the access parse reuses the date the detection found). Only a line that is
/// none of them bare is looked at for a collector's prefix ([`prefix`]).
pub fn classify(line: &str, kind: Option<LogKind>) -> Classified<'_> {
    classify_memo(line, kind, None)
}

/// [`classify`] for a stream of lines: `memo` remembers the last nginx message's cause, so a
/// flood of one message is read once (see [`nginx::Memo`]). Always the same answer as
/// [`classify`].
pub fn classify_with<'a>(
    line: &'a str,
    kind: Option<LogKind>,
    memo: &mut nginx::Memo,
) -> Classified<'a> {
    classify_memo(line, kind, Some(memo))
}

fn classify_memo<'a>(
    line: &'a str,
    kind: Option<LogKind>,
    memo: Option<&mut nginx::Memo>,
) -> Classified<'a> {
    if line.starts_with('{') {
        // Caddy's entries are told by their first key and read field by field (see `caddy`);
        // the other dialects share one parse, each looking for its keys (see `json`).
        if caddy::looks_like_bytes(line.as_bytes()) {
            return caddy_line(line, kind);
        }
        return only_if_allowed(json::classify(line).unwrap_or_default(), kind);
    }
    if nginx::looks_like(line) {
        if caddy::is_go_log(line) {
            return caddy_line(line, kind);
        }
        return error_line(Format::NginxError, line, kind, memo);
    }
    if apache::looks_like(line) {
        return error_line(Format::ApacheError, line, kind, None);
    }
    if envoy::looks_like(line) {
        return only_if_allowed(envoy::classify_text(line), kind);
    }
    if traefik::looks_like(line) {
        return only_if_allowed(traefik::classify_text(line), kind);
    }
    if caddy::looks_like_bytes(line.as_bytes()) {
        return caddy_line(line, kind);
    }
    let date = access::find_date(line);
    if let Some(date) = date
        && date.first
    {
        return dated_line(line, date, kind);
    }
    if let Some(c) = stamped_elsewhere(line, kind, memo) {
        return c;
    }
    match date {
        Some(date) => dated_line(line, date, kind),
        None if line.contains("haproxy[") => haproxy_line(line, kind),
        None => Classified::default(),
    }
}

/// `c`, or nothing when its format cannot appear in a source of `kind`.
fn only_if_allowed(c: Classified<'_>, kind: Option<LogKind>) -> Classified<'_> {
    match c.format {
        Some(format) if allowed(format, kind) => c,
        _ => Classified::default(),
    }
}

fn dated_line(line: &str, date: BracketDate, kind: Option<LogKind>) -> Classified<'_> {
    if date.millis {
        haproxy_line(line, kind)
    } else {
        access_line(line, date, kind)
    }
}

/// A proxy's error line as it arrives through a collector (behind a prefix, see [`prefix`]), or
/// a bare stderr line that has no stamp of its own.
fn stamped_elsewhere<'a>(
    line: &'a str,
    kind: Option<LogKind>,
    memo: Option<&mut nginx::Memo>,
) -> Option<Classified<'a>> {
    if nginx::looks_like_stderr(line) || haproxy::looks_like_stderr(line) {
        return Some(body_line(line, None, kind, memo));
    }
    let peeled = prefix::peel(line, is_proxy_body)?;
    Some(body_line(peeled.body, peeled.stamp, kind, memo))
}

/// Whether a proxy's own error line begins here.
fn is_proxy_body(s: &str) -> bool {
    nginx::looks_like(s)
        || apache::looks_like(s)
        || nginx::looks_like_stderr(s)
        || haproxy::looks_like_stderr(s)
}

/// Classifies a body [`is_proxy_body`] accepted; `stamp` (the prefix's) is its time when it
/// has none of its own.
fn body_line<'a>(
    body: &'a str,
    stamp: Option<(Clock, &'a str)>,
    kind: Option<LogKind>,
    memo: Option<&mut nginx::Memo>,
) -> Classified<'a> {
    if nginx::looks_like(body) {
        return error_line(Format::NginxError, body, kind, memo);
    }
    if apache::looks_like(body) {
        return error_line(Format::ApacheError, body, kind, None);
    }
    let (format, (cause, upstream)) = if nginx::looks_like_stderr(body) {
        (Format::NginxError, nginx::classify_with(body, memo))
    } else {
        (Format::Haproxy, haproxy::message_cause(body))
    };
    if !allowed(format, kind) {
        return Classified::default();
    }
    Classified {
        format: Some(format),
        cause,
        upstream,
        time: stamp.map(|(_, text)| text),
        clock: stamp.map(|(clock, _)| clock),
        status: None,
    }
}

fn error_line<'a>(
    format: Format,
    line: &'a str,
    kind: Option<LogKind>,
    memo: Option<&mut nginx::Memo>,
) -> Classified<'a> {
    if !allowed(format, kind) {
        return Classified::default();
    }
    let ((cause, upstream), time) = if format == Format::NginxError {
        (
            nginx::classify_with(line, memo),
            line.get(..nginx::TIME_LEN),
        )
    } else {
        let time = line.find(']').map(|end| &line[1..end]);
        (apache::classify(line), time)
    };
    Classified {
        format: Some(format),
        cause,
        upstream,
        time,
        ..Classified::default()
    }
}

fn caddy_line(line: &str, kind: Option<LogKind>) -> Classified<'_> {
    only_if_allowed(caddy::classify(line), kind)
}

/// Most lines of a flood. Every request's upstream is read (the tail of the line), for the
/// per-upstream failure share.
fn access_line(line: &str, date: BracketDate, kind: Option<LogKind>) -> Classified<'_> {
    if !allowed(Format::Access, kind) {
        return Classified::default();
    }
    let mut out = Classified {
        format: Some(Format::Access),
        ..Classified::default()
    };
    // The parse cut short: status, time and upstream, without the client, user and referer.
    if let Some(request) = access::request_at(line, date) {
        out.status = Some(request.status);
        out.time = Some(&line[date.start..date.end]);
        out.upstream = access::upstream_of_extras(request.extras);
    }
    out
}

fn haproxy_line(line: &str, kind: Option<LogKind>) -> Classified<'_> {
    if !allowed(Format::Haproxy, kind) {
        return Classified::default();
    }
    let mut out = Classified {
        format: Some(Format::Haproxy),
        ..Classified::default()
    };
    match haproxy::parse(line) {
        Some(h) => {
            (out.cause, out.upstream) = haproxy::cause_of(line, &h);
            out.status = h.status;
            out.time = Some(h.time);
            if out.upstream.is_none() && h.status.is_some() {
                out.upstream = haproxy::server_field(line, &h);
            }
        }
        None => {
            (out.cause, out.upstream) = haproxy::message_cause(line);
            // An alert has no stamp of its own: its syslog prefix's, if any.
            if let Some((clock, text)) = prefix::peel(line, |_| true).and_then(|p| p.stamp) {
                (out.clock, out.time) = (Some(clock), Some(text));
            }
        }
    }
    out
}

/// Whether `line` adds nothing to a [`super::Tally`] but the line count (no cause, no 5xx).
pub fn is_quiet(c: &Classified<'_>) -> bool {
    c.cause.is_none() && !c.status.is_some_and(|s| (500..=599).contains(&s))
}

/// A raw line that is certainly, once decoded, sanitised and classified under `kind`, an access
/// line with a status: the request as [`classify`] would see it, without the parts of the parse
/// the counters do not need (such a line never has a cause, so it is quiet unless 5xx). `None`
/// decides nothing: the line takes the full path. Only printable ASCII qualifies, which
/// sanitising leaves as it is, so the bytes are the very text `classify` would get; the checks
/// are its own, in its order. Most lines of a flood.
#[inline]
pub fn plain_request(raw: &[u8], kind: Option<LogKind>) -> Option<access::Request<'_>> {
    if !allowed(Format::Access, kind)
        || nginx::looks_like_bytes(raw)
        || apache::looks_like_bytes(raw)
        || read_before_access(raw)
    {
        return None;
    }
    let date = access::find_date_in(raw)?;
    // A date past the first `[` may be quoted by an error line behind a prefix.
    if date.millis || !date.first || !is_printable(raw) {
        return None;
    }
    access::request_in_printable(raw, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect("2024/05/01 12:00:00 [error] 1#1: x"),
            Some(Format::NginxError)
        );
        assert_eq!(
            detect("[Wed May 01 12:00:00.1 2024] [proxy:error] [pid 1] x"),
            Some(Format::ApacheError)
        );
        assert_eq!(
            detect(r#"1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1"#),
            Some(Format::Access)
        );
        assert_eq!(
            detect(
                "1.2.3.4:5 [01/May/2024:12:00:00.123] fe be/s 0/0/0/0/0 200 1 - - ---- 0/0/0/0/0 0/0"
            ),
            Some(Format::Haproxy)
        );
        assert_eq!(
            detect("May  1 12:00:00 lb haproxy[1]: backend be has no server available!"),
            Some(Format::Haproxy)
        );
        assert_eq!(detect("hello"), None);
        assert_eq!(detect(""), None);
    }

    use crate::logs::TimeParser;
    use jiff::tz::TimeZone;

    /// 2024-09-27T02:33:25Z, the stamp of the lines below.
    const AT: i64 = 1_727_404_405;

    /// Cause, upstream and the time the counters would read from `line`.
    fn read(line: &str, kind: Option<LogKind>) -> (Option<Cause>, Option<&str>, Option<i64>) {
        let c = classify(line, kind);
        let mut times = TimeParser::at(TimeZone::UTC, AT + 86_400);
        let time = c.stamp().and_then(|(clock, text)| times.parse(clock, text));
        (c.cause, c.upstream, time)
    }

    /// Every collector prefix, and whether it carries a stamp (a second later than the lines'
    /// own, to tell them apart).
    const PREFIXES: [(&str, bool); 12] = [
        ("2024-09-27T02:33:26.123456789Z ", true),
        ("web-1  | ", false),
        ("web_1  | ", false),
        ("\\x1b[36mweb-1  |\\x1b[0m ", false),
        ("nginx.1 | ", false),
        ("12:00:01 nginx.1 | ", false),
        ("Sep 27 02:33:26 web1 nginx: ", true),
        ("Sep 27 02:33:26 web1 nginx[123]: ", true),
        ("<11>1 2024-09-27T02:33:26Z web1 nginx - - - ", true),
        ("<11>Sep 27 02:33:26 web1 nginx: ", true),
        ("web-1  | 2024-09-27T02:33:26.5Z ", true),
        ("2024-09-27T02:33:26+00:00 web1 nginx[123]: ", true),
    ];

    #[test]
    fn error_lines_behind_every_prefix_read_like_bare_ones_with_their_own_stamp() {
        let lines = [
            (
                r#"2024/09/27 02:33:25 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:8080/", host: "s""#,
                Cause::Refused,
                Some("http://10.0.0.5:8080"),
            ),
            (
                r#"2024/09/27 02:33:25 [error] 7#7: *4 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:8080/", host: "s""#,
                Cause::Timeout,
                Some("http://10.0.0.5:8080"),
            ),
            (
                r#"2024/09/27 02:33:25 [error] 7#7: *5 app.internal could not be resolved (3: Host not found), client: 10.0.0.1, server: s, request: "GET / HTTP/1.1", host: "s""#,
                Cause::Dns,
                None,
            ),
            (
                "[Fri Sep 27 02:33:25.123456 2024] [proxy:error] [pid 12:tid 3] (111)Connection refused: AH00957: http: attempt to connect to 10.0.0.5:8080 (app) failed",
                Cause::Refused,
                Some("10.0.0.5:8080"),
            ),
        ];
        for (bare, cause, upstream) in lines {
            let expected = (Some(cause), upstream, Some(AT));
            assert_eq!(read(bare, None), expected, "{bare}");
            for (prefix, _) in PREFIXES {
                let line = format!("{prefix}{bare}");
                assert_eq!(read(&line, None), expected, "{line}");
                assert_eq!(read(&line, Some(LogKind::Error)), expected, "{line}");
                assert_eq!(
                    classify(&line, Some(LogKind::Access)),
                    Classified::default()
                );
            }
        }
    }

    #[test]
    fn a_line_without_a_stamp_takes_its_prefix_stamp() {
        let emerg = r#"nginx: [emerg] host not found in upstream "backend:8080" in /etc/nginx/conf.d/app.conf:12"#;
        // Bare, it has no time: the reader's clock stands in (see the model).
        assert_eq!(
            read(emerg, None),
            (Some(Cause::Dns), Some("backend:8080"), None)
        );
        for (prefix, stamped) in PREFIXES {
            let line = format!("{prefix}{emerg}");
            let time = stamped.then_some(AT + 1);
            assert_eq!(
                read(&line, None),
                (Some(Cause::Dns), Some("backend:8080"), time),
                "{line}"
            );
        }
        let alert = "2024-09-27T02:33:26Z [ALERT]    (8) : backend 'be' has no server available!";
        assert_eq!(
            read(alert, None),
            (Some(Cause::NoLiveUpstreams), None, Some(AT + 1))
        );
        let syslog = "Sep 27 02:33:26 lb haproxy[1]: backend be has no server available!";
        assert_eq!(
            read(syslog, None),
            (Some(Cause::NoLiveUpstreams), None, Some(AT + 1))
        );
    }

    #[test]
    fn prefix_like_text_in_a_message_is_not_misread() {
        let refused = r#"2024/09/27 02:33:25 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, upstream: "http://10.0.0.5:8080/""#;
        for line in [
            // An info line quoting a prefixed error line.
            format!(
                "2024/09/27 02:33:25 [info] 7#7: *1 client sent invalid header line: \"web-1  | {refused}\""
            ),
            format!("web-1  | 2024/09/27 02:33:25 [notice] 7#7: x web-1  | {refused}"),
            // Not a prefix: a path, an access line's start.
            format!("GET /x | {refused}"),
            format!("10.0.0.1 - - {refused}"),
            format!("2024-09-27T02:33:25Z app: hello {refused}"),
        ] {
            assert_eq!(read(&line, None).0, None, "{line}");
        }
        // An access line that quotes an error line is an access line, whatever it quotes.
        let access = format!(
            r#"10.0.0.1 - - [27/Sep/2024:02:33:25 +0000] "GET / HTTP/1.1" 200 1 "-" "web-1  | {}""#,
            refused.replace('"', "'")
        );
        let c = classify(&access, None);
        assert_eq!(
            (c.format, c.cause, c.status),
            (Some(Format::Access), None, Some(200))
        );
        // A prefixed error line whose request quotes an access line stays an error line.
        let error = r#"web-1  | 2024/09/27 02:33:25 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: s, request: "GET /[27/Sep/2024:02:33:25 +0000] "GET / HTTP/1.1" 502 1", upstream: "http://10.0.0.5:8080/", host: "s""#;
        let c = classify(error, None);
        assert_eq!(
            (c.format, c.cause, c.status),
            (Some(Format::NginxError), Some(Cause::Refused), None)
        );
        assert!(plain_request(error.as_bytes(), None).is_none());
    }

    #[test]
    fn the_configured_kind_rules_formats_out() {
        let access = r#"1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 502 1"#;
        assert_eq!(
            classify(access, Some(LogKind::Error)),
            Classified::default()
        );
        let c = classify(access, Some(LogKind::Access));
        assert_eq!(c.status, Some(502));
        assert_eq!(c.time, Some("01/May/2024:12:00:00 +0000"));
    }
}
