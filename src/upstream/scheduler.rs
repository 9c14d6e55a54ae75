//! Probes every upstream on its own interval, on the caller's tokio runtime.
//!
//! One task per target, so one probe in flight per target by construction: a rerun requested
//! while a probe is in flight joins it (that probe's result answers it) instead of queueing
//! another. Each task sends its result straight into the outbox and waits there while the channel
//! is full, so a slow receiver holds the next probe back instead of letting results pile up.
//!
//! At most [`MAX_IN_FLIGHT`] probes run at once, whatever the number of targets (10,000 opened
//! thousands of sockets at once): a target waits its turn in a first-come queue, so every target
//! is probed in rotation, late rather than starved, and the lag says how late.
//!
//! Results leave in batches ([`Batcher`]): the first at once, then whatever arrived during the
//! next [`batch_window`] (at most [`BATCH_MAX`], the rest at once after it). 10,000 upstreams finish thousands of probes a second, and a receiver
//! woken (and its rows re-sorted) for each one spent a core on it; the receiver's work per batch
//! grows with the number of targets (the dashboard judges every row), so the window does too. With
//! [`ProbeScheduler::spawn_threaded`] the probes also run on a thread of their own, so their
//! sockets, TLS and parsing never take the caller's (the screen's) thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::ProbeResult;
use super::probe::{MAX_PARALLEL, Prober};
use crate::config::Upstream;
use crate::outbox::Outbox;
use crate::periodic::{Doorbell, PeriodicTask, Wake};

/// Each period is the interval scaled by a random factor within ±10%, so targets that start
/// together drift apart instead of firing in lockstep.
pub const JITTER: f64 = 0.1;
/// First probes are spread over this much (or the interval, if shorter): quick first results
/// without a burst of a thousand connects in the same millisecond.
pub const STARTUP_SPREAD: Duration = Duration::from_secs(1);
/// Probes in flight at once across every target (each holds a socket), as `check` allows.
pub const MAX_IN_FLIGHT: usize = MAX_PARALLEL;

/// After a batch is handed over, results gather at least this long before the next one leaves
/// (a full batch excepted, see [`Batcher::run`]): at most ten batches a second.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// The longest a result waits in the batcher, however many targets there are.
pub const MAX_BATCH_WINDOW: Duration = Duration::from_secs(1);
/// Window added per target: 10,000 targets make one batch a second, so a receiver that judges
/// all of them for each batch spends a bounded share of its thread on it.
const WINDOW_PER_TARGET: Duration = Duration::from_micros(100);

