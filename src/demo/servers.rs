//! The demo's upstreams: small HTTP servers on 127.0.0.1 that behave well or fail on purpose, one
//! way each, and a port that refuses until its service is restarted.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Scratch;

/// Connections a server serves at once; more wait in the kernel's backlog.
const CONNECTIONS: usize = 64;
/// A request head bigger than this, or slower than this, is dropped.
const MAX_REQUEST: usize = 16 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a hanging server holds a connection its client has not given up on.
const HANG_AT_MOST: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answers 200 at once.
    Healthy,
    /// Answers 502 itself (an app that proxies to something dead).
    BadGateway,
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 after a delay.
    Slow(Duration),
    /// Resets every connection for `period`, then answers 200 for `period`, and so on from `since`.
    Flapping { since: Instant, period: Duration },
}

impl Behaviour {
    fn resets_now(&self) -> bool {
        match self {
            Behaviour::Flapping { since, period } => {
                let n = since.elapsed().as_millis() / period.as_millis().max(1);
                n % 2 == 0
            }
            _ => false,
        }
    }
}

/// A listening socket on 127.0.0.1 and a kernel-chosen port.
pub fn listen() -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `behaviour` on `listener` until the task is dropped (the runtime shuts down).
pub async fn serve(listener: TcpListener, behaviour: Behaviour) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: wait rather than spin.
                tracing::debug!("demo server accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let behaviour = behaviour.clone();
        tokio::spawn(async move {
            let _ = connection(stream, &behaviour).await;
            drop(slot);
        });
    }
}

async fn connection(mut stream: TcpStream, behaviour: &Behaviour) -> io::Result<()> {
    let Ok(Ok(true)) = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await else {
        return Ok(());
    };
    if behaviour.resets_now() {
        // Closing with SO_LINGER 0 sends RST instead of FIN: the crash of a worker mid-request.
        SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        return Ok(());
    }
    match behaviour {
        Behaviour::Healthy | Behaviour::Flapping { .. } => {
            respond(&mut stream, "200 OK", "{\"status\":\"ok\"}\n").await
        }
        Behaviour::BadGateway => {
            let body = "<html><head><title>502 Bad Gateway</title></head><body>\
                        <h1>Bad Gateway</h1><p>payments-db: connection pool exhausted</p>\
                        </body></html>\n";
            respond(&mut stream, "502 Bad Gateway", body).await
        }
        Behaviour::Slow(delay) => {
            tokio::time::sleep(*delay).await;
            respond(
                &mut stream,
                "200 OK",
                "{\"status\":\"ok\",\"cache\":\"miss\"}\n",
            )
            .await
        }
        Behaviour::Hang => {
            // Hold the connection until the client gives up (EOF), bounded.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(HANG_AT_MOST, async {
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            Ok(())
        }
    }
}

/// Reads up to the end of the request head; false when the client went away first.
async fn read_head(stream: &mut TcpStream) -> io::Result<bool> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 2048];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(false);
        }
        head.extend_from_slice(&buf[..n]);
        if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
            return Ok(true);
        }
        if head.len() > MAX_REQUEST {
            return Ok(false);
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\nServer: demo-app\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

/// A port that is ours but refuses: a socket bound on 127.0.0.1 that does not listen. Nothing else
/// can take the port, and every connection to it is refused, the way a crashed app's port is.
pub struct DownPort {
    socket: Socket,
    pub addr: SocketAddr,
}

impl DownPort {
    pub fn bind(addr: SocketAddr) -> io::Result<DownPort> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        // Taking the port back after a crash must not wait for TIME_WAIT to pass.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket"))?;
        Ok(DownPort { socket, addr })
    }

    /// Starts listening: the app is back.
    pub fn listen(self) -> io::Result<TcpListener> {
        self.socket.listen(128)?;
        self.socket.set_nonblocking(true)?;
        TcpListener::from_std(self.socket.into())
    }
}

