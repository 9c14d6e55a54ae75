//! Envoy's access log, in its default format or as JSON with the same fields (see "Access
//! logging", its format rules and `%RESPONSE_FLAGS%`, in Envoy's documentation:
//! <https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage>):
//!
//! `[2024-09-27T02:33:25.123Z] "GET /x HTTP/1.1" 503 UF 0 91 2 - "10.0.0.1" "curl/8" "req-id"
//! "shop.example" "10.0.0.5:80"`
//!
//! start time, request, response code, response flags, bytes received and sent, duration,
//! upstream service time, then quoted: X-Forwarded-For, user agent, request id, authority and
//! the upstream host. Istio's format adds fields after the flags and after the upstream host,
//! which stays the last quoted field. Envoy has no error log that says why a request failed: the
//! response flags do, so they are read as the line's cause. It answers 503 for most of them.

use super::classify::Classified;
use super::json::Object;
use super::{Cause, Format};

/// `[2024-09-27T...`: a bracketed RFC 3339 stamp first. A byte compare fails for other lines:
/// this runs before the access format on every line.
#[inline]
pub fn looks_like_bytes(b: &[u8]) -> bool {
    b.len() > 24
        && b[0] == b'['
        && b[5] == b'-'
        && b[8] == b'-'
        && b[11] == b'T'
        && b[1..5].iter().all(u8::is_ascii_digit)
}

pub fn looks_like(line: &str) -> bool {
    looks_like_bytes(line.as_bytes())
}

/// A default-format line. Lenient like the other formats: what is recognised is returned.
pub fn classify_text(line: &str) -> Classified<'_> {
    let mut out = Classified {
        format: Some(Format::Envoy),
        ..Classified::default()
    };
    let Some(close) = line.find(']') else {
        return out;
    };
    out.time = Some(&line[1..close]);
    let Some((status, flags)) = status_and_flags(&line[close + 1..]) else {
        return out;
    };
    out.status = status;
    out.cause = cause_of_flags(flags);
    out.upstream = last_quoted(line).and_then(host);
    out
}

/// The part of a line worth quoting: its response code and flags (`503 UF,URX`), or the flags
/// of a JSON line.
pub fn message(line: &str) -> Option<&str> {
    if let Some(o) = Object::parse(line) {
        return o.raw_str("response_flags");
    }
    let rest = &line[line.find(']')? + 1..];
    let (_, flags) = status_and_flags(rest)?;
    let flags_end = (flags.as_ptr() as usize + flags.len()).checked_sub(line.as_ptr() as usize)?;
    let request_end = line[..flags_end].rfind('"')?;
    Some(line[request_end + 1..flags_end].trim())
}

/// The response code (0, no response, is none) and the flags after the quoted request.
fn status_and_flags(rest: &str) -> Option<(Option<u16>, &str)> {
    let request = rest.trim_start().strip_prefix('"')?;
    // Envoy does not escape the path: the request ends at the quote before ` <digits> `.
    let b = request.as_bytes();
    let end = memchr::memchr_iter(b'"', b).find(|&at| {
        b.get(at + 1) == Some(&b' ') && b.get(at + 2).is_some_and(u8::is_ascii_digit)
    })?;
    let mut tokens = request[end + 1..].split_ascii_whitespace();
    let status = tokens.next()?.parse::<u16>().ok()?;
    let flags = tokens.next()?;
    Some((status_of(u64::from(status)), flags))
}

fn status_of(code: u64) -> Option<u16> {
    u16::try_from(code).ok().filter(|s| (100..=599).contains(s))
}

/// The last `"..."` of the line.
fn last_quoted(line: &str) -> Option<&str> {
    let close = line.rfind('"')?;
    let open = line[..close].rfind('"')?;
    Some(&line[open + 1..close])
}

/// An upstream host: `10.0.0.5:80`, `[::1]:80`; `-` when none was chosen.
fn host(value: &str) -> Option<&str> {
    let ok = value.contains(':')
        && value.len() <= 300
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'/')
        });
    ok.then_some(value)
}

