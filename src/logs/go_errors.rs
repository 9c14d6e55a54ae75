//! Go's network error texts, as proxies written in Go (Traefik, Caddy) log them:
//! `dial tcp 10.0.0.5:80: connect: connection refused`, `read tcp 10.0.0.1:5555->10.0.0.5:80:
//! read: connection reset by peer`, `EOF`. The texts are Go's own (syscall errno strings, the
//! net and crypto/tls packages), so one table serves every such proxy.

use super::Cause;
use super::text::{finders, has};

finders! {
    NO_SOCKET = "connect: no such file or directory";
    NO_FILE = "no such file or directory";
    DIAL_UNIX = "dial unix";
    REFUSED = "connection refused";
    RESET = "connection reset by peer";
    BROKEN_PIPE = "broken pipe";
    LOOKUP = "lookup ";
    COLON_LOOKUP = ": lookup ";
    NO_HOST = "no such host";
    MISBEHAVING = "server misbehaving";
    IO_TIMEOUT = "i/o timeout";
    DEADLINE = "context deadline exceeded";
    AWAITING_HEADERS = "timeout awaiting response headers";
    TLS = "tls: ";
    X509 = "x509: ";
    NO_ROUTE = "no route to host";
    NET_UNREACHABLE = "network is unreachable";
    CONNECT_PERMISSION = "connect: permission denied";
    PERMISSION = "permission denied";
    DIAL = "dial ";
    NO_ADDRESS = "cannot assign requested address";
    FD_LIMIT = "too many open files";
    AGAIN = "resource temporarily unavailable";
    HEADERS_EXCEEDED = "response headers exceeded";
    MALFORMED = "malformed HTTP";
    INVALID_HEADER = "invalid header";
    MALFORMED_MIME = "malformed MIME header";
    IDLE_CLOSED = "server closed idle connection";
    NO_AVAILABLE = "no available server";
    NO_SERVERS = "no servers available";
    NO_UPSTREAMS = "no upstreams available";
    UNEXPECTED_EOF = "unexpected EOF";
    INNER_EOF = ": EOF ";
}

/// Whose reading of the texts: Traefik's and Caddy's agree on most rules, not on all (see
/// [`RULES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Traefik,
    Caddy,
}

/// One text (or a few) and the cause it names; `only` a rule one reader alone applies.
struct Rule {
    only: Option<Reader>,
    found: fn(&str) -> bool,
    cause: Cause,
}

const fn both(found: fn(&str) -> bool, cause: Cause) -> Rule {
    Rule {
        only: None,
        found,
        cause,
    }
}

const fn only(reader: Reader, found: fn(&str) -> bool, cause: Cause) -> Rule {
    Rule {
        only: Some(reader),
        found,
        cause,
    }
}

use Reader::{Caddy, Traefik};

/// Every Go error text either reader knows, tried in order; the first that is found names the
/// cause. Where the readers differ a rule is one reader's alone: the differences are in which
/// rule comes first when a text holds two (Caddy puts a lookup, its own `no upstreams available`
/// and `too many open files` first), in how narrowly a rule reads (a missing socket or a denied
/// permission; a lookup; the forms of EOF) and in texts only one of them knows.
const RULES: &[Rule] = &[
    // A name lookup that fails or times out is DNS, whatever its last words are.
    only(
        Caddy,
        |e| has(e, &NO_HOST) || has(e, &COLON_LOOKUP) || has(e, &MISBEHAVING),
        Cause::Dns,
    ),
    only(Caddy, |e| has(e, &NO_UPSTREAMS), Cause::NoLiveUpstreams),
    only(Caddy, |e| has(e, &FD_LIMIT), Cause::FdLimit),
    only(Traefik, |e| has(e, &NO_SOCKET), Cause::NoSocket),
    both(|e| has(e, &REFUSED), Cause::Refused),
    both(|e| has(e, &RESET) || has(e, &BROKEN_PIPE), Cause::Reset),
    // A name lookup that timed out is `dns`, not `timeout`: the name is what failed.
    only(
        Traefik,
        |e| has(e, &NO_HOST) || has(e, &MISBEHAVING) || (has(e, &LOOKUP) && is_lookup(e)),
        Cause::Dns,
    ),
    both(
        |e| has(e, &IO_TIMEOUT) || has(e, &DEADLINE) || has(e, &AWAITING_HEADERS),
        Cause::Timeout,
    ),
    both(|e| has(e, &TLS) || has(e, &X509), Cause::Tls),
    only(
        Caddy,
        |e| has(e, &NO_FILE) && has(e, &DIAL_UNIX),
        Cause::NoSocket,
    ),
    only(
        Caddy,
        |e| has(e, &PERMISSION) && has(e, &DIAL),
        Cause::Permission,
    ),
    both(
        |e| has(e, &NO_ROUTE) || has(e, &NET_UNREACHABLE),
        Cause::Unreachable,
    ),
    only(Traefik, |e| has(e, &CONNECT_PERMISSION), Cause::Permission),
    both(|e| has(e, &NO_ADDRESS), Cause::NoAddress),
    only(Traefik, |e| has(e, &FD_LIMIT), Cause::FdLimit),
    both(|e| has(e, &AGAIN), Cause::Unavailable),
    only(Caddy, |e| has(e, &HEADERS_EXCEEDED), Cause::TooBigHeader),
    both(|e| has(e, &MALFORMED), Cause::InvalidHeader),
    only(
        Caddy,
        |e| has(e, &INVALID_HEADER) || has(e, &MALFORMED_MIME),
        Cause::InvalidHeader,
    ),
    only(Traefik, none_left, Cause::NoLiveUpstreams),
    // The upstream closed the connection before (all of) its answer.
    only(
        Caddy,
        |e| e == "EOF" || e.ends_with(": EOF") || has(e, &UNEXPECTED_EOF) || has(e, &INNER_EOF),
        Cause::PrematureClose,
    ),
    only(
        Traefik,
        |e| is_eof(e) || has(e, &IDLE_CLOSED),
        Cause::PrematureClose,
    ),
];

