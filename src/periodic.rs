//! "Run now, then every interval or at once when asked": the one loop every collector runs.
//!
//! Reruns coalesce: any number asked for while a run is pending or under way make one more run,
//! never a queue. Results go out through an [`Outbox`], so a full channel makes the collector wait
//! and a closed one ends it.
//!
//! Two flavours, because collectors are of two kinds. Blocking work (sysinfo, /proc, commands)
//! runs on its own thread, [`Periodic`], stopped with a grace ([`crate::worker::Worker`]). Async
//! work (DNS, probes) runs as a [`PeriodicTask`] on the caller's runtime, aborted when dropped;
//! its loop stays with the collector, which knows its schedule (the prober's is jittered).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::outbox::Outbox;
use crate::worker::Worker;

/// Why a run started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Its time came (the first run is due at once).
    Due,
    /// Someone asked for it.
    Rerun,
}

/// A collector on its own OS thread. Dropping it stops the thread (see [`Worker::stop`]).
pub struct Periodic {
    /// Capacity 1: a rerun already pending absorbs later ones. Dropped to wake the thread.
    rerun: Option<SyncSender<()>>,
    worker: Worker,
    what: &'static str,
}

/// One run of a [`Periodic`]: why it started, and where its results go.
pub struct Round<'a, T> {
    pub wake: Wake,
    /// Raised when the collector is stopping; long work can watch it (a command can be killed).
    pub stop: &'a AtomicBool,
    outbox: &'a Outbox<T>,
}

impl<T: Send + 'static> Round<'_, T> {
    /// Hands `item` over, waiting while the channel is full. False when the collector should
    /// end: it is stopping (whoever would receive this is likely gone), or the receiver is gone.
    pub fn deliver(&self, item: T) -> bool {
        !self.stop.load(Ordering::Acquire) && self.outbox.blocking_send(item).is_ok()
    }
}

impl Periodic {
    /// Starts a thread named `name` that calls `start` once, then runs what it returned at once
    /// and again every `interval` after a run ends, or sooner on [`Periodic::rerun`]. The thread
    /// ends when a run returns false (normally: [`Round::deliver`] did) or the Periodic drops.
    /// `start` runs on the thread, so building the collector costs the caller nothing.
    pub fn spawn<T, F>(
        name: &str,
        what: &'static str,
        interval: Duration,
        outbox: Outbox<T>,
        start: impl FnOnce() -> F + Send + 'static,
    ) -> io::Result<Periodic>
    where
        T: Send + 'static,
        F: FnMut(&Round<'_, T>) -> bool,
    {
        let (rerun, requests) = mpsc::sync_channel(1);
        let worker = Worker::spawn(name, what, move |stop| {
            let mut run = start();
            let mut wake = Wake::Due;
            loop {
                let round = Round {
                    wake,
                    stop: &stop,
                    outbox: &outbox,
                };
                if !run(&round) {
                    return;
                }
                wake = match requests.recv_timeout(interval) {
                    Ok(()) => Wake::Rerun,
                    Err(RecvTimeoutError::Timeout) => Wake::Due,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                if stop.load(Ordering::Acquire) {
                    return;
                }
                // The run about to start answers every rerun asked for meanwhile.
                while requests.try_recv().is_ok() {}
            }
        })?;
        Ok(Periodic {
            rerun: Some(rerun),
            worker,
            what,
        })
    }

    /// Runs now instead of at the next interval; coalesced with a rerun already pending.
    pub fn rerun(&self) {
        if let Some(rerun) = &self.rerun {
            match rerun.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::debug!("{} already stopped; rerun ignored", self.what);
                }
            }
        }
    }

    /// False once the thread has ended (a run returned false, or it panicked).
    pub fn is_running(&self) -> bool {
        self.worker.is_running()
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        // Disconnecting wakes the thread out of its wait at once.
        self.rerun = None;
        self.worker.stop();
    }
}

/// A collector's task on a tokio runtime, aborted when dropped: its in-flight work is only
/// futures, and dropping them closes their sockets.
pub struct PeriodicTask {
    doorbell: Arc<Doorbell>,
    task: JoinHandle<()>,
}

impl PeriodicTask {
    /// Spawns `body` on `runtime`; the body loops on [`Doorbell::wait_until`].
    pub fn spawn<F>(runtime: &Handle, body: impl FnOnce(Arc<Doorbell>) -> F) -> PeriodicTask
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let doorbell = Arc::new(Doorbell::default());
        let task = runtime.spawn(body(Arc::clone(&doorbell)));
        PeriodicTask { doorbell, task }
    }

    /// Runs now instead of when due; coalesced with a rerun already pending.
    pub fn rerun(&self) {
        self.doorbell.notify.notify_one();
    }

    /// False once the task has ended (normally: its outbox closed).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for PeriodicTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a [`PeriodicTask`] waits on between runs. A `Notify` keeps at most one permit, which is
