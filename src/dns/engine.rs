//! Runs a [`DnsRunner`] on the caller's tokio runtime: a round now, then one every interval or
//! when asked, one round in flight at a time.

use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{DnsRound, DnsRunner, DnsSettings};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the DNS engine needs a tokio runtime to run on")]
    NoRuntime,
}

/// Stops its task when dropped.
pub struct DnsEngine {
    /// A `Notify` keeps at most one permit: reruns requested while a round runs coalesce into
    /// one round right after it, never a queue.
    rerun: Arc<Notify>,
    task: JoinHandle<()>,
}

impl DnsEngine {
    /// Starts rounds on the current tokio runtime and hands each to `deliver` (on a runtime
    /// thread: it must not block, e.g. `try_send` into a bounded channel). The engine stops when
    /// `deliver` returns false (the receiver is gone) or the `DnsEngine` is dropped.
    pub fn spawn(
        settings: DnsSettings,
        mut deliver: impl FnMut(DnsRound) -> bool + Send + 'static,
    ) -> Result<DnsEngine, EngineError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| EngineError::NoRuntime)?;
        let rerun = Arc::new(Notify::new());
        let requested = Arc::clone(&rerun);
        let interval = settings.interval;
        let task = runtime.spawn(async move {
            let mut runner = DnsRunner::new(settings);
            loop {
                // Reruns asked for before this round starts are answered by it: take the permit
                // they left, or they would cause a second round straight after.
                let _ = requested.notified().now_or_never();
                let round = runner.round().await;
                if !deliver(round) {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = requested.notified() => {}
                }
            }
        });
        Ok(DnsEngine { rerun, task })
    }

    /// Runs a round now instead of at the next interval; while one runs, the next starts as soon
    /// as it ends. Requests coalesce.
    pub fn rerun(&self) {
        self.rerun.notify_one();
    }

    /// False once the engine stopped (deliver returned false).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for DnsEngine {
    fn drop(&mut self) {
        // In-flight queries are only futures: aborting drops them and closes their sockets.
        self.task.abort();
    }
}
