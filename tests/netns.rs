//! Probing and resolving from inside another network namespace, as a proxy in a container does:
//! each test makes its own namespace (`ip netns add`), starts an HTTP server and a DNS server at
//! Docker's embedded-DNS address (127.0.0.11:53) inside it through the runner itself, and checks
//! that the host's own namespace sees none of them. Needs root (setns, ip netns).

mod common;
mod dns_server;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dns_server::TestDns;
use gatewatch::config::Upstream;
use gatewatch::netns::{
    Netns, NetnsRunner, Places, lookup_in, nameservers_from_resolv_conf, probe_all_in, probe_in,
};
use gatewatch::upstream::{Outcome, ProbeResult, probe_once};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(2);
/// Docker's embedded DNS, as a container's resolv.conf names it.
const EMBEDDED_DNS: &str = "127.0.0.11:53";

/// A network namespace of the test's own, with loopback up; deleted when dropped (also when the
/// test panics).
struct TestNetns {
    name: String,
}

impl TestNetns {
    fn new() -> TestNetns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gwt-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        // From here on the guard deletes it, even if bringing lo up fails.
        let netns = TestNetns { name };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]);
        netns
    }

    fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.name)
    }

    fn runner(&self) -> NetnsRunner {
        let netns = Netns::open(&self.path()).expect("open the test's namespace");
        NetnsRunner::spawn(netns).expect("enter the test's namespace (needs root)")
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The host's own namespace, through the same machinery: what gatewatch sees without entering.
fn host_runner() -> NetnsRunner {
    let netns = Netns::open(Path::new("/proc/self/ns/net")).expect("open our own namespace");
    NetnsRunner::spawn(netns).expect("enter our own namespace")
}

fn upstream(url: &str) -> Upstream {
    common::upstream("app", url, TIMEOUT)
}

fn assert_outcome(result: &ProbeResult, want: Outcome) {
    assert_eq!(result.outcome, want, "{result:#?}");
}

/// A loopback port kept from every other use on the host while the test runs: bound, never
/// listening, so a connect from the host is refused, and free in any other namespace.
fn reserved_host_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("bound address").port();
    (socket, port)
}

/// Starts, inside the runner's namespace, an HTTP server on 127.0.0.1:`port` that answers every
/// request with a fixed 200.
async fn http_server_in(runner: &NetnsRunner, port: u16) {
    runner
        .run(move || async move {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
            tokio::task::spawn_local(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    tokio::task::spawn_local(async move {
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                            )
                            .await;
                    });
                }
            });
            Ok::<(), std::io::Error>(())
        })
        .await
        .expect("the runner ran the job")
        .expect("listen inside the namespace");
}

/// Starts, inside the runner's namespace, a DNS server at 127.0.0.11:53 answering `app.internal`
/// with 127.0.0.1. Serves until dropped (or the runner is).
async fn embedded_dns_in(runner: &NetnsRunner) -> TestDns {
    let dns = runner
        .run(|| async {
            let addr: SocketAddr = EMBEDDED_DNS.parse().expect("address");
            TestDns::start_at(addr).await
        })
        .await
        .expect("the runner ran the job")
        .expect("a DNS server at 127.0.0.11:53 inside the namespace");
    dns.set_addrs("app.internal", &["127.0.0.1"], &[], 600);
    dns
}

fn embedded_dns() -> Vec<SocketAddr> {
    nameservers_from_resolv_conf(b"nameserver 127.0.0.11\noptions ndots:0\n")
        .expect("a Docker-style resolv.conf")
}