/// The files through which the demo's `[[service]]` talks to the refusing upstream.
#[derive(Clone, Debug)]
pub struct ServiceFiles {
    /// `restart` creates it (`touch`); the demo notices, removes it and starts the app.
    pub restart_flag: PathBuf,
    /// `status` prints it (`cat`).
    pub status: PathBuf,
}

/// How often the restart flag is looked for.
const FLAG_POLL: Duration = Duration::from_millis(250);

/// The refusing upstream: down until `restart_flag` appears, then healthy for `up_for`, then it
/// crashes again (the port refuses once more), for as long as the demo runs.
pub async fn crashing_app(
    port: DownPort,
    files: ServiceFiles,
    up_for: Duration,
    scratch: Arc<Scratch>,
) {
    let addr = port.addr;
    let mut port = Some(port);
    loop {
        let down = match port.take() {
            Some(p) => p,
            None => match DownPort::bind(addr) {
                Ok(p) => p,
                Err(e) => {
                    // Still refusing (nothing listens), just not reserved: try again shortly.
                    tracing::debug!("demo: cannot take {addr} back yet: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        write_status(
            &scratch,
            &files,
            &format!(
                "inventory: failed since {}: the process exited (status 137); {addr} refuses \
                 connections\n",
                clock()
            ),
        );
        while !take_flag(&scratch, &files) {
            tokio::time::sleep(FLAG_POLL).await;
        }
        let listener = match down.listen() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("demo: inventory cannot listen on {addr}: {e}");
                continue;
            }
        };
        write_status(
            &scratch,
            &files,
            &format!(
                "inventory: running since {} (restarted), listening on {addr}; it crashes again \
                 after {} s\n",
                clock(),
                up_for.as_secs()
            ),
        );
        let _ = tokio::time::timeout(up_for, serve(listener, Behaviour::Healthy)).await;
    }
}

fn clock() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S").to_string()
}

fn take_flag(scratch: &Scratch, files: &ServiceFiles) -> bool {
    scratch
        .with_dir(|_| std::fs::remove_file(&files.restart_flag).is_ok())
        .unwrap_or(false)
}

fn write_status(scratch: &Scratch, files: &ServiceFiles, text: &str) {
    let written = scratch.with_dir(|_| std::fs::write(&files.status, text));
    if let Some(Err(e)) = written {
        tracing::debug!("demo: cannot write {}: {e}", files.status.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_down_port_refuses_then_serves_once_it_listens() {
        let port = DownPort::bind((Ipv4Addr::LOCALHOST, 0).into()).expect("bind");
        let addr = port.addr;
        let err = TcpStream::connect(addr).await.expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let listener = port.listen().expect("listen");
        let server = tokio::spawn(serve(listener, Behaviour::Healthy));
        let ex = super::super::traffic::exchange(addr, "GET", "/", "t").await;
        assert_eq!(ex.result.expect("answer").status, 200);
        server.abort();
    }

    #[tokio::test]
    async fn each_behaviour_fails_the_way_it_says() {
        use super::super::traffic::{Failure, exchange};
        let start = |b: Behaviour| {
            let l = TcpListener::from_std(listen().expect("listen")).expect("tokio");
            let addr = l.local_addr().expect("addr");
            (addr, tokio::spawn(serve(l, b)))
        };
        let (bad, _b) = start(Behaviour::BadGateway);
        assert_eq!(
            exchange(bad, "GET", "/", "t")
                .await
                .result
                .map(|a| a.status),
            Ok(502)
        );
        let (flap, _f) = start(Behaviour::Flapping {
            since: Instant::now(),
            period: Duration::from_secs(60),
        });
        assert_eq!(
            exchange(flap, "GET", "/", "t").await.result,
            Err(Failure::ResetReading)
        );
        let (slow, _s) = start(Behaviour::Slow(Duration::from_millis(300)));
        let ex = exchange(slow, "GET", "/", "t").await;
        assert_eq!(ex.result.map(|a| a.status), Ok(200));
        assert!(ex.elapsed >= Duration::from_millis(300));
    }
}
