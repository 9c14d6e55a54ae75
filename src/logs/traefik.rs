//! Traefik's logs, as its documentation describes them ("Logs" and "Access Logs" under
//! Observability: <https://doc.traefik.io/traefik/observability/logs/> and
//! <https://doc.traefik.io/traefik/observability/access-logs/>).
//!
//! Its own log says why a forward failed in a debug line naming the status it answered and the
//! Go error behind it:
//! - v2 (logrus), text or JSON: `time="2024-09-27T02:33:25Z" level=debug msg="'502 Bad Gateway'
//!   caused by: dial tcp 10.0.0.5:80: connect: connection refused"`;
//! - v3 (zerolog), console or JSON: `2024-09-27T02:33:25Z DBG proxy.go:113 > 502 Bad Gateway
//!   error="dial tcp ..."` or `{"level":"debug","error":"dial tcp ...","time":"...",
//!   "message":"502 Bad Gateway"}`.
//!
//! Only those lines, the TCP router's `Error while connecting to backend: ...` and the load
//! balancer's "no available server" are read as upstream failures: Traefik's other errors (ACME
//! lookups, a client's slow TLS hello, providers) name hosts that are not upstreams.
//!
//! Its access log in JSON is read here (`DownstreamStatus`, `ServiceAddr`, `StartUTC`); its
//! common format is the combined format plus `<count> "<router>" "<service URL>" <duration>ms`,
//! read by [`super::access`] with [`service_url`] naming the upstream.

use super::classify::Classified;
use super::json::Object;
use super::text::upstream_server;
use super::{Cause, Format, go_errors};

/// zerolog's console levels.
const LEVELS: [&[u8; 3]; 7] = [b"TRC", b"DBG", b"INF", b"WRN", b"ERR", b"FTL", b"PNC"];

/// A text line of Traefik's own log (v2's logfmt or v3's console form). A few byte compares
/// fail for any other line: this runs before the access format on every line.
#[inline]
pub fn looks_like_bytes(b: &[u8]) -> bool {
    if b.starts_with(b"time=\"") {
        return true;
    }
    // `2024-09-27T02:33:25Z DBG `: an RFC 3339 stamp, then a level.
    if !(b.len() > 25 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T') {
        return false;
    }
    let Some(space) = b.iter().take(40).position(|&c| c == b' ') else {
        return false;
    };
    b[..4].iter().all(u8::is_ascii_digit)
        && b.get(space + 1..space + 4)
            .is_some_and(|level| LEVELS.iter().any(|l| l.as_slice() == level))
        && b.get(space + 4) == Some(&b' ')
}

pub fn looks_like(line: &str) -> bool {
    looks_like_bytes(line.as_bytes())
}

/// A text line of Traefik's own log: its time, and the cause and upstream of a failed forward.
pub fn classify_text(line: &str) -> Classified<'_> {
    let (time, message, error) = match line.strip_prefix("time=\"") {
        Some(rest) => logfmt(rest),
        None => console(line),
    };
    let (cause, upstream) = message.map_or((None, None), |m| judge(m, error));
    Classified {
        format: Some(Format::Traefik),
        cause,
        status: None,
        upstream,
        time,
        clock: None,
    }
}

/// v2: `time="..." level=debug msg="..."` (after `time="`). logrus quotes a value with spaces
/// and escapes its quotes with `\`.
fn logfmt(rest: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let Some(close) = rest.find('"') else {
        return (None, None, None);
    };
    let time = &rest[..close];
    let message = rest[close..].find(" msg=").map(|at| {
        let value = &rest[close + at + 5..];
        match value.strip_prefix('"') {
            Some(quoted) => &quoted[..closing_quote(quoted)],
            None => value.split(' ').next().unwrap_or(value),
        }
    });
    (Some(time), message, None)
}

