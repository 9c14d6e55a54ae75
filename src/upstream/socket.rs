//! Connect-only probes: `tcp://host:port` and `unix:/path` (php-fpm, gunicorn, uwsgi sockets).
//! A successful connect is all they check; the connection is closed at once.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio::time::{Instant, timeout_at};

use super::outcome::{Outcome, describe, errno_text};
use super::probe::{Attempt, show};
use super::resolve::{Names, resolve};

/// Connects to each address of `host` in turn until one accepts; the latency includes the lookup.
/// Phases: `resolve` (names only, not IP literals) and `connect` (every address tried), each
/// until it ended or the probe gave up.
pub(crate) async fn tcp(
    names: &Names,
    host: &str,
    port: u16,
    timeout: Duration,
    deadline: Instant,
) -> Attempt {
    let started = Instant::now();
    let lookup = host.parse::<IpAddr>().is_err();
    let resolved = timeout_at(deadline, resolve(names, host, port)).await;
    let connect_start = Instant::now();
    let resolve_phase = lookup.then(|| connect_start - started);
    let addrs = match resolved {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(err)) => return with_phases(Attempt::error(&err, None), resolve_phase, None),
        Err(_) => {
            let detail = format!("name lookup of {host:?} not done within {}", show(timeout));
            let attempt = Attempt::failed(Outcome::Timeout, detail, None);
            return with_phases(attempt, resolve_phase, None);
        }
    };
    let attempt = connect_any(addrs, timeout, deadline, started).await;
    with_phases(attempt, resolve_phase, Some(connect_start.elapsed()))
}

fn with_phases(
    mut attempt: Attempt,
    resolve: Option<Duration>,
    connect: Option<Duration>,
) -> Attempt {
    attempt.phases.resolve = resolve;
    attempt.phases.connect = connect;
    attempt
}

async fn connect_any(
    addrs: Vec<SocketAddr>,
    timeout: Duration,
    deadline: Instant,
    started: Instant,
) -> Attempt {
    let tried = addrs.len();
    let mut last: Option<(io::Error, SocketAddr)> = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(_stream)) => {
                return Attempt::ok(
                    started.elapsed(),
                    "connected".into(),
                    Some(addr.to_string()),
                );
            }
            Ok(Err(err)) => last = Some((err, addr)),
            Err(_) => {
                let detail = format!("connect timed out after {}", show(timeout));
                return Attempt::failed(Outcome::Timeout, detail, Some(addr.to_string()));
            }
        }
    }
    match last {
        Some((err, addr)) => {
            let mut attempt = Attempt::error(&err, Some(addr.to_string()));
            if tried > 1 {
                attempt
                    .detail
                    .push_str(&format!(" (last of {tried} addresses tried)"));
            }
            attempt
        }
        None => Attempt::failed(Outcome::Error, "no address to connect to", None),
    }
}

/// Connects to a unix socket. A missing socket file and a file nobody listens on are both
/// `refused` (nothing accepts), and the detail says which: they have different fixes. A full
/// listen backlog is `busy`: the server is there but saturated, which is a third fix. A path that
/// is no socket at all is an `error` of the proxy's config.
pub(crate) async fn unix(path: &Path, timeout: Duration, deadline: Instant) -> Attempt {
    let started = Instant::now();
    let mut attempt = unix_attempt(path, timeout, deadline).await;
    attempt.phases.connect = Some(started.elapsed());
    attempt
}

async fn unix_attempt(path: &Path, timeout: Duration, deadline: Instant) -> Attempt {
    let started = Instant::now();
    let shown = path.display().to_string();
    match timeout_at(deadline, UnixStream::connect(path)).await {
        Ok(Ok(_stream)) => Attempt::ok(started.elapsed(), "connected".into(), Some(shown)),
        Ok(Err(err)) => not_a_socket(path, &shown).unwrap_or_else(|| unix_failure(&err, shown)),
        Err(_) => {
            let detail = format!("connect timed out after {}", show(timeout));
            Attempt::failed(Outcome::Timeout, detail, Some(shown))
        }
    }
}

/// A path that exists but is no socket (a regular file, a FIFO, a directory) refuses every
/// connect, yet no server restart will help: the proxy's config names the wrong path. Checked
/// after the failure only, so a healthy probe costs no extra syscall.
fn not_a_socket(path: &Path, shown: &str) -> Option<Attempt> {
    use std::os::unix::fs::FileTypeExt;
    // metadata follows symlinks, as connect does: a link to a live socket is fine.
    let meta = std::fs::metadata(path).ok()?;
    if meta.file_type().is_socket() {
        return None;
    }
    let what = crate::regular_file::kind_name(&meta);
    Some(Attempt::failed(
        Outcome::Error,
        format!("unix:{shown} is {what}, not a socket: fix proxy_pass/fastcgi_pass"),
        Some(shown.to_string()),
    ))
}

/// What a failed unix connect means. The connect is non-blocking (tokio), so a full backlog is
/// EAGAIN at once rather than a wait.
fn unix_failure(err: &io::Error, shown: String) -> Attempt {
    let errno = errno_text(err).unwrap_or_default();
    match err.raw_os_error() {
        Some(libc::ENOENT) => Attempt::failed(
            Outcome::Refused,
            format!("socket file missing ({errno})"),
            Some(shown),
        ),
        Some(libc::ECONNREFUSED) => Attempt::failed(
            Outcome::Refused,
            describe(
                "socket file exists but nothing accepts on it (server gone?)",
                err,
            ),
            Some(shown),
        ),
        Some(libc::EAGAIN) => Attempt::failed(
            Outcome::Busy,
            format!("listen backlog full: the server is not accepting fast enough ({errno})"),
            Some(shown),
        ),
        _ => Attempt::error(err, Some(shown)),
    }
}
