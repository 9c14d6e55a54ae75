//! Another network namespace, seen from inside: a proxy in a container resolves and connects
//! from its own namespace, where Docker's embedded DNS (127.0.0.11) and the names of a Compose
//! network exist and the host's do not. To see what it sees we probe and resolve from there too.
//!
//! One dedicated OS thread per namespace enters it once (`setns`, which changes only the calling
//! thread) and runs a current-thread tokio runtime; jobs sent to it create their sockets in that
//! namespace, and so do the blocking-pool threads that thread starts. Only the network namespace
//! changes: files (the container's resolv.conf) are still the host's view, and the caller reads
//! them from the container's root and passes the nameservers in.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::config::Upstream;
use crate::dns::{DnsResult, Nameserver, Source};
use crate::sanitize::sanitize;
use crate::upstream::{Names, ProbeResult, Prober, not_run, probe_all_with};

/// Jobs waiting for a runner's thread; a caller past this waits for room.
const QUEUE: usize = 64;

/// An open network namespace file (`/proc/PID/ns/net`, `/var/run/netns/NAME`), checked to be one.
#[derive(Debug)]
pub struct Netns {
    file: File,
    shown: String,
    id: (u64, u64),
}

impl Netns {
    /// Opens `path` and refuses anything that is not a network namespace: a regular file, a
    /// FIFO (opened non-blocking, so it cannot hang), a directory, another kind of namespace.
    pub fn open(path: &Path) -> io::Result<Netns> {
        let shown = sanitize(&path.display().to_string()).into_owned();
        let fail =
            |kind: io::ErrorKind, what: String| io::Error::new(kind, format!("{shown}: {what}"));
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| fail(e.kind(), format!("cannot open: {e}")))?;
        let fd = file.as_raw_fd();
        // SAFETY: statfs is plain old data, filled in by fstatfs on an fd we own.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid fd and a pointer to a statfs that outlives the call.
        if unsafe { libc::fstatfs(fd, &mut fs) } != 0 {
            let e = io::Error::last_os_error();
            return Err(fail(e.kind(), format!("cannot stat: {e}")));
        }
        if !is_nsfs(fs.f_type) {
            return Err(fail(
                io::ErrorKind::InvalidInput,
                "not a namespace file (expected /proc/PID/ns/net or /var/run/netns/NAME)".into(),
            ));
        }
        // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
        let kind = unsafe { libc::ioctl(fd, libc::NS_GET_NSTYPE) };
        if kind < 0 {
            let e = io::Error::last_os_error();
            return Err(fail(
                e.kind(),
                format!("cannot tell the namespace's type: {e}"),
            ));
        }
        if kind != libc::CLONE_NEWNET {
            return Err(fail(
                io::ErrorKind::InvalidInput,
                "a namespace, but not a network namespace".into(),
            ));
        }
        let meta = file
            .metadata()
            .map_err(|e| fail(e.kind(), format!("cannot stat: {e}")))?;
        Ok(Netns {
            file,
            shown,
            id: (meta.dev(), meta.ino()),
        })
    }

    /// The namespace's identity (device, inode): the same for every path to one namespace, new
    /// when a container is recreated.
    pub fn id(&self) -> (u64, u64) {
        self.id
    }

    /// The path it was opened from, sanitised.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) -> io::Result<()> {
        // SAFETY: a valid namespace fd; setns changes only the calling thread's namespace.
        if unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            " (entering another network namespace needs CAP_SYS_ADMIN: run as root)"
        } else {
            ""
        };
        Err(io::Error::new(
            e.kind(),
            format!(
                "{}: cannot enter the network namespace: {e}{hint}",
                self.shown
            ),
        ))
    }
}

/// The field's type differs by architecture (`__fsword_t`); compare as plain bits.
#[allow(clippy::unnecessary_cast)]
fn is_nsfs(f_type: libc::__fsword_t) -> bool {
    f_type as u64 == libc::NSFS_MAGIC as u64
}

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;
type Job = Box<dyn FnOnce() -> LocalFuture + Send>;