/// The index of the first `"` not escaped by a `\`, or the end.
fn closing_quote(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// v3: `<time> <LVL> [<caller> >] <message> key=value... error="..."`.
fn console(line: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let Some(space) = line.find(' ') else {
        return (None, None, None);
    };
    let time = &line[..space];
    let rest = line.get(space + 5..).unwrap_or_default();
    let rest = rest.split_once(" > ").map_or(rest, |(_, message)| message);
    let (message, error) = match rest.find(" error=") {
        Some(at) => {
            let value = &rest[at + 7..];
            let error = match value.strip_prefix('"') {
                Some(quoted) => &quoted[..closing_quote(quoted)],
                None => value.split(' ').next().unwrap_or(value),
            };
            (&rest[..at], Some(error))
        }
        None => (rest, None),
    };
    (Some(time), Some(message), error)
}

/// The part of a line of Traefik's own log worth quoting: the error, or the message holding it.
pub fn message(line: &str) -> Option<&str> {
    if let Some(o) = Object::parse(line) {
        return o
            .raw_str("error")
            .or_else(|| o.raw_str("msg"))
            .or_else(|| o.raw_str("message"));
    }
    match line.strip_prefix("time=\"") {
        Some(rest) => logfmt(rest).1,
        None => {
            let (_, message, error) = console(line);
            error.or(message)
        }
    }
}

/// A JSON line of Traefik's: its access log (`DownstreamStatus`) or its own log (`level`,
/// `time` and `msg` or `message`).
pub fn from_json<'a>(o: &Object<'a>) -> Option<Classified<'a>> {
    if o.has("DownstreamStatus") {
        return Some(access(o));
    }
    if !(o.has("level") && o.has("time")) {
        return None;
    }
    let message = o.raw_str("msg").or_else(|| o.raw_str("message"))?;
    let (cause, upstream) = judge(message, o.raw_str("error"));
    Some(Classified {
        format: Some(Format::Traefik),
        cause,
        status: None,
        upstream,
        time: o.scalar("time"),
        clock: None,
    })
}

/// An access line: the status Traefik answered and the server it forwarded to. `OriginStatus`
/// 0 beside a 502 means the upstream never answered; the status counts it as a failed request
/// of that upstream, and the debug line of the same request (in Traefik's own log) says why.
fn access<'a>(o: &Object<'a>) -> Classified<'a> {
    let status = o
        .number("DownstreamStatus")
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s));
    let upstream = o
        .plain_str("ServiceAddr")
        .filter(|a| !a.is_empty() && *a != "-")
        .or_else(|| {
            // A string in v2 and v3; an object (`{"Scheme":..,"Host":..}`) in older versions.
            let url = o.plain_str("ServiceURL").map(upstream_server);
            url.or_else(|| o.object("ServiceURL")?.plain_str("Host"))
                .filter(|u| !u.is_empty() && *u != "-")
        });
    let time = ["StartUTC", "StartLocal", "time"]
        .iter()
        .find_map(|key| o.scalar(key));
    Classified {
        format: Some(Format::TraefikAccess),
        cause: None,
        status,
        upstream,
        time,
        clock: None,
    }
}

/// The cause and upstream of a message of Traefik's own log, when it is a failed forward.
fn judge<'a>(message: &'a str, error: Option<&'a str>) -> (Option<Cause>, Option<&'a str>) {
    let message = message.trim();
    // v2: `'502 Bad Gateway' caused by: <error>`; v3: `502 Bad Gateway` with the error apart.
    let (status, error) = match message.split_once("' caused by: ") {
        // The status text holds no quote: it starts after the last one.
        Some((head, error)) => (
            head.rsplit_once('\'').map(|(_, status)| status),
            Some(error),
        ),
        None => (Some(message), error),
    };
    let status = status
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok());
    let failed_forward = status.is_some_and(|s| (500..=599).contains(&s));
    let backend = [
        "Error while connecting to backend: ",
        "Error while dialing backend: ",
    ]
    .iter()
    .find_map(|prefix| message.strip_prefix(prefix));
    let error = match (failed_forward, backend) {
        (true, _) => error,
        (false, Some(error)) => Some(error),
        (false, None) => {
            // The load balancer's own words, whatever the line's shape.
            let none_left = go_errors::none_left(message);
            return (none_left.then_some(Cause::NoLiveUpstreams), None);
        }
    };
    let Some(error) = error else {
        return (None, None);
    };
    let cause = go_errors::cause(go_errors::Reader::Traefik, error);
    (cause, cause.and_then(|_| go_errors::peer(error)))
}