/// A JSON access log configured with the default format's names (`start_time`,
/// `response_code`, `response_flags`, `upstream_host`).
pub fn from_json<'a>(o: &Object<'a>) -> Option<Classified<'a>> {
    if !(o.has("response_flags") || (o.has("response_code") && o.has("start_time"))) {
        return None;
    }
    Some(Classified {
        format: Some(Format::Envoy),
        cause: o.raw_str("response_flags").and_then(cause_of_flags),
        status: o.number("response_code").and_then(status_of),
        upstream: o.plain_str("upstream_host").and_then(host),
        time: o.scalar("start_time"),
        clock: None,
    })
}

/// The cause the response flags (`UF`, `UF,URX`, `-`) name: the first flag that names one.
pub fn cause_of_flags(flags: &str) -> Option<Cause> {
    flags.split(',').find_map(|flag| cause_of_flag(flag.trim()))
}

/// One flag. Those about the client (DC downstream closed, DI, FI fault injection), about
/// routing (NR no route, NC no cluster: a 404 or a config error, not an upstream failing), or
/// about Envoy's own limits (RL, UAEX) name none, nor does URX alone: the retries it counts
/// failed for a reason another flag or the status gives.
fn cause_of_flag(flag: &str) -> Option<Cause> {
    Some(match flag {
        // Upstream connection failure: the connect did not succeed. Refused is the usual
        // reason on a host and its advice (is the process running?) fits; Envoy does not log
        // the errno.
        "UF" => Cause::Refused,
        // No healthy upstream; LH: the host failed Envoy's own health check.
        "UH" | "LH" => Cause::NoLiveUpstreams,
        // Upstream request timeout; UMSDR: the stream's maximum duration.
        "UT" | "UMSDR" => Cause::Timeout,
        // Upstream connection termination: closed before the response.
        "UC" => Cause::PrematureClose,
        // Upstream remote reset.
        "UR" => Cause::Reset,
        // Upstream overflow (circuit breaking): every connection and pending slot taken, like a
        // full backlog or HAProxy's queue.
        "UO" => Cause::Unavailable,
        // Upstream protocol error: an invalid response.
        "UPE" => Cause::InvalidHeader,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::classify;

    const LINE: &str = r#"[2024-09-27T02:33:25.123Z] "GET /x HTTP/1.1" 503 UF 0 91 2 - "10.0.0.1" "curl/8" "req-id" "shop.example" "10.0.0.5:80""#;

    #[test]
    fn the_default_format() {
        let c = classify(LINE, None);
        assert_eq!(c.format, Some(Format::Envoy));
        assert_eq!(c.cause, Some(Cause::Refused));
        assert_eq!(c.status, Some(503));
        assert_eq!(c.upstream, Some("10.0.0.5:80"));
        assert_eq!(c.time, Some("2024-09-27T02:33:25.123Z"));
    }

    #[test]
    fn the_quoted_part_is_status_and_flags() {
        assert_eq!(message(LINE), Some("503 UF"));
        assert_eq!(
            message(&LINE.replace(" UF ", " UF,URX ")),
            Some("503 UF,URX")
        );
        assert_eq!(
            message(r#"{"response_flags":"UH","response_code":503}"#),
            Some("UH")
        );
        assert_eq!(message("[2024-09-27T02:33:25.123Z] nothing"), None);
    }

    #[test]
    fn every_flag() {
        let cases = [
            ("UF", Some(Cause::Refused)),
            ("UF,URX", Some(Cause::Refused)),
            ("URX,UF", Some(Cause::Refused)),
            ("UH", Some(Cause::NoLiveUpstreams)),
            ("LH", Some(Cause::NoLiveUpstreams)),
            ("UT", Some(Cause::Timeout)),
            ("UT,URX", Some(Cause::Timeout)),
            ("UMSDR", Some(Cause::Timeout)),
            ("UC", Some(Cause::PrematureClose)),
            ("UR", Some(Cause::Reset)),
            ("UO", Some(Cause::Unavailable)),
            ("UPE", Some(Cause::InvalidHeader)),
            ("URX", None),
            ("NR", None),
            ("NC", None),
            ("DC", None),
            ("DC,UC", Some(Cause::PrematureClose)),
            ("RL", None),
            ("-", None),
            ("", None),
        ];
        for (flags, cause) in cases {
            assert_eq!(cause_of_flags(flags), cause, "{flags}");
            let line = LINE.replace(" UF ", &format!(" {flags} "));
            if !flags.is_empty() {
                assert_eq!(classify(&line, None).cause, cause, "{line}");
            }
        }
    }

    #[test]
    fn no_host_no_response_and_other_shapes() {
        let uh = r#"[2024-09-27T02:33:25.123Z] "GET /x HTTP/1.1" 503 UH 0 19 0 - "-" "curl/8" "id" "shop" "-""#;
        let c = classify(uh, None);
        assert_eq!(
            (c.cause, c.status, c.upstream),
            (Some(Cause::NoLiveUpstreams), Some(503), None)
        );
        let tcp = r#"[2024-09-27T02:33:25.123Z] "- - -" 0 UF,URX 0 0 1 - "-" "-" "-" "-" "10.0.0.5:5432""#;
        let c = classify(tcp, None);
        assert_eq!(
            (c.cause, c.status, c.upstream),
            (Some(Cause::Refused), None, Some("10.0.0.5:5432"))
        );
        let dc = r#"[2024-09-27T02:33:25.123Z] "POST /up HTTP/1.1" 0 DC 512 0 30000 - "-" "curl/8" "id" "shop" "10.0.0.5:80""#;
        let c = classify(dc, None);
        assert_eq!((c.cause, c.status), (None, None));
        let ok = r#"[2024-09-27T02:33:25.123Z] "GET /"x" HTTP/1.1" 200 - 0 5 1 1 "-" "curl/8" "id" "shop" "10.0.0.5:80""#;
        let c = classify(ok, None);
        assert_eq!(
            (c.cause, c.status, c.upstream),
            (None, Some(200), Some("10.0.0.5:80"))
        );
        let istio = r#"[2024-09-27T02:33:25.123Z] "GET /x HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 2 - "-" "curl/8" "id" "shop" "10.0.0.5:80" outbound|80||shop.ns.svc.cluster.local - 10.96.0.5:80 10.0.0.1:4444 - default"#;
        let c = classify(istio, None);
        assert_eq!(
            (c.cause, c.status, c.upstream),
            (Some(Cause::Refused), Some(503), Some("10.0.0.5:80"))
        );
        for broken in [
            "[2024-09-27T02:33:25.123Z]",
            "[2024-09-27T02:33:25.123Z] \"GET",
            "[2024-09-27T02:33:25.123Z] \"GET /x HTTP/1.1\" abc UF",
        ] {
            let c = classify(broken, None);
            assert_eq!(
                (c.format, c.cause, c.status),
                (Some(Format::Envoy), None, None),
                "{broken}"
            );
        }
    }

    #[test]
    fn json_with_the_same_fields() {
        let line = r#"{"start_time":"2024-09-27T02:33:25.123Z","method":"GET","path":"/x","response_code":503,"response_flags":"UF,URX","upstream_host":"10.0.0.5:80","duration":2}"#;
        let c = classify(line, None);
        assert_eq!(c.format, Some(Format::Envoy));
        assert_eq!(
            (c.cause, c.status, c.upstream, c.time),
            (
                Some(Cause::Refused),
                Some(503),
                Some("10.0.0.5:80"),
                Some("2024-09-27T02:33:25.123Z")
            )
        );
        let strings = r#"{"start_time":"2024-09-27T02:33:25.123Z","response_code":"504","response_flags":"UT","upstream_host":"-"}"#;
        let c = classify(strings, None);
        assert_eq!(
            (c.cause, c.status, c.upstream),
            (Some(Cause::Timeout), Some(504), None)
        );
        let no_flags = r#"{"start_time":"2024-09-27T02:33:25.123Z","response_code":200}"#;
        assert_eq!(classify(no_flags, None).status, Some(200));
        assert_eq!(classify(r#"{"response_code":200}"#, None).format, None);
    }
}
