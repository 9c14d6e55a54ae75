//! Go's network error texts, as proxies written in Go (Traefik, Caddy) log them:
//! `dial tcp 10.0.0.5:80: connect: connection refused`, `read tcp 10.0.0.1:5555->10.0.0.5:80:
//! read: connection reset by peer`, `EOF`. The texts are Go's own (syscall errno strings, the
//! net and crypto/tls packages), so one table serves every such proxy.

use super::Cause;
use super::text::{finders, has};

finders! {
    NO_SOCKET = "connect: no such file or directory";
    REFUSED = "connection refused";
    RESET = "connection reset by peer";
    BROKEN_PIPE = "broken pipe";
    LOOKUP = "lookup ";
    NO_HOST = "no such host";
    MISBEHAVING = "server misbehaving";
    IO_TIMEOUT = "i/o timeout";
    DEADLINE = "context deadline exceeded";
    AWAITING_HEADERS = "timeout awaiting response headers";
    TLS = "tls: ";
    X509 = "x509: ";
    NO_ROUTE = "no route to host";
    NET_UNREACHABLE = "network is unreachable";
    PERMISSION = "connect: permission denied";
    NO_ADDRESS = "cannot assign requested address";
    FD_LIMIT = "too many open files";
    AGAIN = "resource temporarily unavailable";
    MALFORMED = "malformed HTTP";
    IDLE_CLOSED = "server closed idle connection";
    NO_AVAILABLE = "no available server";
    NO_SERVERS = "no servers available";
}

/// The cause a Go error text names, when it is about reaching an upstream. A name lookup that
/// timed out is `dns`, not `timeout`: the name is what failed.
pub fn cause(error: &str) -> Option<Cause> {
    let error = error.trim();
    let found = |f| has(error, f);
    Some(if found(&NO_SOCKET) {
        Cause::NoSocket
    } else if found(&REFUSED) {
        Cause::Refused
    } else if found(&RESET) || found(&BROKEN_PIPE) {
        Cause::Reset
    } else if found(&NO_HOST) || found(&MISBEHAVING) || (found(&LOOKUP) && is_lookup(error)) {
        Cause::Dns
    } else if found(&IO_TIMEOUT) || found(&DEADLINE) || found(&AWAITING_HEADERS) {
        Cause::Timeout
    } else if found(&TLS) || found(&X509) {
        Cause::Tls
    } else if found(&NO_ROUTE) || found(&NET_UNREACHABLE) {
        Cause::Unreachable
    } else if found(&PERMISSION) {
        Cause::Permission
    } else if found(&NO_ADDRESS) {
        Cause::NoAddress
    } else if found(&FD_LIMIT) {
        Cause::FdLimit
    } else if found(&AGAIN) {
        Cause::Unavailable
    } else if found(&MALFORMED) {
        Cause::InvalidHeader
    } else if found(&NO_AVAILABLE) || found(&NO_SERVERS) {
        Cause::NoLiveUpstreams
    } else if is_eof(error) || found(&IDLE_CLOSED) {
        // The upstream closed the connection before (all of) its answer.
        Cause::PrematureClose
    } else {
        return None;
    })
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
            assert_eq!(super::cause(text), Some(cause), "{text}");
        }
        for text in [
            "context canceled",
            "EOF is not the end",
            "",
            "something else",
        ] {
            assert_eq!(super::cause(text), None, "{text}");
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