/// The service URL of a common-format access line's tail (what follows the user agent):
/// `42 "shop@docker" "http://10.0.0.5:80" 3ms`, reduced to the server. Cheap to refuse: most
/// tails (nginx's `us=200 ua=...`) do not end in `ms`.
pub fn service_url(tail: &str) -> Option<&str> {
    let tail = tail.trim();
    if !tail.ends_with("ms") {
        return None;
    }
    let (count, rest) = tail.split_once(' ')?;
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('"')?;
    let (_router, rest) = rest.split_once("\" \"")?;
    let (url, duration) = rest.split_once("\" ")?;
    let duration = duration.trim().strip_suffix("ms")?;
    if duration.is_empty() || !duration.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    url.contains("://").then(|| upstream_server(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::classify;

    /// Format, cause, status, upstream and time.
    type Read<'a> = (
        Option<Format>,
        Option<Cause>,
        Option<u16>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn read(line: &str) -> Read<'_> {
        let c = classify(line, None);
        (c.format, c.cause, c.status, c.upstream, c.time)
    }

    #[test]
    fn v2_text_lines_name_cause_and_upstream() {
        let line = r#"time="2024-09-27T02:33:25Z" level=debug msg="'502 Bad Gateway' caused by: dial tcp 10.0.0.5:80: connect: connection refused""#;
        assert_eq!(
            read(line),
            (
                Some(Format::Traefik),
                Some(Cause::Refused),
                None,
                Some("10.0.0.5:80"),
                Some("2024-09-27T02:33:25Z")
            )
        );
        let cases = [
            (
                "'502 Bad Gateway' caused by: EOF",
                Some(Cause::PrematureClose),
            ),
            (
                "'504 Gateway Timeout' caused by: dial tcp 10.0.0.5:80: i/o timeout",
                Some(Cause::Timeout),
            ),
            (
                "'504 Gateway Timeout' caused by: context deadline exceeded",
                Some(Cause::Timeout),
            ),
            (
                "'502 Bad Gateway' caused by: dial tcp: lookup shop on 127.0.0.11:53: no such host",
                Some(Cause::Dns),
            ),
            (
                "'502 Bad Gateway' caused by: read tcp 10.0.0.1:5->10.0.0.5:80: read: connection reset by peer",
                Some(Cause::Reset),
            ),
            (
                "'500 Internal Server Error' caused by: tls: failed to verify certificate: x509: certificate signed by unknown authority",
                Some(Cause::Tls),
            ),
            // The client went away: not the upstream's doing.
            (
                "'499 Client Closed Request' caused by: context canceled",
                None,
            ),
            // A client's slow TLS hello, an ACME lookup: hosts that are not upstreams.
            (
                "Error while Peeking first byte: read tcp 10.0.0.1:443->1.2.3.4:5555: i/o timeout",
                None,
            ),
            (
                "Unable to obtain ACME certificate for domains: dial tcp: lookup acme-v02.api.letsencrypt.org: no such host",
                None,
            ),
            (
                "Error while connecting to backend: dial tcp 10.0.0.5:5432: connect: connection refused",
                Some(Cause::Refused),
            ),
            ("no available server", Some(Cause::NoLiveUpstreams)),
        ];
        for (message, cause) in cases {
            let escaped = message.replace('"', "\\\"");
            let line = format!(
                r#"time="2024-09-27T02:33:25Z" level=debug msg="{escaped}" entryPointName=web"#
            );
            assert_eq!(read(&line).1, cause, "{line}");
        }
        let unquoted = r#"time="2024-09-27T02:33:25Z" level=info msg=Starting"#;
        assert_eq!(read(unquoted).0, Some(Format::Traefik));
        assert_eq!(read(unquoted).1, None);
    }

    #[test]
    fn v3_console_lines_name_cause_and_upstream() {
        let line = r#"2024-09-27T02:33:25Z DBG github.com/traefik/traefik/v3/pkg/proxy/httputil/proxy.go:113 > 502 Bad Gateway error="dial tcp 10.0.0.5:80: connect: connection refused""#;
        assert_eq!(
            read(line),
            (
                Some(Format::Traefik),
                Some(Cause::Refused),
                None,
                Some("10.0.0.5:80"),
                Some("2024-09-27T02:33:25Z")
            )
        );
        let eof = "2024-09-27T02:33:25+02:00 DBG proxy.go:113 > 502 Bad Gateway error=EOF";
        assert_eq!(read(eof).1, Some(Cause::PrematureClose));
        let info = "2024-09-27T02:33:25Z INF Traefik version 3.1.4 built on 2024-09-19T13:36:46Z";
        assert_eq!(read(info).0, Some(Format::Traefik));
        assert_eq!(read(info).1, None);
        // Not a level after the stamp: not Traefik's.
        assert_eq!(read("2024-09-27T02:33:25Z XYZ something").0, None);
    }

    #[test]
    fn json_log_lines_of_both_versions() {
        let v2 = r#"{"level":"debug","msg":"'502 Bad Gateway' caused by: dial tcp 10.0.0.5:80: connect: connection refused","time":"2024-09-27T02:33:25Z"}"#;
        assert_eq!(
            read(v2),
            (
                Some(Format::Traefik),
                Some(Cause::Refused),
                None,
                Some("10.0.0.5:80"),
                Some("2024-09-27T02:33:25Z")
            )
        );
        let v3 = r#"{"level":"debug","error":"dial tcp 10.0.0.5:80: i/o timeout","time":"2024-09-27T02:33:25Z","message":"504 Gateway Timeout"}"#;
        assert_eq!(read(v3).1, Some(Cause::Timeout));
        assert_eq!(read(v3).3, Some("10.0.0.5:80"));
        let v3_unix_time =
            r#"{"level":"debug","error":"EOF","time":1727404405,"message":"502 Bad Gateway"}"#;
        assert_eq!(read(v3_unix_time).1, Some(Cause::PrematureClose));
        assert_eq!(read(v3_unix_time).4, Some("1727404405"));
        let info = r#"{"level":"info","msg":"Configuration loaded from flags.","time":"2024-09-27T02:33:25Z"}"#;
        assert_eq!(read(info).0, Some(Format::Traefik));
        assert_eq!(read(info).1, None);
        // Escapes in the message do not hide the cause nor leak into the upstream.
        let escaped = r#"{"level":"debug","msg":"'502 Bad Gateway' caused by: dial tcp 10.0.0.5:80: connect: connection refused \u001b[2J \"x\"","time":"2024-09-27T02:33:25Z"}"#;
        assert_eq!(read(escaped).1, Some(Cause::Refused));
        assert_eq!(read(escaped).3, Some("10.0.0.5:80"));
    }

    #[test]
    fn the_quoted_part_is_the_error() {
        let cases = [
            (
                r#"time="2024-09-27T02:33:25Z" level=debug msg="'502 Bad Gateway' caused by: EOF" x=y"#,
                "'502 Bad Gateway' caused by: EOF",
            ),
            (
                r#"2024-09-27T02:33:25Z DBG p.go:1 > 502 Bad Gateway error="dial tcp 10.0.0.5:80: i/o timeout""#,
                "dial tcp 10.0.0.5:80: i/o timeout",
            ),
            (
                r#"{"level":"debug","error":"EOF","time":"2024-09-27T02:33:25Z","message":"502 Bad Gateway"}"#,
                "EOF",
            ),
            (
                r#"{"level":"debug","msg":"'502 Bad Gateway' caused by: EOF","time":"2024-09-27T02:33:25Z"}"#,
                "'502 Bad Gateway' caused by: EOF",
            ),
        ];
        for (line, quoted) in cases {
            assert_eq!(message(line), Some(quoted), "{line}");
        }
    }

    #[test]
    fn json_access_lines() {
        let line = r#"{"ClientHost":"10.0.0.1","DownstreamStatus":502,"OriginStatus":0,"ServiceURL":"http://10.0.0.5:80","ServiceAddr":"10.0.0.5:80","Duration":3000000,"StartUTC":"2024-09-27T02:33:25.1Z","RouterName":"shop@docker","level":"info","time":"2024-09-27T02:33:25Z"}"#;
        assert_eq!(
            read(line),
            (
                Some(Format::TraefikAccess),
                None,
                Some(502),
                Some("10.0.0.5:80"),
                Some("2024-09-27T02:33:25.1Z")
            )
        );
        let url_only = r#"{"DownstreamStatus":200,"ServiceURL":"http://10.0.0.5:80/x","StartLocal":"2024-09-27T04:33:25+02:00"}"#;
        assert_eq!(read(url_only).3, Some("http://10.0.0.5:80"));
        assert_eq!(read(url_only).4, Some("2024-09-27T04:33:25+02:00"));
        let object_url =
            r#"{"DownstreamStatus":503,"ServiceURL":{"Scheme":"http","Host":"10.0.0.6:80"}}"#;
        assert_eq!(read(object_url).3, Some("10.0.0.6:80"));
        let no_service = r#"{"DownstreamStatus":404,"ServiceAddr":"","RouterName":""}"#;
        assert_eq!(read(no_service).2, Some(404));
        assert_eq!(read(no_service).3, None);
        assert_eq!(read(r#"{"DownstreamStatus":7}"#).2, None);
        assert_eq!(read(r#"{"DownstreamStatus":"x"}"#).2, None);
    }

    #[test]
    fn common_format_lines_name_the_service() {
        let line = r#"127.0.0.1 - - [27/Sep/2024:02:33:25 +0000] "GET /x HTTP/1.1" 502 11 "-" "curl/8" 42 "shop@docker" "http://10.0.0.5:80" 3ms"#;
        assert_eq!(
            read(line),
            (
                Some(Format::Access),
                None,
                Some(502),
                Some("http://10.0.0.5:80"),
                Some("27/Sep/2024:02:33:25 +0000")
            )
        );
        let no_service = r#"127.0.0.1 - - [27/Sep/2024:02:33:25 +0000] "GET /x HTTP/1.1" 404 19 "-" "curl/8" 43 "-" "-" 0ms"#;
        assert_eq!(read(no_service).3, None);
        assert_eq!(
            service_url(r#" 42 "r" "http://a:1/p" 3ms"#),
            Some("http://a:1")
        );
        for tail in [
            r#"x "r" "http://a:1" 3ms"#,
            r#"42 "r" "http://a:1" ms"#,
            r#"42 "r" 3ms"#,
            "42ms",
            "",
        ] {
            assert_eq!(service_url(tail), None, "{tail}");
        }
    }
}
