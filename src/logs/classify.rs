//! One entry point for every format: detect what a line is, then pull out what the counters
//! need (cause, HTTP status, upstream, timestamp text). No allocation, no regex: this runs on
//! every line of a flood.

use super::access::BracketDate;
use super::text::is_printable;
use super::{Cause, Format, access, apache, caddy, envoy, haproxy, json, nginx, traefik};
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
    b.first() == Some(&b'{') || envoy::looks_like_bytes(b) || traefik::looks_like_bytes(b)
}

/// Detects and classifies `line`; `kind` (from the config) rules out formats the source cannot
/// hold, so a stray line cannot be misread. [`detect`]'s order, each format parsed as soon as it
/// is recognised (the access parse reuses the date the detection found).
pub fn classify(line: &str, kind: Option<LogKind>) -> Classified<'_> {
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
        return error_line(Format::NginxError, line, kind);
    }
    if apache::looks_like(line) {
        return error_line(Format::ApacheError, line, kind);
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
    match access::find_date(line) {
        Some(date) if !date.millis => access_line(line, date, kind),
        Some(_) => haproxy_line(line, kind),
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
        status: None,
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
        None => (out.cause, out.upstream) = haproxy::message_cause(line),
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
        || caddy::looks_like_bytes(raw)
    {
        return None;
    }
    let date = access::find_date_in(raw)?;
    if date.millis || !is_printable(raw) {
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
