//! Runs a [`HostCollector`] on its own OS thread: sysinfo and /proc reads block (on a sick host,
//! for a long time), and the async UI must keep drawing meanwhile.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};

use std::time::Duration;

use super::{HostCollector, HostSample};

pub use crate::worker::STOP_GRACE;
use crate::worker::Worker;

const THREAD_NAME: &str = "gatewatch-host";

enum Control {
    Rerun,
}

pub struct Sampler {
    /// Capacity 1: a rerun already queued absorbs later ones, so reruns coalesce and can never
    /// pile up behind a slow sample.
    control: Option<SyncSender<Control>>,
    worker: Worker,
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
        let worker = Worker::spawn(THREAD_NAME, "host sampler", move |stopped| {
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
            worker,
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
        self.worker.is_running()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        // Disconnecting wakes the thread out of recv_timeout at once.
        self.control = None;
        self.worker.stop();
    }
}