/// A thread inside one network namespace that runs jobs for async callers. Cheap to keep: one
/// idle thread. Dropping it ends the thread; jobs still running there are cancelled.
#[derive(Debug)]
pub struct NetnsRunner {
    jobs: mpsc::Sender<Job>,
    shown: String,
    id: (u64, u64),
}

impl NetnsRunner {
    /// Starts the thread and enters the namespace; fails (never panics) when it cannot, e.g.
    /// EPERM without root. Returns once the thread is inside.
    pub fn spawn(netns: Netns) -> io::Result<NetnsRunner> {
        let shown = netns.shown.clone();
        let id = netns.id;
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        std::thread::Builder::new()
            .name("gatewatch-netns".into())
            .spawn(move || serve(netns, queue, ready_tx))
            .map_err(|e| {
                io::Error::new(e.kind(), format!("{shown}: cannot start a thread: {e}"))
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(NetnsRunner { jobs, shown, id }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other(format!(
                "{shown}: the namespace thread ended before it was ready"
            ))),
        }
    }

    /// The namespace's identity, as [`Netns::id`].
    pub fn id(&self) -> (u64, u64) {
        self.id
    }

    /// The path the namespace was opened from, sanitised.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `job` inside the namespace and returns what its future gives. The future runs on
    /// the runner's thread (so it need not be `Send`), beside the other jobs. An error means
    /// the job did not finish: the thread is gone or the job panicked.
    pub async fn run<T, F, Fut>(&self, job: F) -> io::Result<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let boxed: Job = Box::new(move || {
            Box::pin(async move {
                // The caller may have stopped waiting; then nobody wants the result.
                let _unwanted = tx.send(job().await);
            })
        });
        let gone = || {
            io::Error::other(format!(
                "{}: the job in the network namespace ended without a result",
                self.shown
            ))
        };
        self.jobs.send(boxed).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }
}

/// The runner's thread: enter, report, then run jobs until the runner is dropped.
fn serve(
    netns: Netns,
    mut queue: mpsc::Receiver<Job>,
    ready: std::sync::mpsc::SyncSender<io::Result<()>>,
) {
    let runtime = netns.enter().and_then(|()| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: no runtime: {e}", netns.shown)))
    });
    // The fd is not needed once inside.
    drop(netns);
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            let _caller_gone = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        while let Some(job) = queue.recv().await {
            tokio::task::spawn_local(job());
        }
    });
    drop(local);
    // A getaddrinfo still running on the blocking pool must not hold the thread.
    runtime.shutdown_background();
}

/// Probes `upstream` from inside the runner's namespace with the existing probe; host names are
/// resolved through `nameservers` (the container's resolv.conf, see
/// [`nameservers_from_resolv_conf`]), never the host's resolver. `target_index` is 0, as for
/// [`crate::upstream::probe_once`]. A runner that is gone gives a failed result, not an error.
pub async fn probe_in(
    runner: &NetnsRunner,
    upstream: &Upstream,
    nameservers: &[SocketAddr],
) -> ProbeResult {
    probe_in_with_hosts(runner, upstream, nameservers, &[]).await
}

/// [`probe_in`], names found in `hosts` (the container's /etc/hosts) before any nameserver is
/// asked, as the container's own resolver does.
pub async fn probe_in_with_hosts(
    runner: &NetnsRunner,
    upstream: &Upstream,
    nameservers: &[SocketAddr],
    hosts: &[(String, std::net::IpAddr)],
) -> ProbeResult {
    let upstream = upstream.clone();
    let names = names_with_hosts(nameservers, hosts, upstream.timeout);
    let probed = runner
        .run(move || async move {
            Prober::with_names(std::slice::from_ref(&upstream), names)
                .probe(0, &upstream)
                .await
        })
        .await;
    probed.unwrap_or_else(|e| not_run(0, &e.to_string()))
}

