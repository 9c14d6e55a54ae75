//! Can the prober keep 1000 targets at a 1 s interval on a 2-core box?
//!
//! Starts a few HTTP listeners on 127.0.0.1 (on a thread of their own, so their CPU can be told
//! apart), points every target at one of them, runs the prober on a 2-worker runtime like the
//! dashboard's, and reports completed probes per second against the expected rate, how late probes
//! started against their schedule, and the CPU the prober used.
//!
//! `cargo bench --bench probes -- [--targets N] [--interval-ms MS] [--seconds S]`

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gatewatch::config::{HttpMethod, StatusRange, Upstream};
use gatewatch::outbox::Outbox;
use gatewatch::upstream::{Outcome, ProbeResult, ProbeScheduler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LISTENERS: usize = 4;
const WARM_UP: Duration = Duration::from_secs(2);
const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok\n";

struct Options {
    targets: usize,
    interval: Duration,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut opts = Options {
        targets: 1000,
        interval: Duration::from_secs(1),
        seconds: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("missing value");
        match arg.as_str() {
            "--targets" => opts.targets = value()?.parse()?,
            "--interval-ms" => opts.interval = Duration::from_millis(value()?.parse()?),
            "--seconds" => opts.seconds = value()?.parse()?,
            "--bench" => {} // cargo bench passes this
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(opts)
}

fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let nofile = raise_nofile_limit();

    let stop = Arc::new(AtomicBool::new(false));
    let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
    let server_stop = Arc::clone(&stop);
    let server = thread::Builder::new()
        .name("loopback-servers".into())
        .spawn(move || serve(addrs_tx, server_stop))?;
    let addrs: Vec<SocketAddr> = addrs_rx.recv().context("servers did not start")??;
    let server_clock = thread_cpu_clock(&server);

    let upstreams: Vec<Upstream> = (0..opts.targets)
        .map(|i| -> anyhow::Result<Upstream> {
            Ok(Upstream {
                name: format!("t{i}"),
                url: format!("http://{}/t/{i}", addrs[i % addrs.len()]).parse()?,
                timeout: Duration::from_secs(2),
                interval: opts.interval,
                expect: StatusRange::DEFAULT,
                method: HttpMethod::Get,
                host: None,
                tls_verify: true,
                slow: Duration::from_secs(1),
                from: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let counts: Arc<Mutex<BTreeMap<Outcome, u64>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let report = runtime.block_on(async {
        let (counts2, latencies2) = (Arc::clone(&counts), Arc::clone(&latencies));
        // The receiving end, as the dashboard's loop would be: a task on the same runtime.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ProbeResult>>(256);
        tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                for r in batch {
                    if let Ok(mut c) = counts2.lock() {
                        *c.entry(r.outcome).or_default() += 1;
                    }
                    if let (Some(l), Ok(mut all)) = (r.latency, latencies2.lock()) {
                        all.push(l);
                    }
                }
            }
        });
        let prober = ProbeScheduler::spawn(upstreams, Outbox::new(tx))?;
        tokio::time::sleep(WARM_UP).await;
        let before = Snapshot::take(&counts, server_clock);
        let started_before = prober.stats().started;
        tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
        let after = Snapshot::take(&counts, server_clock);
        let stats = prober.stats();
        drop(prober);
        anyhow::Ok((before, after, stats, started_before))
    })?;
    stop.store(true, Ordering::Release);
    drop(runtime);

    let (before, after, stats, started_before) = report;
    let window = after.wall - before.wall;
    let done = after.completed - before.completed;
    let rate = done as f64 / window.as_secs_f64();
    let expected = opts.targets as f64 / opts.interval.as_secs_f64();
    let process_cpu = after.process_cpu - before.process_cpu;
    let server_cpu = after.server_cpu.zip(before.server_cpu).map(|(a, b)| a - b);
    let prober_cpu = server_cpu.map_or(process_cpu, |s| process_cpu.saturating_sub(s));
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));

    println!(
        "targets {} at {:?} interval, {} loopback listeners, measured {:.1}s after {:?} warm-up (fd limit {nofile})",
        opts.targets,
        opts.interval,
        addrs.len(),
        window.as_secs_f64(),
        WARM_UP
    );
    println!(
        "completed {done} probes: {rate:.1}/s, expected {expected:.1}/s ({:.1}%)",
        rate * 100.0 / expected
    );
    println!(
        "started during the window {}; outcomes over the whole run: {:?}",
        stats.started - started_before,
        after.outcomes
    );
    println!(
        "schedule lag over the whole run: max {:?}, mean {:?}",
        stats.max_lag, stats.mean_lag
    );
    println!(
        "latency p50 {:?}, p99 {:?}, max {:?}",
        pct(0.50).copied().unwrap_or_default(),
        pct(0.99).copied().unwrap_or_default(),
        lat.last().copied().unwrap_or_default()
    );
    println!(
        "cpu over the window: prober {:?} = {:.1}% of one core ({:.1} us per probe); loopback servers {}; whole process {:?}",
        prober_cpu,
        prober_cpu.as_secs_f64() * 100.0 / window.as_secs_f64(),
        prober_cpu.as_secs_f64() * 1e6 / done.max(1) as f64,
        server_cpu.map_or("not measurable".into(), |s| format!("{s:?}")),
        process_cpu
    );
    // For scripts (benches/all.sh), printed whether or not the target was met.
    println!(
        "RESULT probes targets={} interval_ms={} rate_per_s={rate:.1} expected_per_s={expected:.1} \
         max_lag_ms={:.1} cpu_pct={:.1}",
        opts.targets,
        opts.interval.as_millis(),
        stats.max_lag.as_secs_f64() * 1000.0,
        prober_cpu.as_secs_f64() * 100.0 / window.as_secs_f64()
    );
    if rate < expected * 0.98 {
        bail!("the prober fell behind: {rate:.1}/s < {expected:.1}/s");
    }
    Ok(())
}

struct Snapshot {
    wall: Instant,
    completed: u64,
    outcomes: BTreeMap<Outcome, u64>,
    process_cpu: Duration,
    server_cpu: Option<Duration>,
}

impl Snapshot {
    fn take(counts: &Mutex<BTreeMap<Outcome, u64>>, server_clock: Option<libc::clockid_t>) -> Self {
        let outcomes = counts.lock().map(|c| c.clone()).unwrap_or_default();
        Snapshot {
            wall: Instant::now(),
            completed: outcomes.values().sum(),
            outcomes,
            process_cpu: process_cpu(),
            server_cpu: server_clock.and_then(clock_time),
        }
    }
}

/// User plus system time of the whole process (getrusage).
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and has no other preconditions.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The CPU clock of another thread, to subtract the servers' share.
fn thread_cpu_clock<T>(handle: &thread::JoinHandle<T>) -> Option<libc::clockid_t> {
    use std::os::unix::thread::JoinHandleExt;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the thread is alive (joined only at exit) and `clock` is a valid out pointer.
    let rc = unsafe { libc::pthread_getcpuclockid(handle.as_pthread_t(), &mut clock) };
    (rc == 0 && clock_time(clock).is_some()).then_some(clock)
}

fn clock_time(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out pointer.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// 1000 probes a second each hold a socket briefly; the default soft limit can be 1024.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

/// Minimal HTTP servers on a single-threaded runtime: read the request head, answer 200, close.
fn serve(addrs: std::sync::mpsc::Sender<anyhow::Result<Vec<SocketAddr>>>, stop: Arc<AtomicBool>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = addrs.send(Err(e.into()));
            return;
        }
    };
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for _ in 0..LISTENERS {
            match TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    let _ = addrs.send(Err(e.into()));
                    return;
                }
            }
        }
        let bound = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let _ = addrs.send(Ok(bound));
        for listener in listeners {
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream));
                }
            });
        }
        while !stop.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

async fn answer(mut stream: TcpStream) {
    let mut buf = [0u8; 2048];
    let mut seen = 0;
    loop {
        match stream.read(&mut buf[seen..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen += n,
        }
        if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") || seen == buf.len() {
            break;
        }
    }
    let _ = stream.write_all(ANSWER).await;
    let _ = stream.shutdown().await;
}
