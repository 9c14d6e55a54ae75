//! One bounded exchange with a proxy's local API (HAProxy's stats socket, Caddy's and Envoy's
//! admin endpoints): connect (loopback or a unix socket only: the address came from a config
//! file, and an API elsewhere could be anyone's), send, read to the end within the deadline and
//! `max_reply` bytes. HTTP is spoken by hand, one `GET` with `Connection: close`, because the
//! endpoints may be unix sockets, which reqwest does not dial, and one request needs no pool.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::Target;
use crate::discover::host_port_text;
use crate::sanitize::sanitize;

trait Stream: Read + Write {
    fn timeouts(&self, left: std::time::Duration) -> std::io::Result<()>;
}

impl Stream for TcpStream {
    fn timeouts(&self, left: std::time::Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(left))?;
        self.set_write_timeout(Some(left))
    }
}

impl Stream for UnixStream {
    fn timeouts(&self, left: std::time::Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(left))?;
        self.set_write_timeout(Some(left))
    }
}

/// Only the proxy on this host is asked. An API listening on every address (`0.0.0.0`, `::`)
/// is asked on loopback.
fn loopback(host: &str, port: u16) -> Result<SocketAddr, String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        host.parse::<IpAddr>().ok()
    };
    match ip {
        Some(ip) if ip.is_unspecified() => Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)),
        Some(ip) if ip.is_loopback() => Ok(SocketAddr::new(ip, port)),
        _ => Err(format!(
            "not asked: {host} is not a loopback address (only 127.0.0.0/8, ::1 and unix sockets are)"
        )),
    }
}

fn left(deadline: Instant) -> Result<std::time::Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("no answer within 2 s".into())
    } else {
        Ok(left)
    }
}

fn connect(at: &Target, deadline: Instant) -> Result<Box<dyn Stream>, String> {
    let stream: Box<dyn Stream> = match at {
        Target::Unix { path } => Box::new(connect_unix(path, deadline)?),
        Target::Tcp { host, port } | Target::Http { host, port, .. } => {
            let addr = loopback(host, *port)?;
            Box::new(TcpStream::connect_timeout(&addr, left(deadline)?).map_err(io_reason)?)
        }
    };
    Ok(stream)
}

/// A unix socket connect that cannot hang. It is made non-blocking, where a unix socket either
/// connects at once or, its listener's queue full, answers EAGAIN (blocking, std's connect would
/// wait for room).
fn connect_unix(path: &Path, deadline: Instant) -> Result<UnixStream, String> {
    left(deadline)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(io_reason)?;
    let addr = SockAddr::unix(path).map_err(io_reason)?;
    socket.set_nonblocking(true).map_err(io_reason)?;
    match socket.connect(&addr) {
        Ok(()) => {
            socket.set_nonblocking(false).map_err(io_reason)?;
            Ok(UnixStream::from(socket))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Err("busy: its listen queue is full".into()),
        Err(e) => Err(io_reason(e)),
    }
}

/// An io error as a person reads it: "permission denied", "connection refused".
fn io_reason(e: std::io::Error) -> String {
    match e.kind() {
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::NotFound => "no such socket".into(),
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "no answer within 2 s".into(),
        _ => e.to_string(),
    }
}

/// Sends `request` and reads the whole reply, until the other side closes.
pub fn exchange(
    at: &Target,
    request: &[u8],
    deadline: Instant,
    max_reply: usize,
) -> Result<Vec<u8>, String> {
    let mut stream = connect(at, deadline)?;
    stream.timeouts(left(deadline)?).map_err(io_reason)?;
    stream.write_all(request).map_err(io_reason)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        stream.timeouts(left(deadline)?).map_err(io_reason)?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(reply),
            Ok(n) => {
                if reply.len() + n > max_reply {
                    return Err(format!("reply over {} MiB: not read", max_reply >> 20));
                }
                reply.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_reason(e)),
        }
    }
}

/// `GET path` over HTTP/1.1; the body of a 200 answer.
pub fn http_get(
    at: &Target,
    path: &str,
    deadline: Instant,
    max_reply: usize,
) -> Result<Vec<u8>, String> {
    // Caddy checks Host against its listen address (any loopback form); over a socket any
    // Host goes, and curl's "localhost" is the documented one.
    let host = match at {
        Target::Unix { .. } => "localhost".to_string(),
        Target::Tcp { host, port } | Target::Http { host, port, .. } => host_port_text(host, *port),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nUser-Agent: gatewatch\r\nConnection: close\r\n\r\n"
    );
    let reply = exchange(at, request.as_bytes(), deadline, max_reply)?;
    http_body(&reply)
}

/// The body of an HTTP/1.x reply: by Content-Length, chunked, or to the end.
fn http_body(reply: &[u8]) -> Result<Vec<u8>, String> {
    let end = memchr::memmem::find(reply, b"\r\n\r\n").ok_or("not an HTTP answer")?;
    let head = String::from_utf8_lossy(&reply[..end]);
    let body = &reply[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err("not an HTTP answer".into());
    };
    if !version.starts_with("HTTP/1.") {
        return Err("not an HTTP answer".into());
    }
    if code != "200" {
        return Err(format!(
            "HTTP {}",
            sanitize(&code.chars().take(16).collect::<String>())
        ));
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) if n <= body.len() => Ok(body[..n].to_vec()),
        Some(_) => Err("the answer ended early".into()),
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = memchr::memmem::find(body, b"\r\n").ok_or("the answer ended early")?;
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            return Err("the answer ended early".into());
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).ok_or("the answer ended early")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_asked() {
        assert!(loopback("127.0.0.1", 1).is_ok());
        assert!(loopback("::1", 1).is_ok());
        assert!(loopback("LOCALHOST", 1).is_ok());
        assert_eq!(
            loopback("0.0.0.0", 2019).unwrap().to_string(),
            "127.0.0.1:2019"
        );
        let far = loopback("10.0.0.5", 9901).unwrap_err();
        assert!(far.contains("not a loopback address"), "{far}");
        assert!(loopback("admin.example", 1).is_err());
    }

    /// A listener that never accepts fills its queue; the next connect is "busy" at once, not a
    /// wait for room.
    #[test]
    fn a_full_unix_socket_is_busy_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        listener.listen(0).unwrap();
        let started = Instant::now();
        let deadline = started + std::time::Duration::from_secs(2);
        let mut held = Vec::new();
        let busy = loop {
            match connect_unix(&path, deadline) {
                Ok(stream) => held.push(stream),
                Err(e) => break e,
            }
            assert!(held.len() < 64, "the queue never filled");
        };
        assert_eq!(busy, "busy: its listen queue is full");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            connect_unix(&dir.path().join("none"), deadline).unwrap_err(),
            "no such socket"
        );
    }

    #[test]
    fn bodies_by_length_by_chunks_and_to_the_end() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]extra";
        assert_eq!(http_body(r).unwrap(), b"[]");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(http_body(r).unwrap(), b"abcde");
        let r = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert_eq!(http_body(r).unwrap(), b"all of it");
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"garbage",
            b"SSH-2.0-x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        ] {
            assert!(
                http_body(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let e = http_body(b"HTTP/1.1 403 Forbidden\r\n\r\n").unwrap_err();
        assert_eq!(e, "HTTP 403");
    }
}
