//! Probes every upstream on its own interval, on the caller's tokio runtime.
//!
//! One task per target, so one probe in flight per target by construction: a rerun requested
//! while a probe is in flight joins it (that probe's result answers it) instead of queueing
//! another. Results go through a bounded queue to a delivery thread that calls `deliver`, so
//! `deliver` may block (e.g. `blocking_send` into the UI's channel) without stalling the runtime;
//! when it is slow, probes wait to hand over their result rather than pile up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::ProbeResult;
use super::probe::Engine;
use crate::config::Upstream;

/// Results waiting for `deliver`; probes finishing beyond this wait for room.
pub const RESULT_QUEUE: usize = 256;
/// Each period is the interval scaled by a random factor within ±10%, so targets that start
/// together drift apart instead of firing in lockstep.
pub const JITTER: f64 = 0.1;
/// First probes are spread over this much (or the interval, if shorter): quick first results
/// without a burst of a thousand connects in the same millisecond.
pub const STARTUP_SPREAD: Duration = Duration::from_secs(1);

const THREAD_NAME: &str = "gatewatch-probes";

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the prober must be started from within a tokio runtime")]
    NoRuntime(#[from] tokio::runtime::TryCurrentError),
    #[error("cannot start the probe delivery thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Scheduler health: how many probes ran and how late they started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProberStats {
    pub started: u64,
    /// Results handed to the delivery queue.
    pub finished: u64,
    /// Worst delay of a scheduled probe behind its due time. A probe that overran the interval
    /// does not count against the next one (that is the upstream's slowness, not the scheduler's).
    pub max_lag: Duration,
    pub mean_lag: Duration,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    lag_count: AtomicU64,
    lag_sum_us: AtomicU64,
    lag_max_us: AtomicU64,
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
        }
    }
}

/// A target's rerun doorbell. `requested` counts reruns ever asked for, so a wake-up left over
/// from a rerun that already joined a finished probe can be told apart from a new one.
#[derive(Default)]
struct Rerun {
    notify: Notify,
    requested: AtomicU64,
}

/// The running prober. Dropping it stops every probe (in-flight ones are cancelled, closing their
/// sockets); the delivery thread ends after the `deliver` call it may be in.
pub struct ProbeHandle {
    reruns: Vec<Arc<Rerun>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    /// Dropping a JoinSet aborts its tasks.
    _tasks: JoinSet<()>,
    delivery: JoinHandle<()>,
}

/// Starts probing `upstreams` on the current tokio runtime. `deliver` runs on a thread of its own
/// and gets every result; returning false stops the prober (the receiver is gone).
pub fn spawn(
    upstreams: Vec<Upstream>,
    mut deliver: impl FnMut(ProbeResult) -> bool + Send + 'static,
) -> Result<ProbeHandle, SpawnError> {
    let runtime = tokio::runtime::Handle::try_current()?;
    let (results, mut queue) = mpsc::channel::<ProbeResult>(RESULT_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let delivery = thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || {
            while let Some(result) = queue.blocking_recv() {
                if stopped.load(Ordering::Acquire) || !deliver(result) {
                    // Dropping the queue makes every probe task's next send fail: they end.
                    return;
                }
            }
        })?;

    let engine = Arc::new(Engine::new(&upstreams));
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut reruns = Vec::with_capacity(upstreams.len());
    for (index, upstream) in upstreams.into_iter().enumerate() {
        let rerun = Arc::new(Rerun::default());
        reruns.push(Arc::clone(&rerun));
        let target = Target {
            index,
            upstream,
            engine: Arc::clone(&engine),
            rerun,
            results: results.clone(),
            counters: Arc::clone(&counters),
        };
        tasks.spawn_on(target.run(start), &runtime);
    }
    Ok(ProbeHandle {
        reruns,
        counters,
        stop,
        _tasks: tasks,
        delivery,
    })
}

impl ProbeHandle {
    /// Probes target `index` now. If a probe of it is in flight, that probe answers instead.
    /// An index out of range is ignored.
    pub fn rerun(&self, index: usize) {
        if let Some(rerun) = self.reruns.get(index) {
            rerun.requested.fetch_add(1, Ordering::AcqRel);
            rerun.notify.notify_one();
        }
    }

    pub fn rerun_all(&self) {
        (0..self.reruns.len()).for_each(|index| self.rerun(index));
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.reruns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reruns.is_empty()
    }

    pub fn stats(&self) -> ProberStats {
        self.counters.snapshot()
    }

    /// False once delivery has ended (`deliver` returned false, or panicked).
    pub fn is_running(&self) -> bool {
        !self.delivery.is_finished()
    }
}

impl Drop for ProbeHandle {
    fn drop(&mut self) {
        // Not joined: the thread may be blocked in `deliver` on the very loop that is dropping us.
        self.stop.store(true, Ordering::Release);
    }
}

struct Target {
    index: usize,
    upstream: Upstream,
    engine: Arc<Engine>,
    rerun: Arc<Rerun>,
    results: mpsc::Sender<ProbeResult>,
    counters: Arc<Counters>,
}

impl Target {
    async fn run(self, start: Instant) {
        let interval = self.upstream.interval;
        let mut jitter = Jitter::new(self.index);
        let mut due = start + jitter.spread(interval.min(STARTUP_SPREAD));
        // Reruns up to this count have been answered by a probe.
        let mut answered = 0;
        loop {
            let rerun = tokio::select! {
                () = sleep_until(due) => false,
                () = self.rerun.notify.notified() => true,
            };
            if rerun && self.rerun.requested.load(Ordering::Acquire) <= answered {
                continue;
            }
            let now = Instant::now();
            if !rerun {
                self.counters.record_lag(now.saturating_duration_since(due));
            }
            self.counters.started.fetch_add(1, Ordering::Relaxed);
            let result = self.engine.probe(self.index, &self.upstream).await;
            // Every rerun asked for while the probe was in flight is answered by it.
            answered = self.rerun.requested.load(Ordering::Acquire);
            if self.results.send(result).await.is_err() {
                return;
            }
            self.counters.finished.fetch_add(1, Ordering::Relaxed);
            let period = jitter.period(interval);
            // After a rerun the schedule restarts from now; after an overrun the next probe is due
            // at once, without catching up on the probes it missed.
            due = if rerun { now + period } else { due + period };
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
