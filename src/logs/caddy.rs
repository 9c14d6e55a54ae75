//! Caddy's log lines: its JSON entries (the default encoder of Caddy 2 when not on a terminal),
//! its console form, and Caddy 1's error lines.
//!
//! JSON (zap): `{"level":"error","ts":1714564800.123,"logger":"http.log.error","msg":"dial tcp
//! 127.0.0.1:9000: connect: connection refused",...,"status":502}`; access entries have a logger
//! `http.log.access...` and the request's `"status"`. `ts` is float seconds, or a string with
//! `time_format` (RFC 3339, wall). Keys are found by their quoted name followed by `:`: inside a
//! JSON string every `"` is escaped, so that text can only be a key.
//!
//! Console (Caddy 2 on a terminal): `2024/05/01 12:00:00.123<TAB>ERROR<TAB>http.log.error<TAB>msg`.
//! Caddy 1 (`errors` directive, its own page's format): `01/May/2019:12:00:00 +0000 [ERROR 502
//! /api] dial tcp ...`, and through Go's logger `2019/05/01 12:00:00 [ERROR] 502 /api: dial ...`.
//!
//! Causes come from Go's error texts, the same whatever the form. Error entries carry the
//! request's status too, but only access entries count it: the same request is in both.

use super::classify::Classified;
use super::{Cause, Format, go_errors};

/// A Caddy line in any of its forms, from its first bytes. Cheap: runs on every line that is
/// not nginx's or Apache's.
#[inline]
pub fn looks_like_bytes(b: &[u8]) -> bool {
    is_json(b) || is_v1(b) || is_console(b)
}

fn is_json(b: &[u8]) -> bool {
    b.starts_with(b"{\"level\":\"") && memchr::memmem::find(b, b"\"ts\":").is_some()
}

/// `01/May/2019:12:00:00 +0000 [ERROR 502 /path] message`
fn is_v1(b: &[u8]) -> bool {
    b.len() > 34
        && b[2] == b'/'
        && b[6] == b'/'
        && b[11] == b':'
        && b[20] == b' '
        && b[26..].starts_with(b" [ERROR ")
}

/// `2024/05/01 12:00:00.123 ERROR ...` (a tab before the level, a space once sanitised).
fn is_console(b: &[u8]) -> bool {
    b.len() > 25
        && super::nginx::starts_with_stamp(b)
        && b[19] == b'.'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && matches!(b[23], b' ' | b'\t')
        && b[24].is_ascii_uppercase()
}

/// An nginx-shaped line (see [`super::nginx::looks_like`]) whose level is upper case: Go's
/// logger, as Caddy 1 wrote its errors. nginx's levels are lower case.
#[inline]
pub fn is_go_log(line: &str) -> bool {
    line.as_bytes().get(21).is_some_and(u8::is_ascii_uppercase)
}

/// One Caddy line's parts, borrowed from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaddyLine<'a> {
    pub level: &'a str,
    pub logger: &'a str,
    /// As written: JSON escapes are left in.
    pub msg: &'a str,
    /// The `error` field some entries carry beside their message.
    pub error: Option<&'a str>,
    pub status: Option<u16>,
    pub time: Option<&'a str>,
    /// `upstream` field (reverse_proxy's own entries).
    pub upstream: Option<&'a str>,
}

impl CaddyLine<'_> {
    pub fn is_access(&self) -> bool {
        self.logger.starts_with("http.log.access")
    }

    /// Without allocating: this runs on every line of Caddy's own log.
    fn is_error(&self) -> bool {
        ["error", "dpanic", "panic", "fatal", "critical"]
            .iter()
            .any(|level| self.level.eq_ignore_ascii_case(level))
    }
}

