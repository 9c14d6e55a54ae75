//! One entry point for every format: detect what a line is, then pull out what the counters
//! need (cause, HTTP status, upstream, timestamp text). No allocation, no regex: this runs on
//! every line of a flood.

use super::access::BracketDate;
use super::text::is_printable;
use super::timestamp::Clock;
use super::{Cause, Format, access, apache, haproxy, nginx, prefix};
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

/// The format a single line is in, from its shape alone.
pub fn detect(line: &str) -> Option<Format> {
    if nginx::looks_like(line) {
        return Some(Format::NginxError);
    }
    if apache::looks_like(line) {
        return Some(Format::ApacheError);
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
        Some(LogKind::Error) => matches!(format, Format::NginxError | Format::ApacheError),
        // HAProxy's traffic log is its access log.
        Some(LogKind::Access) => matches!(format, Format::Access | Format::Haproxy),
    }
}

/// Detects and classifies `line`; `kind` (from the config) rules out formats the source cannot
/// hold, so a stray line cannot be misread. [`detect`]'s order, each format parsed as soon as it
/// is recognised (the access parse reuses the date the detection found). Only a line that is
/// none of them bare is looked at for a collector's prefix ([`prefix`]).
pub fn classify(line: &str, kind: Option<LogKind>) -> Classified<'_> {
    if nginx::looks_like(line) {
        return error_line(Format::NginxError, line, kind);
    }
    if apache::looks_like(line) {
        return error_line(Format::ApacheError, line, kind);
    }
    let date = access::find_date(line);
    if let Some(date) = date
        && date.first
    {
        return dated_line(line, date, kind);
    }
    if let Some(c) = stamped_elsewhere(line, kind) {
        return c;
    }
    match date {
        Some(date) => dated_line(line, date, kind),
        None if line.contains("haproxy[") => haproxy_line(line, kind),
        None => Classified::default(),
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
fn stamped_elsewhere(line: &str, kind: Option<LogKind>) -> Option<Classified<'_>> {
    if nginx::looks_like_stderr(line) || haproxy::looks_like_stderr(line) {
        return Some(body_line(line, None, kind));
    }
    let peeled = prefix::peel(line, is_proxy_body)?;
    Some(body_line(peeled.body, peeled.stamp, kind))
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
) -> Classified<'a> {
    if nginx::looks_like(body) {
        return error_line(Format::NginxError, body, kind);
    }
    if apache::looks_like(body) {
        return error_line(Format::ApacheError, body, kind);
    }
    let (format, (cause, upstream)) = if nginx::looks_like_stderr(body) {
        (Format::NginxError, nginx::classify(body))
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

fn error_line(format: Format, line: &str, kind: Option<LogKind>) -> Classified<'_> {
    if !allowed(format, kind) {
        return Classified::default();
    }
    let ((cause, upstream), time) = if format == Format::NginxError {
        (nginx::classify(line), line.get(..nginx::TIME_LEN))
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
