//! nginx error log lines:
//! `2024/05/01 12:00:00 [error] 1234#1234: *56 connect() failed (111: Connection refused) while
//! connecting to upstream, client: 10.0.0.1, server: shop, request: "GET / HTTP/1.1", upstream:
//! "http://127.0.0.1:8080/", host: "shop.example"`.
//!
//! Before its log files are open (at start, on reload, `nginx -t`), nginx writes to stderr
//! without a stamp: `nginx: [emerg] host not found in upstream "backend:8080" in
//! /etc/nginx/conf.d/app.conf:12`; under systemd that is what the journal holds.

use super::Cause;
use super::text::{self, find, finders, has};

finders! {
    CLIENT = ", client: ";
    SERVER = ", server: ";
    REQUEST = ", request: \"";
    UPSTREAM_FIELD = ", upstream: \"";
    HOST = ", host: \"";
    UPSTREAM = "upstream";
    RESOLVED = "could not be resolved";
    RESOLVING = "while resolving";
    NO_RESOLVER = "no resolver defined";
    SSL_TO_UPSTREAM = "SSL handshaking to upstream";
    SSL_UPSTREAM_CERT = "upstream SSL certificate";
    NO_LIVE = "no live upstreams";
    PREMATURE = "upstream prematurely closed";
    TOO_BIG = "upstream sent too big header";
    INVALID = "upstream sent invalid";
    NO_VALID = "upstream sent no valid";
    DUPLICATE = "upstream sent duplicate header";
    TIMED_OUT = "upstream timed out";
    UNEXPECTED_FCGI = "upstream sent unexpected FastCGI record";
    UNSUPPORTED_FCGI = "upstream sent unsupported FastCGI protocol version";
}

/// The resolver's complaint about an answer that does not match its question (ngx_resolver.c);
/// only at the start of the message, which a file name from a request cannot reach.
const UNEXPECTED_RESPONSE: &str = "unexpected response for ";
/// A name in an `upstream` block or `*_pass` that did not resolve when the config was read
/// (ngx_inet.c via ngx_http_upstream.c); the message starts with it.
const HOST_NOT_FOUND: &str = "host not found in upstream \"";
/// System calls on files whose failures quote a path from the request.
const FILE_CALLS: [&str; 3] = ["open() \"", "stat() \"", "realpath() \""];
/// What nginx puts before a stderr line.
const STDERR_PREFIX: &str = "nginx: [";

/// The length of `2024/05/01 12:00:00`.
pub const TIME_LEN: usize = 19;

/// A parsed error line; fields borrow from the line. Absent fields are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxError<'a> {
    pub time: &'a str,
    pub level: &'a str,
    pub pid: Option<u32>,
    /// The `*56` connection number, when the message is about a connection.
    pub connection: Option<u64>,
    pub message: &'a str,
    pub client: Option<&'a str>,
    pub server: Option<&'a str>,
    pub request: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub host: Option<&'a str>,
}

/// Whether the line starts like an nginx error line (`YYYY/MM/DD HH:MM:SS [`).
pub fn looks_like(line: &str) -> bool {
    looks_like_bytes(line.as_bytes())
}

#[inline]
pub fn looks_like_bytes(b: &[u8]) -> bool {
    b.len() > TIME_LEN + 1 && starts_with_stamp(b) && b[19] == b' ' && b[20] == b'['
}

/// Whether `b` starts with nginx's `YYYY/MM/DD HH:MM:SS` (Go's log writes the same, and Caddy's
/// console form).
#[inline]
pub fn starts_with_stamp(b: &[u8]) -> bool {
    b.len() >= TIME_LEN
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
}

/// Whether the line is nginx's stderr form, `nginx: [level] message` (no stamp of its own).
pub fn looks_like_stderr(line: &str) -> bool {
    line.strip_prefix(STDERR_PREFIX).is_some_and(|rest| {
        let level = rest
            .bytes()
            .take(7)
            .take_while(u8::is_ascii_lowercase)
            .count();
        level > 0 && rest.as_bytes().get(level) == Some(&b']')
    })
}

/// Splits an error line into its fields; `None` when it is not one. A line in the stderr form
/// has an empty `time`.
pub fn parse(line: &str) -> Option<NginxError<'_>> {
    let head = head(line)?;
    let mut parsed = NginxError {
        time: head.time,
        level: head.level,
        pid: head.pid,
        connection: head.connection,
        message: head.message,
        client: None,
        server: None,
        request: None,
        upstream: None,
        host: None,
    };
    let Some(fields) = head.fields else {
        return Some(parsed);
    };
    parsed.client = Some(plain_field(fields, CLIENT.needle().len()));
    parsed.server = find(fields, &SERVER).map(|i| plain_field(&fields[i..], SERVER.needle().len()));
    let tail = request_and_upstream(fields);
    (parsed.request, parsed.upstream) = (tail.request, tail.upstream);
    parsed.host = find(&fields[tail.after_upstream..], &HOST)
        .map(|i| text::quoted_from(fields, tail.after_upstream + i + HOST.needle().len()));
    Some(parsed)
}