#[tokio::test]
async fn probes_and_names_inside_the_namespace_are_not_the_hosts() {
    let netns = TestNetns::new();
    let runner = netns.runner();
    let host = host_runner();
    let (_reserved, port) = reserved_host_port();
    http_server_in(&runner, port).await;
    let dns = embedded_dns_in(&runner).await;
    let nameservers = embedded_dns();
    assert_eq!(nameservers, [EMBEDDED_DNS.parse::<SocketAddr>().unwrap()]);

    // By address: up inside, refused on the host.
    let by_addr = upstream(&format!("http://127.0.0.1:{port}/"));
    let inside = probe_in(&runner, &by_addr, &nameservers).await;
    assert_outcome(&inside, Outcome::Ok);
    assert_eq!(inside.status_code, Some(200));
    assert_eq!(inside.addr.as_deref(), Some(&*format!("127.0.0.1:{port}")));
    assert_outcome(&probe_once(&by_addr).await, Outcome::Refused);

    // The name exists only on the namespace's DNS.
    let answers = lookup_in(&runner, "app.internal", &nameservers, TIMEOUT).await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(answers[0].is_ok(), "{answers:#?}");
    let addrs: Vec<String> = answers[0].addresses().map(|a| a.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1"]);
    assert!(dns.queries() >= 2, "A and AAAA reached the server inside");

    let from_host = lookup_in(&host, "app.internal", &nameservers, TIMEOUT).await;
    assert_eq!(from_host.len(), 1);
    assert!(
        from_host[0].answers.is_empty() && from_host[0].error.is_some(),
        "the host cannot reach the namespace's nameserver: {from_host:#?}"
    );

    // A probe by that name resolves through it and reaches the server, inside only.
    let by_name = upstream(&format!("http://app.internal:{port}/health"));
    let inside = probe_in(&runner, &by_name, &nameservers).await;
    assert_outcome(&inside, Outcome::Ok);
    assert_eq!(inside.status_code, Some(200));
    assert!(inside.phases.resolve.is_some(), "{inside:#?}");
    let outside = probe_in(&host, &by_name, &nameservers).await;
    assert_outcome(&outside, Outcome::Dns);
    assert!(
        outside.detail.contains("app.internal") && outside.detail.contains("127.0.0.11:53"),
        "{}",
        outside.detail
    );

    // tcp probes resolve the same way.
    let tcp = upstream(&format!("tcp://app.internal:{port}"));
    assert_outcome(&probe_in(&runner, &tcp, &nameservers).await, Outcome::Ok);

    // An unknown name is NXDOMAIN from the namespace's server: a dns failure that says so.
    let unknown = upstream(&format!("http://db.internal:{port}/"));
    let result = probe_in(&runner, &unknown, &nameservers).await;
    assert_outcome(&result, Outcome::Dns);
    assert!(result.detail.contains("NXDOMAIN"), "{}", result.detail);
}

#[tokio::test]
async fn a_closed_port_inside_is_refused_and_a_round_keeps_its_order() {
    let netns = TestNetns::new();
    let runner = netns.runner();
    let (_reserved, port) = reserved_host_port();
    http_server_in(&runner, port).await;
    let _dns = embedded_dns_in(&runner).await;
    // A port bound and released inside: nothing else in the fresh namespace takes it.
    let closed = runner
        .run(|| async {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            listener.local_addr().map(|a| a.port())
        })
        .await
        .expect("the runner ran the job")
        .expect("a port inside");
    let refused = upstream(&format!("http://127.0.0.1:{closed}/"));
    let result = probe_in(&runner, &refused, &embedded_dns()).await;
    assert_outcome(&result, Outcome::Refused);

    let round = [
        upstream(&format!("tcp://app.internal:{closed}")),
        upstream(&format!("http://app.internal:{port}/")),
    ];
    let results = probe_all_in(&runner, &round, &embedded_dns()).await;
    let outcomes: Vec<(usize, Outcome)> = results
        .iter()
        .map(|r| (r.target_index, r.outcome))
        .collect();
    assert_eq!(outcomes, [(0, Outcome::Refused), (1, Outcome::Ok)]);
}

#[tokio::test]
async fn dropping_the_runner_ends_its_thread() {
    let netns = TestNetns::new();
    let runner = netns.runner();
    // Something running there when it is dropped: cancelled with the thread.
    let (_reserved, port) = reserved_host_port();
    http_server_in(&runner, port).await;
    let tid = runner
        .run(|| async { unsafe { libc::gettid() } })
        .await
        .expect("the runner ran the job");
    let task = PathBuf::from(format!("/proc/self/task/{tid}"));
    assert!(task.exists(), "the runner's thread is one of ours");
    drop(runner);
    let deadline = Instant::now() + Duration::from_secs(5);
    while task.exists() {
        assert!(Instant::now() < deadline, "the runner's thread outlived it");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_panicking_job_is_an_error_and_the_runner_goes_on() {
    let netns = TestNetns::new();
    let runner = netns.runner();
    let err = runner
        .run(|| async {
            if std::hint::black_box(true) {
                panic!("a job that fails");
            }
        })
        .await
        .expect_err("a panicked job has no result");
    assert!(err.to_string().contains("without a result"), "{err}");
    let answer = runner
        .run(|| async { 42 })
        .await
        .expect("the next job runs");
    assert_eq!(answer, 42);
}

/// Runs `open` on another thread and fails the test if it does not return promptly: a FIFO
/// opened for reading would otherwise wait for a writer forever.
fn open_within_a_second(path: &Path) -> std::io::Result<Netns> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(Netns::open(&owned));
    });
    rx.recv_timeout(Duration::from_secs(1))
        .unwrap_or_else(|_| panic!("opening {} blocked", path.display()))
}

