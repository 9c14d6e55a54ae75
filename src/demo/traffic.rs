//! The demo's clients: a few requests a second to each upstream, made for real over loopback the
//! way nginx proxies them, each logged the way nginx would log it. A failure in the logs is a
//! failure that just happened.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::logfile::NginxLogs;
use super::nginx_log::Request;

/// nginx's `proxy_connect_timeout` and `proxy_read_timeout` in the demo (60 s in real life).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Requests in flight per upstream; a hanging one holds its slots for the read timeout.
const IN_FLIGHT: usize = 8;
/// A response header bigger than this is not what the demo's servers send.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: u64 = 1024 * 1024;

/// The upstream answered with an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body_bytes: u64,
}

/// How an exchange failed, in nginx's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Refused,
    ConnectTimeout,
    ReadTimeout,
    ResetReading,
    ResetSending,
    PrematureClose,
    InvalidHeader,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub result: Result<Answer, Failure>,
    pub elapsed: Duration,
}

/// Proxies one request to `upstream` as nginx would (HTTP/1.0-style, one request per connection).
pub async fn exchange(upstream: SocketAddr, method: &str, path: &str, host: &str) -> Exchange {
    let started = Instant::now();
    let result = attempt(upstream, method, path, host).await;
    Exchange {
        result,
        elapsed: started.elapsed(),
    }
}

async fn attempt(
    upstream: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
) -> Result<Answer, Failure> {
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await
    {
        Err(_) => return Err(Failure::ConnectTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(Failure::Refused),
        // Anything else on connect (no route, no buffer space) reads as a refusal to nginx's users.
        Ok(Err(_)) => return Err(Failure::Refused),
        Ok(Ok(s)) => s,
    };
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\
         User-Agent: gatewatch-demo\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Err(Failure::ResetSending);
    }
    match tokio::time::timeout(READ_TIMEOUT, read_response(&mut stream)).await {
        Err(_) => Err(Failure::ReadTimeout),
        Ok(result) => result,
    }
}

async fn read_response(stream: &mut TcpStream) -> Result<Answer, Failure> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 4096];
    let body_start = loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => return Err(Failure::PrematureClose),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(Failure::ResetReading);
            }
            Err(_) => return Err(Failure::PrematureClose),
        };
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(Failure::InvalidHeader);
        }
    };
    let status = parse_status(&head[..body_start]).ok_or(Failure::InvalidHeader)?;
    let mut body_bytes = (head.len() - body_start) as u64;
    // The body: nginx would stream it to the client; its size goes in the access log.
    while body_bytes < MAX_BODY {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body_bytes += n as u64,
        }
    }
    Ok(Answer { status, body_bytes })
}

/// `HTTP/1.1 502 Bad Gateway` -> 502.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = words.next()?.parse().ok()?;
    (100..=599).contains(&code).then_some(code)
}

/// One upstream as the clients see it: the paths they ask for under one virtual host.
#[derive(Clone, Debug)]
pub struct Route {
    pub upstream: SocketAddr,
    pub host: &'static str,
    pub requests: &'static [(&'static str, &'static str)],
    /// Mean time between requests.
    pub every: Duration,
}

const CLIENTS: [&str; 6] = [
    "203.0.113.7",
    "203.0.113.24",
    "198.51.100.12",
    "198.51.100.77",
    "192.0.2.44",
    "192.0.2.150",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    "curl/8.5.0",
    "okhttp/4.12.0",
];

/// A small xorshift: the demo needs variety, not randomness.
struct Dice(u64);

impl Dice {
    fn new(seed: u64) -> Self {
        Dice(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[(self.next() % from.len() as u64) as usize]
    }

    /// Between half and one and a half times `mean`.
    fn around(&mut self, mean: Duration) -> Duration {
        let ms = mean.as_millis() as u64;
        Duration::from_millis(ms / 2 + self.next() % (ms + 1))
    }
}

/// Sends requests along `route` for ever (until the runtime shuts down), logging each.
pub async fn drive(route: Route, seed: u64, logs: Arc<NginxLogs>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut dice = Dice::new(seed);
    loop {
        tokio::time::sleep(dice.around(route.every)).await;
        // Full: nginx would queue; the demo skips a beat rather than pile up.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let (method, path) = *dice.pick(route.requests);
        let client = *dice.pick(&CLIENTS);
        let user_agent = *dice.pick(&AGENTS);
        let logs = Arc::clone(&logs);
        let (upstream, host) = (route.upstream, route.host);
        tokio::spawn(async move {
            let ex = exchange(upstream, method, path, host).await;
            let req = Request {
                client,
                method,
                path,
                host,
                user_agent,
            };
            logs.record(&req, upstream, &ex);
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 502 Bad Gateway\r\n"), Some(502));
        assert_eq!(parse_status(b"HTTP/1.0 200 OK\r\nX: y\r\n"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 999 Nope\r\n"), None);
    }

    #[test]
    fn the_dice_stay_within_their_bounds() {
        let mut d = Dice::new(7);
        for _ in 0..1000 {
            let t = d.around(Duration::from_millis(400));
            assert!((200..=600).contains(&t.as_millis()), "{t:?}");
        }
    }
}
