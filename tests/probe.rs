//! The upstream engine against real servers on loopback: each test starts the (mis)behaving server
//! it needs on 127.0.0.1 or ::1 and probes it for real.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::{Duration, Instant};

use gatewatch::config::{HttpMethod, StatusRange, Upstream};
use gatewatch::outbox::Outbox;
use gatewatch::upstream::{
    History, Outcome, ProbeResult, ProbeScheduler, SpawnError, State, probe_all, probe_once,
};
use servers::{Behaviour, Server, closed_port};
use tokio::sync::mpsc;

fn upstream(url: &str) -> Upstream {
    common::upstream("test", url, Duration::from_secs(3))
}

fn assert_outcome(result: &ProbeResult, want: Outcome) {
    assert_eq!(result.outcome, want, "{result:#?}");
}

#[tokio::test]
async fn ok_answer() {
    let server = Server::start(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&server.url("http", "/healthz"))).await;
    assert_outcome(&result, Outcome::Ok);
    assert_eq!(result.status_code, Some(200));
    assert_eq!(result.detail, "HTTP 200 OK");
    assert_eq!(result.addr, Some(server.addr.to_string()));
    assert!(result.latency.is_some_and(|l| l <= result.elapsed));
    assert_eq!(server.requests()[0].path, "/healthz");
}

