//! Runs a [`HostCollector`] on its own OS thread: sysinfo and /proc reads block (on a sick host,
//! for a long time), and the async UI must keep drawing meanwhile.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{HostCollector, HostSample};

pub use crate::worker::STOP_GRACE;

const THREAD_NAME: &str = "gatewatch-host";

enum Control {
    Rerun,
}

pub struct Sampler {
    /// Capacity 1: a rerun already queued absorbs later ones, so reruns coalesce and can never
    /// pile up behind a slow sample.
    control: Option<SyncSender<Control>>,
    stop: Arc<AtomicBool>,
    /// Never sent on; disconnects when the thread exits, so Drop can wait with a timeout.
    done: Receiver<()>,
    handle: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Samples now, then every `refresh`, handing each sample to `deliver` on the sampler thread;
    /// the thread ends when `deliver` returns false (the receiver is gone) or the Sampler drops.
    pub fn spawn(
        refresh: Duration,
        deliver: impl FnMut(HostSample) -> bool + Send + 'static,
    ) -> io::Result<Sampler> {
        // Built on the thread: even construction should not cost the caller anything.
        Self::start(refresh, HostCollector::new, deliver)
    }

    /// Like [`Sampler::spawn`] with a collector of the caller's choosing (e.g. a proc root).
    pub fn spawn_with(
        collector: HostCollector,
        refresh: Duration,
        deliver: impl FnMut(HostSample) -> bool + Send + 'static,
    ) -> io::Result<Sampler> {
        Self::start(refresh, move || collector, deliver)
    }

    fn start(
        refresh: Duration,
        make: impl FnOnce() -> HostCollector + Send + 'static,
        mut deliver: impl FnMut(HostSample) -> bool + Send + 'static,
    ) -> io::Result<Sampler> {
        let (control, requests) = mpsc::sync_channel(1);
        let (done_tx, done) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                // Declared first so it drops last, after the collector and `deliver`.
                let _done = done_tx;
                let mut collector = make();
                loop {
                    let sample = collector.sample();
                    // Stopped mid-sample: whoever would receive this is likely gone.
                    if stopped.load(Ordering::Acquire) || !deliver(sample) {
                        return;
                    }
                    match requests.recv_timeout(refresh) {
                        Ok(Control::Rerun) => collector.request_full_scan(),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    if stopped.load(Ordering::Acquire) {
                        return;
                    }
                    // The sample about to be taken answers any rerun that queued meanwhile.
                    while requests.try_recv().is_ok() {}
                }
            })?;
        Ok(Sampler {
            control: Some(control),
            stop,
            done,
            handle: Some(handle),
        })
    }

    /// Takes a sample now instead of at the next tick. Coalesced: reruns requested while one is
    /// pending add nothing.
    pub fn rerun(&self) {
        if let Some(control) = &self.control {
            match control.try_send(Control::Rerun) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => {
                    tracing::debug!("host sampler already stopped; rerun ignored");
                }
            }
        }
    }

    /// False once the thread has ended (deliver returned false, or it panicked).
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Disconnecting wakes the thread out of recv_timeout at once.
        self.control = None;
        let Some(handle) = self.handle.take() else {
            return;
        };
        crate::worker::join_within_grace(handle, &self.done, "host sampler");
    }
}
