//! Apache error log lines, mapped onto the same causes as nginx:
//! 2.4: `[Wed May 01 12:00:00.123456 2024] [proxy:error] [pid 1234:tid 5678] (111)Connection
//! refused: AH00957: HTTP: attempt to connect to 127.0.0.1:8080 (127.0.0.1) failed`
//! 2.2: `[Wed May 01 12:00:00 2024] [error] [client 10.0.0.1] (111)Connection refused: proxy:
//! HTTP: attempt to connect to 127.0.0.1:8080 (localhost) failed`
//!
//! mod_proxy logs one failure on two lines: the detailed one with the errno (AH00957 connect,
//! AH01102 status line) and a per-request summary (AH01114 "failed to make connection to
//! backend", AH00898 "Error reading from remote server"). Only the detailed line is counted, so
//! one failed request is one cause, as in nginx.

use super::Cause;
use super::text::{self, find, finders};

finders! {
    REFERER = ", referer: ";
    CLIENT = "[client ";
    AH = "AH";
    PROXY_CONNECT = "proxy: HTTP: attempt to connect to ";
    PROXY_STATUS_LINE = "error reading status line from remote server";
    PROXY_DNS = "DNS lookup failure for: ";
}

/// APR's own status codes that appear where an errno would.
const APR_TIMEUP: u32 = 70007;
const APR_EOF: u32 = 70014;

/// A parsed Apache error line; fields borrow from the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApacheError<'a> {
    pub time: &'a str,
    /// `proxy_http` in `[proxy_http:error]`; absent in 2.2's `[error]`.
    pub module: Option<&'a str>,
    pub level: &'a str,
    pub pid: Option<u32>,
    pub client: Option<&'a str>,
    /// The OS or APR error (`(111)Connection refused`), when the line carries one.
    pub errno: Option<u32>,
    /// The `AH01102` message number.
    pub code: Option<&'a str>,
    /// Everything after the bracketed prefix, without the trailing `, referer: ...`.
    pub message: &'a str,
}

/// `[Www Mmm dd ` at the start of the line.
pub fn looks_like(line: &str) -> bool {
    looks_like_bytes(line.as_bytes())
}

#[inline]
pub fn looks_like_bytes(b: &[u8]) -> bool {
    b.len() > 26
        && b[0] == b'['
        && b[1].is_ascii_uppercase()
        && b[4] == b' '
        && b[5].is_ascii_uppercase()
        && b[8] == b' '
        && b[9..11].iter().all(|c| c.is_ascii_digit() || *c == b' ')
}

pub fn parse(line: &str) -> Option<ApacheError<'_>> {
    if !looks_like(line) {
        return None;
    }
    let time_end = line.find(']')?;
    let time = &line[1..time_end];
    let rest = line[time_end + 1..].trim_start();
    let level_field = rest.strip_prefix('[')?;
    let level_end = level_field.find(']')?;
    let (module, level) = match level_field[..level_end].split_once(':') {
        Some((module, level)) => (Some(module), level),
        None => (None, &level_field[..level_end]),
    };
    let mut message = level_field[level_end + 1..].trim_start();
    let mut pid = None;
    if let Some(after) = message.strip_prefix("[pid ") {
        let end = after.find(']')?;
        pid = after[..end].split(':').next().and_then(|p| p.parse().ok());
        message = after[end + 1..].trim_start();
    }
    if let Some(at) = find(message, &REFERER) {
        message = &message[..at];
    }
    let client = find(message, &CLIENT).and_then(|at| {
        let after = &message[at + CLIENT.needle().len()..];
        after.find(']').map(|end| &after[..end])
    });
    let code = message_code(message);
    // The errno comes before the message number; the message after it may quote a client URI.
    let errno_part = code.map_or(message, |c| {
        let at = c.as_ptr() as usize - message.as_ptr() as usize;
        &message[..at]
    });
    Some(ApacheError {
        time,
        module,
        level,
        pid,
        client,
        errno: text::errno(errno_part),
        code,
        message,
    })
}

/// The first `AHnnnnn:` in the message.
fn message_code(message: &str) -> Option<&str> {
    let b = message.as_bytes();
    let mut from = 0;
    while let Some(at) = AH.find(&b[from..]).map(|i| from + i) {
        let digits = b.get(at + 2..at + 7)?;
        if digits.iter().all(u8::is_ascii_digit) && b.get(at + 7) == Some(&b':') {
            return Some(&message[at..at + 7]);
        }
        from = at + 2;
    }
    None
}

pub fn classify(line: &str) -> (Option<Cause>, Option<&str>) {
    let Some(e) = parse(line) else {
        return (None, None);
    };
    if !matches!(e.level, "error" | "crit" | "alert" | "emerg") {
        return (None, None);
    }
    let after_code = |code: &str| {
        let at = e.message.find(code).map_or(0, |i| i + code.len() + 1);
        e.message[at..].trim_start()
    };
    let cause = match e.code {
        // Connect failures (TCP, and FastCGI's unix socket): the errno says why.
        Some("AH00957" | "AH02454") => Some(by_errno(e.errno, Cause::Refused)),
        Some("AH01102") => Some(by_errno(e.errno, Cause::PrematureClose)),
        Some("AH01097") => Some(by_errno(e.errno, Cause::Reset)),
        Some("AH00940") => Some(Cause::NoLiveUpstreams),
        Some("AH01067") => Some(Cause::PrematureClose),
        Some("AH01068") => Some(Cause::InvalidHeader),
        Some("AH00898") => {
            let what = after_code("AH00898");
            if what.starts_with("DNS lookup failure") {
                Some(Cause::Dns)
            } else if what.contains("SSL Handshake") {
                Some(Cause::Tls)
            } else if what.starts_with("Timeout") {
                Some(Cause::Timeout)
            } else {
                // "Error reading from remote server": the summary of an AH01102 already counted.
                None
            }
        }
        Some(_) => e.errno.filter(|&n| n == 24).map(|_| Cause::FdLimit),
        // 2.2 has no message numbers.
        None => {
            if find(e.message, &PROXY_CONNECT).is_some() {
                Some(by_errno(e.errno, Cause::Refused))
            } else if find(e.message, &PROXY_STATUS_LINE).is_some() {
                Some(by_errno(e.errno, Cause::PrematureClose))
            } else if find(e.message, &PROXY_DNS).is_some() {
                Some(Cause::Dns)
            } else if is_disabled_22(e.message) {
                Some(Cause::NoLiveUpstreams)
            } else {
                e.errno.filter(|&n| n == 24).map(|_| Cause::FdLimit)
            }
        }
    };
    (cause, cause.and_then(|_| backend(e.message)))
}