#[tokio::test]
async fn bad_gateway_and_unavailable_are_bad_status_with_the_body() {
    for code in [502, 503] {
        let server = Server::start(Behaviour::status(code)).await;
        let result = probe_once(&upstream(&server.url("http", "/"))).await;
        assert_outcome(&result, Outcome::BadStatus);
        assert_eq!(result.status_code, Some(code));
        assert!(result.latency.is_some());
        assert!(
            result.detail.contains(", expected 200-399: status")
                && result.detail.contains("from the test server"),
            "{}",
            result.detail
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_time() {
    let server = Server::start(Behaviour::Hang).await;
    let mut u = upstream(&server.url("http", "/"));
    u.timeout = Duration::from_millis(700);
    let started = Instant::now();
    let result = probe_once(&u).await;
    let elapsed = started.elapsed();
    assert_outcome(&result, Outcome::Timeout);
    assert!(elapsed >= u.timeout, "gave up early: {elapsed:?}");
    assert!(
        elapsed < u.timeout + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert_eq!(result.detail, "no answer within 700ms");
    assert_eq!(result.latency, None);
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn accept_then_close_is_reset_closed_before_answering() {
    let server = Server::start(Behaviour::Close).await;
    let result = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_outcome(&result, Outcome::Reset);
    assert!(
        result.detail.starts_with("closed before answering"),
        "{}",
        result.detail
    );
}

#[tokio::test]
async fn accept_then_rst_is_reset() {
    let server = Server::start(Behaviour::Reset).await;
    let result = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_outcome(&result, Outcome::Reset);
}

#[tokio::test]
async fn an_ssh_banner_is_an_invalid_response() {
    let server = Server::start(Behaviour::Banner(b"SSH-2.0-OpenSSH_9.2\r\n")).await;
    let result = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_outcome(&result, Outcome::InvalidResponse);
    assert!(
        result.detail.starts_with("not an HTTP server"),
        "{}",
        result.detail
    );
}

#[tokio::test]
async fn a_non_http_answer_is_an_invalid_response() {
    let server = Server::start(Behaviour::Garbage(b"220 mail.example.com ESMTP ready\r\n")).await;
    let result = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_outcome(&result, Outcome::InvalidResponse);
    assert!(
        result.detail.starts_with("not an HTTP response"),
        "{}",
        result.detail
    );
}

#[tokio::test]
async fn a_slow_answer_is_ok_but_degraded() {
    let server = Server::start(Behaviour::slow(Duration::from_secs(1))).await;
    let mut u = upstream(&server.url("http", "/"));
    u.slow = Duration::from_millis(500);
    let result = probe_once(&u).await;
    assert_outcome(&result, Outcome::Ok);
    assert!(result.latency.is_some_and(|l| l >= Duration::from_secs(1)));
    let mut history = History::for_upstream(&u);
    history.push(result);
    assert_eq!(history.state(), Some(State::Degraded));
}

#[tokio::test]
async fn nothing_listening_is_refused_for_http_and_tcp() {
    let port = closed_port();
    let http = probe_once(&upstream(&format!("http://127.0.0.1:{port}/"))).await;
    assert_outcome(&http, Outcome::Refused);
    assert!(
        http.detail.starts_with("connection refused"),
        "{}",
        http.detail
    );
    assert_eq!(http.addr, Some(format!("127.0.0.1:{port}")));
    let tcp = probe_once(&upstream(&format!("tcp://127.0.0.1:{port}"))).await;
    assert_outcome(&tcp, Outcome::Refused);
    assert_eq!(tcp.addr, Some(format!("127.0.0.1:{port}")));
}

#[tokio::test]
async fn tcp_connects_by_address_and_by_name() {
    let server = Server::start(Behaviour::Hang).await;
    let result = probe_once(&upstream(&format!("tcp://127.0.0.1:{}", server.port()))).await;
    assert_outcome(&result, Outcome::Ok);
    assert_eq!(result.detail, "connected");
    assert_eq!(result.addr, Some(server.addr.to_string()));
    // `localhost` comes from /etc/hosts: the resolver path without any DNS traffic.
    let by_name = probe_once(&upstream(&format!("tcp://localhost:{}", server.port()))).await;
    assert_outcome(&by_name, Outcome::Ok);
    assert_eq!(by_name.addr, Some(server.addr.to_string()));
}

#[tokio::test]
async fn ipv6_loopback_works_where_there_is_one() {
    let Some(server) = Server::start_v6(Behaviour::status(200)).await else {
        eprintln!("no ::1 on this machine; skipped");
        return;
    };
    let result = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_outcome(&result, Outcome::Ok);
    assert_eq!(result.addr, Some(format!("[::1]:{}", server.port())));
}

#[tokio::test]
async fn unix_sockets_listening_missing_and_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let live = dir.path().join("live.sock");
    let _listener = tokio::net::UnixListener::bind(&live).expect("bind unix socket");
    let result = probe_once(&upstream(&format!("unix:{}", live.display()))).await;
    assert_outcome(&result, Outcome::Ok);
    assert_eq!(result.addr, Some(live.display().to_string()));

    let missing = dir.path().join("missing.sock");
    let result = probe_once(&upstream(&format!("unix:{}", missing.display()))).await;
    assert_outcome(&result, Outcome::Refused);
    assert_eq!(
        result.detail,
        "socket file missing (2: No such file or directory)"
    );

    // The file stays behind when a server dies without unlinking it.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind unix socket"));
    let result = probe_once(&upstream(&format!("unix:{}", stale.display()))).await;
    assert_outcome(&result, Outcome::Refused);
    assert!(
        result
            .detail
            .starts_with("socket file exists but nothing accepts"),
        "{}",
        result.detail
    );
}

/// A `unix:` path that exists but is no socket is the proxy config's mistake, not a server gone:
/// `error`, naming what the path is, never `refused`.
#[tokio::test]
async fn unix_paths_that_are_not_sockets_are_config_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("file.sock");
    std::fs::write(&file, "not a socket").expect("write file");
    let fifo = dir.path().join("fifo.sock");
    let mkfifo = common::require_tool(&["mkfifo"], "install coreutils");
    let made = std::process::Command::new(mkfifo)
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let directory = dir.path().join("dir.sock");
    std::fs::create_dir(&directory).expect("mkdir");
    for (path, what) in [
        (&file, "a regular file"),
        (&fifo, "a FIFO"),
        (&directory, "a directory"),
    ] {
        let result = probe_once(&upstream(&format!("unix:{}", path.display()))).await;
        assert_outcome(&result, Outcome::Error);
        assert_eq!(
            result.detail,
            format!(
                "unix:{} is {what}, not a socket: fix proxy_pass/fastcgi_pass",
                path.display()
            )
        );
    }
}

/// php-fpm with every child busy: the listener exists but accepts nothing, so its backlog fills
/// and a non-blocking connect gets EAGAIN. That is `busy`, not `refused`.
#[tokio::test]
async fn unix_socket_with_a_full_backlog_is_busy() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("saturated.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).expect("unix socket");
    listener
        .bind(&SockAddr::unix(&path).expect("socket address"))
        .expect("bind unix socket");
    // Backlog 0: the kernel queues one connection, the next finds the queue full.
    listener.listen(0).expect("listen");
    let u = upstream(&format!("unix:{}", path.display()));
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let result = probe_once(&u).await;
        outcomes.push(result.outcome);
        if result.outcome == Outcome::Busy {
            assert_eq!(
                result.detail,
                "listen backlog full: the server is not accepting fast enough \
                 (11: Resource temporarily unavailable)"
            );
            assert_eq!(result.addr, Some(path.display().to_string()));
            return;
        }
    }
    panic!("never busy, outcomes: {outcomes:?}");
}

#[tokio::test]
async fn self_signed_https_is_tls_unless_verification_is_off() {
    let server = Server::start_tls(Behaviour::status(200)).await;
    let mut u = upstream(&server.url("https", "/"));
    let verified = probe_once(&u).await;
    assert_outcome(&verified, Outcome::Tls);
    assert!(
        verified.detail.contains("certificate"),
        "{}",
        verified.detail
    );
    u.tls_verify = false;
    let unverified = probe_once(&u).await;
    assert_outcome(&unverified, Outcome::Ok);
    assert_eq!(unverified.status_code, Some(200));
}

#[tokio::test]
async fn scheme_mismatches_are_classified() {
    let plain = Server::start(Behaviour::status(200)).await;
    let mut u = upstream(&plain.url("https", "/"));
    u.tls_verify = false;
    assert_outcome(&probe_once(&u).await, Outcome::Tls);
    let tls = Server::start_tls(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&tls.url("http", "/"))).await;
    assert!(
        matches!(result.outcome, Outcome::InvalidResponse | Outcome::Reset),
        "{result:#?}"
    );
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let server = Server::start(Behaviour::redirect("https://app.example.com/")).await;
    let mut u = upstream(&server.url("http", "/old"));
    u.expect = "200-299".parse().expect("range");
    let strict = probe_once(&u).await;
    assert_outcome(&strict, Outcome::BadStatus);
    assert_eq!(strict.status_code, Some(301));
    assert_eq!(
        strict.detail,
        "HTTP 301 Moved Permanently, expected 200-299 -> https://app.example.com/"
    );
    u.expect = StatusRange::DEFAULT;
    assert_outcome(&probe_once(&u).await, Outcome::Ok);
    assert_eq!(server.accepts(), 2, "the redirect must not be followed");
}

#[tokio::test]
async fn head_method_and_host_override_reach_the_server() {
    let server = Server::start(Behaviour::status(200)).await;
    let mut u = upstream(&server.url("http", "/status"));
    u.method = HttpMethod::Head;
    u.host = Some("app.example.com".into());
    assert_outcome(&probe_once(&u).await, Outcome::Ok);
    u.method = HttpMethod::Get;
    u.host = None;
    assert_outcome(&probe_once(&u).await, Outcome::Ok);
    let seen = server.requests();
    assert_eq!(seen[0].method, "HEAD");
    assert_eq!(seen[0].host.as_deref(), Some("app.example.com"));
    assert_eq!(seen[1].method, "GET");
    assert_eq!(seen[1].host, Some(server.addr.to_string()));
}

#[tokio::test]
async fn probe_all_keeps_order_and_uses_a_connection_each() {
    let server = Server::start(Behaviour::status(200)).await;
    let port = closed_port();
    let upstreams = vec![
        upstream(&server.url("http", "/a")),
        upstream(&format!("tcp://127.0.0.1:{port}")),
        upstream(&server.url("http", "/b")),
        upstream(&server.url("http", "/c")),
    ];
    let results = probe_all(&upstreams).await;
    let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Ok, Outcome::Refused, Outcome::Ok, Outcome::Ok]
    );
    let indexes: Vec<usize> = results.iter().map(|r| r.target_index).collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    assert_eq!(server.accepts(), 3, "no connection is reused");
    let json = serde_json::to_value(&results[1]).expect("json");
    assert_eq!(json["outcome"], "refused");
}

