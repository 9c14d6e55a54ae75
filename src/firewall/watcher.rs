//! Reads the firewall on its own OS thread, now and then every [`INTERVAL`] (rules change
//! rarely, and `ufw` costs a Python start-up), or at once when asked.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use super::{FirewallSummary, Runner, collect_with};
use crate::worker::Worker;

pub const INTERVAL: Duration = Duration::from_secs(60);

pub struct Watcher {
    /// Capacity 1: reruns asked for while one is pending coalesce.
    control: Option<SyncSender<()>>,
    worker: Worker,
}

impl Watcher {
    /// Reads now, then every `interval`, handing each summary to `deliver` on the watcher's
    /// thread; ends when `deliver` returns false or the Watcher drops.
    pub fn spawn(
        runner: Runner,
        interval: Duration,
        mut deliver: impl FnMut(FirewallSummary) -> bool + Send + 'static,
    ) -> io::Result<Watcher> {
        let (control, requests) = mpsc::sync_channel::<()>(1);
        let worker = Worker::spawn("gatewatch-firewall", "firewall reader", move |stopped| {
            loop {
                let summary = collect_with(&runner);
                if stopped.load(Ordering::Acquire) || !deliver(summary) {
                    return;
                }
                match requests.recv_timeout(interval) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if stopped.load(Ordering::Acquire) {
                    return;
                }
                // The read about to start answers every rerun asked for meanwhile.
                while requests.try_recv().is_ok() {}
            }
        })?;
        Ok(Watcher {
            control: Some(control),
            worker,
        })
    }

    /// Reads again now instead of at the next interval; coalesced.
    pub fn rerun(&self) {
        if let Some(control) = &self.control {
            match control.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::debug!("firewall reader already stopped; rerun ignored");
                }
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.worker.is_running()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Disconnecting wakes the thread out of its wait at once.
        self.control = None;
        self.worker.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{Tool, ToolState};
    use std::sync::mpsc::channel;
    use std::time::Instant;

    /// `printf` stands in for iptables through the prefix: a real process every read.
    fn runner() -> Runner {
        Runner {
            prefix: vec![
                "sh".into(),
                "-c".into(),
                "printf -- '-A OUTPUT -d 10.0.0.5/32 -j DROP\\n'".into(),
            ],
            tools: vec![Tool::Iptables],
            ..Runner::default()
        }
    }

    #[test]
    fn reads_at_once_then_on_rerun_and_stops_when_dropped() {
        let (tx, rx) = channel();
        let watcher = Watcher::spawn(runner(), Duration::from_secs(3600), move |s| {
            tx.send(s).is_ok()
        })
        .expect("spawn");
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("first read");
        assert_eq!(first.tool(Tool::Iptables).unwrap().state, ToolState::Read);
        assert_eq!(first.rules.len(), 1);
        let asked = Instant::now();
        for _ in 0..10 {
            watcher.rerun();
        }
        rx.recv_timeout(Duration::from_secs(5)).expect("rerun read");
        assert!(asked.elapsed() < Duration::from_secs(3));
        // The thread may wake on the first rerun before the rest arrive, so one more read can
        // follow; ten never become ten reads.
        let extra = std::iter::from_fn(|| rx.recv_timeout(Duration::from_millis(300)).ok()).count();
        assert!(extra <= 1, "{extra} extra reads: reruns pile up");
        assert!(watcher.is_running());
        drop(watcher);
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }
}