/// 2.2's `proxy: HTTP: disabled connection for (HOST)`: the worker is in its retry period after
/// a failure, so requests fail without a connection attempt (2.4 numbers it AH00940). Anchored at
/// the start of the message (after an optional `[client ...]`), which a request cannot reach.
fn is_disabled_22(message: &str) -> bool {
    let message = match message.strip_prefix("[client ") {
        Some(after) => after.split_once("] ").map_or("", |(_, rest)| rest),
        None => message,
    };
    message
        .strip_prefix("proxy: ")
        .and_then(|rest| rest.split_once(": "))
        .is_some_and(|(scheme, rest)| {
            scheme.len() <= 10
                && scheme.bytes().all(|c| c.is_ascii_alphanumeric())
                && rest.starts_with("disabled connection for (")
        })
}

fn by_errno(errno: Option<u32>, otherwise: Cause) -> Cause {
    match errno {
        Some(APR_TIMEUP) => Cause::Timeout,
        Some(APR_EOF) => Cause::PrematureClose,
        Some(n) => Cause::from_errno(n).unwrap_or(otherwise),
        None => otherwise,
    }
}

/// The backend a proxy message names: `connect to 127.0.0.1:8080 (`, `remote server host:port`,
/// `failed to 10.0.0.1:80 (`, `Unix domain socket /run/php.sock (`, `disabled connection for (x)`.
fn backend(message: &str) -> Option<&str> {
    // The socket anchor first: FCGI's message also says "attempt to connect to Unix domain ...".
    const ANCHORS: [&str; 6] = [
        "Unix domain socket ",
        "attempt to connect to ",
        "remote server ",
        "pass request body failed to ",
        "disabled connection for ",
        "DNS lookup failure for: ",
    ];
    ANCHORS.iter().find_map(|anchor| {
        let at = message.find(anchor)? + anchor.len();
        let token = message[at..].split(' ').next()?;
        let token = token.trim_matches(|c| c == '(' || c == ')' || c == ',');
        // "remote server returned by /uri" names no server.
        (!token.is_empty() && token != "returned").then_some(token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_24_line() {
        let line = "[Wed May 01 12:00:00.123456 2024] [proxy_http:error] [pid 1234:tid 5678] (104)Connection reset by peer: [client 10.0.0.1:55555] AH01102: error reading status line from remote server 127.0.0.1:8080, referer: http://x/(111)";
        let e = parse(line).expect("apache line");
        assert_eq!(e.time, "Wed May 01 12:00:00.123456 2024");
        assert_eq!(e.module, Some("proxy_http"));
        assert_eq!(e.level, "error");
        assert_eq!(e.pid, Some(1234));
        assert_eq!(e.client, Some("10.0.0.1:55555"));
        assert_eq!(e.errno, Some(104));
        assert_eq!(e.code, Some("AH01102"));
        assert!(e.message.ends_with("127.0.0.1:8080"));
        assert_eq!(classify(line), (Some(Cause::Reset), Some("127.0.0.1:8080")));
    }

    #[test]
    fn summaries_are_not_counted_twice() {
        let line = "[Wed May 01 12:00:00.123456 2024] [proxy_http:error] [pid 1:tid 2] [client 10.0.0.1:5] AH01114: HTTP: failed to make connection to backend: 127.0.0.1";
        assert_eq!(classify(line), (None, None));
        let line = "[Wed May 01 12:00:00.123456 2024] [proxy:error] [pid 1:tid 2] [client 10.0.0.1:5] AH00898: Error reading from remote server returned by /";
        assert_eq!(classify(line), (None, None));
    }

    #[test]
    fn a_22_disabled_worker_is_no_live_upstream() {
        for line in [
            "[Fri Sep 27 02:33:25 2024] [error] proxy: HTTP: disabled connection for (10.0.0.7)",
            "[Fri Sep 27 02:33:25 2024] [error] [client 10.0.0.1] proxy: AJP: disabled connection for (10.0.0.7)",
        ] {
            assert_eq!(
                classify(line),
                (Some(Cause::NoLiveUpstreams), Some("10.0.0.7")),
                "{line}"
            );
        }
        // The same words in a file name from a request are no failure.
        let line = "[Fri Sep 27 02:33:25 2024] [error] [client 10.0.0.1] File does not exist: /srv/proxy: HTTP: disabled connection for (x)";
        assert_eq!(classify(line), (None, None));
    }

    #[test]
    fn warnings_and_other_lines_are_not_causes() {
        let line = "[Wed May 01 12:00:00.123456 2024] [mpm_event:notice] [pid 1:tid 2] AH00489: Apache/2.4.58 configured -- resuming normal operations";
        assert_eq!(classify(line), (None, None));
        assert!(parse("[not apache").is_none());
    }
}