#[tokio::test]
async fn a_flapping_upstream_is_degraded() {
    let server = Server::start(Behaviour::Alternate).await;
    let u = upstream(&server.url("http", "/"));
    let mut history = History::for_upstream(&u);
    for _ in 0..5 {
        history.push(probe_once(&u).await);
    }
    let outcomes: Vec<Outcome> = history.samples().map(|s| s.outcome).collect();
    assert_eq!(outcomes[..2], [Outcome::Ok, Outcome::BadStatus]);
    assert!(history.is_flapping());
    assert_eq!(history.state(), Some(State::Degraded));
    history.push(probe_once(&u).await);
    assert_eq!(history.state(), Some(State::Down));
}

/// Delivered results one at a time, out of the prober's batches.
struct Results {
    rx: mpsc::Receiver<Vec<ProbeResult>>,
    pending: std::collections::VecDeque<ProbeResult>,
}

impl Results {
    fn new(rx: mpsc::Receiver<Vec<ProbeResult>>) -> Self {
        Results {
            rx,
            pending: Default::default(),
        }
    }

    fn try_recv(&mut self) -> Result<ProbeResult, ()> {
        if self.pending.is_empty()
            && let Ok(batch) = self.rx.try_recv()
        {
            self.pending.extend(batch);
        }
        self.pending.pop_front().ok_or(())
    }
}

