//! The host engine against the real machine: real /proc, real loopback sockets, real threads.

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use gatewatch::host::{HostCollector, HostSample, HostSampler, STOP_GRACE, TcpState};
use gatewatch::outbox::Outbox;
use tokio::sync::mpsc;

/// Far longer than any test waits: a sample that arrives is a rerun, not a tick.
const LONG_REFRESH: Duration = Duration::from_secs(60);
/// The first sample primes CPU counters; allow for a loaded 2-core CI box.
const FIRST_SAMPLE_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn first_sample_describes_this_machine() {
    // Keep a core busy while sampling: a primed first sample shows it, an unprimed one says 0%.
    let spin_until = Instant::now() + Duration::from_millis(800);
    let spinner = thread::spawn(move || {
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    });
    let sample = HostCollector::new().sample();
    spinner.join().expect("spinner");

    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    assert_eq!(usize::try_from(online).ok(), Some(sample.cores));
    let usable = thread::available_parallelism().expect("cpu count").get();
    assert!(sample.cores >= usable, "{} < {usable}", sample.cores);
    assert_eq!(sample.cpu_per_core.len(), sample.cores);
    for usage in sample.cpu_per_core.iter().chain([&sample.cpu_total]) {
        assert!((0.0..=100.0).contains(usage), "cpu {usage}");
    }
    assert!(sample.cpu_total > 0.0, "first sample must already be real");

    assert!(sample.mem_total > 0);
    assert!(sample.mem_used > 0 && sample.mem_used <= sample.mem_total);
    assert!(sample.swap_used <= sample.swap_total);
    assert!(sample.uptime > Duration::ZERO);
    assert!(!sample.hostname.is_empty());
    assert!(sample.load.iter().all(|l| *l >= 0.0));

    let me = sample
        .processes
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("this test process is listed");
    let exe = std::env::current_exe().expect("test binary path");
    let exe_name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 name");
    assert!(me.command.contains(exe_name), "{:?}", me.command);
    assert!(me.mem > 0);
    assert!(me.cpu > 1.0, "spinning thread not seen: {}%", me.cpu);
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(me.user, "root");
    } else {
        assert!(!me.user.is_empty());
    }
    assert!(
        sample.processes.windows(2).all(|w| w[0].pid < w[1].pid),
        "sorted by pid"
    );

    let files = sample.files.expect("file-nr readable");
    assert!(files.used > 0);
    assert!(files.max > files.used);
}

#[test]
fn loopback_connections_show_up_in_states_and_ports() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("listener addr");
    let clients: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(addr).expect("connect loopback"))
        .collect();
    let servers: Vec<TcpStream> = (0..5)
        .map(|_| listener.accept().expect("accept").0)
        .collect();

    let sample = HostCollector::new().sample();

    let states = sample.sockets.expect("socket tables readable");
    assert!(states.get(TcpState::Established) >= 10, "{states:?}");
    assert!(states.get(TcpState::Listen) >= 1, "{states:?}");
    assert_eq!(states.malformed_lines, 0);

    let ports = sample.ports.expect("port range readable");
    assert!(ports.low <= ports.high);
    let ours = clients
        .iter()
        .map(|c| c.local_addr().expect("client addr").port())
        .filter(|p| (ports.low..=ports.high).contains(p))
        .count();
    assert!(
        ours > 0,
        "connect() should pick ephemeral ports from {ports:?}"
    );
    assert!(
        ports.in_use >= u32::try_from(ours).expect("small"),
        "{ports:?} but {ours} of our clients are in range"
    );
    // The accepted ends stay open until the sample has been checked.
    drop(servers);
}

fn spawn_collecting(refresh: Duration) -> (HostSampler, mpsc::Receiver<HostSample>) {
    let (tx, rx) = mpsc::channel(16);
    let sampler = HostSampler::spawn(refresh, Outbox::new(tx)).expect("spawn sampler");
    (sampler, rx)
}

#[derive(Debug, PartialEq)]
enum Recv {
    Timeout,
    Disconnected,
}

/// `recv_timeout` for the tokio channel the sampler sends into.
fn recv_within(rx: &mut mpsc::Receiver<HostSample>, within: Duration) -> Result<HostSample, Recv> {
    let deadline = Instant::now() + within;
    loop {
        match rx.try_recv() {
            Ok(sample) => return Ok(sample),
            Err(mpsc::error::TryRecvError::Disconnected) => return Err(Recv::Disconnected),
            Err(mpsc::error::TryRecvError::Empty) if Instant::now() >= deadline => {
                return Err(Recv::Timeout);
            }
            Err(mpsc::error::TryRecvError::Empty) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

#[test]
fn sampler_delivers_at_once_and_reruns_well_before_the_refresh() {
    let (sampler, mut rx) = spawn_collecting(LONG_REFRESH);
    let first = recv_within(&mut rx, FIRST_SAMPLE_WITHIN).expect("first sample");
    assert!(first.cores > 0);
    assert!(sampler.is_running());

    let asked = Instant::now();
    sampler.rerun();
    let second = recv_within(&mut rx, Duration::from_secs(2))
        .expect("rerun delivers within 2s although refresh is 60s");
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert!(second.cores > 0);
}

#[test]
fn sampler_coalesces_a_burst_of_reruns() {
    let (sampler, mut rx) = spawn_collecting(LONG_REFRESH);
    recv_within(&mut rx, FIRST_SAMPLE_WITHIN).expect("first sample");
    for _ in 0..50 {
        sampler.rerun();
    }
    let mut delivered = 0;
    while recv_within(&mut rx, Duration::from_millis(1500)).is_ok() {
        delivered += 1;
    }
    // One for the burst, plus at most one for reruns that landed while it was being taken.
    assert!(
        (1..=2).contains(&delivered),
        "{delivered} samples for one burst"
    );
}

#[test]
fn dropping_the_sampler_stops_its_thread_promptly() {
    let (sampler, mut rx) = spawn_collecting(LONG_REFRESH);
    recv_within(&mut rx, FIRST_SAMPLE_WITHIN).expect("first sample");
    let dropped = Instant::now();
    drop(sampler);
    assert!(dropped.elapsed() <= STOP_GRACE + Duration::from_millis(200));
    // The thread owned the outbox and with it the sender: its end disconnects the channel.
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(2)).map(|_| ()),
        Err(Recv::Disconnected)
    );
    assert!(dropped.elapsed() < Duration::from_secs(2));
}

#[test]
fn dropping_the_sampler_mid_sample_delivers_nothing() {
    let (sampler, mut rx) = spawn_collecting(LONG_REFRESH);
    // The first sample takes at least sysinfo's minimum CPU interval: drop inside it.
    drop(sampler);
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(3)).map(|_| ()),
        Err(Recv::Disconnected)
    );
}

#[test]
fn a_closed_channel_ends_the_thread() {
    let (sampler, mut rx) = spawn_collecting(LONG_REFRESH);
    recv_within(&mut rx, FIRST_SAMPLE_WITHIN).expect("first sample");
    drop(rx);
    // The next sample finds no one to take it.
    sampler.rerun();
    let deadline = Instant::now() + Duration::from_secs(3);
    while sampler.is_running() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(!sampler.is_running());
    sampler.rerun(); // harmless once stopped
}