#[test]
fn paths_that_are_not_network_namespaces_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("regular");
    std::fs::write(&file, "not a namespace\n").expect("write");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("path");
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

    for path in [&file, &fifo, &dir.path().to_path_buf()] {
        let err = open_within_a_second(path).expect_err("not a namespace");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("not a namespace file"), "{err}");
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "{err}"
        );
    }

    let err = open_within_a_second(Path::new("/proc/self/ns/mnt")).expect_err("a mount namespace");
    assert!(err.to_string().contains("not a network namespace"), "{err}");

    let missing = dir.path().join("gone");
    let err = open_within_a_second(&missing).expect_err("missing");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("cannot open"), "{err}");
}

#[test]
fn a_namespace_is_known_by_its_identity() {
    let netns = TestNetns::new();
    let a = Netns::open(&netns.path()).expect("open");
    let own = Netns::open(Path::new("/proc/self/ns/net")).expect("open ours");
    assert_ne!(a.id(), own.id());
    let runner = NetnsRunner::spawn(a).expect("enter");
    // The runner's thread, asked for its own namespace, names the one it entered.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seen = rt
        .block_on(runner.run(|| async {
            let tid = unsafe { libc::gettid() };
            Netns::open(Path::new(&format!("/proc/self/task/{tid}/ns/net"))).map(|n| n.id())
        }))
        .expect("the runner ran the job")
        .expect("open the thread's namespace");
    assert_eq!(seen, runner.id());
}

/// Clears CAP_SYS_ADMIN from the calling thread's effective and permitted sets (capabilities
/// are per thread, so the rest of the test process keeps them; threads it starts inherit the
/// loss).
fn drop_sys_admin_in_this_thread() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_SYS_ADMIN);
    data[0].permitted &= !(1 << CAP_SYS_ADMIN);
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn without_the_capability_spawn_is_an_error_not_a_panic() {
    let netns = TestNetns::new();
    let path = netns.path();
    let outcome = std::thread::spawn(move || {
        drop_sys_admin_in_this_thread();
        let opened = Netns::open(&path).expect("opening needs no capability");
        NetnsRunner::spawn(opened).map(|_| ())
    })
    .join()
    .expect("no panic");
    let err = outcome.expect_err("setns without CAP_SYS_ADMIN");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("cannot enter the network namespace") && text.contains("CAP_SYS_ADMIN"),
        "{text}"
    );
    assert!(
        text.starts_with(&netns.path().display().to_string()),
        "{text}"
    );
}

#[test]
fn a_place_is_reused_refused_when_its_namespace_changed_and_forgotten_when_gone() {
    let netns = TestNetns::new();
    let path = netns.path();
    let id = Netns::open(&path).expect("open").id();
    let places = Places::default();
    let first = places.runner(&path, Some(id)).expect("a runner");
    let again = places.runner(&path, Some(id)).expect("the same runner");
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    // The pid behind a path now leads elsewhere (recreated container, reused pid): refused.
    let own = Netns::open(Path::new("/proc/self/ns/net"))
        .expect("ours")
        .id();
    let e = places
        .runner(&path, Some(own))
        .expect_err("another namespace");
    assert!(e.to_string().contains("another network namespace"), "{e}");
    drop(netns);
    assert!(
        places.runner(&path, Some(id)).is_err(),
        "the namespace is gone"
    );
}