/// What comes before an error line's fields; `fields` is the rest from `, client: `.
struct Head<'a> {
    time: &'a str,
    level: &'a str,
    pid: Option<u32>,
    connection: Option<u64>,
    message: &'a str,
    fields: Option<&'a str>,
}

fn head(line: &str) -> Option<Head<'_>> {
    let (time, level_from) = if looks_like(line) {
        (&line[..TIME_LEN], TIME_LEN + 2)
    } else if looks_like_stderr(line) {
        ("", STDERR_PREFIX.len())
    } else {
        return None;
    };
    let level_end = level_from + memchr::memchr(b']', &line.as_bytes()[level_from..])?;
    let level = &line[level_from..level_end];
    let rest = line[level_end + 1..].trim_start();
    // `1234#1234: ` (pid#tid), absent on a few startup messages.
    let (pid, after_pid) = match split_at_colon_space(rest) {
        Some((ids, after)) if ids.as_bytes().contains(&b'#') && !ids.as_bytes().contains(&b' ') => {
            (ids.split('#').next().and_then(|p| p.parse().ok()), after)
        }
        _ => (None, rest),
    };
    let (connection, message_and_fields) = match after_pid.strip_prefix('*') {
        Some(after_star) => match memchr::memchr(b' ', after_star.as_bytes()) {
            Some(space)
                if after_star.as_bytes()[..space]
                    .iter()
                    .all(u8::is_ascii_digit) =>
            {
                (after_star[..space].parse().ok(), &after_star[space + 1..])
            }
            _ => (None, after_pid),
        },
        None => (None, after_pid),
    };
    let msg_from = line.len() - message_and_fields.len();
    let fields_from = find(message_and_fields, &CLIENT).map(|i| msg_from + i);
    Some(Head {
        time,
        level,
        pid,
        connection,
        message: &line[msg_from..fields_from.unwrap_or(line.len())],
        fields: fields_from.map(|i| &line[i..]),
    })
}

/// `str::split_once(": ")` with memchr's search for the colon.
fn split_at_colon_space(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    memchr::memchr_iter(b':', b)
        .find(|&i| b.get(i + 1) == Some(&b' '))
        .map(|i| (&s[..i], &s[i + 2..]))
}

/// The request and upstream fields, and where the search for the host begins.
struct Tail<'a> {
    request: Option<&'a str>,
    upstream: Option<&'a str>,
    after_upstream: usize,
}

fn request_and_upstream(fields: &str) -> Tail<'_> {
    let request_at = find(fields, &REQUEST);
    let request = request_at.map(|i| text::quoted_from(fields, i + REQUEST.needle().len()));
    // Search after the request: the request line comes from the client and could mimic a field.
    let after_request = match (request_at, request) {
        (Some(i), Some(request)) => i + REQUEST.needle().len() + request.len(),
        _ => 0,
    };
    let upstream_at = find(&fields[after_request..], &UPSTREAM_FIELD).map(|i| after_request + i);
    Tail {
        request,
        upstream: upstream_at.map(|i| text::quoted_from(fields, i + UPSTREAM_FIELD.needle().len())),
        after_upstream: upstream_at.unwrap_or(after_request),
    }
}

fn plain_field(from_key: &str, key_len: usize) -> &str {
    let value = &from_key[key_len..];
    value.split(", ").next().unwrap_or(value)
}

/// The cause of an upstream failure line, and the upstream it names. Only the message is
/// looked at: the fields after it (request, host, referrer) come from the client and could
/// otherwise fake a cause.
#[cfg(test)]
pub fn classify(line: &str) -> (Option<Cause>, Option<&str>) {
    classify_with(line, None)
}

/// The last message read for its cause. A flood repeats one message (`connect() failed (111:
/// Connection refused) while connecting to upstream`) on every line, and reading a message costs
/// a score of substring searches; comparing it with the last one costs one.
#[derive(Clone, Debug, Default)]
pub struct Memo {
    message: Option<String>,
    cause: Option<Cause>,
}

impl Memo {
    fn cause_of(&mut self, message: &str) -> Option<Cause> {
        if self.message.as_deref() == Some(message) {
            return self.cause;
        }
        self.cause = classify_message(message);
        let kept = self.message.get_or_insert_with(String::new);
        kept.clear();
        kept.push_str(message);
        self.cause
    }
}