/// How long results gather before the next batch leaves, for `targets` targets.
pub fn batch_window(targets: usize) -> Duration {
    let per = u32::try_from(targets).unwrap_or(u32::MAX);
    WINDOW_PER_TARGET
        .saturating_mul(per)
        .clamp(BATCH_WINDOW, MAX_BATCH_WINDOW)
}
/// Most results in one batch.
pub const BATCH_MAX: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the prober must be started from within a tokio runtime")]
    NoRuntime(#[from] tokio::runtime::TryCurrentError),
    #[error("cannot start the probes' thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Scheduler health: how many probes ran and how late they started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProberStats {
    pub started: u64,
    /// Results handed to the outbox.
    pub finished: u64,
    /// Worst delay of a scheduled probe behind its due time. A probe that overran the interval
    /// does not count against the next one (that is the upstream's slowness, not the scheduler's).
    pub max_lag: Duration,
    pub mean_lag: Duration,
    /// The most probes seen in flight at once (at most [`MAX_IN_FLIGHT`]).
    pub max_in_flight: u64,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    lag_count: AtomicU64,
    lag_sum_us: AtomicU64,
    lag_max_us: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Counters {
    fn record_lag(&self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.lag_count.fetch_add(1, Ordering::Relaxed);
        self.lag_sum_us.fetch_add(us, Ordering::Relaxed);
        self.lag_max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ProberStats {
        let count = self.lag_count.load(Ordering::Relaxed);
        let sum = self.lag_sum_us.load(Ordering::Relaxed);
        ProberStats {
            started: self.started.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            max_lag: Duration::from_micros(self.lag_max_us.load(Ordering::Relaxed)),
            mean_lag: Duration::from_micros(sum.checked_div(count).unwrap_or(0)),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
        }
    }
}

/// The running prober. Dropping it stops every probe (in-flight ones are cancelled, closing their
/// sockets).
pub struct ProbeScheduler {
    /// One per target, in the order of the upstreams given.
    targets: Vec<PeriodicTask>,
    counters: Arc<Counters>,
    batcher: JoinHandle<()>,
    /// Declared last so the tasks above are gone before their runtime stops.
    _thread: Option<RuntimeThread>,
}

impl ProbeScheduler {
    /// Starts probing `upstreams` on the current tokio runtime, every result into `outbox`, in
    /// batches. The prober stops when the receiver is gone.
    pub fn spawn(
        upstreams: Vec<Upstream>,
        outbox: Outbox<Vec<ProbeResult>>,
    ) -> Result<ProbeScheduler, SpawnError> {
        let runtime = Handle::try_current()?;
        Ok(Self::spawn_on(&runtime, upstreams, outbox, None))
    }

    /// The same on a thread named `name` with a runtime of its own, so the probes cost the
    /// caller's thread nothing but the batches it receives.
    pub fn spawn_threaded(
        name: &str,
        upstreams: Vec<Upstream>,
        outbox: Outbox<Vec<ProbeResult>>,
    ) -> Result<ProbeScheduler, SpawnError> {
        let thread = RuntimeThread::spawn(name)?;
        let handle = thread.handle.clone();
        Ok(Self::spawn_on(&handle, upstreams, outbox, Some(thread)))
    }

    fn spawn_on(
        runtime: &Handle,
        upstreams: Vec<Upstream>,
        outbox: Outbox<Vec<ProbeResult>>,
        thread: Option<RuntimeThread>,
    ) -> ProbeScheduler {
        let prober = Arc::new(Prober::new(&upstreams));
        let counters = Arc::new(Counters::default());
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        // Room for every target's result: a target does not probe again before its result is
        // queued, so a window's results never wait for room (waiting, they would hold the next
        // probes back) unless the dashboard stops taking batches, which then holds them all.
        let (results, queue) = mpsc::channel(upstreams.len().max(1));
        let window = batch_window(upstreams.len());
        let start = Instant::now();
        let targets = upstreams
            .into_iter()
            .enumerate()
            .map(|(index, upstream)| {
                let probes = ProbeLoop {
                    index,
                    upstream,
                    prober: Arc::clone(&prober),
                    results: results.clone(),
                    counters: Arc::clone(&counters),
                    permits: Arc::clone(&permits),
                };
                PeriodicTask::spawn(runtime, |doorbell| probes.run(doorbell, start))
            })
            .collect();
        let batcher = runtime.spawn(
            Batcher {
                queue,
                outbox,
                window,
            }
            .run(),
        );
        ProbeScheduler {
            targets,
            counters,
            batcher,
            _thread: thread,
        }
    }

    /// Probes target `index` now. If a probe of it is in flight, that probe answers instead.
    /// An index out of range is ignored.
    pub fn rerun(&self, index: usize) {
        if let Some(target) = self.targets.get(index) {
            target.rerun();
        }
    }

    pub fn rerun_all(&self) {
        self.targets.iter().for_each(PeriodicTask::rerun);
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn stats(&self) -> ProberStats {
        self.counters.snapshot()
    }

    /// False once every target's task has ended (the receiver is gone).
    pub fn is_running(&self) -> bool {
        self.targets.iter().any(PeriodicTask::is_running)
    }
}

impl Drop for ProbeScheduler {
    fn drop(&mut self) {
        self.batcher.abort();
    }
}

/// Gathers the targets' results into batches for the outbox.
struct Batcher {
    queue: mpsc::Receiver<ProbeResult>,
    outbox: Outbox<Vec<ProbeResult>>,
    /// See [`batch_window`].
    window: Duration,
}

impl Batcher {
    /// Hands over what is queued (waiting for the first result), then lets results gather for
    /// the window. A full batch leaves more queued, and it goes at once: waiting a window after
    /// each would cap the probes at [`BATCH_MAX`] a window (10,000 upstreams every 2 s need
    /// 5,000 a second). Ends when the receiver or every target is gone.
    async fn run(mut self) {
        loop {
            let mut batch = Vec::new();
            let taken = self.queue.recv_many(&mut batch, BATCH_MAX).await;
            if taken == 0 || self.outbox.send(batch).await.is_err() {
                return;
            }
            if taken < BATCH_MAX {
                tokio::time::sleep(self.window).await;
            }
        }
    }
}

/// A current-thread runtime driven by a thread of its own until dropped.
struct RuntimeThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    fn spawn(name: &str) -> std::io::Result<RuntimeThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // Ends on the stop signal or when the sender is dropped.
                let _ = runtime.block_on(stopped);
                // A lookup on a blocking thread must not hold the caller up.
                runtime.shutdown_background();
            })?;
        Ok(RuntimeThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One target's probes, one at a time.
struct ProbeLoop {
    index: usize,
    upstream: Upstream,
    prober: Arc<Prober>,
    /// Into the [`Batcher`].
    results: mpsc::Sender<ProbeResult>,
    counters: Arc<Counters>,
    /// Shared by every target: [`MAX_IN_FLIGHT`] of them, handed out first come, first served.
    permits: Arc<Semaphore>,
}

impl ProbeLoop {
    async fn run(self, doorbell: Arc<Doorbell>, start: Instant) {
        let interval = self.upstream.interval;
        let mut jitter = Jitter::new(self.index);
        let mut due = start + jitter.spread(interval.min(STARTUP_SPREAD));
        loop {
            let wake = doorbell.wait_until(due).await;
            // Closed only if the scheduler is gone: then so is every probe.
            let Ok(permit) = self.permits.acquire().await else {
                return;
            };
            let now = Instant::now();
            if wake == Wake::Due {
                self.counters.record_lag(now.saturating_duration_since(due));
            }
            self.counters.started.fetch_add(1, Ordering::Relaxed);
            let in_flight = self.counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            self.counters
                .max_in_flight
                .fetch_max(in_flight, Ordering::Relaxed);
            let result = self.prober.probe(self.index, &self.upstream).await;
            self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            // Every rerun asked for while the probe was in flight is answered by it.
            doorbell.answered();
            if self.results.send(result).await.is_err() {
                return;
            }
            self.counters.finished.fetch_add(1, Ordering::Relaxed);
            let period = jitter.period(interval);
            // After a rerun the schedule restarts from now; after an overrun the next probe is due
            // at once, without catching up on the probes it missed.
            due = match wake {
                Wake::Rerun => now + period,
                Wake::Due => due + period,
            };
            due = due.max(Instant::now());
        }
    }
}

/// Deterministic per-target randomness (splitmix64 seeded by the target's index), so runs are
/// reproducible while targets still differ.
struct Jitter(u64);

impl Jitter {
    fn new(index: usize) -> Self {
        Jitter(0x9E37_79B9_7F4A_7C15 ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    /// Uniform in [0, 1).
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn spread(&mut self, over: Duration) -> Duration {
        over.mul_f64(self.next_unit())
    }

    fn period(&mut self, interval: Duration) -> Duration {
        interval.mul_f64(1.0 + JITTER * (2.0 * self.next_unit() - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Outcome;
    use std::time::SystemTime;

    fn result(target_index: usize) -> ProbeResult {
        ProbeResult {
            target_index,
            seq: target_index as u64 + 1,
            at: SystemTime::UNIX_EPOCH,
            outcome: Outcome::Refused,
            status_code: None,
            latency: None,
            elapsed: Duration::from_micros(80),
            detail: String::new(),
            addr: None,
            cert_not_after: None,
            phases: crate::upstream::Phases::default(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn results_leave_in_batches_the_first_at_once() {
        let (results, queue) = mpsc::channel(BATCH_MAX);
        let (out, mut delivered) = mpsc::channel::<Vec<ProbeResult>>(4);
        let batcher = tokio::spawn(
            Batcher {
                queue,
                outbox: Outbox::new(out),
                window: BATCH_WINDOW,
            }
            .run(),
        );
        let start = Instant::now();
        results.send(result(0)).await.expect("queued");
        let first = delivered.recv().await.expect("a batch");
        assert_eq!(first, [result(0)], "a lone result is not held back");
        assert!(start.elapsed() < BATCH_WINDOW / 2, "{:?}", start.elapsed());
        // Everything that arrives during the window leaves together, in arrival order.
        for i in 1..=300 {
            results.send(result(i)).await.expect("queued");
        }
        let second = delivered.recv().await.expect("a batch");
        assert!(start.elapsed() >= BATCH_WINDOW, "{:?}", start.elapsed());
        let indices: Vec<usize> = second.iter().map(|r| r.target_index).collect();
        assert_eq!(indices, (1..=300).collect::<Vec<_>>());
        // With every target gone the batcher ends, which closes the receiver's channel.
        drop(results);
        assert!(delivered.recv().await.is_none());
        batcher.await.expect("the batcher ends cleanly");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn more_results_than_a_batch_holds_are_not_held_a_window_per_batch() {
        // Held a window per batch, the four batches below would take three windows or more.
        let window = Duration::from_millis(500);
        let total = 3 * BATCH_MAX + 1;
        // As many as targets, as the scheduler makes it.
        let (results, queue) = mpsc::channel(total);
        let (out, mut delivered) = mpsc::channel::<Vec<ProbeResult>>(64);
        tokio::spawn(
            Batcher {
                queue,
                outbox: Outbox::new(out),
                window,
            }
            .run(),
        );
        let producer = tokio::spawn(async move {
            for i in 0..total {
                results.send(result(i)).await.expect("queued");
            }
        });
        let start = Instant::now();
        let mut got = 0;
        while got < total {
            got += delivered.recv().await.expect("a batch").len();
        }
        producer.await.expect("every result was queued");
        // One window for the results that came after the first, not one per BATCH_MAX of them.
        assert!(start.elapsed() < 2 * window, "{:?}", start.elapsed());
    }

    #[test]
    fn the_window_grows_with_the_targets_within_its_bounds() {
        assert_eq!(batch_window(0), BATCH_WINDOW);
        assert_eq!(batch_window(40), BATCH_WINDOW);
        assert_eq!(batch_window(2_000), Duration::from_millis(200));
        assert_eq!(batch_window(10_000), Duration::from_secs(1));
        assert_eq!(batch_window(usize::MAX), MAX_BATCH_WINDOW);
    }

    #[test]
    fn a_threaded_prober_runs_without_the_callers_runtime_and_stops_when_dropped() {
        use std::net::TcpListener;
        // Bound, never listening: every probe is refused at once.
        let socket = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        drop(socket);
        let upstream = |i: usize| Upstream {
            name: format!("u{i}"),
            url: crate::config::Target::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            timeout: Duration::from_secs(1),
            interval: Duration::from_millis(200),
            expect: crate::config::StatusRange::DEFAULT,
            method: crate::config::HttpMethod::Get,
            host: None,
            tls_verify: true,
            slow: Duration::from_millis(500),
            from: None,
        };
        let (out, mut delivered) = mpsc::channel::<Vec<ProbeResult>>(64);
        // No runtime on this thread: the prober brings its own.
        let prober = ProbeScheduler::spawn_threaded(
            "probes-test",
            (0..50).map(upstream).collect(),
            Outbox::new(out),
        )
        .expect("spawn");
        let mut seen = [false; 50];
        let mut batches = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while seen.iter().any(|s| !s) && std::time::Instant::now() < deadline {
            if let Ok(batch) = delivered.try_recv() {
                batches += 1;
                for r in batch {
                    seen[r.target_index] = true;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(seen.iter().all(|s| *s), "every target reported");
        // First probes are spread over a second: ten batches a second at most, not fifty.
        assert!(batches <= 12, "{batches} batches");
        drop(prober);
        // Dropped means its runtime is gone with every task: nothing can deliver any more.
        loop {
            match delivered.try_recv() {
                Ok(_) => continue,
                Err(e) => {
                    assert_eq!(e, mpsc::error::TryRecvError::Disconnected);
                    break;
                }
            }
        }
    }

    #[test]
    fn periods_stay_within_the_jitter_and_average_out() {
        let interval = Duration::from_secs(2);
        let mut jitter = Jitter::new(7);
        let periods: Vec<Duration> = (0..10_000).map(|_| jitter.period(interval)).collect();
        let low = interval.mul_f64(1.0 - JITTER);
        let high = interval.mul_f64(1.0 + JITTER);
        assert!(periods.iter().all(|p| (low..=high).contains(p)));
        let mean = periods.iter().sum::<Duration>() / periods.len() as u32;
        let off = mean.abs_diff(interval);
        assert!(off < Duration::from_millis(10), "mean {mean:?}");
    }

    #[test]
    fn targets_get_different_but_reproducible_phases() {
        let phase = |i| Jitter::new(i).spread(Duration::from_secs(1));
        assert_eq!(phase(3), phase(3));
        let phases: Vec<Duration> = (0..100).map(phase).collect();
        let early = phases
            .iter()
            .filter(|p| **p < Duration::from_millis(500))
            .count();
        assert!(
            (30..=70).contains(&early),
            "{early} of 100 in the first half"
        );
    }
}