/// what makes reruns coalesce.
#[derive(Default)]
pub struct Doorbell {
    notify: Notify,
}

impl Doorbell {
    /// Sleeps until `due` or a rerun. The run that follows answers every rerun asked for so far:
    /// a permit left by one is taken here, or it would start a second run straight after.
    pub async fn wait_until(&self, due: Instant) -> Wake {
        let wake = tokio::select! {
            () = sleep_until(due) => Wake::Due,
            () = self.notify.notified() => Wake::Rerun,
        };
        self.answered();
        wake
    }

    /// Forgets reruns asked for since the last wait: for a run whose result is fresh enough to
    /// answer them (a probe in flight answers a rerun of its target).
    pub fn answered(&self) {
        let _ = self.notify.notified().now_or_never();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::STOP_GRACE;
    use std::sync::atomic::AtomicUsize;
    use std::thread;
    use std::time::Instant as StdInstant;
    use tokio::sync::mpsc;

    const LONG: Duration = Duration::from_secs(3600);

    /// Waits up to `within` for the next item; `None` on time-out, `Some(None)` once closed.
    fn next_within<T>(rx: &mut mpsc::Receiver<T>, within: Duration) -> Option<Option<T>> {
        let deadline = StdInstant::now() + within;
        loop {
            match rx.try_recv() {
                Ok(item) => return Some(Some(item)),
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(None),
                Err(mpsc::error::TryRecvError::Empty) if StdInstant::now() >= deadline => {
                    return None;
                }
                Err(mpsc::error::TryRecvError::Empty) => thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// A counter on a thread: each run sends how many runs came before it and why it woke.
    fn counting(
        interval: Duration,
        run_takes: Duration,
    ) -> (Periodic, mpsc::Receiver<(usize, Wake, String)>) {
        let (tx, rx) = mpsc::channel(64);
        let periodic = Periodic::spawn(
            "periodic-test",
            "test counter",
            interval,
            Outbox::new(tx),
            {
                move || {
                    let mut runs = 0;
                    move |round: &Round<'_, (usize, Wake, String)>| {
                        thread::sleep(run_takes);
                        let name = thread::current().name().unwrap_or("").to_owned();
                        runs += 1;
                        round.deliver((runs, round.wake, name))
                    }
                }
            },
        )
        .unwrap();
        (periodic, rx)
    }

    #[test]
    fn runs_at_once_on_its_own_thread_then_every_interval() {
        let started = StdInstant::now();
        let (periodic, mut rx) = counting(Duration::from_millis(100), Duration::ZERO);
        let first = next_within(&mut rx, Duration::from_secs(2))
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(90),
            "first run waited"
        );
        assert_eq!(first, (1, Wake::Due, "periodic-test".to_owned()));
        for n in 2..=4 {
            let (runs, wake, _) = next_within(&mut rx, Duration::from_secs(2))
                .unwrap()
                .unwrap();
            assert_eq!((runs, wake), (n, Wake::Due));
        }
        let elapsed = started.elapsed();
        assert!(
            (Duration::from_millis(300)..Duration::from_millis(900)).contains(&elapsed),
            "three intervals of 100 ms took {elapsed:?}"
        );
        assert!(periodic.is_running());
    }

    #[test]
    fn reruns_while_busy_coalesce_into_one_more_run() {
        let (periodic, mut rx) = counting(LONG, Duration::from_millis(300));
        // The first run is under way: ten reruns now all wait for it, and make one run after it.
        thread::sleep(Duration::from_millis(50));
        for _ in 0..10 {
            periodic.rerun();
        }
        let first = next_within(&mut rx, Duration::from_secs(2))
            .unwrap()
            .unwrap();
        assert_eq!((first.0, first.1), (1, Wake::Due));
        let second = next_within(&mut rx, Duration::from_secs(2))
            .unwrap()
            .unwrap();
        assert_eq!((second.0, second.1), (2, Wake::Rerun));
        assert!(
            next_within(&mut rx, Duration::from_millis(700)).is_none(),
            "a third run"
        );
    }

    #[test]
    fn stop_returns_within_the_grace_while_a_run_is_slow() {
        let (periodic, mut rx) = counting(LONG, Duration::from_secs(3));
        thread::sleep(Duration::from_millis(50));
        let dropped = StdInstant::now();
        drop(periodic);
        let took = dropped.elapsed();
        assert!(took >= STOP_GRACE, "did not wait for the run: {took:?}");
        assert!(took < STOP_GRACE + Duration::from_millis(300), "{took:?}");
        // The slow run, finishing after the stop, delivers nothing; then its thread ends.
        assert_eq!(next_within(&mut rx, Duration::from_secs(5)), Some(None));
    }

    #[test]
    fn an_idle_thread_stops_at_once() {
        let (periodic, mut rx) = counting(LONG, Duration::ZERO);
        next_within(&mut rx, Duration::from_secs(2))
            .unwrap()
            .unwrap();
        let dropped = StdInstant::now();
        drop(periodic);
        assert!(dropped.elapsed() < Duration::from_millis(200));
        assert_eq!(next_within(&mut rx, Duration::from_secs(1)), Some(None));
    }

    #[test]
    fn a_full_channel_makes_runs_wait_and_loses_none() {
        let (tx, mut rx) = mpsc::channel::<usize>(2);
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&produced);
        // Every run offers ten results at once; the consumer is slower than the runs.
        let periodic =
            Periodic::spawn("periodic-test", "burst", Duration::ZERO, Outbox::new(tx), {
                move || {
                    move |round: &Round<'_, usize>| {
                        (0..10).all(|_| round.deliver(counter.fetch_add(1, Ordering::SeqCst)))
                    }
                }
            })
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(
                next_within(&mut rx, Duration::from_secs(2))
                    .unwrap()
                    .unwrap(),
            );
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>(), "a result was lost");
        // Capacity 2 plus the one a blocked send holds: production waited for the consumer.
        let ahead = produced.load(Ordering::SeqCst) - got.len();
        assert!(ahead <= 3, "the producer ran {ahead} results ahead");
        // Closing first unblocks the send the thread waits in, so the stop needs no grace.
        drop(rx);
        drop(periodic);
    }

    #[test]
    fn a_closed_channel_ends_the_thread() {
        let (periodic, mut rx) = counting(Duration::from_millis(20), Duration::ZERO);
        next_within(&mut rx, Duration::from_secs(2))
            .unwrap()
            .unwrap();
        drop(rx);
        let deadline = StdInstant::now() + Duration::from_secs(2);
        while periodic.is_running() && StdInstant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(!periodic.is_running());
    }

    /// The async flavour, as the DNS collector uses it: a run, a send, a wait.
    fn counting_task(
        interval: Duration,
        run_takes: Duration,
    ) -> (PeriodicTask, mpsc::Receiver<(usize, Wake)>) {
        let (tx, rx) = mpsc::channel(64);
        let outbox = Outbox::new(tx);
        let task = PeriodicTask::spawn(&Handle::current(), move |doorbell| async move {
            let mut runs = 0;
            let mut due = Instant::now();
            loop {
                let wake = doorbell.wait_until(due).await;
                tokio::time::sleep(run_takes).await;
                runs += 1;
                if outbox.send((runs, wake)).await.is_err() {
                    return;
                }
                due = Instant::now() + interval;
            }
        });
        (task, rx)
    }

    async fn recv_within<T>(rx: &mut mpsc::Receiver<T>, within: Duration) -> Option<T> {
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_task_runs_at_once_then_every_interval() {
        let started = Instant::now();
        let (task, mut rx) = counting_task(Duration::from_millis(100), Duration::ZERO);
        let wait = Duration::from_secs(2);
        assert_eq!(recv_within(&mut rx, wait).await, Some((1, Wake::Due)));
        assert!(started.elapsed() < Duration::from_millis(90));
        assert_eq!(recv_within(&mut rx, wait).await, Some((2, Wake::Due)));
        assert_eq!(recv_within(&mut rx, wait).await, Some((3, Wake::Due)));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(task.is_running());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn task_reruns_while_busy_coalesce_into_one_more_run() {
        let (task, mut rx) = counting_task(LONG, Duration::from_millis(200));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..10 {
            task.rerun();
        }
        let wait = Duration::from_secs(2);
        assert_eq!(recv_within(&mut rx, wait).await, Some((1, Wake::Due)));
        assert_eq!(recv_within(&mut rx, wait).await, Some((2, Wake::Rerun)));
        assert_eq!(recv_within(&mut rx, Duration::from_millis(500)).await, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_task_stops_mid_run_and_a_closed_channel_ends_it() {
        let (task, mut rx) = counting_task(LONG, Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(task);
        // Aborted mid-run: the task and its outbox are gone, so the channel closes at once.
        assert!(tokio::time::timeout(Duration::from_millis(200), rx.recv()).await == Ok(None));

        let (task, mut rx) = counting_task(Duration::from_millis(20), Duration::ZERO);
        recv_within(&mut rx, Duration::from_secs(2)).await.unwrap();
        drop(rx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.is_running());
    }
}