/// [`classify`], remembering the last message's cause in `memo`: the same answer, cheaper for a
/// run of lines with one message. Fields are read only from a line with a cause.
pub fn classify_with<'a>(
    line: &'a str,
    memo: Option<&mut Memo>,
) -> (Option<Cause>, Option<&'a str>) {
    let Some(head) = head(line) else {
        return (None, None);
    };
    if !matches!(head.level, "error" | "crit" | "alert" | "emerg") {
        return (None, None);
    }
    let cause = match memo {
        Some(memo) => memo.cause_of(head.message),
        None => classify_message(head.message),
    };
    if cause.is_none() {
        return (None, None);
    }
    let upstream = head
        .fields
        .and_then(|fields| request_and_upstream(fields).upstream)
        .map(text::upstream_server)
        .or_else(|| unresolved_upstream(head.message));
    (cause, upstream)
}

/// The server named by `host not found in upstream "backend:8080" in FILE:LINE`. The quoted
/// name comes from the config, and ends at the first `"` (nginx checks the name has none).
fn unresolved_upstream(msg: &str) -> Option<&str> {
    let name = msg.strip_prefix(HOST_NOT_FOUND)?.split('"').next()?;
    (!name.is_empty()).then_some(name)
}

fn classify_message(msg: &str) -> Option<Cause> {
    if has(msg, &RESOLVED)
        || has(msg, &RESOLVING)
        || has(msg, &NO_RESOLVER)
        || msg.starts_with(HOST_NOT_FOUND)
        || msg.starts_with(UNEXPECTED_RESPONSE)
    {
        return Some(Cause::Dns);
    }
    let about_upstream = has(msg, &UPSTREAM);
    let errno = text::errno(msg);
    if errno == Some(24) {
        // Out of descriptors hurts upstream connections whatever the message was about.
        return Some(Cause::FdLimit);
    }
    // A file nginx could not open names a path built from the request (`open()
    // "/srv/www/upstream" failed (2: ...)`): a 404, whatever words the client put in it.
    if !about_upstream || FILE_CALLS.iter().any(|call| msg.starts_with(call)) {
        return None;
    }
    if has(msg, &SSL_TO_UPSTREAM) || has(msg, &SSL_UPSTREAM_CERT) {
        return Some(Cause::Tls);
    }
    if has(msg, &NO_LIVE) {
        return Some(Cause::NoLiveUpstreams);
    }
    if has(msg, &PREMATURE) {
        return Some(Cause::PrematureClose);
    }
    if has(msg, &TOO_BIG) {
        return Some(Cause::TooBigHeader);
    }
    if has(msg, &INVALID)
        || has(msg, &NO_VALID)
        || has(msg, &DUPLICATE)
        || has(msg, &UNEXPECTED_FCGI)
        || has(msg, &UNSUPPORTED_FCGI)
    {
        return Some(Cause::InvalidHeader);
    }
    if has(msg, &TIMED_OUT) {
        return Some(Cause::Timeout);
    }
    errno.and_then(Cause::from_errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = r#"2024/05/01 12:00:00 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: shop, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "shop.example""#;

    #[test]
    fn parses_every_field() {
        let e = parse(REFUSED).expect("an error line");
        assert_eq!(e.time, "2024/05/01 12:00:00");
        assert_eq!(e.level, "error");
        assert_eq!(e.pid, Some(1234));
        assert_eq!(e.connection, Some(56));
        assert_eq!(
            e.message,
            "connect() failed (111: Connection refused) while connecting to upstream"
        );
        assert_eq!(e.client, Some("10.0.0.1"));
        assert_eq!(e.server, Some("shop"));
        assert_eq!(e.request, Some("GET / HTTP/1.1"));
        assert_eq!(e.upstream, Some("http://127.0.0.1:8080/"));
        assert_eq!(e.host, Some("shop.example"));
        assert_eq!(
            classify(REFUSED),
            (Some(Cause::Refused), Some("http://127.0.0.1:8080"))
        );
    }

    #[test]
    fn lines_without_fields_or_connection() {
        let e = parse("2024/05/01 12:00:00 [notice] 1#1: signal process started").unwrap();
        assert_eq!(e.connection, None);
        assert_eq!(e.message, "signal process started");
        assert_eq!(e.client, None);
        let e = parse("2024/05/01 12:00:00 [emerg] bind() to 0.0.0.0:80 failed").unwrap();
        assert_eq!(e.pid, None);
        assert_eq!(e.message, "bind() to 0.0.0.0:80 failed");
        assert!(parse("not a log line").is_none());
        assert!(parse("2024/05/01 12:00:00").is_none());
    }

    #[test]
    fn a_request_cannot_fake_a_cause_or_an_upstream() {
        let line = r#"2024/05/01 12:00:00 [error] 1#1: *5 open() "/srv/x" failed (2: No such file or directory), client: 10.0.0.1, server: shop, request: "GET /upstream%20timed%20out, upstream: "http://evil/" HTTP/1.1", host: "shop""#;
        assert_eq!(classify(line), (None, None));
    }

    /// The families of issue 14, one line each as nginx writes them (messages from
    /// ngx_http_upstream.c, ngx_http_fastcgi_module.c and ngx_resolver.c).
    #[test]
    fn families_named_by_their_message() {
        let cases = [
            (
                r#"2024/09/27 02:33:25 [emerg] 1#1: host not found in upstream "backend:8080" in /etc/nginx/conf.d/app.conf:12"#,
                Cause::Dns,
                Some("backend:8080"),
            ),
            (
                r#"nginx: [emerg] host not found in upstream "backend:8080" in /etc/nginx/conf.d/app.conf:12"#,
                Cause::Dns,
                Some("backend:8080"),
            ),
            (
                r#"2024/09/27 02:33:25 [error] 9#9: *41 upstream sent unexpected FastCGI record: 3 while reading response header from upstream, client: 10.0.0.1, server: app, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php-fpm.sock:", host: "app""#,
                Cause::InvalidHeader,
                Some("fastcgi://unix:/run/php/php-fpm.sock"),
            ),
            (
                r#"2024/09/27 02:33:25 [error] 9#9: *42 upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream, client: 10.0.0.1, server: app, request: "GET / HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "app""#,
                Cause::InvalidHeader,
                Some("fastcgi://127.0.0.1:9000"),
            ),
            (
                "2024/09/27 02:33:25 [error] 9#9: unexpected response for api.internal",
                Cause::Dns,
                None,
            ),
            (
                r#"2024/09/27 02:33:25 [error] 9#9: *43 api.internal could not be resolved (3: Host not found), client: 10.0.0.1, server: app, request: "GET / HTTP/1.1", host: "app""#,
                Cause::Dns,
                None,
            ),
        ];
        for (line, cause, upstream) in cases {
            assert_eq!(classify(line), (Some(cause), upstream), "{line}");
        }
    }

    #[test]
    fn the_stderr_form_parses_without_a_stamp() {
        let e = parse(r#"nginx: [emerg] host not found in upstream "b" in /x.conf:3"#).unwrap();
        assert_eq!((e.time, e.level, e.pid), ("", "emerg", None));
        assert_eq!(e.message, r#"host not found in upstream "b" in /x.conf:3"#);
        let warn = "nginx: [warn] the \"user\" directive makes sense only if the master process runs with super-user privileges";
        assert_eq!(classify(warn), (None, None));
        for not in [
            "nginx: [] x",
            "nginx: [EMERG] x",
            "nginx: [emerg x",
            "nginx: emerg",
        ] {
            assert!(!looks_like_stderr(not), "{not}");
        }
    }

    #[test]
    fn a_file_name_cannot_fake_a_resolver_complaint() {
        let line = r#"2024/09/27 02:33:25 [error] 9#9: *7 open() "/srv/www/unexpected response for x" failed (2: No such file or directory), client: 10.0.0.1, server: app, request: "GET /unexpected%20response%20for%20x HTTP/1.1", host: "app""#;
        assert_eq!(classify(line), (None, None));
        let line = r#"2024/09/27 02:33:25 [error] 9#9: *7 open() "/srv/www/host not found in upstream "x" in upstream" failed (2: No such file or directory), client: 10.0.0.1, server: app, request: "GET / HTTP/1.1", host: "app""#;
        assert_eq!(classify(line), (None, None));
        // A 404 for a path that says "upstream" is not a missing upstream socket.
        let line = r#"2024/09/27 02:33:25 [error] 9#9: *8 open() "/usr/share/nginx/html/upstream" failed (2: No such file or directory), client: 10.0.0.1, server: app, request: "GET /upstream HTTP/1.1", host: "app""#;
        assert_eq!(classify(line), (None, None));
    }

    #[test]
    fn info_level_client_trouble_is_not_an_upstream_cause() {
        let line = r#"2024/05/01 12:00:00 [info] 1#1: *5 recv() failed (104: Connection reset by peer) while sending to client, client: 10.0.0.1, server: shop, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "shop""#;
        assert_eq!(classify(line), (None, None));
        let client_tls = "2024/05/01 12:00:00 [crit] 1#1: *5 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 10.0.0.1, server: 0.0.0.0:443";
        assert_eq!(classify(client_tls), (None, None));
    }
}