/// Collects delivered results on a channel the test can wait on.
fn collector() -> (Outbox<Vec<ProbeResult>>, Results) {
    let (tx, rx) = mpsc::channel(64);
    (Outbox::new(tx), Results::new(rx))
}

async fn next_result(rx: &mut Results, within: Duration) -> Option<ProbeResult> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(r) = rx.try_recv() {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_joins_the_probe_in_flight() {
    let server = Server::start(Behaviour::Hang).await;
    let mut u = upstream(&server.url("http", "/"));
    u.timeout = Duration::from_millis(1500);
    let (outbox, mut rx) = collector();
    let prober = ProbeScheduler::spawn(vec![u], outbox).expect("spawn");
    wait_for("the first connection", Duration::from_secs(3), || {
        server.accepts() == 1
    })
    .await;
    for _ in 0..5 {
        prober.rerun(0);
    }
    prober.rerun_all();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.accepts(), 1, "a rerun started a second probe");
    let result = next_result(&mut rx, Duration::from_secs(3))
        .await
        .expect("a result");
    assert_outcome(&result, Outcome::Timeout);
    // The reruns were answered by that probe: nothing new starts after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.accepts(), 1);
    assert!(rx.try_recv().is_err());
    let stats = prober.stats();
    assert_eq!((stats.started, stats.finished), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_target_reruns_at_once_and_then_keeps_its_interval() {
    let server = Server::start(Behaviour::status(200)).await;
    let (outbox, mut rx) = collector();
    let prober =
        ProbeScheduler::spawn(vec![upstream(&server.url("http", "/"))], outbox).expect("spawn");
    let first = next_result(&mut rx, Duration::from_secs(3))
        .await
        .expect("first probe");
    assert_outcome(&first, Outcome::Ok);
    let asked = Instant::now();
    prober.rerun(0);
    prober.rerun(99); // out of range: ignored
    let second = next_result(&mut rx, Duration::from_secs(2))
        .await
        .expect("rerun result");
    assert!(asked.elapsed() < Duration::from_millis(500));
    assert!(second.seq > first.seq);
    assert_eq!(server.accepts(), 2);
    // 60 s interval: nothing more comes by itself.
    assert!(
        next_result(&mut rx, Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_are_probed_on_their_interval_and_stop_when_dropped() {
    let server = Server::start(Behaviour::status(200)).await;
    let port = closed_port();
    let mut fast = upstream(&server.url("http", "/fast"));
    fast.interval = Duration::from_millis(200);
    let mut refused = upstream(&format!("tcp://127.0.0.1:{port}"));
    refused.interval = Duration::from_millis(200);
    let (outbox, mut rx) = collector();
    let prober = ProbeScheduler::spawn(vec![fast, refused], outbox).expect("spawn");
    assert_eq!(prober.len(), 2);
    let started = Instant::now();
    let mut results = Vec::new();
    while results.len() < 10 {
        let r = next_result(&mut rx, Duration::from_secs(3))
            .await
            .expect("result");
        results.push(r);
    }
    // 5 rounds of 200 ms ± 10%, the first within the startup spread.
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    for index in 0..2 {
        let mine: Vec<&ProbeResult> = results.iter().filter(|r| r.target_index == index).collect();
        assert!(mine.len() >= 3, "target {index} got {} results", mine.len());
        assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
    }
    assert!(results.iter().any(|r| r.outcome == Outcome::Refused));
    assert!(
        prober.stats().max_lag < Duration::from_millis(250),
        "{:?}",
        prober.stats()
    );
    drop(prober);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let accepts = server.accepts();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.accepts(),
        accepts,
        "probes went on after the prober was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_holds_the_probes_back() {
    let server = Server::start(Behaviour::status(200)).await;
    let mut u = upstream(&server.url("http", "/"));
    u.interval = Duration::from_millis(10);
    let (tx, rx) = mpsc::channel(1);
    let mut rx = Results::new(rx);
    let prober = ProbeScheduler::spawn(vec![u], Outbox::new(tx)).expect("spawn");
    for _ in 0..10 {
        next_result(&mut rx, Duration::from_secs(3))
            .await
            .expect("a result");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A second of 10 ms intervals, but the receiver took only ten: beyond them, one batch waits
    // in the channel, one in the batcher, one result in the batcher's queue, and one probe waits
    // to hand its result over. Nothing piles up elsewhere.
    let stats = prober.stats();
    assert!(stats.finished <= 13, "{stats:?}");
    assert!(stats.started <= 14, "{stats:?}");
    assert!(server.accepts() <= 14, "{} connections", server.accepts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_channel_stops_the_prober() {
    let server = Server::start(Behaviour::status(200)).await;
    let mut u = upstream(&server.url("http", "/"));
    u.interval = Duration::from_millis(100);
    let (outbox, rx) = collector();
    drop(rx);
    let prober = ProbeScheduler::spawn(vec![u], outbox).expect("spawn");
    wait_for("delivery to end", Duration::from_secs(3), || {
        !prober.is_running()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let accepts = server.accepts();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.accepts(), accepts);
}

#[test]
fn spawning_outside_a_runtime_is_an_error() {
    let (outbox, _rx) = collector();
    let err = ProbeScheduler::spawn(vec![], outbox)
        .err()
        .expect("must fail");
    assert!(matches!(err, SpawnError::NoRuntime(_)));
    assert_eq!(
        err.to_string(),
        "the prober must be started from within a tokio runtime"
    );
}

/// 10,000 upstreams that each take 50 ms to answer (one server on 0.0.0.0, reached at 10,000
/// loopback addresses): never more than `MAX_IN_FLIGHT` probes (sockets) at once, counted by the
/// server itself, and every upstream probed in turn, none starved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_upstreams_share_a_global_cap_and_all_get_their_turn() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (open2, most2) = (Arc::clone(&open), Arc::clone(&most));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (open, most) = (Arc::clone(&open2), Arc::clone(&most2));
            tokio::spawn(async move {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    const TARGETS: usize = 10_000;
    let upstreams: Vec<Upstream> = (0..TARGETS)
        .map(|i| {
            let ip = format!("127.2.{}.{}", i / 250, i % 250 + 1);
            // 40 third octets of 250 addresses each.
            let mut u = upstream(&format!("http://{ip}:{port}/"));
            u.interval = Duration::from_secs(1);
            u
        })
        .collect();
    let (tx, mut rx) = mpsc::channel::<Vec<ProbeResult>>(TARGETS);
    let prober = ProbeScheduler::spawn(upstreams, Outbox::new(tx)).expect("spawn");
    let mut seen = vec![false; TARGETS];
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.iter().any(|s| !s) && Instant::now() < deadline {
        if let Ok(Some(batch)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            for r in batch {
                assert_outcome(&r, Outcome::Ok);
                seen[r.target_index] = true;
            }
        }
    }
    let probed = seen.iter().filter(|s| **s).count();
    let stats = prober.stats();
    drop(prober);
    assert_eq!(probed, TARGETS, "every upstream gets its turn");
    let cap = gatewatch::upstream::MAX_IN_FLIGHT;
    assert!(
        stats.max_in_flight as usize <= cap,
        "{} probes in flight at once",
        stats.max_in_flight
    );
    // The server counts a connection closed only once it has written its answer: the client may
    // already have started its next probe by then, so it can see a few more than the cap.
    assert!(
        most.load(Ordering::SeqCst) <= cap + 8,
        "{} connections open at once at the server",
        most.load(Ordering::SeqCst)
    );
    assert!(
        stats.max_in_flight as usize >= cap / 2,
        "the cap was reached: {stats:?}"
    );
    assert!(
        stats.max_lag > Duration::ZERO,
        "the lag says how late: {stats:?}"
    );
}