/// The cause a Go error text names, when it is about reaching an upstream, as `reader` reads it.
/// Traefik's text is read trimmed, Caddy's as it is.
pub fn cause(reader: Reader, error: &str) -> Option<Cause> {
    let error = match reader {
        Traefik => error.trim(),
        Caddy => error,
    };
    RULES
        .iter()
        .find(|rule| rule.only.is_none_or(|only| only == reader) && (rule.found)(error))
        .map(|rule| rule.cause)
}

/// Traefik's load balancer's own words: it had no server to forward to.
pub fn none_left(text: &str) -> bool {
    has(text, &NO_AVAILABLE) || has(text, &NO_SERVERS)
}

/// `dial tcp: lookup shop on 127.0.0.11:53: ...`: a resolver failure, whatever followed.
fn is_lookup(error: &str) -> bool {
    error.starts_with("lookup ") || error.contains(": lookup ")
}

/// `EOF` alone, or as the last part of a wrapped error (`...: EOF`, `unexpected EOF`).
fn is_eof(error: &str) -> bool {
    error == "EOF" || error.ends_with(": EOF") || error.ends_with("unexpected EOF")
}

/// The upstream address an error names: `dial tcp 10.0.0.5:80: ...` or the remote end of
/// `read tcp 10.0.0.1:5555->10.0.0.5:80: ...`.
pub fn peer(error: &str) -> Option<&str> {
    let from = if let Some(arrow) = error.find("->") {
        arrow + 2
    } else {
        let dial = error.find("dial tcp")?;
        let after = &error[dial + "dial tcp".len()..];
        // `dial tcp4 `, `dial tcp6 `, `dial tcp `; `dial tcp: lookup` names no address.
        let skip = after.find(' ').filter(|&at| at <= 1)?;
        dial + "dial tcp".len() + skip + 1
    };
    let rest = &error[from..];
    let addr = &rest[..rest.find(": ").unwrap_or(rest.len())];
    plausible(addr).then_some(addr)
}