/// Splits a line in any of Caddy's forms; `None` when it is none of them.
pub fn parse(line: &str) -> Option<CaddyLine<'_>> {
    let b = line.as_bytes();
    if is_json(b) {
        return Some(CaddyLine {
            level: string_field(line, "level").unwrap_or(""),
            logger: string_field(line, "logger").unwrap_or(""),
            msg: string_field(line, "msg").unwrap_or(""),
            error: string_field(line, "error"),
            status: number_field(line, "status").and_then(|s| s.parse().ok()),
            time: string_field(line, "ts").or_else(|| number_field(line, "ts")),
            upstream: string_field(line, "upstream"),
        });
    }
    if is_v1(b) {
        let close = line.find(']')?;
        return Some(CaddyLine {
            level: "ERROR",
            msg: line[close + 1..].trim_start(),
            time: line.get(..26),
            ..CaddyLine::default()
        });
    }
    if is_console(b) {
        let rest = &line[24..];
        let (level, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        let rest = rest.trim_start();
        // The logger is a dotted lower-case name; Caddy's own messages may have none.
        let (logger, msg) = match rest.split_once([' ', '\t']) {
            Some((l, m))
                if l.contains('.')
                    && l.bytes()
                        .all(|c| c.is_ascii_lowercase() || c == b'.' || c == b'_') =>
            {
                (l, m.trim_start())
            }
            _ => ("", rest),
        };
        return Some(CaddyLine {
            level,
            logger,
            msg,
            time: line.get(..23),
            ..CaddyLine::default()
        });
    }
    if super::nginx::looks_like(line) && is_go_log(line) {
        let close = 20 + line[20..].find(']')?;
        return Some(CaddyLine {
            level: &line[21..close],
            msg: line[close + 1..].trim_start(),
            time: line.get(..19),
            ..CaddyLine::default()
        });
    }
    None
}

/// The string value of a top-level `"key":"..."`, escapes left in.
fn string_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = value_start(line, key)?;
    let rest = line[start..].strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(&rest[..i]),
            _ => escaped = false,
        }
    }
    None
}

/// The text of a number value `"key":123.4`.
fn number_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = value_start(line, key)?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn value_start(line: &str, key: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&b[from..], key.as_bytes()) {
        let at = from + at;
        let end = at + key.len();
        if at > 0 && b[at - 1] == b'"' && b.get(end) == Some(&b'"') {
            let mut v = end + 1;
            while b.get(v) == Some(&b' ') {
                v += 1;
            }
            if b.get(v) == Some(&b':') {
                v += 1;
                while b.get(v) == Some(&b' ') {
                    v += 1;
                }
                return Some(v);
            }
        }
        from = end;
    }
    None
}

/// Classifies a Caddy line: an access entry gives its status, an error entry its cause.
pub fn classify(line: &str) -> Classified<'_> {
    let Some(c) = parse(line) else {
        return Classified::default();
    };
    if c.is_access() {
        return Classified {
            format: Some(Format::CaddyAccess),
            status: c.status,
            time: c.time,
            upstream: c.upstream,
            cause: None,
            clock: None,
        };
    }
    let mut out = Classified {
        format: Some(Format::Caddy),
        time: c.time,
        ..Classified::default()
    };
    if !c.is_error() {
        return out;
    }
    for text in [Some(c.msg), c.error].into_iter().flatten() {
        if let Some(cause) = cause_of(text) {
            out.cause = Some(cause);
            out.upstream = c.upstream.or_else(|| dialed(text));
            break;
        }
    }
    out
}

/// The cause a Go network or HTTP error text names (Caddy passes them on as they are).
pub fn cause_of(msg: &str) -> Option<Cause> {
    go_errors::cause(go_errors::Reader::Caddy, msg)
}

