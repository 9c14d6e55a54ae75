//! HAProxy traffic logs (HTTP and TCP log formats), with or without the syslog prefix:
//!
//! `haproxy[1234]: 10.0.0.1:56789 [01/May/2024:12:00:00.123] fe be/srv1 0/0/-1/-1/3002 503 212 - - SC-- 1/1/0/0/3 0/0 "GET / HTTP/1.1"`
//!
//! The cause comes from the first two letters of the termination state (see "Session state at
//! disconnection" in HAProxy's configuration manual).

use super::Cause;
use super::access::find_date;
use super::text::{finders, has};

finders! {
    NO_SERVER = "has no server available";
    NO_FREE_PORTS = "no free ports";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaproxyLine<'a> {
    pub client: Option<&'a str>,
    /// The accept date, `01/May/2024:12:00:00.123`.
    pub time: &'a str,
    pub frontend: &'a str,
    pub backend: &'a str,
    /// `<NOSRV>` when no server could be picked.
    pub server: &'a str,
    pub timers: &'a str,
    /// HTTP status; `None` in the TCP format or when the status is `-1`.
    pub status: Option<u16>,
    pub bytes: Option<u64>,
    /// Termination state: `SC--` (HTTP) or `SC` (TCP).
    pub termination: &'a str,
    pub request: Option<&'a str>,
}

pub fn parse(line: &str) -> Option<HaproxyLine<'_>> {
    let date = find_date(line)?;
    if !date.millis {
        return None;
    }
    let client = line[..date.start - 1].split_ascii_whitespace().last();
    let mut tokens = line[date.end + 1..].split_ascii_whitespace();
    let frontend = tokens.next()?;
    let (backend, server) = tokens.next()?.split_once('/')?;
    let timers = tokens.next()?;
    // HTTP: Tq/Tw/Tc/Tr/Ta status bytes req-cookie res-cookie state; TCP: Tw/Tc/Tt bytes state.
    let http = timers.matches('/').count() >= 4;
    let (status, bytes, termination) = if http {
        let status = tokens.next()?.parse::<u16>().ok();
        let bytes = tokens.next()?.trim_start_matches('+').parse().ok();
        let _request_cookie = tokens.next()?;
        let _response_cookie = tokens.next()?;
        (status, bytes, tokens.next()?)
    } else {
        let bytes = tokens.next()?.trim_start_matches('+').parse().ok();
        (None, bytes, tokens.next()?)
    };
    // `get`: a line ending in ` "` has its last quote open the request and none to close it.
    let request = line
        .rfind(" \"")
        .filter(|_| http && line.ends_with('"'))
        .and_then(|at| line.get(at + 2..line.len() - 1));
    Some(HaproxyLine {
        client,
        time: &line[date.start..date.end],
        frontend,
        backend,
        server,
        timers,
        status,
        bytes,
        termination,
        request,
    })
}

/// Cause and `backend/server` of a traffic line, or the cause of an alert message.
#[cfg(test)]
pub fn classify(line: &str) -> (Option<Cause>, Option<&str>) {
    match parse(line) {
        Some(h) => cause_of(line, &h),
        None => message_cause(line),
    }
}

/// HAProxy's own messages on stderr (a container's log, the journal): `[ALERT]    (8) : backend
/// 'be' has no server available!`, `[WARNING]  (8) : Server be/s1 is DOWN, ...`.
pub fn looks_like_stderr(line: &str) -> bool {
    ["[ALERT] ", "[WARNING] ", "[NOTICE] "]
        .iter()
        .any(|level| line.starts_with(level))
}

/// Alerts that are not traffic lines: `backend be has no server available!`, `Connect() failed
/// for backend be: no free ports.`
pub fn message_cause(line: &str) -> (Option<Cause>, Option<&str>) {
    if has(line, &NO_SERVER) {
        (Some(Cause::NoLiveUpstreams), None)
    } else if has(line, &NO_FREE_PORTS) {
        (Some(Cause::NoAddress), None)
    } else {
        (None, None)
    }
}

/// Cause and `backend/server` of a parsed traffic line; `h` must borrow from `line`.
pub fn cause_of<'a>(line: &'a str, h: &HaproxyLine<'a>) -> (Option<Cause>, Option<&'a str>) {
    let state = h.termination.as_bytes();
    let cause = match (state.first(), state.get(1)) {
        (Some(b'S'), Some(b'C')) if h.server == "<NOSRV>" => Some(Cause::NoLiveUpstreams),
        // "explicitly refused the TCP connection" (RST or ICMP).
        (Some(b'S'), Some(b'C')) => Some(Cause::Refused),
        // "aborted before sending its full HTTP response headers".
        (Some(b'S'), Some(b'H')) => Some(Cause::PrematureClose),
        // "blocked the server's response, because it was invalid".
        (Some(b'P'), Some(b'H')) => Some(Cause::InvalidHeader),
        // "timeout connect" / "timeout server" before the headers.
        (Some(b's'), Some(b'C' | b'H')) => Some(Cause::Timeout),
        // Expired in the queue: every server is at maxconn, like a full socket backlog.
        (Some(b's'), Some(b'Q')) => Some(Cause::Unavailable),
        // "a local resource has been exhausted (memory, sockets, source ports)" while connecting.
        (Some(b'R'), Some(b'C')) => Some(Cause::NoAddress),
        _ => None,
    };
    (cause, cause.and_then(|_| server_field(line, h)))
}

/// `backend/server` as one slice of the line.
pub fn server_field<'a>(line: &'a str, h: &HaproxyLine<'a>) -> Option<&'a str> {
    let start = (h.backend.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    line.get(start..start + h.backend.len() + 1 + h.server.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_quote_at_the_end_is_no_request() {
        let line = r#"1.2.3.4:5 [01/May/2024:12:00:00.123] fe be/s1 0/0/-1/-1/0 503 1 - - SC-- 0/0/0/0/0 0/0 ""#;
        let h = parse(line).expect("haproxy line");
        assert_eq!(h.request, None);
        assert_eq!(h.status, Some(503));
    }

    #[test]
    fn http_line() {
        let line = r#"May  1 12:00:00 lb haproxy[1234]: 10.0.0.1:56789 [01/May/2024:12:00:00.123] fe_http be_app/srv1 0/0/-1/-1/3002 503 212 - - SC-- 1/1/0/0/3 0/0 "GET /x HTTP/1.1""#;
        let h = parse(line).expect("haproxy line");
        assert_eq!(h.client, Some("10.0.0.1:56789"));
        assert_eq!(h.time, "01/May/2024:12:00:00.123");
        assert_eq!(
            (h.frontend, h.backend, h.server),
            ("fe_http", "be_app", "srv1")
        );
        assert_eq!(h.status, Some(503));
        assert_eq!(h.bytes, Some(212));
        assert_eq!(h.termination, "SC--");
        assert_eq!(h.request, Some("GET /x HTTP/1.1"));
        assert_eq!(classify(line), (Some(Cause::Refused), Some("be_app/srv1")));
    }

    #[test]
    fn tcp_line_and_clean_close() {
        let line = "10.0.0.1:5555 [01/May/2024:12:00:00.123] fe_tcp be_tcp/srv1 0/-1/3001 0 sC 1/1/0/0/3 0/0";
        let h = parse(line).unwrap();
        assert_eq!(h.status, None);
        assert_eq!(h.termination, "sC");
        assert_eq!(classify(line).0, Some(Cause::Timeout));
        let ok = r#"10.0.0.1:5 [01/May/2024:12:00:00.123] fe be/s1 0/0/0/1/1 200 5 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#;
        assert_eq!(classify(ok), (None, None));
    }
}