/// `10.0.0.5:80`, `[::1]:80`, `shop.internal:8080`: a host and a port, nothing else.
fn plausible(addr: &str) -> bool {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host.len() <= 255
        && port.parse::<u16>().is_ok()
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_go_error_names_its_cause() {
        let cases = [
            (
                "dial tcp 10.0.0.5:80: connect: connection refused",
                Cause::Refused,
            ),
            (
                "dial unix /run/app.sock: connect: no such file or directory",
                Cause::NoSocket,
            ),
            (
                "read tcp 10.0.0.1:5->10.0.0.5:80: read: connection reset by peer",
                Cause::Reset,
            ),
            (
                "write tcp 10.0.0.1:5->10.0.0.5:80: write: broken pipe",
                Cause::Reset,
            ),
            ("dial tcp 10.0.0.5:80: i/o timeout", Cause::Timeout),
            ("context deadline exceeded", Cause::Timeout),
            (
                "net/http: timeout awaiting response headers",
                Cause::Timeout,
            ),
            (
                "dial tcp: lookup shop on 127.0.0.11:53: no such host",
                Cause::Dns,
            ),
            (
                "dial tcp: lookup shop on 127.0.0.11:53: read udp 1.2.3.4:5->127.0.0.11:53: i/o timeout",
                Cause::Dns,
            ),
            (
                "dial tcp: lookup shop on 127.0.0.11:53: server misbehaving",
                Cause::Dns,
            ),
            (
                "tls: failed to verify certificate: x509: certificate signed by unknown authority",
                Cause::Tls,
            ),
            ("remote error: tls: handshake failure", Cause::Tls),
            (
                "x509: certificate has expired or is not yet valid",
                Cause::Tls,
            ),
            (
                "dial tcp 10.0.0.5:80: connect: no route to host",
                Cause::Unreachable,
            ),
            (
                "dial tcp 10.0.0.5:80: connect: network is unreachable",
                Cause::Unreachable,
            ),
            (
                "dial unix /run/app.sock: connect: permission denied",
                Cause::Permission,
            ),
            (
                "dial tcp 10.0.0.5:80: connect: cannot assign requested address",
                Cause::NoAddress,
            ),
            (
                "dial tcp 10.0.0.5:80: socket: too many open files",
                Cause::FdLimit,
            ),
            (
                "dial unix /run/app.sock: connect: resource temporarily unavailable",
                Cause::Unavailable,
            ),
            (
                "net/http: HTTP/1.x transport connection broken: malformed HTTP response \"x\"",
                Cause::InvalidHeader,
            ),
            ("no available server", Cause::NoLiveUpstreams),
            ("EOF", Cause::PrematureClose),
            ("unexpected EOF", Cause::PrematureClose),
            (
                "readfrom tcp 10.0.0.1:5->10.0.0.5:80: EOF",
                Cause::PrematureClose,
            ),
            ("http: server closed idle connection", Cause::PrematureClose),
        ];
        for (text, cause) in cases {
            assert_eq!(super::cause(Traefik, text), Some(cause), "{text}");
        }
        for text in [
            "context canceled",
            "EOF is not the end",
            "",
            "something else",
        ] {
            assert_eq!(super::cause(Traefik, text), None, "{text}");
        }
    }

    #[test]
    fn the_readers_differ_where_the_table_says() {
        for (text, traefik, caddy) in [
            (
                "dial tcp: lookup shop on 127.0.0.11:53: read udp 1.2.3.4:5->127.0.0.11:53: read: connection refused",
                Some(Cause::Refused),
                Some(Cause::Dns),
            ),
            (
                "lookup shop: i/o timeout",
                Some(Cause::Dns),
                Some(Cause::Timeout),
            ),
            ("no upstreams available", None, Some(Cause::NoLiveUpstreams)),
            ("no available server", Some(Cause::NoLiveUpstreams), None),
            (
                "net/http: server response headers exceeded 1048576 bytes; aborted",
                None,
                Some(Cause::TooBigHeader),
            ),
            (
                "http: server closed idle connection",
                Some(Cause::PrematureClose),
                None,
            ),
            (" EOF", Some(Cause::PrematureClose), None),
            (
                "dial unix /run/app.sock: socket: permission denied",
                None,
                Some(Cause::Permission),
            ),
        ] {
            assert_eq!(cause(Traefik, text), traefik, "Traefik: {text}");
            assert_eq!(cause(Caddy, text), caddy, "Caddy: {text}");
        }
    }

    #[test]
    fn the_peer_is_the_remote_address() {
        assert_eq!(
            peer("dial tcp 10.0.0.5:80: connect: connection refused"),
            Some("10.0.0.5:80")
        );
        assert_eq!(
            peer("dial tcp4 10.0.0.5:80: i/o timeout"),
            Some("10.0.0.5:80")
        );
        assert_eq!(
            peer("read tcp 10.0.0.1:5555->[::1]:8080: read: connection reset by peer"),
            Some("[::1]:8080")
        );
        assert_eq!(
            peer("dial tcp: lookup shop on 127.0.0.11:53: no such host"),
            None
        );
        assert_eq!(peer("dial unix /run/app.sock: connect: refused"), None);
        assert_eq!(peer("dial tcp 10.0.0.5: missing port"), None);
        assert_eq!(peer("dial tcp a b:80: x"), None);
        assert_eq!(peer("EOF"), None);
    }
}