/// Probes every upstream once from inside the namespace, in parallel, like
/// [`crate::upstream::probe_all`] (results in the order of `upstreams`, `target_index` being the
/// position there); one set of HTTP clients for the round. Name resolution as [`probe_in`], each
/// lookup bounded by the longest of the upstreams' timeouts.
pub async fn probe_all_in(
    runner: &NetnsRunner,
    upstreams: &[Upstream],
    nameservers: &[SocketAddr],
) -> Vec<ProbeResult> {
    let upstreams = upstreams.to_vec();
    let timeout = upstreams
        .iter()
        .map(|u| u.timeout)
        .max()
        .unwrap_or(Duration::from_secs(2));
    let names = names(nameservers, timeout);
    let count = upstreams.len();
    match runner
        .run(move || async move { probe_all_with(&upstreams, names).await })
        .await
    {
        Ok(results) => results,
        Err(e) => (0..count).map(|i| not_run(i, &e.to_string())).collect(),
    }
}

/// Lookups get half the probe's time: a nameserver that never answers is then told as a DNS
/// failure, with time left to say so, not as the probe's own timeout.
fn names(nameservers: &[SocketAddr], probe_timeout: Duration) -> Names {
    names_with_hosts(nameservers, &[], probe_timeout)
}

fn names_with_hosts(
    nameservers: &[SocketAddr],
    hosts: &[(String, std::net::IpAddr)],
    probe_timeout: Duration,
) -> Names {
    Names::Nameservers {
        servers: nameservers.into(),
        timeout: probe_timeout / 2,
        hosts: hosts.into(),
    }
}

/// Looks `name` up from inside the namespace through each of `nameservers` on its own (A and
/// AAAA, one attempt each, no cache, no search list): one result per nameserver, in order. A
/// runner that is gone gives a failed result per nameserver.
pub async fn lookup_in(
    runner: &NetnsRunner,
    name: &str,
    nameservers: &[SocketAddr],
    timeout: Duration,
) -> Vec<DnsResult> {
    let owned_name = name.to_owned();
    let servers = nameservers.to_vec();
    let looked = runner
        .run(move || async move { crate::dns::lookup_each(&owned_name, &servers, timeout).await })
        .await;
    match looked {
        Ok(results) => results,
        Err(e) => nameservers
            .iter()
            .map(|addr| DnsResult {
                name: sanitize(name).into_owned(),
                nameserver: Nameserver::Addr(*addr),
                answers: Vec::new(),
                cname_chain: Vec::new(),
                rcode: None,
                latency: Duration::ZERO,
                error: Some(sanitize(&e.to_string()).into_owned()),
                source: Source::Dns,
            })
            .collect(),
    }
}

/// The nameservers named by a resolv.conf's text (read by the caller from the container's root,
/// at most 64 KiB), in order, each once, on port 53. The error is sanitised.
pub fn nameservers_from_resolv_conf(text: &[u8]) -> Result<Vec<SocketAddr>, String> {
    crate::dns::resolv_conf_nameservers(text)
}

/// Runners by namespace path, made on first use and reused across probes. A path whose
/// namespace changed (the container was recreated, its pid reused) gets a new runner.
#[derive(Debug, Default)]
pub struct Places {
    runners: std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Arc<NetnsRunner>>>,
}

impl Places {
    /// The runner for the namespace at `path`, which must be the one `expected` names when
    /// given (the container's, as it was read).
    pub fn runner(
        &self,
        path: &Path,
        expected: Option<(u64, u64)>,
    ) -> io::Result<Arc<NetnsRunner>> {
        let netns = match Netns::open(path) {
            Ok(netns) => netns,
            Err(e) => {
                // The process is gone: so is the reason to keep a thread in its namespace.
                self.forget(path);
                return Err(e);
            }
        };
        if expected.is_some_and(|id| id != netns.id()) {
            self.forget(path);
            return Err(io::Error::other(format!(
                "{}: another network namespace than when the container was read (it was \
                 recreated, or its pid reused); restart gatewatch to read it again",
                netns.shown()
            )));
        }
        let mut runners = self
            .runners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(runner) = runners.get(path)
            && runner.id() == netns.id()
        {
            return Ok(Arc::clone(runner));
        }
        let runner = Arc::new(NetnsRunner::spawn(netns)?);
        runners.insert(path.to_path_buf(), Arc::clone(&runner));
        Ok(runner)
    }

    fn forget(&self, path: &Path) {
        self.runners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(path);
    }
}
