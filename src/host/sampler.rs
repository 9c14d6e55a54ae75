//! Runs a [`HostCollector`] on its own OS thread: sysinfo and /proc reads block (on a sick host,
//! for a long time), and the async UI must keep drawing meanwhile.

use std::io;
use std::time::Duration;

use super::{HostCollector, HostSample};
use crate::outbox::Outbox;
use crate::periodic::{Periodic, Round, Wake};

pub use crate::worker::STOP_GRACE;

pub struct HostSampler(Periodic);

impl HostSampler {
    /// Samples now, then every `refresh`; ends when the receiver is gone or the sampler drops.
    pub fn spawn(refresh: Duration, outbox: Outbox<HostSample>) -> io::Result<HostSampler> {
        let periodic = Periodic::spawn("gatewatch-host", "host sampler", refresh, outbox, || {
            // Built on the thread: even construction should not cost the caller anything.
            let mut collector = HostCollector::new();
            move |round: &Round<'_, HostSample>| {
                // The operator asked: scan the TCP tables whatever the budget says.
                if round.wake == Wake::Rerun {
                    collector.request_full_scan();
                }
                round.deliver(collector.sample())
            }
        })?;
        Ok(HostSampler(periodic))
    }

    /// Takes a sample now instead of at the next tick; coalesced.
    pub fn rerun(&self) {
        self.0.rerun();
    }

    /// False once the thread has ended (the receiver is gone, or it panicked).
    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }
}
