//! Runs a [`DnsLookups`] on the caller's tokio runtime: a round now, then one every interval or
//! when asked, one round in flight at a time.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::{DnsLookups, DnsRound, DnsSettings};
use crate::outbox::Outbox;
use crate::periodic::PeriodicTask;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the DNS collector needs a tokio runtime to run on")]
    NoRuntime,
}

/// Stops its task when dropped; in-flight queries are only futures, and dropping them closes
/// their sockets.
pub struct DnsCollector {
    task: PeriodicTask,
    /// Names asked besides the settings' ones (see [`DnsLookups::ask_also`]), read before each
    /// round.
    also: Arc<Mutex<Vec<String>>>,
}

impl DnsCollector {
    /// Starts rounds on the current tokio runtime; each round waits for room in the outbox, so
    /// none is dropped. Ends when the receiver is gone or the collector drops.
    pub fn spawn(
        settings: DnsSettings,
        outbox: Outbox<DnsRound>,
    ) -> Result<DnsCollector, SpawnError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        let also: Arc<Mutex<Vec<String>>> = Arc::default();
        let asked = Arc::clone(&also);
        let task = PeriodicTask::spawn(&runtime, |doorbell| async move {
            let interval = settings.interval;
            let mut rounds = DnsLookups::new(settings);
            let mut due = Instant::now();
            loop {
                doorbell.wait_until(due).await;
                let names = asked.lock().map(|n| n.clone()).unwrap_or_default();
                rounds.ask_also(&names);
                // Nothing to ask yet (no name in the config, none from the logs): no round.
                if rounds.has_names() && outbox.send(rounds.round().await).await.is_err() {
                    return;
                }
                due = Instant::now() + interval;
            }
        });
        Ok(DnsCollector { task, also })
    }

    /// Runs a round now instead of at the next interval; while one runs, the next starts as soon
    /// as it ends. Requests coalesce.
    pub fn rerun(&self) {
        self.task.rerun();
    }

    /// Asks about `names` too, from a round now on (replacing the names given before).
    pub fn ask_also(&self, names: Vec<String>) {
        if let Ok(mut also) = self.also.lock() {
            *also = names;
        }
        self.task.rerun();
    }

    /// False once the collector stopped (the receiver is gone).
    pub fn is_running(&self) -> bool {
        self.task.is_running()
    }
}
