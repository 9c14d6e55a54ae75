//! Reads the firewall on its own OS thread, now and then every [`INTERVAL`] (rules change
//! rarely, and `ufw` costs a Python start-up), or at once when asked.

use std::io;
use std::time::Duration;

use super::{FirewallSummary, ToolReader, collect_with};
use crate::outbox::Outbox;
use crate::periodic::{Periodic, Round};

pub const INTERVAL: Duration = Duration::from_secs(60);

pub struct FirewallWatcher(Periodic);

impl FirewallWatcher {
    /// Reads now, then every `interval`; ends when the receiver is gone or the watcher drops.
    pub fn spawn(
        reader: ToolReader,
        interval: Duration,
        outbox: Outbox<FirewallSummary>,
    ) -> io::Result<FirewallWatcher> {
        let what = "firewall reader";
        let periodic = Periodic::spawn("gatewatch-firewall", what, interval, outbox, || {
            move |round: &Round<'_, FirewallSummary>| round.deliver(collect_with(&reader))
        })?;
        Ok(FirewallWatcher(periodic))
    }

    /// Reads again now instead of at the next interval; coalesced.
    pub fn rerun(&self) {
        self.0.rerun();
    }

    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{Tool, ToolState};
    use crate::outbox::recv_within;
    use std::time::Instant;
    use tokio::sync::mpsc;

    /// `printf` stands in for iptables through the prefix: a real process every read.
    fn reader() -> ToolReader {
        ToolReader {
            prefix: vec![
                "sh".into(),
                "-c".into(),
                "printf -- '-A OUTPUT -d 10.0.0.5/32 -j DROP\\n'".into(),
            ],
            tools: vec![Tool::Iptables],
            ..ToolReader::default()
        }
    }

    #[test]
    fn reads_at_once_then_on_rerun_and_stops_when_dropped() {
        let (tx, mut rx) = mpsc::channel(4);
        let watcher =
            FirewallWatcher::spawn(reader(), Duration::from_secs(3600), Outbox::new(tx)).unwrap();
        let first: FirewallSummary = recv_within(&mut rx, Duration::from_secs(5)).unwrap();
        assert_eq!(first.tool(Tool::Iptables).unwrap().state, ToolState::Read);
        assert_eq!(first.rules.len(), 1);
        let asked = Instant::now();
        for _ in 0..10 {
            watcher.rerun();
        }
        recv_within(&mut rx, Duration::from_secs(5)).expect("rerun read");
        assert!(asked.elapsed() < Duration::from_secs(3));
        // The thread may wake on the first rerun before the rest arrive, so one more read can
        // follow; ten never become ten reads.
        let extra = std::iter::from_fn(|| recv_within(&mut rx, Duration::from_millis(300))).count();
        assert!(extra <= 1, "{extra} extra reads: reruns pile up");
        assert!(watcher.is_running());
        drop(watcher);
        assert!(rx.try_recv().is_err());
        assert!(
            rx.is_closed(),
            "the thread and its outbox outlived the watcher"
        );
    }
}