/// The address in `dial tcp ADDR: ...` or `dial unix PATH: ...`.
fn dialed(msg: &str) -> Option<&str> {
    let at = msg
        .find("dial tcp ")
        .map(|i| i + 9)
        .or_else(|| msg.find("dial unix ").map(|i| i + 10))?;
    let rest = &msg[at..];
    let end = rest.find(": ").unwrap_or(rest.len());
    let addr = &rest[..end];
    (!addr.is_empty() && !addr.contains(' ')).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = r#"{"level":"error","ts":1714564800.5,"logger":"http.log.error","msg":"dial tcp 127.0.0.1:9000: connect: connection refused","request":{"remote_ip":"127.0.0.1","method":"GET","host":"a","uri":"/x","headers":{"User-Agent":["say \"status\":200"]}},"duration":0.0004,"status":502,"err_id":"x","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}"#;
    const ACCESS: &str = r#"{"level":"error","ts":"2024-05-01T12:00:00.5Z","logger":"http.log.access.log0","msg":"handled request","request":{"uri":"/a"},"bytes_read":0,"user_id":"","duration":0.001,"size":0,"status":502,"resp_headers":{"Server":["Caddy"]}}"#;

    #[test]
    fn json_error_entries_give_the_cause_and_the_dialled_upstream() {
        let c = classify(REFUSED);
        assert_eq!(c.format, Some(Format::Caddy));
        assert_eq!(c.cause, Some(Cause::Refused));
        assert_eq!(c.upstream, Some("127.0.0.1:9000"));
        assert_eq!(c.time, Some("1714564800.5"));
        // The request's status is counted from the access entry, not twice.
        assert_eq!(c.status, None);
    }

    #[test]
    fn json_access_entries_give_status_and_time() {
        let c = classify(ACCESS);
        assert_eq!(c.format, Some(Format::CaddyAccess));
        assert_eq!(c.status, Some(502));
        assert_eq!(c.cause, None);
        assert_eq!(c.time, Some("2024-05-01T12:00:00.5Z"));
    }

    #[test]
    fn fields_are_keys_never_text_inside_strings() {
        let p = parse(REFUSED).expect("parsed");
        assert_eq!(p.status, Some(502));
        assert_eq!(p.logger, "http.log.error");
        let line = r#"{"level":"info","ts":1,"msg":"a \"status\":7 b"}"#;
        assert_eq!(parse(line).expect("parsed").status, None);
        assert_eq!(parse(line).expect("parsed").msg, r#"a \"status\":7 b"#);
        assert_eq!(classify(line).cause, None);
    }

    #[test]
    fn go_error_texts() {
        for (msg, cause) in [
            (
                "dial tcp: lookup app on 127.0.0.53:53: no such host",
                Cause::Dns,
            ),
            (
                "dial tcp: lookup app on 127.0.0.53:53: read udp 127.0.0.1:1->127.0.0.53:53: i/o timeout",
                Cause::Dns,
            ),
            ("dial tcp 10.0.0.1:80: i/o timeout", Cause::Timeout),
            ("context deadline exceeded", Cause::Timeout),
            (
                "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer",
                Cause::Reset,
            ),
            ("EOF", Cause::PrematureClose),
            (
                "readfrom tcp 127.0.0.1:1->127.0.0.1:2: unexpected EOF",
                Cause::PrematureClose,
            ),
            ("no upstreams available", Cause::NoLiveUpstreams),
            (
                "tls: failed to verify certificate: x509: certificate signed by unknown authority",
                Cause::Tls,
            ),
            (
                "dial unix /run/php/php-fpm.sock: connect: no such file or directory",
                Cause::NoSocket,
            ),
            (
                "net/http: HTTP/1.x transport connection broken: malformed HTTP response \"x\"",
                Cause::InvalidHeader,
            ),
        ] {
            assert_eq!(cause_of(msg), Some(cause), "{msg}");
        }
        assert_eq!(cause_of("handled request"), None);
        assert_eq!(cause_of("EOFs are fine"), None);
        assert_eq!(
            dialed("dial unix /run/a.sock: connect: x"),
            Some("/run/a.sock")
        );
        assert_eq!(dialed("dial tcp: lookup x"), None);
    }

    #[test]
    fn text_forms() {
        let v1 = "01/May/2019:12:00:00 +0000 [ERROR 502 /api] dial tcp 127.0.0.1:9000: getsockopt: connection refused";
        let c = classify(v1);
        assert_eq!(
            (c.format, c.cause),
            (Some(Format::Caddy), Some(Cause::Refused))
        );
        assert_eq!(c.time, Some("01/May/2019:12:00:00 +0000"));
        let go = "2019/05/01 12:00:00 [ERROR] 502 /api: dial tcp 10.0.0.2:80: i/o timeout";
        let c = classify(go);
        assert_eq!(
            (c.cause, c.upstream),
            (Some(Cause::Timeout), Some("10.0.0.2:80"))
        );
        let console = "2024/05/01 12:00:00.123 ERROR http.log.error dial tcp 127.0.0.1:9001: connect: connection refused {\"request\": {}, \"status\": 502}";
        let c = classify(console);
        assert_eq!(c.cause, Some(Cause::Refused));
        assert_eq!(c.time, Some("2024/05/01 12:00:00.123"));
        let info = "2024/05/01 12:00:00.123\tINFO\tserving initial configuration";
        assert!(looks_like_bytes(info.as_bytes()));
        assert_eq!(classify(info).cause, None);
        // nginx's own lines are not Go's.
        assert!(!is_go_log("2024/05/01 12:00:00 [error] 1#1: x"));
    }
}
