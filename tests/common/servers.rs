//! Loopback servers that misbehave on purpose, for the upstream probe tests. They listen on
//! 127.0.0.1 (or ::1) only, on a port the kernel picks, and stop when dropped.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// What the server does with each connection.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Reads the request, waits `delay`, answers `status` with `body` and extra headers.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
        delay: Duration,
    },
    /// Reads the request and never answers (the connection stays open).
    Hang,
    /// Reads the request, then closes normally (FIN) without answering.
    Close,
    /// Reads the request, then resets the connection (SO_LINGER 0 makes close send RST).
    Reset,
    /// Sends these bytes as soon as the connection opens, then keeps it open.
    Banner(&'static [u8]),
    /// Reads the request, then answers these bytes instead of HTTP.
    Garbage(&'static [u8]),
    /// Answers 200 and 502 in turn, starting with 200.
    Alternate,
}

impl Behaviour {
    pub fn status(status: u16) -> Self {
        Behaviour::Respond {
            status,
            headers: vec![],
            body: format!("status {status} from the test server\n"),
            delay: Duration::ZERO,
        }
    }

    pub fn slow(delay: Duration) -> Self {
        Behaviour::Respond {
            status: 200,
            headers: vec![],
            body: "slow but fine\n".into(),
            delay,
        }
    }

    pub fn redirect(to: &str) -> Self {
        Behaviour::Respond {
            status: 301,
            headers: vec![("Location", to.to_owned())],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Server {
    /// An HTTP (or raw) server on 127.0.0.1.
    pub async fn start(behaviour: Behaviour) -> Server {
        Self::listen("127.0.0.1:0", behaviour, None).await
    }

    /// The same on ::1; `None` where the machine has no IPv6 loopback.
    pub async fn start_v6(behaviour: Behaviour) -> Option<Server> {
        TcpListener::bind("[::1]:0").await.ok()?;
        Some(Self::listen("[::1]:0", behaviour, None).await)
    }

    /// An HTTPS server with a certificate made for this run, that nobody trusts.
    pub async fn start_tls(behaviour: Behaviour) -> Server {
        Self::listen("127.0.0.1:0", behaviour, Some(self_signed())).await
    }

    /// The same with a certificate valid from `not_before` to `not_after` (unix seconds).
    pub async fn start_tls_valid(behaviour: Behaviour, not_before: i64, not_after: i64) -> Server {
        let acceptor = self_signed_valid(not_before, not_after);
        Self::listen("127.0.0.1:0", behaviour, Some(acceptor)).await
    }

    /// An HTTP server on a chosen loopback address: an upstream that comes back on its port after
    /// a restart. Retries for a moment while the old listener on that port is still closing.
    pub async fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Server {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Self::serve_on(listener, behaviour, None),
                Err(e) if tokio::time::Instant::now() > deadline => panic!("bind {addr}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    async fn listen(bind: &str, behaviour: Behaviour, tls: Option<TlsAcceptor>) -> Server {
        let listener = TcpListener::bind(bind).await.expect("bind loopback");
        Self::serve_on(listener, behaviour, tls)
    }

    fn serve_on(listener: TcpListener, behaviour: Behaviour, tls: Option<TlsAcceptor>) -> Server {
        let addr = listener.local_addr().expect("local addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (Arc::clone(&accepts), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            // Dropped with the accept loop when the server is, which aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (behaviour, seen, tls) = (behaviour.clone(), Arc::clone(&seen), tls.clone());
                connections.spawn(async move {
                    match tls {
                        None => serve(stream, n, behaviour, seen).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, n, behaviour, seen).await;
                            }
                        }
                    }
                });
                // Reap finished connections so a long test does not accumulate them.
                while connections.try_join_next().is_some() {}
            }
        });
        Server {
            addr,
            accepts,
            requests,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}` (or `https://`, `[::1]`).
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP socket underneath, for SO_LINGER.
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

async fn serve<S: Stream>(
    mut stream: S,
    n: usize,
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    if let Behaviour::Banner(bytes) = behaviour {
        let _ = stream.write_all(bytes).await;
        std::future::pending::<()>().await;
    }
    let request = match read_request(&mut stream).await {
        Some(Ok(request)) => request,
        // Like nginx: a request that is not HTTP (a TLS hello, say) gets a 400.
        Some(Err(NotHttp)) => {
            let answer =
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
        None => return,
    };
    seen.lock().expect("requests lock").push(request.clone());
    let (status, headers, body, delay) = match behaviour {
        Behaviour::Respond {
            status,
            headers,
            body,
            delay,
        } => (status, headers, body, delay),
        Behaviour::Alternate => {
            let status = if n.is_multiple_of(2) { 200 } else { 502 };
            (status, vec![], format!("turn {n}\n"), Duration::ZERO)
        }
        Behaviour::Hang => std::future::pending().await,
        Behaviour::Close => return,
        Behaviour::Reset => {
            socket2::SockRef::from(stream.tcp())
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER");
            return;
        }
        Behaviour::Garbage(bytes) => {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            return;
        }
        Behaviour::Banner(_) => return,
    };
    tokio::time::sleep(delay).await;
    let mut head = format!(
        "HTTP/1.1 {status} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if request.method != "HEAD" {
        head.push_str(&body);
    }
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.shutdown().await;
}

struct NotHttp;

/// Reads up to the blank line that ends the headers; `None` if the client went away first.
async fn read_request<S: Stream>(stream: &mut S) -> Option<Result<Seen, NotHttp>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !buf[0].is_ascii_uppercase() {
            return Some(Err(NotHttp));
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let host = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    Some(Ok(Seen { method, path, host }))
}

fn self_signed() -> TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("self-signed certificate");
    acceptor(key.cert, &key.signing_key)
}

fn self_signed_valid(not_before: i64, not_after: i64) -> TlsAcceptor {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate params");
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).expect("notBefore");
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).expect("notAfter");
    let key = rcgen::KeyPair::generate().expect("key pair");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    acceptor(cert, &key)
}

fn acceptor(cert: rcgen::Certificate, key: &rcgen::KeyPair) -> TlsAcceptor {
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], private)
        .expect("server certificate");
    TlsAcceptor::from(Arc::new(config))
}

/// A loopback port that refuses connections and stays so while this lives: bound without
/// listening, so no other test can be handed it (a released port can be, and then answers).
#[allow(dead_code)]
pub struct RefusingPort {
    _socket: socket2::Socket,
    pub port: u16,
}

#[allow(dead_code)]
pub fn refusing_port() -> RefusingPort {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&any.into()).expect("bind");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("a bound address")
        .port();
    RefusingPort {
        _socket: socket,
        port,
    }
}

/// A loopback port with nothing listening: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
