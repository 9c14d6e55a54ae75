//! One entry point for every format: detect what a line is, then pull out what the counters
//! need (cause, HTTP status, upstream, timestamp text). No allocation, no regex: this runs on
//! every line of a flood.

use super::{Cause, Format, access, apache, haproxy, nginx};
use crate::config::LogKind;

/// What a line says, borrowed from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Classified<'a> {
    pub format: Option<Format>,
    pub cause: Option<Cause>,
    /// HTTP status of an access or HAProxy line.
    pub status: Option<u16>,
    /// The server a failure is attributed to (error-log causes; 5xx access and HAProxy lines).
    pub upstream: Option<&'a str>,
    /// The timestamp as written; [`super::TimeParser`] turns it into seconds.
    pub time: Option<&'a str>,
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
/// hold, so a stray line cannot be misread.
pub fn classify(line: &str, kind: Option<LogKind>) -> Classified<'_> {
    let Some(format) = detect(line).filter(|f| allowed(*f, kind)) else {
        return Classified::default();
    };
    let mut out = Classified {
        format: Some(format),
        ..Classified::default()
    };
    match format {
        Format::NginxError => {
            (out.cause, out.upstream) = nginx::classify(line);
            out.time = line.get(..nginx::TIME_LEN);
        }
        Format::ApacheError => {
            (out.cause, out.upstream) = apache::classify(line);
            out.time = line.find(']').map(|end| &line[1..end]);
        }
        Format::Access => {
            if let Some(a) = access::parse(line) {
                out.status = Some(a.status);
                out.time = Some(a.time);
                if a.status >= 500 {
                    out.upstream = a.last_upstream();
                }
            }
        }
        Format::Haproxy => match haproxy::parse(line) {
            Some(h) => {
                (out.cause, out.upstream) = haproxy::cause_of(line, &h);
                out.status = h.status;
                out.time = Some(h.time);
                if out.upstream.is_none() && h.status.is_some_and(|s| s >= 500) {
                    out.upstream = haproxy::server_field(line, &h);
                }
            }
            None => (out.cause, out.upstream) = haproxy::message_cause(line),
        },
    }
    out
}

/// Whether `line` adds nothing to a [`super::Tally`] but the line count (no cause, no 5xx): the
/// same answer as [`classify`], cheaper for access lines, which can only count by their status.
pub fn is_quiet(line: &str, kind: Option<LogKind>) -> bool {
    let is_5xx = |s: Option<u16>| s.is_some_and(|s| (500..=599).contains(&s));
    // `detect`'s order, keeping the date it finds for the access parse.
    if !nginx::looks_like(line)
        && !apache::looks_like(line)
        && allowed(Format::Access, kind)
        && let Some(date) = access::find_date(line).filter(|d| !d.millis)
    {
        return !is_5xx(access::status_at(line, date));
    }
    let c = classify(line, kind);
    c.cause.is_none() && !is_5xx(c.status)
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
